//! `Connection`: the RFC 6455 state machine after the opening handshake — its public API
//! (inputs, commands, outputs, getters) and the state it is made of. The work is split by
//! concern: the receive buffer (`recv_buf.rs`), decoding and reassembly (`receive.rs`),
//! framing what we send (`send.rs`), the deadlines (`timer.rs`), the inbound rate limit
//! (`rate.rs`) and how a connection ends (`ending.rs`). It performs no IO and reads no clock:
//! bytes and time come in as arguments.

mod ending;
mod rate;
mod receive;
mod recv_buf;
mod send;
mod timer;

use alloc::string::String;

use crate::close::{CloseCode, CloseFrame};
use crate::config::{Config, Role};
use crate::error::{ProtocolError, SendError};
use crate::event::{CloseCause, Closed, Event};
use crate::frame::{OpCode, MAX_CONTROL_PAYLOAD};
use crate::mask::apply_mask;
use crate::message::Message;
use crate::time::Instant;
use crate::tx::{Payload, TxQueue};

use ending::{End, Shutdown};
use receive::RecvState;
use recv_buf::RecvBuffer;
use send::{Fin, SendState};
use timer::{Timer, TimerTable};

pub(crate) use recv_buf::MAX_READ_WINDOW;
#[cfg(test)]
use recv_buf::READ_AHEAD;
pub(crate) use send::URGENT_CAP;

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

/// One WebSocket connection after the opening handshake: a sans-IO state machine.
///
/// Method kinds (as in quinn-proto):
/// - inputs: [`read_buf`](Self::read_buf) + [`commit_read`](Self::commit_read),
///   [`read_buf_uninit`](Self::read_buf_uninit) + [`commit_appended`](Self::commit_appended),
///   [`receive`](Self::receive), [`receive_eof`](Self::receive_eof),
///   [`handle_transport_error`](Self::handle_transport_error),
///   [`handle_timeout`](Self::handle_timeout);
/// - commands: [`send`](Self::send), [`send_text`](Self::send_text),
///   [`send_bytes`](Self::send_bytes), [`close`](Self::close) — misuse is a synchronous
///   [`SendError`];
/// - outputs: [`poll_event`](Self::poll_event), [`poll_transmit`](Self::poll_transmit) +
///   [`consume_transmit`](Self::consume_transmit), [`poll_timeout`](Self::poll_timeout);
/// - getters: [`state`](Self::state), [`buffered_transmit`](Self::buffered_transmit),
///   [`is_transmit_full`](Self::is_transmit_full), [`should_shutdown`](Self::should_shutdown),
///   and more.
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
    /// Received bytes not handed out yet, and the space lent to the transport.
    rx: RecvBuffer,
    /// The frame and message being received.
    recv: RecvState,
    /// Encoded bytes waiting for the transport.
    tx: TxQueue,
    /// What we send besides queued frames: mask keys, pending control frames, our close.
    send: SendState,
    /// Every deadline.
    timers: TimerTable,
    /// The latest time the caller has given (`None` before the first).
    now: Option<Instant>,
    end: End,
    shutdown: Shutdown,
    /// The inbound rate limit's buckets, when one is set (boxed: connections without one
    /// pay a pointer).
    limiter: Option<alloc::boxed::Box<crate::rate_limit::Limiter>>,
    /// permessage-deflate, when negotiated (boxed: connections without it pay a pointer).
    #[cfg(feature = "deflate")]
    deflate: Option<alloc::boxed::Box<crate::deflate::codec::DeflateState>>,
}

