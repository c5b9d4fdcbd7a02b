//! `Connection`: the RFC 6455 state machine after the opening handshake — framing,
//! masking, fragmentation, UTF-8, ping/pong, the close handshake, limits and timers. It
//! performs no IO and reads no clock: bytes and time come in as arguments.

use alloc::boxed::Box;
use alloc::string::String;

use bytes::{Buf, Bytes, BytesMut};

use crate::close::{CloseCode, CloseFrame};
use crate::config::{Config, Role};
use crate::error::{ProtocolError, SendError};
use crate::event::{CloseCause, Closed, Event};
use crate::frame::{decode_header, DecodeRules, FrameHeader, Header, OpCode, MAX_HEADER_LEN};
use crate::mask::apply_mask;
use crate::message::{Message, Utf8Bytes};
use crate::rng::KeyCache;
use crate::time::Instant;
use crate::tx::{Payload, TxQueue, COPY_THRESHOLD};
use crate::utf8::Utf8Validator;

/// Unparsed input beyond which [`Connection::read_buf`] stops offering space until events
/// are taken (read-side backpressure). A frame larger than this may still be buffered whole.
const READ_AHEAD: usize = 64 << 10;

/// The largest read window for [`Connection::read_buf_uninit`]: lending capacity costs
/// nothing until it is written, so a stream of large messages is read several per call.
/// (`read_buf` zeroes what it lends and stays at `READ_AHEAD`: measured, a 256 KiB zeroed
/// window made a 64 KiB echo 20% slower, an uninitialized one 15% faster.)
const MAX_READ_WINDOW: usize = 256 << 10;

/// Unwritten urgent control bytes (pongs) beyond which a new ping only replaces the one
/// pending pong instead of queueing another.
const URGENT_CAP: usize = 2 << 10;

/// Complete messages with payloads at most this long are copied out of the receive buffer
/// into their own allocation instead of sharing it. Sharing costs two atomic reference-count
/// updates (split + drop) and, worse, leaves the buffer shared: the next read then needs a
/// fresh (or reclaimed) buffer, whose spare space is zeroed again before it can be lent to
/// the transport — at 1 KiB messages that zeroing was 8% of an echo server's cycles
/// (perf), as much memset as traffic. A copy of up to 4 KiB is cheaper, the buffer is reused
/// in place, and a message the application keeps holds only its own bytes, never the
/// whole receive buffer. Larger payloads are shared (no copy).
const SMALL_COPY: usize = 4096;

/// Where a connection is, as far as the caller has seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's; received messages are still delivered.
    Closing,
    /// [`Event::Closed`] has been handed out. The transport may still need flushing and
    /// shutting down: see [`Connection::should_shutdown`].
    Closed,
}

/// The frame being received: its header and how much of its payload (at the front of the
/// receive buffer) has been unmasked and validated in place.
#[derive(Debug)]
struct InFrame {
    header: FrameHeader,
    len: usize,
    processed: usize,
}

/// A fragmented message being reassembled.
#[derive(Debug)]
struct Partial {
    text: bool,
    buf: BytesMut,
}

#[derive(Debug)]
enum End {
    Running,
    /// Decided (timeout, abort) but not handed out yet: complete frames still buffered are
    /// delivered first.
    Pending(Closed),
    Emitted,
}

/// One WebSocket connection after the opening handshake: a sans-IO state machine.
///
/// Method kinds (as in quinn-proto):
/// - inputs: [`read_buf`](Self::read_buf) + [`commit_read`](Self::commit_read),
///   [`receive`](Self::receive), [`receive_eof`](Self::receive_eof),
///   [`handle_timeout`](Self::handle_timeout);
/// - commands: [`send`](Self::send), [`send_text`](Self::send_text),
///   [`send_binary`](Self::send_binary), [`close`](Self::close) — misuse is a synchronous
///   [`SendError`];
/// - outputs: [`poll_event`](Self::poll_event), [`poll_transmit`](Self::poll_transmit) +
///   [`consume_transmit`](Self::consume_transmit), [`poll_timeout`](Self::poll_timeout);
/// - getters: [`state`](Self::state), [`buffered_transmit`](Self::buffered_transmit),
///   [`should_shutdown`](Self::should_shutdown), and more.
///
/// Any call order is legal and extra calls are no-ops. A driver loop: write what
/// `poll_transmit` offers, hand out `poll_event`s, call `handle_timeout` when
/// `poll_timeout` is due, read into `read_buf`; after [`Event::Closed`], flush and shut the
/// transport down once `should_shutdown` says so.
///
/// ```
/// use tether_proto::{Connection, Config, Role, Event, Message, Instant};
/// // Embedding after your own HTTP upgrade (e.g. in a server framework):
/// let mut conn = Connection::new(Role::Server, Config::default());
/// let frame = [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]; // masked "hi"
/// conn.receive(Instant::ZERO, &frame);
/// assert_eq!(conn.poll_event(), Some(Event::Message(Message::text("hi"))));
/// conn.send(Message::text("hello")).unwrap();
/// assert_eq!(conn.buffered_transmit(), 7);
/// ```
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    protocol: Option<String>,

    // Receive side. `rx[head..filled]` is input; `rx[..head]` is consumed (small messages
    // copied out) and reclaimed by moving the rest to the front when space runs out;
    // `rx[filled..]` is initialized spare space that `read_buf` lends out. While a frame is
    // being received (`frame` is `Some`), `head` is 0 and its payload starts at `rx[0]`.
    rx: BytesMut,
    head: usize,
    filled: usize,
    /// How much read space to offer: starts at `read_buffer_size`, doubles after a read
    /// that filled all the space offered (up to `READ_AHEAD`, or `MAX_READ_WINDOW` through
    /// `read_buf_uninit`), halves after a short one.
    read_window: usize,
    /// Space offered by the last [`read_buf`](Self::read_buf) or [`read_buf_uninit`](Self::read_buf_uninit).
    offered: usize,
    frame: Option<InFrame>,
    partial: Option<Partial>,
    utf8: Utf8Validator,
    eof: bool,

    // Send side.
    tx: TxQueue,
    keys: KeyCache,
    pending_pong: Option<Bytes>,
    pending_keepalive_ping: bool,
    close_sent: bool,

    // Ending.
    end: End,
    closed: Option<Closed>,
    /// After the end: the transport may be shut down once the queue is flushed.
    shutdown_ready: bool,
    /// After the end: give up on flushing/waiting and shut down now.
    shutdown_now: bool,

    // Time.
    now: Option<Instant>,
    last_rx: Option<Instant>,
    ping_sent_at: Option<Instant>,
    close_deadline: Option<Instant>,
}

