//! Design notes: why the engine is shaped the way it is. Nothing here is code; it is the
//! place for rationale that would otherwise be scattered through comments.
//!
//! # Sans-IO
//! The engine never performs IO, never reads a clock and never spawns anything. Callers
//! feed it bytes ([`Connection::read_buf`](crate::Connection::read_buf) +
//! [`commit_read`](crate::Connection::commit_read), or
//! [`receive`](crate::Connection::receive)), take bytes out
//! ([`poll_transmit`](crate::Connection::poll_transmit) +
//! [`consume_transmit`](crate::Connection::consume_transmit)), and pass the current
//! [`Instant`](crate::Instant) in. Any call order is legal; order changes latency, never
//! correctness. All partial state lives in the engine, so an async caller that drops a
//! future halfway loses nothing.
//!
//! # Events are handed out lazily
//! Received bytes are only buffered; frames are parsed when
//! [`poll_event`](crate::Connection::poll_event) is called, one message per call. State
//! changes happen there too, so [`state`](crate::Connection::state) always agrees with what
//! the caller has seen. The read side applies backpressure: when enough parsed-but-unread
//! input is buffered, `read_buf` returns an empty slice until events are taken.
//!
//! # Ending
//! Every connection ends with exactly one [`Event::Closed`](crate::Event::Closed), and it
//! is the last event. Its [`CloseCause`](crate::CloseCause) separates a peer's close frame
//! from a protocol violation, a timeout and a vanished transport. On a violation the
//! engine has already queued the close frame with the right code (RFC 6455 §7.1.7) ahead
//! of any data that had not started, and delivers nothing further.
//!
//! # Ordering of what we send
//! Pongs are urgent: they go out at the next frame boundary, ahead of data frames that
//! have not started, never inside one. Every ping of a burst gets its pong while fewer than
//! 2 KiB of urgent bytes are waiting (Autobahn 2.10 expects ten pongs for ten pings);
//! beyond that only the latest ping is remembered (§5.5.3 allows answering just the most
//! recent), so a ping flood from a peer that never reads costs at most ~2 KiB.
//!
//! Close frames keep their place after the data already queued — our reply to a peer's
//! close, a close we initiate, and the close that fails a connection on a protocol error.
//! DESIGN.md had failure closes and close replies jump ahead of unstarted data; that drops
//! messages the application had already handed to `send`, and Autobahn rates exactly this
//! NON-STRICT (3.2, 3.3, 4.1.3, 4.1.4, 4.2.3, 4.2.4, 5.15: "echo the valid message, then
//! fail"). The flush is still bounded: after [`Event::Closed`](crate::Event::Closed) the
//! close timeout caps how long the caller waits for it. Only the best-effort 1011 of a
//! keepalive/idle timeout goes ahead of unstarted data, since the peer is not reading.
//!
//! # Owned and borrowed payloads
//! [`send`](crate::Connection::send) takes a [`Message`](crate::Message) whose payload is a
//! reference-counted `Bytes`: a server frame over 2 KiB is queued by reference and written
//! from the caller's buffer, never copied. Everything smaller is copied next to its header
//! anyway (one contiguous chunk, fewer iovecs), so for small messages building the `Bytes`
//! (an allocation, or a clone and a drop: two atomic updates) is pure overhead.
//! [`send_text`](crate::Connection::send_text) and
//! [`send_binary`](crate::Connection::send_binary) skip it: they copy the caller's slice
//! straight into the transmit queue (clients mask in that copy), always, also when large.
//! Both go through the same framing code, so their bytes on the wire are identical.
//!
//! # Memory
//! The receive buffer starts at [`Config::read_buffer_size`](crate::Config::read_buffer_size)
//! (1 KiB) and grows only as bytes arrive, never by the length a frame header announces: at
//! most it doubles what has actually been received. The space offered per read adapts: it
//! doubles after a read that filled it (up to 64 KiB through
//! [`read_buf`](crate::Connection::read_buf), 256 KiB through
//! [`read_buf_uninit`](crate::Connection::read_buf_uninit), so a busy connection reads many
//! messages per system call) and halves after short reads (so idle connections stay
//! small). Whole messages up to 4 KiB are copied out of the buffer, which stays unshared
//! and is reused in place; larger ones are handed out without a copy, as views of it. A
//! frame header announcing more than the max frame size fails at header time (1009),
//! before anything is reserved. Fragments are
//! reassembled into one contiguous buffer capped by the max message size, with no
//! per-fragment objects, so a flood of empty continuation frames costs nothing.
//!
//! # Receive-side policies
//! - Non-minimal payload length encodings are accepted (RFC 6455 §5.2 binds senders;
//!   this engine never emits them).
//! - Text is validated incrementally as bytes arrive, so a message fails with 1007 as soon
//!   as its prefix can no longer be valid UTF-8, even in the middle of a frame.
//! - Data frames that arrive after the peer's close frame are discarded.