impl Connection {
    /// A connection for `role` whose opening handshake is already done (by
    /// [`ServerHandshake`](crate::ServerHandshake), [`ClientHandshake`](crate::ClientHandshake),
    /// or your own HTTP stack).
    pub fn new(role: Role, config: Config) -> Connection {
        let rx = RecvBuffer::new(config.read_buffer_size);
        let limiter = config.rate_limit.as_ref().map(|l| alloc::boxed::Box::new(crate::rate_limit::Limiter::new(l)));
        Connection {
            role,
            config,
            protocol: None,
            rx,
            recv: RecvState::default(),
            tx: TxQueue::default(),
            send: SendState::default(),
            timers: TimerTable::default(),
            now: None,
            end: End::Running,
            shutdown: Shutdown::default(),
            limiter,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }

    /// A connection for `role` whose handshake agreed on permessage-deflate with `params`
    /// (for embedding after your own HTTP upgrade, with the parameters from
    /// [`DeflateConfig::negotiate_server`](crate::DeflateConfig::negotiate_server); the
    /// handshakes of this crate negotiate by themselves). `config.deflate()` gives the compression level, memory level and
    /// minimum size; without it the defaults of [`DeflateConfig`](crate::DeflateConfig) apply.
    #[cfg(feature = "deflate")]
    pub fn with_deflate(role: Role, config: Config, params: crate::deflate::DeflateParams) -> Connection {
        let settings = config.deflate.clone().unwrap_or_default();
        let mut conn = Connection::new(role, config);
        conn.set_deflate(params, &settings);
        conn
    }

    #[cfg(feature = "deflate")]
    pub(crate) fn set_deflate(
        &mut self,
        params: crate::deflate::DeflateParams,
        config: &crate::deflate::DeflateConfig,
    ) {
        self.deflate = Some(alloc::boxed::Box::new(crate::deflate::codec::DeflateState::new(params, config)));
    }

    /// The permessage-deflate parameters the handshake agreed on, if it did.
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<&crate::deflate::DeflateParams> {
        self.deflate.as_deref().map(|d| &d.params)
    }

    // ----- handshake hand-over -----

    /// Queue the server's handshake response ahead of any frame (nothing else is written
    /// before it is, urgent control frames included), bounded by the handshake's `deadline`.
    pub(crate) fn queue_handshake_response(&mut self, bytes: &[u8], deadline: Option<Instant>) {
        self.tx.push_head(bytes);
        self.send.head_left = bytes.len();
        if let Some(at) = deadline {
            self.timers.set(Timer::Handshake, at);
        }
    }

    /// Bytes that followed the handshake head in the same read: they are frames.
    pub(crate) fn push_leftover(&mut self, bytes: &[u8]) {
        self.rx.append(bytes);
        self.count_input(bytes.len());
    }

    pub(crate) fn set_protocol(&mut self, protocol: Option<String>) {
        self.protocol = protocol;
    }

    // ----- inputs -----

    /// Spare buffer space to read transport bytes into; pass the count read to
    /// [`commit_read`](Self::commit_read).
    ///
    /// An empty slice means "stop reading for now": either enough input is buffered that
    /// events should be taken first (backpressure), or the rate limit throttles reading
    /// until [`poll_timeout`](Self::poll_timeout) (see [`Config::rate_limit`]), or the
    /// connection has ended.
    ///
    /// Each call lends space anew, replacing the previous loan: bytes written into a slice
    /// from an earlier call and not committed are not input.
    pub fn read_buf(&mut self) -> &mut [u8] {
        let frame_len = self.recv.frame_len();
        let cap = self.read_cap(frame_len);
        self.rx.lend_zeroed(frame_len, cap)
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
    pub fn read_buf_uninit(&mut self) -> bytes::buf::Limit<&mut bytes::BytesMut> {
        let frame_len = self.recv.frame_len();
        let cap = self.read_cap(frame_len);
        self.rx.lend_uninit(frame_len, cap)
    }

    /// Commit what was appended to [`read_buf_uninit`](Self::read_buf_uninit)'s space.
    /// Appending nothing is *not* end-of-file: call [`receive_eof`](Self::receive_eof).
    ///
    /// Commits nothing unless the latest loan of space was `read_buf_uninit`'s and is not
    /// committed yet (input through [`receive`](Self::receive) voids it).
    pub fn commit_appended(&mut self, now: Instant) {
        self.tick(now);
        let n = self.rx.commit_uninit();
        if n > 0 {
            self.note_activity(now);
            self.count_input(n);
        }
    }

    /// Commit `n` bytes written into the slice [`read_buf`](Self::read_buf) returned.
    /// A read of 0 bytes is *not* end-of-file: call [`receive_eof`](Self::receive_eof).
    ///
    /// At most what was lent is committed, and nothing unless the latest loan of space was
    /// `read_buf`'s and is not committed yet (input through [`receive`](Self::receive)
    /// voids it).
    pub fn commit_read(&mut self, now: Instant, n: usize) {
        self.tick(now);
        let n = self.rx.commit_zeroed(n);
        if n > 0 {
            self.note_activity(now);
            self.count_input(n);
        }
    }

    /// Copy received transport bytes in (for callers that own their read buffer). Space
    /// lent by `read_buf` or `read_buf_uninit` and not committed yet is void afterwards.
    ///
    /// Everything given is taken, even beyond a byte [rate limit](Config::rate_limit):
    /// the bucket goes into debt and reading is throttled until it is repaid. To stay
    /// within the limit, read no more than [`read_buf`](Self::read_buf) would lend.
    pub fn receive(&mut self, now: Instant, data: &[u8]) {
        self.tick(now);
        self.rx.void_loan();
        if !data.is_empty() && self.accepts_input() {
            self.rx.append(data);
            self.note_activity(now);
            self.count_input(data.len());
        }
    }

    /// The transport's read side ended (the peer closed or half-closed TCP).
    pub fn receive_eof(&mut self, now: Instant) {
        self.tick(now);
        self.recv.eof = true;
        if matches!(self.end, End::Emitted(_)) {
            // A client waiting for the server to end the transport: done waiting.
            self.shutdown.ready = true;
        }
    }

    /// The transport failed (reset, broken pipe, …): nothing more can be written or read.
    /// Complete messages already received are still handed out, then
    /// [`Event::Closed`] with [`CloseCause::TransportError`] (reported as 1006); once it has
    /// been handed out the transport should be dropped ([`should_shutdown`](Self::should_shutdown)).
    pub fn handle_transport_error(&mut self, now: Instant) {
        self.tick(now);
        self.shutdown.now = true;
        if matches!(self.end, End::Running) {
            self.abort(CloseCause::TransportError);
        }
    }

    /// Let timers fire: the handshake deadline (a server until its 101 response is
    /// written), the close timeout, the write timeout, keepalive pings and their timeout,
    /// the idle timeout, and the end of a rate-limit throttle. Call it when
    /// [`poll_timeout`](Self::poll_timeout) is due (calling it at other times is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        self.end_throttle(now);
        match self.end {
            End::Running => {}
            End::Pending(_) => return,
            End::Emitted(_) => {
                if self.timers.is_expired(Timer::Close, now) {
                    self.shutdown.now = true;
                    self.timers.stop(Timer::Close);
                }
                return;
            }
        }
        for timer in Timer::ALL {
            if !self.timers.is_expired(timer, now) {
                continue;
            }
            let cause = match timer {
                Timer::Handshake => CloseCause::HandshakeTimeout,
                Timer::Close => CloseCause::CloseTimeout,
                Timer::Write => CloseCause::WriteTimeout,
                Timer::Idle | Timer::KeepaliveTimeout => CloseCause::IdleTimeout,
                // Handled above (`end_throttle`).
                Timer::Throttle => continue,
                Timer::CompressorIdle => {
                    self.timers.stop(Timer::CompressorIdle);
                    #[cfg(feature = "deflate")]
                    if let Some(deflate) = self.deflate.as_deref_mut() {
                        deflate.release_compressor();
                    }
                    continue;
                }
                Timer::KeepalivePing => {
                    self.send.pending_keepalive_ping = true;
                    self.timers.stop(Timer::KeepalivePing);
                    self.timers.set(Timer::KeepaliveTimeout, now + self.config.keepalive_timeout);
                    continue;
                }
            };
            self.abort(cause);
            return;
        }
        // After the timers: a keepalive ping just queued is output waiting too.
        self.watch_writes(now);
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
            Message::Ping(data) | Message::Pong(data) if data.len() > MAX_CONTROL_PAYLOAD => {
                return Err(SendError::ControlPayloadTooLarge { len: data.len() })
            }
            Message::Ping(data) => self.queue_frame(Fin::Final, OpCode::Ping, Payload::Shared(data)),
            Message::Pong(data) => self.queue_frame(Fin::Final, OpCode::Pong, Payload::Shared(data)),
            Message::Close(frame) => {
                if let Some(f) = &frame {
                    CloseFrame::new(f.code, f.reason.clone())?;
                }
                self.start_close(frame);
            }
        }
        Ok(())
    }