impl Connection {
    /// A connection for `role` whose opening handshake is already done (by
    /// [`ServerHandshake`](crate::ServerHandshake), [`ClientHandshake`](crate::ClientHandshake),
    /// or your own HTTP stack).
    pub fn new(role: Role, config: Config) -> Connection {
        let rx = BytesMut::new();
        let read_window = config.read_buffer_size;
        Connection {
            role,
            config,
            protocol: None,
            rx,
            head: 0,
            filled: 0,
            read_window,
            offered: 0,
            frame: None,
            partial: None,
            utf8: Utf8Validator::new(),
            eof: false,
            tx: TxQueue::default(),
            keys: KeyCache::new(),
            pending_pong: None,
            pending_keepalive_ping: false,
            close_sent: false,
            end: End::Running,
            closed: None,
            shutdown_ready: false,
            shutdown_now: false,
            now: None,
            last_rx: None,
            ping_sent_at: None,
            close_deadline: None,
        }
    }

    // ----- handshake hand-over -----

    /// Queue raw bytes (the handshake response) ahead of any frame.
    pub(crate) fn queue_raw(&mut self, bytes: &[u8]) {
        self.tx.push_copy(bytes, true);
    }

    /// Bytes that followed the handshake head in the same read: they are frames.
    pub(crate) fn push_leftover(&mut self, bytes: &[u8]) {
        self.append(bytes);
    }

    pub(crate) fn set_protocol(&mut self, protocol: Option<String>) {
        self.protocol = protocol;
    }

    // ----- inputs -----

    /// Spare buffer space to read transport bytes into; pass the count read to
    /// [`commit_read`](Self::commit_read).
    ///
    /// An empty slice means "stop reading for now": either enough input is buffered that
    /// events should be taken first (backpressure), or the connection has ended.
    pub fn read_buf(&mut self) -> &mut [u8] {
        if !self.may_read() {
            return &mut [];
        }
        let needed = self.frame.as_ref().map_or(0, |f| f.len);
        let offered = self.reserve_spare(needed, true);
        self.offered = offered;
        &mut self.rx[self.filled..self.filled + offered]
    }

    /// [`read_buf`](Self::read_buf) for transports that can read into *uninitialized*
    /// memory (an async runtime's read buffer type often can): the same spare space, as a
    /// [`BufMut`](bytes::BufMut) limited to what is offered, without zeroing it first.
    /// Append to it (only append), then call [`commit_appended`](Self::commit_appended).
    /// A limit of 0 means "stop reading for now", as an empty `read_buf` does.
    ///
    /// Zeroing is not free: with `read_buf`, every buffer that a large message took away
    /// (zero-copy) is replaced by one whose spare space is zeroed before the transport
    /// writes over it.
    ///
    /// ```
    /// use tether_proto::{BufMut, Config, Connection, Event, Instant, Message, Role};
    /// let mut conn = Connection::new(Role::Server, Config::default());
    /// let mut space = conn.read_buf_uninit();
    /// space.put_slice(&[0x82, 0x82, 0, 0, 0, 0, 7, 8]); // masked binary [7, 8], key 0
    /// conn.commit_appended(Instant::ZERO);
    /// assert_eq!(conn.poll_event(), Some(Event::Message(Message::binary(vec![7u8, 8]))));
    /// ```
    pub fn read_buf_uninit(&mut self) -> bytes::buf::Limit<&mut BytesMut> {
        let offered = if self.may_read() {
            let needed = self.frame.as_ref().map_or(0, |f| f.len);
            self.reserve_spare(needed, false)
        } else {
            self.rx.truncate(self.filled);
            0
        };
        self.offered = offered;
        bytes::BufMut::limit(&mut self.rx, offered)
    }

    /// Commit what was appended to [`read_buf_uninit`](Self::read_buf_uninit)'s space.
    /// Appending nothing is *not* end-of-file: call [`receive_eof`](Self::receive_eof).
    pub fn commit_appended(&mut self, now: Instant) {
        self.tick(now);
        if self.rx.len() < self.filled {
            // Only appending is allowed; a caller that cut the buffer lost input. Keep the
            // indices valid (the engine must not panic), the protocol will fail on the gap.
            self.rx.resize(self.filled, 0);
        }
        let n = (self.rx.len() - self.filled).min(self.offered);
        self.rx.truncate(self.filled + n);
        let offered = core::mem::take(&mut self.offered);
        self.adapt_window(offered, n, MAX_READ_WINDOW);
        if n > 0 {
            self.filled += n;
            self.note_activity(now);
        }
    }

    /// Whether to offer read space: not after the end, and not while enough input is
    /// buffered that events should be taken first (backpressure).
    fn may_read(&self) -> bool {
        if !self.accepts_input() {
            return false;
        }
        let needed = self.frame.as_ref().map_or(0, |f| f.len);
        let pending = self.filled - self.head;
        !(pending >= READ_AHEAD && pending >= needed)
    }

    /// The read window follows the transport: it doubles (up to `max`) after a read that
    /// filled all the space offered and halves after a short one.
    fn adapt_window(&mut self, offered: usize, n: usize, max: usize) {
        if n == offered && n > 0 {
            // The transport had more than we offered: offer more next time (fewer reads).
            self.read_window = (self.read_window * 2).min(max);
        } else if n < self.read_window / 4 {
            self.read_window = (self.read_window / 2).max(self.config.read_buffer_size);
        }
    }

