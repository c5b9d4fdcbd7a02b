//! The design rules as this project applies them: what lives in which folder, the engine's
//! shape (sans-IO, its four kinds of methods, its one ending), what it sends in which order,
//! how it spends memory, how the async adapters drive it, the defaults, the house style and
//! how each claim is proven. Rationale only; no code lives here.
//!
//! # Layers: one job per folder
//!
//! | folder | crate | what lives there |
//! |---|---|---|
//! | `proto/` | `tether-proto` | every rule of RFC 6455: both roles of the opening handshake, framing, masking, fragmentation, UTF-8, ping/pong, the close handshake, limits and timers; `no_std` + `alloc` |
//! | `rt-common/` | `tether-rt` | the one async `WebSocket` type, its drive loop and its whole public API, written once over futures-io and a hidden runtime trait (a clock, a resettable timer, TCP connect) |
//! | `rt-*/` | one adapter crate per runtime | that runtime's implementation of the trait, a stream shim where its IO traits differ, type aliases, `accept`/`connect` shortcuts, and the `echo_server` and `autobahn_client` examples |
//! | `tests/` | `tether-tests` | one suite over real loopback TCP, compiled once per runtime; interop with real peers |
//! | `benches/` | `tether-benches` | framing benches, whole-process echo, latency and idle-memory runs, with peer libraries side by side |
//! | `fuzz/` | its own workspace | cargo-fuzz targets that call the engine only; `cargo test` replays their corpora |
//!
//! What follows from it: a protocol rule is written once, in `proto`, and every runtime gets
//! it; sockets and timers are touched only by the async layer and its adapters; the API is
//! the same on every runtime because it is one type; and a claim is made only with a test, a
//! fuzz target or a benchmark behind it ([how claims are proven](#how-claims-are-proven)).
//! Every file opens with a `//!` line saying what lives in it and what does not.
//!
//! # Sans-IO: bytes, time and entropy are arguments
//! The engine performs no IO, reads no clock, spawns nothing and knows no async types; the
//! default `std` feature only adds `std::error::Error` impls. Callers feed it bytes
//! ([`read_buf`] + [`commit_read`], [`read_buf_uninit`] + [`commit_appended`], or
//! [`receive`]), take bytes out ([`poll_transmit`] + [`consume_transmit`]), and pass the
//! current [`Instant`] — a `Duration` since an epoch the caller picks — into every call that
//! may start or check a timer. Entropy is an argument as well: mask keys and
//! `Sec-WebSocket-Key` values come from the [`Rng`] in the [`Config`] ([`OsRng`] by default;
//! [`SeededRng`] makes tests and fuzz runs reproducible).
//!
//! Any call order is legal and a call with nothing to do is a no-op: the order changes
//! latency, never correctness. All partial state — a half-received frame, a half-written
//! one — lives in the engine, so an async caller that drops a future halfway loses nothing.
//!
//! # The opening handshake is separate from the connection
//! [`ServerHandshake::receive`] takes request bytes in any chunking and yields a [`Request`]:
//! method, path, query, every header, the `Origin`, the offered subprotocols and extensions.
//! The application looks at it, then answers: [`ServerHandshake::accept`] with
//! [`AcceptOptions`] (a subprotocol the client offered, extra response headers) returns a
//! server [`Connection`] with the 101 queued ahead of any frame; [`ServerHandshake::reject`]
//! queues a complete refusal with any status and body; a request that failed validation is
//! answered by the handshake itself (400, 405, 426 or 431) and
//! [`ServerHandshake::should_close`] says the exchange is over. [`ClientHandshake`] is the
//! mirror image: built from a [`ClientRequest`], it queues its request, checks the response
//! (status, accept key, subprotocol and extensions against what was offered) and becomes a
//! client connection with [`ClientHandshake::into_connection`].
//!
//! Every byte an engine sends leaves by one route, the [`Transmit`] trait (`poll_transmit`,
//! `consume_transmit`): a connection's frames, the request, the 101, a refusal, an error
//! response. One write loop serves them all, and no response is built anywhere else.
//!
//! Handshake errors say whose fault they are, as rustls' errors do: [`PeerMisbehaved`] (the
//! peer's HTTP head broke RFC 6455 or HTTP/1.1), [`HandshakeError::UnexpectedStatus`] (the
//! server refused), [`HandshakeError::Timeout`], and [`ApiMisuse`] (the application asked
//! for something the handshake cannot send).
//!
//! Bytes that came after the HTTP head in the same read are the peer's first frames: the new
//! connection receives them untouched, once. Both roles read the head with one incremental
//! reader that looks at each byte once and enforces the byte cap and the line cap while
//! reading, so a head dripped one byte at a time costs linear work and an oversized one is
//! refused at the cap. The handshake takes time, so the engine enforces its deadline where
//! it is configured: [`Config::handshake_timeout`] is one total deadline counted from the
//! first instant the caller gives (arriving bytes do not move it), reported by
//! `poll_timeout` and fired by `handle_timeout` like a connection's timers; a server's
//! connection carries it until the 101 is written.
//!
//! # The connection's four kinds of methods
//! Named after quinn-proto's taxonomy:
//! - **inputs** tell the engine what happened: [`read_buf`] + [`commit_read`],
//!   [`read_buf_uninit`] + [`commit_appended`], [`receive`], [`receive_eof`] (the transport's
//!   read side ended), [`handle_transport_error`] (it failed), [`handle_timeout`];
//! - **commands** ask it to do something: [`send`], [`send_text`], [`send_bytes`],
//!   [`close`]. Misuse — a control payload over 125 bytes, a close code that may not be sent,
//!   a reason over 123 bytes, anything after our close — is a [`SendError`] returned by the
//!   call itself, never an event, and nothing is queued;
//! - **outputs** say what the caller should do: [`poll_event`] (the next message, or the
//!   ending), [`poll_transmit`] + [`consume_transmit`] (chunks for one vectored write;
//!   partial writes are fine), [`poll_timeout`] (when `handle_timeout` is next due);
//! - **getters** describe it: [`state`], [`buffered_transmit`], [`is_transmit_full`] (the
//!   write high-water mark, answered in one place), [`buffered_receive`], [`should_shutdown`],
//!   [`closed`], [`ending`], [`can_send`].
//!
//! Read space is lent, and a loan is exact: each `read_buf`/`read_buf_uninit` replaces the
//! previous loan, a commit counts only against an outstanding loan of its own kind and never
//! past it, input through `receive` voids a loan, and any other call between a loan and its
//! commit leaves the loan where the transport wrote into it. That is what makes "any call
//! order is legal" true for the inputs too (a fuzz mode interleaves them).
//!
//! A driver calls them in whatever order suits it — write what `poll_transmit` offers, hand
//! out `poll_event`s, call `handle_timeout` when `poll_timeout` is due, read into `read_buf`
//! — and after the ending flushes, then shuts the transport down once `should_shutdown` says
//! so.
//!
//! # Events are handed out lazily
//! Received bytes are only buffered; frames are parsed when [`poll_event`] is called, one
//! message per call. State changes happen there too, so [`state`] always agrees with what
//! the caller has seen. The read side applies backpressure: once 64 KiB of received input
//! waits unparsed (or a whole frame, if that is larger), [`read_buf`] returns an empty slice
//! until events are taken.
//!
//! # One ending, and its cause
//! Every connection ends with exactly one [`Event::Closed`], and it is the last event. It
//! carries a code, a reason and a [`CloseCause`]:
//!
//! | cause | what happened | code reported |
//! |---|---|---|
//! | [`PeerInitiated`](crate::CloseCause::PeerInitiated) | the peer's close frame came first; we answered with its code | the peer's (1005 when it sent none) |
//! | [`LocallyInitiated`](crate::CloseCause::LocallyInitiated) | we closed first and the peer answered | the peer's |
//! | [`Protocol`](crate::CloseCause::Protocol) | the peer broke RFC 6455; we sent a close frame with [`ProtocolError::close_code`] (§7.1.7) | that code |
//! | [`IdleTimeout`](crate::CloseCause::IdleTimeout) | no inbound traffic within the idle timeout, or none after a keepalive ping | 1006 (1011 sent best-effort) |
//! | [`CloseTimeout`](crate::CloseCause::CloseTimeout) | we closed and no answer came within the close timeout | 1006 |
//! | [`TransportEof`](crate::CloseCause::TransportEof) | the transport ended without a close frame, mid-frame or not | 1006 |
//! | [`TransportError`](crate::CloseCause::TransportError) | the transport failed (reset, broken pipe): nothing more is written | 1006 |
//! | [`WriteTimeout`](crate::CloseCause::WriteTimeout) | queued output made no progress for the write timeout (the peer stopped reading) | 1006 |
//! | [`HandshakeTimeout`](crate::CloseCause::HandshakeTimeout) | a server's 101 was not written within the handshake deadline | 1006 |
//! | [`RateLimitExceeded`](crate::CloseCause::RateLimitExceeded) | the peer sent beyond its [rate limit](#inbound-rate-limits) under the Close policy; we sent 1008 | 1008 |
//!
//! A peer's close frame and a parse failure therefore never look alike, and
//! [`Closed::is_clean`] holds only for the first two. After a violation nothing further is
//! delivered. A timeout does not cut off complete frames that were already buffered: they
//! are handed out first, then the ending. After the close handshake the server ends TCP
//! first (RFC 6455 §7.1.1); a client waits for that, at most the close timeout, which
//! [`should_shutdown`] reflects.
//!
//! The engine owns every ending and every deadline, so the async layer keeps no ending of
//! its own: a transport failure is an input, and the deadlines — handshake, close, write,
//! idle, keepalive, and the end of a rate-limit throttle — live in one table that both `poll_timeout` and `handle_timeout` read.
//! The write deadline needs a tick to start: while output waits and its clock is not running,
//! `poll_timeout` asks for one at once.
//!
//! # What goes out in which order
//! Pongs are urgent: they go out at the next frame boundary, ahead of data frames that have
//! not started, never inside one. Every ping of a burst gets its own pong while less than
//! 2 KiB of urgent bytes wait unwritten (Autobahn case 2.10 expects ten pongs for ten pings);
//! past that only the latest ping is remembered — RFC 6455 §5.5.3 allows answering just the
//! most recent — so a peer that floods pings and never reads costs about 2 KiB.
//!
//! Close frames keep their place behind the data the application already handed to `send`:
//! our answer to a peer's close, a close we start, and the close that fails a connection on
//! a protocol error. The original design let failure closes and close answers overtake data
//! that had not started. That silently drops messages the application had already queued,
//! and Autobahn grades exactly this NON-STRICT: cases 3.2, 3.3, 4.1.3, 4.1.4, 4.2.3, 4.2.4
//! and 5.15 want the echo of the valid message first, then the failure. Waiting behind the
//! data is still bounded: once [`Event::Closed`] is out, the close timeout limits how long
//! the caller keeps flushing. The one close that does jump the queue is the best-effort 1011
//! after a keepalive or idle timeout: the peer is not reading, so data frames that have not
//! started are dropped and the close goes out next.
//!
//! # Owned and borrowed payloads
//! [`send`] takes a [`Message`] whose payload is a reference-counted `Bytes`: a server frame
//! over 2 KiB is queued by reference and written from the caller's buffer, never copied.
//! Anything smaller is copied next to its header anyway (one contiguous chunk, fewer
//! iovecs), so for small messages building the `Bytes` — an allocation, or a clone and a
//! drop, two atomic updates — buys nothing. [`send_text`] and [`send_bytes`] skip it: they
//! copy the caller's slice straight into the transmit queue (a client masks in that same
//! copy), always, also when large. Both paths share the framing code and put identical
//! bytes on the wire.
//!
//! # Buffers and memory
//! The engine owns both queues. The receive buffer starts at
//! [`Config::read_buffer_size`] (1 KiB) and grows only as bytes arrive, never by the length
//! a frame header announces: at most it doubles what has actually been received. The space
//! offered per read follows the transport: it doubles after a read that filled it (up to
//! 64 KiB through [`read_buf`], 256 KiB through [`read_buf_uninit`], so a busy connection
//! reads many messages per system call) and halves after short reads, and an emptied buffer
//! much larger than the window is given back, so idle connections stay small. Whole
//! messages up to 4 KiB are copied out of the buffer, which stays unshared and is reused in
//! place; larger ones are handed out without a copy, as views of it. A header announcing
//! more than the max frame size fails at header time (1009), before anything is reserved.
//! Fragments are reassembled into one contiguous buffer capped by the max message size,
//! with no per-fragment objects, so a flood of empty continuation frames costs nothing.
//!
//! On the send side, small frames are copied into one contiguous buffer (runs of whole
//! frames share one queue entry) and large server payloads are referenced; the buffer is
//! given back after a burst of large messages. The queue itself is unbounded in the engine:
//! the async layer bounds it with the write high-water mark (below). Why each of these
//! numbers is what it is: [`performance`](super::performance).
//!
//! # What one connection costs at worst
//! [`Config::worst_case_memory`](crate::Config::worst_case_memory) computes an upper bound
//! from the settings, whatever the peer sends: receiving `2 × (max message + max frame +
//! 256 KiB)` (the message being reassembled and the frame being received hold at most one
//! max message of payload together, one read window ahead, in buffers that grow by
//! doubling); sending the write high-water mark plus 2 KiB of pongs; with
//! permessage-deflate the decompressed message, zlib's compressor
//! (`2^(window_bits + 2) + 2^(memory_level + 9)`) and the decompressor's window; and 16 KiB
//! for the connection, its driver and task. What the application sends beyond the mark,
//! and messages it keeps, are its own.
//!
//! Servers and clients trust differently, so the defaults differ:
//!
//! | preset | max message / frame | write high-water mark | worst case per connection | 10 000 connections |
//! |---|---|---|---|---|
//! | [`Config::server`](crate::Config::server) (`tether_rt::server_config`, used by `Upgrade::read` and `accept`) | 256 KiB / 256 KiB | 64 KiB | 1.58 MiB | 15.4 GiB |
//! | the same with 1 MiB messages (Python websockets' default) | 1 MiB / 1 MiB | 64 KiB | 4.58 MiB | 45 GiB |
//! | [`Config::client`](crate::Config::client) = [`Config::default`](crate::Config::default) (`tether_rt::default_config`) | 64 MiB / 16 MiB | 128 KiB | 160.6 MiB | — |
//!
//! So 10 000 hostile connections at worst fit in 16 GiB under the server defaults, and
//! larger limits are one setting away (`Config::server().to_builder().max_message_size(..)`).
//! A frame announcing more than the limit is refused with 1009 at its header, before any
//! memory is reserved: the suite's
//! `limits::server_defaults_refuse_announced_16_mib_frames_from_many_peers_with_1009` has
//! many peers announce 16 MiB and trickle bytes. Compressing costs more (about 576 KiB per
//! connection at the default deflate settings), which is why it stays off by default.
//!
//! # Receive-side policies
//! - Non-minimal payload length encodings are accepted (RFC 6455 §5.2 binds senders; this
//!   engine never emits them).
//! - Text is validated incrementally as bytes arrive, so a message fails with 1007 as soon
//!   as its prefix can no longer be valid UTF-8, even in the middle of a frame.
//! - Data frames that arrive after the peer's close frame are discarded.
//! - Unsolicited pongs are harmless: they are delivered as events, and the async layer
//!   passes pings and pongs to the application only when asked to.
//! - A handshake head dripped one byte at a time is accepted; only the total deadline and
//!   the size caps bound it.
//! - permessage-deflate (RFC 7692): see [below](#permessage-deflate). Without it (the
//!   feature off, or `Config::deflate` unset) every offer is declined,
//!   and a response that names an extension fails the client handshake.
//!
//! # Inbound rate limits
//! [`ConfigBuilder::rate_limit`](crate::ConfigBuilder::rate_limit) (off by default) limits
//! what one peer may send: messages per second and bytes per second, each a token bucket
//! with its own burst ([`RateLimit::messages`](crate::RateLimit::messages),
//! [`RateLimit::bytes`](crate::RateLimit::bytes), or both). A message is a complete data
//! message, a ping or a pong, counted when it is handed out; bytes are everything read from
//! the transport, headers included, counted as they are read. The buckets live in the engine
//! and run on the time the caller gives, so a sans-IO embedding gets the same limits as the
//! adapters. They are integer nano-token buckets: a rate of `r` per second earns exactly
//! `r` nano-tokens per nanosecond, so over any `t` seconds since the connection's clock
//! started at most `burst + r * t` units are admitted, exactly, with no rounding drift.
//!
//! Two policies ([`RatePolicy`](crate::RatePolicy)):
//! - **Throttle** (the default): when a bucket is empty the engine stops asking for input —
//!   [`read_buf`] lends nothing, and a byte limit caps every loan at the bytes the bucket
//!   holds — and hands out no message, until a deadline in the timer table (the refill
//!   instant, when about a fiftieth of a second's worth has been earned: a throttled
//!   connection wakes at most about 50 times a second). The async layer sleeps until then;
//!   TCP's flow control pushes back on the peer; nothing is dropped or reordered.
//! - **Close**: the first message or byte beyond a bucket fails the connection with 1008
//!   (Policy Violation) and [`CloseCause::RateLimitExceeded`](crate::CloseCause::RateLimitExceeded),
//!   naming which limit. Arrivals are timed when they are read, so an application that stops
//!   reading for longer than `burst / rate` lets a well-behaved peer's messages pile up and
//!   then judges them at once: choose Close for limits well above honest traffic, Throttle
//!   for an exact gate.
//!
//! Control frames are not exempt, and need not be: while throttled nothing is read or
//! decoded — pings and the close frame included — so a peer cannot flood pings around the
//! limit (each ping is a message; each admitted ping gets at most one pong). The close,
//! write and handshake deadlines keep running while throttled, so throttling never keeps a
//! connection alive past them; only the idle and keepalive clocks pause (our refusal to read
//! is not the peer's silence) and start over when reading resumes. An ending decided while
//! messages wait behind the limit (a timeout, a transport failure) still hands them out at
//! the rate, then the ending. Callers that push bytes with [`Connection::receive`](crate::Connection::receive)
//! instead of reading into lent space are never refused: the byte bucket goes into debt and
//! reading stays throttled until it is repaid. A server that routes before limiting sets the
//! limit on the accepted connection ([`Connection::set_rate_limit`](crate::Connection::set_rate_limit),
//! `WebSocket::set_rate_limit` in the async layer).
//!
//! # permessage-deflate
//! Behind the `deflate` cargo feature (forwarded by `tether-rt` and every adapter), through
//! zlib-rs used directly: a pure-Rust zlib with zlib's window range (9-15 bits) in both
//! directions, no_std with the Rust allocator, and a safe streaming API. The feature is off
//! by default and so is `ConfigBuilder::deflate`: a connection
//! that compresses holds up to two zlib states (by zlib's formula about 256 KiB for a 15-bit compressor
//! at memory level 8, a 32 KiB window for a decompressor), which a server should choose
//! knowingly;
//! measured at the async layer (`benches/README.md`), a busy connection that keeps its
//! context holds many times the memory of one without deflate, which is why neither role
//! offers or accepts it unless configured.
//!
//! - **Settings are local.** `DeflateConfig` speaks of *our*
//!   compressor and the *peer's*; the role decides which of RFC 7692's `server_*` /
//!   `client_*` parameters each becomes. A client sends one offer (always announcing
//!   `client_max_window_bits`, so a server may limit it). A server takes the first
//!   well-formed offer it can honour among every element of every
//!   `Sec-WebSocket-Extensions` header, and declines the others, never failing the
//!   handshake for them; it answers `client_no_context_takeover` whenever it relies on the
//!   client resetting (the offer's own parameter is a hint that clients need not keep). A
//!   client fails the handshake, with
//!   `PeerMisbehaved::DeflateResponse`, on every answer RFC 7692
//!   forbids.
//! - **Window bits 8.** zlib cannot write raw DEFLATE with a 256-byte window (asked for 8,
//!   it uses 9), so this engine never compresses with 8: a server declines an offer with
//!   `server_max_window_bits=8`, a client fails an answer with `client_max_window_bits=8`,
//!   and configured windows are 9 to 15. A peer announcing 8 is decompressed with 9, a
//!   superset.
//! - **Messages.** RSV1 marks the first frame of a compressed message only. A message is
//!   compressed whole with a sync flush and its `00 00 ff ff` tail removed; an empty
//!   message is the single byte `00`. Messages shorter than the threshold, and those sent
//!   with `Connection::send_uncompressed` (already compressed
//!   data, or secrets that must not share a context with attacker-chosen bytes: RFC 7692
//!   §9), go out plain; control frames always do.
//! - **Receiving.** Each frame of a compressed message is decompressed when it is
//!   complete; output grows in steps and is never allowed past `max_message_size` + 1
//!   bytes, so a bomb fails with 1009 as the limit is crossed. Decompressed text is
//!   validated as it comes out (1007). Data that is not valid DEFLATE fails with 1007: RFC
//!   7692 only says "fail the connection", 1007 is RFC 6455's code for data inconsistent
//!   with its message, and what Node's ws sends. Input after a block with BFINAL set is
//!   ignored (RFC 7692 §7.2.3.4 puts a stored-block header there) and the decompressor
//!   starts over at the next message.
//! - **State lifetime.** The compressor and the decompressor are allocated on first use and
//!   freed after every message when their side has no context takeover. With context
//!   takeover our compressor is also freed once it has compressed nothing for
//!   `DeflateConfig::release_idle_compressor` (10 s by default; a timer of the connection):
//!   a fresh compressor's stream refers back to nothing older, so the peer, which keeps its
//!   window, reads it unchanged, and only that one message loses some ratio. zlib-rs
//!   allocates a compressor's hash table whole (memory level or not), so the compressor
//!   is most of a busy connection's memory, and a server whose connections go quiet gets it
//!   back. The decompressor stays while the peer keeps its context: its window is the
//!   peer's reference. A connection
//!   without deflate pays one `Option` check per message sent and a boolean in the decode
//!   rules; the server's small-frame fast path never sees RSV1 frames (its byte pattern
//!   excludes them).
//! - **Why these defaults.** 2^15 windows both ways, context takeover, level 6, memory
//!   level 8, `min_size` 32 bytes, idle compressors freed after 10 s. Browsers offer
//!   exactly this, and with zlib-rs a smaller window saves less than zlib's formula says:
//!   measured per busy connection end (`benches/README.md`), 2^12 keeps two thirds of the
//!   2^15 figure and 2^10 still 60 %, because the compressor's hash table is allocated
//!   whole whatever the window and memory level — so Python websockets' choice (12 bits,
//!   memory level 5, for ~64 KiB) buys little here and costs ratio on every message.
//!   Memory is won instead where it is spent: a compressor that has been idle 10 s is
//!   freed (a quiet connection keeps only the decompressor, ~27 KB), and a server with many
//!   busy connections can still set `no_context_takeover` (about 50 KB per busy end).
//!   Level 6 is zlib's own default and what every peer in the benchmarks uses; below 32
//!   bytes a message rarely shrinks by more than its framing.
//! - **Embedding.** A server framework that does its own HTTP upgrade can build a
//!   connection with `Connection::with_deflate`; the
//!   negotiation itself is only reachable through this crate's handshakes for now.
//!
//! # The async layer: one drive loop
//! `tether-rt` holds the only async connection type, generic over a stream and a hidden
//! runtime trait; an adapter crate supplies the runtime and nothing else that touches a
//! connection. There is no background task: a connection advances while one of its futures
//! is polled. The receiving side loops: hand out a message that is already decoded; write
//! what the engine has queued (a write that would block never blocks reading); fire the
//! engine's timer if it is due; read into the engine's buffer. Every byte read is committed
//! to the engine before the future yields, so dropping a `recv` future — in a `select!`,
//! under a timeout — loses nothing; each async method says so under `# Cancel safety`.
//! After the ending it flushes our close frame, keeps reading while a client waits for the
//! server's end of TCP, half-closes the transport and drops it, all within the close
//! timeout, even when the half-close itself never completes.
//!
//! ## Writes are coalesced, never stranded
//! One system call per message is what costs most WebSocket libraries several times their
//! throughput on small-message echo. A plain `recv` → `send` loop gets batching without
//! asking for it: on an unsplit connection `send` defers its write while received input is
//! still buffered — more messages are waiting, so the task is expected back in `recv` at
//! once — and `recv` writes everything queued before it waits on the socket. That is the
//! whole deferral rule: a write may be deferred only while already-received input waits to
//! be handed out; otherwise `send` writes through. `send_batch`, and `feed` + `flush`, give
//! explicit control. Past the write high-water mark `send` waits for the transport; nothing
//! is ever dropped, and a peer that stops reading cannot grow the queue beyond the mark plus
//! one message.
//!
//! ## Split halves
//! `split` returns a `Reader` and a cloneable `Sender` over the same connection. The reader
//! drives it: reads, pongs, keepalive, the peer's close, and writing what senders left
//! queued while the transport was busy all happen while a reader future is polled, so one
//! task must stay in `recv`. A sender queues each message whole under a short lock taken
//! only inside poll functions, never across an `.await`, so the frames of two messages never
//! interleave; senders write through (no deferral). An unsplit connection owns its state and
//! takes no lock at all; `reunite` gets that back once no other sender clone is left. Once
//! the connection has ended — also when the reader hit a transport error — every sender gets
//! the typed `Closed` error.
//!
//! # Defaults
//! All documented on [`Config`] and configurable through [`ConfigBuilder`], which refuses
//! impossible combinations with a [`ConfigError`].
//!
//! | setting | default |
//! |---|---|
//! | max message / max frame | 64 MiB / 16 MiB (about 1 MiB is the advice for public endpoints) |
//! | handshake | 8 KiB of head, 64 header lines, one 10 s deadline that arriving bytes do not reset |
//! | close handshake | 5 s |
//! | keepalive | off in the engine; the adapters ping after 20 s without inbound traffic and give up 20 s later (1006 reported, 1011 sent best-effort) |
//! | idle timeout | off |
//! | write high-water mark | 128 KiB (the async layer makes `send` wait at it, never drops) |
//! | write timeout | 30 s without a byte written while output waits, then the connection ends (a peer that stopped reading cannot hold a sender forever) |
//! | read buffer | 1 KiB to start; the read window grows to 64 KiB (256 KiB into uninitialized space) and shrinks again; never grows by what a header announces |
//! | automatic pongs | on |
//! | unmasked client frames | refused (an opt-in exists, off) |
//! | fragmentation of outgoing messages | off: one frame per message |
//! | permessage-deflate | feature `deflate`, off by default; when on, `Config::deflate` unset: not offered, offers declined |
//!
//! # House style
//! - Names say the kind of method: `handle_*` and `receive*` for inputs, `poll_*` for
//!   outputs (and `#[must_use]`), plain verbs for commands, `is_*` / `should_*` / `can_*` for
//!   getters. A role is [`Role::Client`] or [`Role::Server`], never a boolean; no call site
//!   passes a bare `true` or `false` whose meaning the reader has to look up.
//! - One noun per file, and each file's first `//!` line says what lives there and what does
//!   not.
//! - Errors are enums, never strings. Nothing received from the network may panic. Every
//!   wait has a deadline.
//! - Comments say why. Benchmark figures stay out of code comments, where they go stale
//!   unnoticed: they belong in [`performance`](super::performance) and the README.
//! - Every async method documents `# Errors` and `# Cancel safety`.
//! - The project points at nothing outside its repository: what it owes to other documents
//!   it states here, in its own words.
//!
//! # How claims are proven
//! - **Engine tests** sit next to the code they test, each naming the RFC section or the
//!   [hostile peer](super::hostile_peers) it covers; scenarios run through a pair harness (a
//!   client and a server engine, random chunking, simulated time), so timeouts are asserted
//!   exactly. Property tests check that chunking never changes events and that arbitrary
//!   bytes are survivable.
//! - **Socket tests**: one suite in `tests/suite/*.rs`, compiled once per runtime by the
//!   `tether-tests` test targets, so a failure names its runtime; all over real loopback
//!   TCP, some over a deliberately slow transport (1-byte reads, short writes, a pending
//!   poll between calls) and some against scripted raw-TCP peers.
//! - **Real peers nobody here wrote**: Python `websockets`, Node `ws` and headless Chromium
//!   (installed by `scripts/setup-peers.sh`) talk to our client and server, and the
//!   Autobahn|Testsuite runs against every adapter in both roles (`tests/autobahn.sh`).
//! - **Fuzzing**: the targets in `fuzz/` compare the engine against a reference decoder and
//!   a connection model; their corpora and saved crashes are replayed by a plain
//!   `cargo test` (`proto/tests/fuzz_corpus.rs`).
//! - **Benchmarks** (`benches/`) measure speed; tests never assert on time taken. Results
//!   are reported as ratios to peer libraries and to a hand-written raw echo on the same
//!   machine, never as bare numbers ([`performance`](super::performance)).
//! - A test must be able to fail: a test for a fault is checked against the code without
//!   the fix, and an assertion is never loosened to get green.
//!
//! [`read_buf`]: crate::Connection::read_buf
//! [`commit_read`]: crate::Connection::commit_read
//! [`read_buf_uninit`]: crate::Connection::read_buf_uninit
//! [`commit_appended`]: crate::Connection::commit_appended
//! [`receive`]: crate::Connection::receive
//! [`receive_eof`]: crate::Connection::receive_eof
//! [`handle_timeout`]: crate::Connection::handle_timeout
//! [`send`]: crate::Connection::send
//! [`send_text`]: crate::Connection::send_text
//! [`send_bytes`]: crate::Connection::send_bytes
//! [`close`]: crate::Connection::close
//! [`poll_event`]: crate::Connection::poll_event
//! [`poll_transmit`]: crate::Connection::poll_transmit
//! [`consume_transmit`]: crate::Connection::consume_transmit
//! [`poll_timeout`]: crate::Connection::poll_timeout
//! [`state`]: crate::Connection::state
//! [`buffered_transmit`]: crate::Connection::buffered_transmit
//! [`buffered_receive`]: crate::Connection::buffered_receive
//! [`should_shutdown`]: crate::Connection::should_shutdown
//! [`closed`]: crate::Connection::closed
//! [`can_send`]: crate::Connection::can_send
//! [`Connection`]: crate::Connection
//! [`Instant`]: crate::Instant
//! [`Rng`]: crate::Rng
//! [`OsRng`]: crate::OsRng
//! [`SeededRng`]: crate::SeededRng
//! [`Config`]: crate::Config
//! [`Config::handshake_timeout`]: crate::Config::handshake_timeout
//! [`Config::read_buffer_size`]: crate::Config::read_buffer_size
//! [`ConfigBuilder`]: crate::ConfigBuilder
//! [`ConfigError`]: crate::ConfigError
//! [`ServerHandshake::receive`]: crate::ServerHandshake::receive
//! [`ServerHandshake::accept`]: crate::ServerHandshake::accept
//! [`ServerHandshake::reject`]: crate::ServerHandshake::reject
//! [`ServerHandshake::should_close`]: crate::ServerHandshake::should_close
//! [`Transmit`]: crate::Transmit
//! [`PeerMisbehaved`]: crate::PeerMisbehaved
//! [`ApiMisuse`]: crate::ApiMisuse
//! [`HandshakeError::UnexpectedStatus`]: crate::HandshakeError::UnexpectedStatus
//! [`HandshakeError::Timeout`]: crate::HandshakeError::Timeout
//! [`handle_transport_error`]: crate::Connection::handle_transport_error
//! [`is_transmit_full`]: crate::Connection::is_transmit_full
//! [`ending`]: crate::Connection::ending
//! [`Request`]: crate::Request
//! [`AcceptOptions`]: crate::AcceptOptions
//! [`ClientHandshake`]: crate::ClientHandshake
//! [`ClientHandshake::into_connection`]: crate::ClientHandshake::into_connection
//! [`ClientRequest`]: crate::ClientRequest
//! [`SendError`]: crate::SendError
//! [`Event::Closed`]: crate::Event::Closed
//! [`CloseCause`]: crate::CloseCause
//! [`Closed::is_clean`]: crate::Closed::is_clean
//! [`ProtocolError::close_code`]: crate::ProtocolError::close_code
//! [`Message`]: crate::Message
//! [`Role::Client`]: crate::Role::Client
//! [`Role::Server`]: crate::Role::Server