    /// Queue a data message without compressing it, even when permessage-deflate is in use
    /// (for payloads that are already compressed: JPEG, gzip, …). Anything else is the same
    /// as [`send`](Self::send).
    ///
    /// # Errors
    /// As for [`send`](Self::send).
    #[cfg(feature = "deflate")]
    pub fn send_uncompressed(&mut self, message: Message) -> Result<(), SendError> {
        if !self.can_send() {
            return Err(SendError::AlreadyClosed);
        }
        match message {
            Message::Text(text) => self.queue_plain(OpCode::Text, Payload::Shared(text.into_bytes())),
            Message::Binary(data) => self.queue_plain(OpCode::Binary, Payload::Shared(data)),
            other => return self.send(other),
        }
        Ok(())
    }

    /// Queue a text message copied from `text`: the same frames as
    /// [`send(Message::Text(..))`](Self::send) (fragmented per [`Config::fragment_size`],
    /// masked by clients), without building a [`Utf8Bytes`](crate::Utf8Bytes) first.
    ///
    /// The payload is copied once, straight into the transmit queue (clients mask in that
    /// same copy), so a small message costs no allocation of its own and no reference
    /// counting. Large server payloads are copied too; to send those without any copy,
    /// hand over a [`Bytes`](bytes::Bytes) with [`send`](Self::send), which queues it by reference.
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
    /// with a [`Bytes`](bytes::Bytes) is the zero-copy path.
    ///
    /// # Errors
    /// [`SendError::AlreadyClosed`] once a close frame was queued or the connection ended
    /// (nothing is queued).
    ///
    /// ```
    /// use tether_proto::{Connection, Config, Role};
    /// let mut conn = Connection::new(Role::Client, Config::default());
    /// let reading = [0x01u8, 0x02, 0x03];
    /// conn.send_bytes(&reading).unwrap();
    /// // Header, mask key, payload.
    /// assert_eq!(conn.buffered_transmit(), 2 + 4 + 3);
    /// ```
    #[inline]
    pub fn send_bytes(&mut self, data: &[u8]) -> Result<(), SendError> {
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
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.limiter.is_some() {
            return self.poll_event_limited();
        }
        self.poll_event_unlimited()
    }