    /// Commit `n` bytes written into the slice [`read_buf`](Self::read_buf) returned.
    /// A read of 0 bytes is *not* end-of-file: call [`receive_eof`](Self::receive_eof).
    pub fn commit_read(&mut self, now: Instant, n: usize) {
        self.tick(now);
        let offered = core::mem::take(&mut self.offered);
        let n = n.min(offered);
        self.adapt_window(offered, n, READ_AHEAD);
        if n > 0 {
            self.filled += n;
            self.note_activity(now);
        }
    }

    /// Copy received transport bytes in (for callers that own their read buffer).
    pub fn receive(&mut self, now: Instant, data: &[u8]) {
        self.tick(now);
        if !data.is_empty() && self.accepts_input() {
            self.append(data);
            self.note_activity(now);
        }
    }

    /// The transport's read side ended (the peer closed or half-closed TCP).
    pub fn receive_eof(&mut self, now: Instant) {
        self.tick(now);
        self.eof = true;
        if matches!(self.end, End::Emitted) {
            // A client waiting for the server to end the transport: done waiting.
            self.shutdown_ready = true;
        }
    }

    /// Let timers fire: the close timeout, keepalive pings and their timeout, and the idle
    /// timeout. Call it when [`poll_timeout`](Self::poll_timeout) is due (calling it at
    /// other times is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        match self.end {
            End::Running => {}
            End::Pending(_) => return,
            End::Emitted => {
                if self.close_deadline.is_some_and(|d| now >= d) {
                    self.shutdown_now = true;
                    self.close_deadline = None;
                }
                return;
            }
        }
        let last_rx = self.last_rx.unwrap_or(now);
        if self.close_sent {
            if self.close_deadline.is_some_and(|d| now >= d) {
                self.abort(CloseCause::CloseTimeout);
            }
            return;
        }
        if self.config.idle_timeout.is_some_and(|t| now >= last_rx + t) {
            self.abort(CloseCause::IdleTimeout);
            return;
        }
        if let Some(interval) = self.config.keepalive_interval {
            match self.ping_sent_at {
                Some(sent) if now >= sent + self.config.keepalive_timeout => {
                    self.abort(CloseCause::IdleTimeout);
                }
                None if now >= last_rx + interval => {
                    self.pending_keepalive_ping = true;
                    self.ping_sent_at = Some(now);
                }
                _ => {}
            }
        }
    }

    // ----- commands -----

    /// Queue a message. Text and binary payloads are framed (and fragmented, if
    /// [`Config::fragment_size`] is set); `Message::Close` is the same as
    /// [`close`](Self::close) at the latest time the engine has been given.
    ///
    /// # Errors
    /// [`SendError::AlreadyClosed`] once a close frame was queued or the connection ended;
    /// [`SendError::ControlPayloadTooLarge`] for pings and pongs over 125 bytes; close
    /// errors as for [`close`](Self::close).
    #[inline]
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        if !self.can_send() {
            return Err(SendError::AlreadyClosed);
        }
        match message {
            Message::Text(text) => self.queue_data(OpCode::Text, Payload::Shared(text.into_bytes())),
            Message::Binary(data) => self.queue_data(OpCode::Binary, Payload::Shared(data)),
            Message::Ping(data) | Message::Pong(data) if data.len() > 125 => {
                return Err(SendError::ControlPayloadTooLarge { len: data.len() })
            }
            Message::Ping(data) => self.queue_frame(true, OpCode::Ping, Payload::Shared(data)),
            Message::Pong(data) => self.queue_frame(true, OpCode::Pong, Payload::Shared(data)),
            Message::Close(frame) => {
                if let Some(f) = &frame {
                    CloseFrame::new(f.code, f.reason.clone())?;
                }
                self.start_close(frame);
            }
        }
        Ok(())
    }

    /// Queue a text message copied from `text`: the same frames as
    /// [`send(Message::Text(..))`](Self::send) (fragmented per [`Config::fragment_size`],
    /// masked by clients), without building a [`Utf8Bytes`] first.
    ///
    /// The payload is copied once, straight into the transmit queue (clients mask in that
    /// same copy), so a small message costs no allocation of its own and no reference
    /// counting. Large server payloads are copied too; to send those without any copy,
    /// hand over a [`Bytes`] with [`send`](Self::send), which queues it by reference.
    ///
    /// # Errors
    /// [`SendError::AlreadyClosed`] once a close frame was queued or the connection ended
    /// (nothing is queued).
    ///
    /// ```
    /// use tether_proto::{Connection, Config, Role};
    /// let mut conn = Connection::new(Role::Server, Config::default());
    /// let name = String::from("world");
    /// conn.send_text(&format!("hello {name}")).unwrap();
    /// assert_eq!(conn.buffered_transmit(), 2 + 11);
    /// ```
    #[inline]
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        if !self.can_send() {
            return Err(SendError::AlreadyClosed);
        }
        self.queue_borrowed(OpCode::Text, text.as_bytes());
        Ok(())
    }

    /// Queue a binary message copied from `data`: the same frames as
    /// [`send(Message::Binary(..))`](Self::send), copied once into the transmit queue as
    /// for [`send_text`](Self::send_text). For large server payloads, [`send`](Self::send)
    /// with a [`Bytes`] is the zero-copy path.
    ///
    /// # Errors
    /// [`SendError::AlreadyClosed`] once a close frame was queued or the connection ended
    /// (nothing is queued).
    ///
    /// ```
    /// use tether_proto::{Connection, Config, Role};
    /// let mut conn = Connection::new(Role::Client, Config::default());
    /// let reading = [0x01u8, 0x02, 0x03];
    /// conn.send_binary(&reading).unwrap();
    /// // Header, mask key, payload.
    /// assert_eq!(conn.buffered_transmit(), 2 + 4 + 3);
    /// ```
    #[inline]
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        if !self.can_send() {
            return Err(SendError::AlreadyClosed);
        }
        self.queue_borrowed(OpCode::Binary, data);
        Ok(())
    }

    /// Start the close handshake: queue a close frame after the data already queued and
    /// wait (at most [`Config::close_timeout`]) for the peer's.
    ///
    /// # Errors
    /// [`SendError::InvalidCloseCode`] for codes that may not be sent (1005, 1006, 1015, …),
    /// [`SendError::CloseReasonTooLong`] beyond 123 bytes, [`SendError::AlreadyClosed`] if
    /// a close frame was already queued or the connection ended.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.tick(now);
        if !self.can_send() {
            return Err(SendError::AlreadyClosed);
        }
        let frame = CloseFrame::new(code, reason)?;
        self.start_close(Some(frame));
        Ok(())
    }

    // ----- outputs -----

    /// The next event: a message, or the final [`Event::Closed`]. Frames are parsed here,
    /// one message per call; `None` means "nothing until more input or time".
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some((start, len, key, text)) = self.small_masked_frame() {
            let payload = &mut self.rx[start..start + len];
            apply_mask(payload, key, 0);
            // The general decoder's validation, whole: `feed`, then `finish` (a message
            // that ends inside a character).
            if text && (self.utf8.feed(payload).is_err() || self.utf8.finish().is_err()) {
                return Some(self.fail(ProtocolError::InvalidUtf8));
            }
            return Some(Event::Message(self.copy_out(start, len, text)));
        }
        self.poll_event_slow()
    }

    /// The frames a server receives most, recognised without the general decoder: between
    /// messages, a whole masked single-frame text or binary message of at most
    /// [`SMALL_COPY`] bytes (FIN, no RSV bits, 7- or 16-bit length) within the size limits.
    /// Returns where its payload is, its key and whether it is text. Everything else goes
    /// the general way, which decodes these frames to the same message: the fast path only
    /// skips the checks that cannot fail for them.
    #[inline(always)]
    fn small_masked_frame(&self) -> Option<(usize, usize, [u8; 4], bool)> {
        if !matches!(self.end, End::Running)
            || self.role != Role::Server
            || self.frame.is_some()
            || self.partial.is_some()
        {
            return None;
        }
        let buf = &self.rx[self.head..self.filled];
        let (b0, len, at) = match *buf {
            [b0 @ (0x81 | 0x82), b1 @ 0x80..=0xFD, ..] => (b0, usize::from(b1 & 0x7F), 2),
            [b0 @ (0x81 | 0x82), 0xFE, l0, l1, ..] => (b0, usize::from(u16::from_be_bytes([l0, l1])), 4),
            _ => return None,
        };
        // One frame: within `max_message_size` when within `max_frame_size` (the config
        // keeps frames no larger than messages).
        if len > SMALL_COPY || buf.len() < at + 4 + len || len > self.config.max_frame_size {
            return None;
        }
        let key = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        Some((self.head + at + 4, len, key, b0 == 0x81))
    }

    /// `poll_event` for everything but [`small_masked_frame`](Self::small_masked_frame).
    #[inline(never)]
    fn poll_event_slow(&mut self) -> Option<Event> {
        if matches!(self.end, End::Emitted) {
            // Only a client waiting for the server's end of the transport reads now.
            self.rx.clear();
            self.head = 0;
            self.filled = 0;
            return None;
        }
        let aborting = matches!(self.end, End::Pending(_));
        loop {
            match self.decode_next() {
                Ok(Step::Event(event)) => return Some(event),
                // The message is built here, straight into the return value. Built inside
                // `decode_next` and moved out through `Step`, the 64-byte event was written
                // piecewise and read back whole: a store-forwarding stall per message that
                // perf put at 5 of the 27 ns a 16-byte message cost to decode.
                Ok(Step::Small { start, len, text }) => return Some(Event::Message(self.copy_out(start, len, text))),
                Ok(Step::Continue) => continue,
                Ok(Step::NeedMore) => break,
                Err(error) if aborting => {
                    // Already ending for another reason; stop parsing.
                    let _ = error;
                    break;
                }
                Err(error) => return Some(self.fail(error)),
            }
        }
        if let End::Pending(_) = self.end {
            if let End::Pending(closed) = core::mem::replace(&mut self.end, End::Running) {
                return Some(self.emit(closed));
            }
        }
        if self.eof {
            let closed =
                Closed { code: CloseCode::ABNORMAL, reason: Utf8Bytes::default(), cause: CloseCause::TransportEof };
            self.shutdown_ready = true;
            return Some(self.emit(closed));
        }
        None
    }

    /// Fill `chunks` with the next bytes to write, in order, for a vectored write; returns
    /// how many chunks were filled (0: nothing to send). After writing, report how many
    /// bytes were written with [`consume_transmit`](Self::consume_transmit); partial
    /// writes are fine.
    #[must_use]
    #[inline]
    pub fn poll_transmit<'a>(&'a mut self, chunks: &mut [&'a [u8]]) -> usize {
        // Nothing queued, control frames included (a drive loop asks after every write and
        // before every read): answered inline, without building chunks.
        if self.buffered_transmit() == 0 {
            return 0;
        }
        self.transmit_chunks(chunks)
    }

    fn transmit_chunks<'a>(&'a mut self, chunks: &mut [&'a [u8]]) -> usize {
        self.encode_pending_control();
        self.tx.chunks(chunks)
    }

    /// Mark `n` bytes of what [`poll_transmit`](Self::poll_transmit) offered as written.
    pub fn consume_transmit(&mut self, n: usize) {
        self.tx.consume(n);
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.end {
            End::Pending(_) => None,
            End::Emitted => {
                if self.should_shutdown() {
                    None
                } else {
                    self.close_deadline
                }
            }
            End::Running => {
                if self.close_sent {
                    return self.close_deadline;
                }
                let last_rx = self.last_rx?;
                let idle = self.config.idle_timeout.map(|t| last_rx + t);
                let keepalive = self.config.keepalive_interval.map(|interval| match self.ping_sent_at {
                    Some(sent) => sent + self.config.keepalive_timeout,
                    None => last_rx + interval,
                });
                match (idle, keepalive) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
        }
    }

    // ----- getters -----

    /// Where the connection is, as far as events handed out so far tell.
    pub fn state(&self) -> State {
        match self.end {
            End::Emitted => State::Closed,
            _ if self.close_sent => State::Closing,
            _ => State::Open,
        }
    }

    /// Bytes queued for the transport and not yet consumed.
    #[inline]
    pub fn buffered_transmit(&self) -> usize {
        // Control frames not encoded yet: a 2-byte header, plus the mask key for a client.
        let header = 2 + if self.role == Role::Client { 4 } else { 0 };
        let pong = self.pending_pong.as_ref().map_or(0, |p| header + p.len());
        let ping = if self.pending_keepalive_ping { header } else { 0 };
        self.tx.len() + pong + ping
    }

    /// Received bytes not yet turned into events.
    #[inline]
    pub fn buffered_receive(&self) -> usize {
        self.filled - self.head
    }

    /// Whether the caller should now flush nothing more and shut the transport down: after
    /// [`Event::Closed`], once our frames are written (the server closes TCP first, RFC 6455
    /// §7.1.1), or once the client has seen the server end the transport, or when the close
    /// timeout expired.
    pub fn should_shutdown(&self) -> bool {
        matches!(self.end, End::Emitted) && (self.shutdown_now || (self.shutdown_ready && self.tx.is_empty()))
    }

    /// How the connection ended, once [`Event::Closed`] has been handed out.
    #[inline]
    pub fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }

    /// Whether messages may still be sent.
    #[inline]
    pub fn can_send(&self) -> bool {
        !self.close_sent && matches!(self.end, End::Running)
    }

    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    #[inline]
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----- receive internals -----

    fn accepts_input(&self) -> bool {
        match self.end {
            End::Running => !self.eof,
            End::Pending(_) => false,
            // A client still reads until the server ends the transport (bytes discarded).
            End::Emitted => !self.eof && !self.shutdown_ready,
        }
    }

    fn tick(&mut self, now: Instant) {
        if self.now.is_none_or(|t| now > t) {
            self.now = Some(now);
        }
        if self.last_rx.is_none() {
            self.last_rx = Some(now);
        }
    }

    fn now(&self) -> Instant {
        self.now.unwrap_or(Instant::ZERO)
    }

    fn note_activity(&mut self, now: Instant) {
        self.last_rx = Some(now);
        self.ping_sent_at = None;
    }

    /// Make sure there is spare space after `filled`, growing only with what has arrived:
    /// at least the configured buffer size, at most what is already buffered (doubling),
    /// and no more than the current frame still needs when that is known.
    ///
    /// With `init`, the spare space is initialized (zeroed where new) and is
    /// `rx[filled..]`; without, `rx` ends at `filled` and the spare space is capacity.
    /// Returns the spare space offered.
    fn reserve_spare(&mut self, frame_len: usize, init: bool) -> usize {
        if self.head == self.filled {
            // Everything buffered was consumed: reuse the buffer from the start (no copy).
            self.head = 0;
            self.filled = 0;
        }
        // `offered` is 0 until the first offer after a commit (which takes it); an offer with
        // nothing buffered is never 0.
        if self.filled == 0 && self.offered == 0 {
            // The read window has shrunk (short reads: the peer slowed down or went idle)
            // well below the buffer a burst of small frames left behind: give the memory
            // back. Under steady load the window stays near the buffer size, so this does
            // not churn. Decided at the first offer after a read, and before the reclaim
            // below: a buffer a large message was just split from shows only its tail here,
            // so it is reclaimed and reused for the next large message, not freed and
            // allocated again each time; and a second offer without a read in between
            // (after the reclaim, seeing the whole buffer) does not decide otherwise.
            if self.rx.capacity() > 4 * self.read_window {
                self.rx = BytesMut::new();
            }
        }
        if !init {
            // Uninitialized mode: the buffer ends where the input does.
            self.rx.truncate(self.filled);
            if self.filled == 0 {
                // Nothing buffered: move the (empty) buffer back to the start of its
                // allocation if it sits further in, behind a large message already handed
                // out. Free now; otherwise the next large frame finds too little room
                // behind it and the part that has arrived is moved then (measured: 256 KiB
                // moved per 1 MiB message). Fails harmlessly when already at the start or
                // when a message the application still holds shares the allocation.
                let _ = self.rx.try_reclaim(self.rx.capacity() + 1);
            }
        }
        // Between frames, ask for at least half the window, so a growing window means
        // larger reads. Inside a frame keep the small threshold: the buffer then grows only
        // by doubling what has arrived, never toward the announced length.
        let window = if init { self.read_window.min(READ_AHEAD) } else { self.read_window };
        let min_spare = if frame_len > 0 { 512 } else { 512.max(window / 2) };
        let spare = self.spare(init);
        if spare >= min_spare || (frame_len > 0 && self.filled + spare >= frame_len && spare > 0) {
            return self.offer(init, frame_len);
        }
        if self.head > 0 {
            // Reclaim the consumed front. What is left is normally a partial small frame;
            // a large remainder is split off instead of copied.
            let rest = self.filled - self.head;
            if rest <= 4096 {
                self.rx.copy_within(self.head..self.filled, 0);
            } else {
                self.rx.advance(self.head);
            }
            self.head = 0;
            self.filled = rest;
            if !init {
                self.rx.truncate(self.filled);
            }
            let spare = self.spare(init);
            if spare >= min_spare || (frame_len > 0 && self.filled + spare >= frame_len) {
                return self.offer(init, frame_len);
            }
        }
        // Zeroed space is not free: `read_buf` never grows past READ_AHEAD.
        let base = if init { self.read_window.min(READ_AHEAD) } else { self.read_window };
        let mut want = base.max(self.filled);
        if frame_len > self.filled {
            want = want.min((frame_len - self.filled).max(base));
        }
        // `reserve` grows a buffer nobody else holds in place (realloc: no copy, and no
        // fresh pages for what is already there) and moves the unconsumed part to a new
        // buffer only when the old one is shared with delivered messages.
        self.rx.truncate(self.filled);
        self.rx.reserve(want);
        if init {
            self.rx.resize(self.filled + want, 0);
        }
        self.offer(init, frame_len)
    }

    fn spare(&self, init: bool) -> usize {
        if init {
            self.rx.len() - self.filled
        } else {
            self.rx.capacity() - self.filled
        }
    }

    /// The spare space to offer, or the end of the current frame if that is larger:
    /// zeroed space up to `READ_AHEAD` (it was zeroed to be read into; only space that
    /// grew while a partial frame sat in front of it can exceed that), uninitialized
    /// capacity only up to the read window, so a buffer left large by a burst is not
    /// offered whole.
    fn offer(&self, init: bool, frame_len: usize) -> usize {
        let limit = if init { READ_AHEAD } else { self.read_window };
        self.spare(init).min(limit.max(frame_len.saturating_sub(self.filled)))
    }

    fn append(&mut self, data: &[u8]) {
        self.rx.truncate(self.filled);
        self.rx.extend_from_slice(data);
        self.filled = self.rx.len();
    }

    /// Split off the next `n` unconsumed bytes of the receive buffer (shared, no copy).
    fn consume_rx(&mut self, n: usize) -> BytesMut {
        let end = self.head + n;
        self.filled -= end;
        let mut taken = self.rx.split_to(end);
        taken.advance(self.head);
        self.head = 0;
        if self.filled == 0
            && self.frame.is_none()
            && self.rx.capacity() > 4 * self.config.read_buffer_size.max(MAX_READ_WINDOW)
        {
            // Shrink after a large message instead of keeping its buffer forever.
            self.rx = BytesMut::new();
        }
        taken
    }

    fn decode_next(&mut self) -> Result<Step, ProtocolError> {
        if self.frame.is_none() {
            let rules = DecodeRules {
                role: self.role,
                accept_unmasked: self.config.accept_unmasked_frames,
                max_frame_size: self.config.max_frame_size,
            };
            let Some((header, header_len)) = decode_header(&self.rx[self.head..self.filled], &rules)? else {
                return Ok(Step::NeedMore);
            };
            self.check_sequence(&header)?;
            // Fits in usize: bounded by max_frame_size above.
            let len = header.payload_len as usize;
            let start = self.head + header_len;
            if self.filled - start >= len {
                // The whole frame is buffered (the common case for small messages): unmask,
                // validate and take it in one step, without parking it in `self.frame`.
                let text = self.is_text(header.opcode);
                let payload = &mut self.rx[start..start + len];
                if let Some(key) = header.mask {
                    apply_mask(payload, key, 0);
                }
                if text && self.utf8.feed(payload).is_err() {
                    return Err(ProtocolError::InvalidUtf8);
                }
                if is_small_message(&header, len) {
                    return self.small(start, len, text);
                }
                let mut frame = self.consume_rx(header_len + len);
                frame.advance(header_len);
                return self.complete_frame(header, frame);
            }
            // Only part of the payload is here: drop what was consumed so the frame's
            // payload starts at `rx[0]`.
            self.rx.advance(start);
            self.filled -= start;
            self.head = 0;
            if len > self.rx.capacity() {
                // The frame will not fit where it starts (often far into a buffer whose
                // front held the previous large message). Move what has arrived to the
                // front of the allocation now, while it is little, if that makes room for
                // the whole frame without allocating; otherwise the move happens anyway,
                // later, with the whole frame (measured: 1 MiB memmove per 1 MiB message).
                self.rx.truncate(self.filled);
                let _ = self.rx.try_reclaim(len - self.filled);
            }
            self.frame = Some(InFrame { header, len, processed: 0 });
        }
        let Some(opcode) = self.frame.as_ref().map(|f| f.header.opcode) else {
            return Ok(Step::NeedMore);
        };
        let is_text = self.is_text(opcode);
        let Some(frame) = self.frame.as_mut() else {
            return Ok(Step::NeedMore);
        };
        let available = self.filled.min(frame.len);
        if available > frame.processed {
            let chunk = &mut self.rx[frame.processed..available];
            if let Some(key) = frame.header.mask {
                apply_mask(chunk, key, frame.processed);
            }
            if is_text && self.utf8.feed(chunk).is_err() {
                return Err(ProtocolError::InvalidUtf8);
            }
            frame.processed = available;
        }
        if available < frame.len {
            return Ok(Step::NeedMore);
        }
        let header = frame.header;
        let len = frame.len;
        self.frame = None;
        if is_small_message(&header, len) {
            // The frame's payload starts at `rx[0]`.
            return self.small(0, len, is_text);
        }
        let payload = self.consume_rx(len);
        self.complete_frame(header, payload)
    }

    /// Hand out the whole message at `rx[start..start + len]` as a copy (see
    /// [`SMALL_COPY`]), leaving the receive buffer unshared.
    fn copy_out(&mut self, start: usize, len: usize, text: bool) -> Message {
        // Through an exact-size `Box<[u8]>`, not `Bytes::copy_from_slice` (a `Vec`, then its
        // conversion): the same single allocation, with the conversion inlined (16 B decode
        // 21.2 -> 18.9 ns; 16 B echo +2%).
        let payload = Bytes::from(Box::<[u8]>::from(&self.rx[start..start + len]));
        self.head = start + len;
        data_message(text, payload)
    }

    /// A whole small message was unmasked and fed to the validator: hand back where it is.
    fn small(&mut self, start: usize, len: usize, text: bool) -> Result<Step, ProtocolError> {
        self.check_message_end(text)?;
        Ok(Step::Small { start, len, text })
    }

    fn is_text(&self, opcode: OpCode) -> bool {
        match opcode {
            OpCode::Text => true,
            OpCode::Continuation => self.partial.as_ref().is_some_and(|p| p.text),
            _ => false,
        }
    }

    /// The rules that depend on what came before (§5.4) and the message size limit.
    fn check_sequence(&self, header: &FrameHeader) -> Result<(), ProtocolError> {
        let max = self.config.max_message_size;
        match header.opcode {
            OpCode::Continuation => {
                let Some(partial) = &self.partial else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                let size = partial.buf.len() as u64 + header.payload_len;
                if size > max as u64 {
                    return Err(ProtocolError::MessageTooLarge { size, max });
                }
            }
            OpCode::Text | OpCode::Binary => {
                if self.partial.is_some() {
                    return Err(ProtocolError::DataFrameInsideFragmentedMessage);
                }
                if header.payload_len > max as u64 {
                    return Err(ProtocolError::MessageTooLarge { size: header.payload_len, max });
                }
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => {}
        }
        Ok(())
    }

    fn complete_frame(&mut self, header: FrameHeader, payload: BytesMut) -> Result<Step, ProtocolError> {
        match header.opcode {
            OpCode::Text | OpCode::Binary if header.fin => {
                Ok(Step::Event(self.finish_message(header.opcode == OpCode::Text, payload.freeze())?))
            }
            OpCode::Text | OpCode::Binary => {
                self.partial = Some(Partial { text: header.opcode == OpCode::Text, buf: payload });
                Ok(Step::Continue)
            }
            OpCode::Continuation => {
                let Some(partial) = self.partial.as_mut() else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                partial.buf.extend_from_slice(&payload);
                if !header.fin {
                    return Ok(Step::Continue);
                }
                let Some(Partial { text, buf }) = self.partial.take() else {
                    return Ok(Step::Continue);
                };
                Ok(Step::Event(self.finish_message(text, buf.freeze())?))
            }
            OpCode::Ping => {
                let payload = payload.freeze();
                if self.config.auto_pong && self.can_send() {
                    self.queue_pong(payload.clone());
                }
                Ok(Step::Event(Event::Message(Message::Ping(payload))))
            }
            OpCode::Pong => Ok(Step::Event(Event::Message(Message::Pong(payload.freeze())))),
            OpCode::Close => {
                let frame = CloseFrame::parse(&payload)?;
                Ok(Step::Event(self.peer_closed(frame)))
            }
        }
    }

    #[inline]
    fn finish_message(&mut self, text: bool, payload: Bytes) -> Result<Event, ProtocolError> {
        self.check_message_end(text)?;
        Ok(Event::Message(data_message(text, payload)))
    }

    /// A text message must not end inside a UTF-8 sequence.
    #[inline]
    fn check_message_end(&mut self, text: bool) -> Result<(), ProtocolError> {
        if text && self.utf8.finish().is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok(())
    }

    // ----- ending -----

    /// The peer's close frame arrived (§5.5.1, §7.1.2).
    fn peer_closed(&mut self, frame: Option<CloseFrame>) -> Event {
        let cause = if self.close_sent {
            CloseCause::LocallyInitiated
        } else {
            // Echo the code (no reason), after the data already queued: see the manual.
            let reply = frame.as_ref().map(|f| CloseFrame { code: f.code, reason: Utf8Bytes::default() });
            self.queue_close(reply, false);
            CloseCause::PeerInitiated
        };
        let (code, reason) = match frame {
            Some(f) => (f.code, f.reason),
            None => (CloseCode::NO_STATUS, Utf8Bytes::default()),
        };
        // The server ends TCP first (§7.1.1); a client waits a bounded time for it.
        self.shutdown_ready = self.role == Role::Server;
        self.emit(Closed { code, reason, cause })
    }

    /// Fail the WebSocket connection (§7.1.7): close frame with the error's code ahead of
    /// unstarted data, then end the transport once it is written.
    fn fail(&mut self, error: ProtocolError) -> Event {
        let code = error.close_code();
        if !self.close_sent {
            // After data already queued: the application handed those messages over before
            // the violation was seen (Autobahn 3.2, 4.1.3, 5.15 expect the echo first).
            let reason = short_reason(&error);
            self.queue_close(Some(CloseFrame { code, reason }), false);
        }
        self.shutdown_ready = true;
        self.emit(Closed { code, reason: Utf8Bytes::default(), cause: CloseCause::Protocol(error) })
    }

    /// A timeout ended the connection: send 1011 best-effort (unless our close is already
    /// out), report 1006, and hand the event out after complete buffered frames.
    fn abort(&mut self, cause: CloseCause) {
        if !self.close_sent {
            self.queue_close(Some(CloseFrame { code: CloseCode::INTERNAL_ERROR, reason: Utf8Bytes::default() }), true);
        }
        // Best-effort: the peer is unresponsive, so do not wait for the flush.
        self.shutdown_now = true;
        self.end = End::Pending(Closed { code: CloseCode::ABNORMAL, reason: Utf8Bytes::default(), cause });
    }

    fn emit(&mut self, closed: Closed) -> Event {
        self.end = End::Emitted;
        self.partial = None;
        self.frame = None;
        self.pending_pong = None;
        self.pending_keepalive_ping = false;
        self.rx = BytesMut::new();
        self.head = 0;
        self.filled = 0;
        // Bound the flush (and a client's wait for the server's FIN) by the close timeout.
        self.close_deadline = Some(self.now() + self.config.close_timeout);
        self.closed = Some(closed.clone());
        Event::Closed(closed)
    }

    fn start_close(&mut self, frame: Option<CloseFrame>) {
        self.queue_close(frame, false);
        self.close_deadline = Some(self.now() + self.config.close_timeout);
    }

    /// Queue our one close frame. `urgent`: ahead of unstarted data (failing), else after it.
    fn queue_close(&mut self, frame: Option<CloseFrame>, urgent: bool) {
        if self.close_sent {
            return;
        }
        self.close_sent = true;
        self.pending_pong = None;
        self.pending_keepalive_ping = false;
        let mut payload = [0u8; 125];
        let len = match &frame {
            Some(f) => {
                let mut w = &mut payload[..];
                f.encode_into(&mut w);
                f.wire_len()
            }
            None => 0,
        };
        if urgent {
            self.tx.discard_unstarted();
            self.encode_control_urgent(OpCode::Close, &payload[..len]);
        } else {
            self.queue_frame(true, OpCode::Close, Payload::Borrowed(&payload[..len]));
        }
    }

    // ----- send internals -----

    /// Answer a ping. Pongs are encoded at once while little urgent output is waiting (so
    /// every ping of a burst gets its pong, Autobahn 2.10); beyond [`URGENT_CAP`] bytes only
    /// the latest ping is remembered (§5.5.3 allows answering just the most recent), so a
    /// ping flood from a peer that never reads cannot grow memory.
    fn queue_pong(&mut self, payload: Bytes) {
        if self.tx.urgent_len() + MAX_HEADER_LEN + payload.len() <= URGENT_CAP && self.pending_pong.is_none() {
            self.encode_control_urgent(OpCode::Pong, &payload);
        } else {
            self.pending_pong = Some(payload);
        }
    }

    fn encode_pending_control(&mut self) {
        if self.tx.urgent_len() > URGENT_CAP / 2 {
            return;
        }
        if let Some(payload) = self.pending_pong.take() {
            self.encode_control_urgent(OpCode::Pong, &payload);
        } else if core::mem::take(&mut self.pending_keepalive_ping) {
            self.encode_control_urgent(OpCode::Ping, &[]);
        }
    }

    fn encode_control_urgent(&mut self, opcode: OpCode, payload: &[u8]) {
        let mask = self.next_mask();
        let header = Header::new(true, opcode, mask, payload.len());
        let n = header.len();
        let mut frame = [0u8; Header::BYTES + 125];
        frame[..Header::BYTES].copy_from_slice(&header.bytes());
        let end = n + payload.len();
        frame[n..end].copy_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut frame[n..end], key, 0);
        }
        self.tx.push_urgent(&frame[..end]);
    }

    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => Some(self.keys.mask_key(self.config.rng())),
            Role::Server => None,
        }
    }

    /// Frame a text or binary message, fragmented per [`Config::fragment_size`]. Shared
    /// and borrowed payloads take the same path; only the last step (copy or reference)
    /// differs, in [`queue_frame`](Self::queue_frame).
    fn queue_data(&mut self, opcode: OpCode, payload: Payload<'_>) {
        match self.fragment_size_for(payload.len()) {
            Some(size) => {
                let mut rest = payload;
                let mut op = opcode;
                while rest.len() > size {
                    let piece = rest.split_to(size);
                    self.queue_frame(false, op, piece);
                    op = OpCode::Continuation;
                }
                self.queue_frame(true, op, rest);
            }
            None => self.queue_frame(true, opcode, payload),
        }
    }

    /// The fragment size when a payload of `len` bytes must be split, else `None`.
    #[inline]
    fn fragment_size_for(&self, len: usize) -> Option<usize> {
        self.config.fragment_size.filter(|&size| len > size)
    }

    /// `queue_data` for the caller's slice (`send_text`, `send_binary`): the one-frame case
    /// inlined into them, fragmenting left to `queue_data` — two calls fewer per small
    /// frame (16 B client encode 12.3 -> 10.6 ns). The owned `send` keeps calling
    /// `queue_data`: inlining it there made the async adapters' send future slower.
    #[inline]
    fn queue_borrowed(&mut self, opcode: OpCode, payload: &[u8]) {
        if self.fragment_size_for(payload.len()).is_some() {
            self.queue_data(opcode, Payload::Borrowed(payload));
        } else {
            self.queue_frame(true, opcode, Payload::Borrowed(payload));
        }
    }

    fn queue_frame(&mut self, fin: bool, opcode: OpCode, payload: Payload<'_>) {
        let mask = self.next_mask();
        let header = Header::new(fin, opcode, mask, payload.len());
        match (mask, payload) {
            (Some(key), payload) => {
                // Clients mask in one copy (§5.3), next to the header: one segment.
                self.tx.push_frame_copy_with(header, payload.as_slice(), |buf| apply_mask(buf, key, 0));
            }
            // Large shared server payloads are referenced, not copied.
            (None, Payload::Shared(bytes)) if bytes.len() > COPY_THRESHOLD => {
                self.tx.push_copy(&header.bytes()[..header.len()], false);
                self.tx.push_shared(bytes, true);
            }
            // Small ones, and every borrowed one (the caller keeps its slice), are copied
            // next to the header: one segment.
            (None, payload) => self.tx.push_frame_copy_with(header, payload.as_slice(), |_| {}),
        }
    }
}

/// A text (already validated) or binary message.
#[inline]
fn data_message(text: bool, payload: Bytes) -> Message {
    if text {
        Message::Text(Utf8Bytes::from_validated(payload))
    } else {
        Message::Binary(payload)
    }
}

/// A whole text or binary message of at most [`SMALL_COPY`] bytes in one frame
/// (`check_sequence` has ruled out an open fragmented message): copied out, not shared.
fn is_small_message(header: &FrameHeader, len: usize) -> bool {
    len <= SMALL_COPY && header.fin && matches!(header.opcode, OpCode::Text | OpCode::Binary)
}

enum Step {
    Event(Event),
    /// A whole small message at `rx[start..start + len]`, unmasked and validated, to be
    /// copied out by the caller (kept to three scalars: see `poll_event`).
    Small {
        start: usize,
        len: usize,
        text: bool,
    },
    Continue,
    NeedMore,
}

/// A close reason naming the violation, cut to fit a close frame.
fn short_reason(error: &ProtocolError) -> Utf8Bytes {
    use core::fmt::Write;
    let mut s = String::new();
    let _ = write!(s, "{error}");
    if s.len() > 123 {
        let mut cut = 123;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    Utf8Bytes::from(s)
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