    /// `poll_event` without a rate limit to apply.
    #[inline(always)]
    fn poll_event_unlimited(&mut self) -> Option<Event> {
        if let Some((start, len, key, text)) = self.small_masked_frame() {
            let payload = self.rx.slice_mut(start, len);
            apply_mask(payload, key, 0);
            // The general decoder's validation, whole: `feed`, then `finish` (a message
            // that ends inside a character).
            if text && (self.recv.utf8.feed(payload).is_err() || self.recv.utf8.finish().is_err()) {
                return Some(self.fail(ProtocolError::InvalidUtf8));
            }
            return Some(Event::Message(self.copy_out(start, len, text)));
        }
        self.poll_event_slow()
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
    #[inline]
    pub fn consume_transmit(&mut self, n: usize) {
        self.tx.consume(n);
        if n > 0 {
            self.note_write_progress(n);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, if ever. It may
    /// be in the past (call `handle_timeout` at once): for example when output is queued
    /// and the write timeout's clock has not started.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.end {
            // Ending: only a rate-limit throttle keeps the remaining events waiting.
            End::Pending(_) => self.timers.get(Timer::Throttle),
            End::Emitted(_) if self.should_shutdown() => None,
            End::Emitted(_) => self.timers.get(Timer::Close),
            End::Running => {
                if self.write_clock_should_start() {
                    return Some(self.now());
                }
                self.timers.next()
            }
        }
    }

    // ----- getters -----

    /// Where the connection is, as far as events handed out so far tell.
    pub fn state(&self) -> State {
        match self.end {
            End::Emitted(_) => State::Closed,
            _ if self.send.close_sent => State::Closing,
            _ => State::Open,
        }
    }

    /// Bytes queued for the transport and not yet consumed, control frames that are due
    /// but not encoded yet included.
    #[inline]
    pub fn buffered_transmit(&self) -> usize {
        self.tx.len() + self.send.pending_control_len(self.role)
    }

    /// Whether the queued output has reached [`Config::write_high_water_mark`]: a driver
    /// stops queueing messages and writes until this is false again. Nothing is ever
    /// dropped for it; the queue exceeds the mark by at most the message that crossed it.
    #[inline]
    pub fn is_transmit_full(&self) -> bool {
        self.buffered_transmit() >= self.config.write_high_water_mark
    }

    /// Received bytes not yet turned into events.
    #[inline]
    pub fn buffered_receive(&self) -> usize {
        self.rx.len()
    }

    /// Whether the caller should now flush nothing more and shut the transport down: after
    /// [`Event::Closed`], once our frames are written (the server closes TCP first, RFC 6455
    /// §7.1.1), or once the client has seen the server end the transport, or when the close
    /// timeout expired or the transport failed.
    pub fn should_shutdown(&self) -> bool {
        matches!(self.end, End::Emitted(_)) && (self.shutdown.now || (self.shutdown.ready && self.tx.is_empty()))
    }

    /// How the connection ended, once [`Event::Closed`] has been handed out.
    #[inline]
    pub fn closed(&self) -> Option<&Closed> {
        match &self.end {
            End::Emitted(closed) => Some(closed),
            _ => None,
        }
    }

    /// How the connection ends, as soon as that is decided: the same as
    /// [`closed`](Self::closed) once [`Event::Closed`] has been handed out, and before that
    /// for an ending that waits behind buffered messages (a timeout, a transport failure).
    /// Senders use it to say why nothing more can be sent.
    #[inline]
    pub fn ending(&self) -> Option<&Closed> {
        match &self.end {
            End::Running => None,
            End::Pending(closed) | End::Emitted(closed) => Some(closed),
        }
    }

    /// Whether messages may still be sent.
    #[inline]
    pub fn can_send(&self) -> bool {
        !self.send.close_sent && matches!(self.end, End::Running)
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

    // ----- time -----

    fn tick(&mut self, now: Instant) {
        if self.now.is_none() {
            // The clock starts: inbound-traffic timers count from here.
            self.now = Some(now);
            self.note_activity(now);
        } else if self.now.is_some_and(|t| now > t) {
            self.now = Some(now);
        }
    }

    fn now(&self) -> Instant {
        self.now.unwrap_or(Instant::ZERO)
    }

    /// Inbound traffic: the idle and keepalive clocks start over (not once closing).
    fn note_activity(&mut self, now: Instant) {
        if self.send.close_sent || !matches!(self.end, End::Running) {
            return;
        }
        if let Some(t) = self.config.idle_timeout {
            self.timers.set(Timer::Idle, now + t);
        }
        if let Some(interval) = self.config.keepalive_interval {
            self.timers.set(Timer::KeepalivePing, now + interval);
        }
        self.timers.stop(Timer::KeepaliveTimeout);
    }

    /// Output moved: the write clock stops (it starts again at the next tick that finds
    /// output waiting), and the handshake deadline ends once the response is written.
    fn note_write_progress(&mut self, n: usize) {
        self.timers.stop(Timer::Write);
        if self.send.head_left > 0 {
            self.send.head_left = self.send.head_left.saturating_sub(n);
            if self.send.head_left == 0 {
                self.timers.stop(Timer::Handshake);
            }
        }
    }

    /// Whether output waits without the write clock running (the next tick starts it).
    fn write_clock_should_start(&self) -> bool {
        self.config.write_timeout.is_some() && !self.timers.is_armed(Timer::Write) && self.buffered_transmit() > 0
    }

    /// At a tick: start the write clock if output waits, stop it if none does.
    fn watch_writes(&mut self, now: Instant) {
        if self.buffered_transmit() == 0 {
            self.timers.stop(Timer::Write);
        } else if let Some(t) = self.config.write_timeout {
            if !self.timers.is_armed(Timer::Write) {
                self.timers.set(Timer::Write, now + t);
            }
        }
    }

    /// Whether transport input is still taken: not after the end (a client still reads
    /// until the server ends the transport, and discards what it reads).
    fn accepts_input(&self) -> bool {
        match self.end {
            End::Running => !self.recv.eof,
            End::Pending(_) => false,
            End::Emitted(_) => !self.recv.eof && !self.shutdown.ready,
        }
    }

    /// Whether to lend read space: input is taken, and not so much is buffered that events
    /// should be taken first.
    fn may_read(&self, frame_len: usize) -> bool {
        self.accepts_input() && self.rx.wants_input(frame_len)
    }

    /// How much read space to lend at most: 0 when reading is not allowed now (see
    /// [`may_read`](Self::may_read)) or throttled by the rate limit.
    fn read_cap(&mut self, frame_len: usize) -> usize {
        if !self.may_read(frame_len) {
            return 0;
        }
        self.rate_read_cap()
    }
}

#[cfg(all(test, feature = "deflate"))]
mod deflate_tests;
#[cfg(test)]
mod rate_tests;
#[cfg(test)]
mod tests;
