//! `WebSocket`: the public connection type of every adapter — its whole async API
//! (receive, send, close, split) in rustdoc, delegating to `Handle`. The drive loop is in
//! `core.rs`; the opening handshake in `server.rs` and `client.rs`.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use tether_proto::{Bytes, CloseCode, Closed, Connection, Message, State, Utf8Bytes};

use crate::handle::{Slot, SlotOps};
use crate::runtime::{Runtime, Transport};
use crate::split::{Reader, Sender};
use crate::Error;

/// One WebSocket connection (either role) over a stream `S` of runtime `R`.
///
/// Adapters name it with the runtime filled in: `tether_tokio::WebSocket` (over a
/// `TcpStream` by default, or `tether_tokio::WebSocket<TlsStream>`), and likewise for
/// `tether_smol` and `tether_async_std`. The API is identical because it is this type.
///
/// ```no_run
/// # async fn echo<S, R: tether_rt::Runtime>(mut ws: tether_rt::WebSocket<S, R>) -> Result<(), tether_rt::Error>
/// # where R::Io<S>: tether_rt::Transport {
/// while let Some(message) = ws.recv().await? {
///     ws.send(message).await?;
/// }
/// // The peer closed cleanly; how:
/// println!("{:?}", ws.close_frame());
/// # Ok(()) }
/// ```
///
/// # The drive loop
/// There is no background task: the connection advances while one of its futures is
/// polled. Receiving writes what is queued (a write that would block never blocks
/// reading), hands out the next complete message, fires timers (keepalive pings, idle
/// and close timeouts) and reads. **Keep a `recv` (or [`Reader`]) running**: pongs,
/// keepalive and the peer's close are handled there.
///
/// # Writes are coalesced, never stranded
/// `send` writes through to the transport, except on an unsplit `WebSocket` while
/// received input is still buffered (more messages are waiting to be handed out, so the
/// task is expected back in `recv` at once): then the write is deferred and the next
/// `recv` flushes before it waits on the socket. A plain `recv` → `send` echo loop thus
/// writes many replies with one syscall. [`send_batch`](Self::send_batch) and
/// [`feed`](Self::feed) + [`flush`](Self::flush) give explicit control.
///
/// # Backpressure
/// Outgoing bytes are queued up to
/// [`Config::write_high_water_mark`](tether_proto::Config::write_high_water_mark)
/// (128 KiB by default); beyond it `send` waits for the transport. Nothing is ever dropped,
/// and a peer that stops reading cannot make the queue grow past the mark plus one
/// message.
pub struct WebSocket<S, R: Runtime> {
    slot: Slot<R::Io<S>, R>,
    protocol: Option<String>,
    stream_done: bool,
}

impl<S, R: Runtime> fmt::Debug for WebSocket<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket").field("protocol", &self.protocol).finish_non_exhaustive()
    }
}

impl<S, R> WebSocket<S, R>
where
    R: Runtime,
    R::Io<S>: Transport,
{
    /// Server shortcut: read the upgrade request from `stream` (bounded by the handshake
    /// deadline) and accept it with no subprotocol, under the adapter's default
    /// configuration. Use [`Upgrade`](crate::Upgrade) to look at the request first.
    ///
    /// # Errors
    /// As [`Upgrade::read`](crate::Upgrade::read) and
    /// [`Upgrade::accept`](crate::Upgrade::accept).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn accept(stream: S) -> Result<Self, crate::OpenError> {
        // One box for the whole handshake (see `Upgrade`): the caller's future keeps a
        // pointer while it runs and only the connection afterwards.
        Box::pin(async move {
            let upgrade = crate::Upgrade::<S, R>::read_inner(stream, crate::default_config(), None).await?;
            upgrade.respond(&tether_proto::AcceptOptions::new()).await
        })
        .await
    }

    /// A connection over `stream` whose opening handshake was done elsewhere (for example
    /// by a web framework's HTTP upgrade), driving `connection`.
    pub fn from_connection(stream: S, connection: Connection) -> Self {
        let protocol = connection.protocol().map(str::to_owned);
        WebSocket { slot: Slot::new(R::wrap(stream), connection, R::now()), protocol, stream_done: false }
    }

    /// A connection fresh from this layer's handshake, on the handshake's clock (`epoch`).
    pub(crate) fn from_io(io: R::Io<S>, connection: Connection, epoch: std::time::Instant) -> Self {
        let protocol = connection.protocol().map(str::to_owned);
        WebSocket { slot: Slot::new(io, connection, epoch), protocol, stream_done: false }
    }

    pub(crate) fn from_parts(slot: Slot<R::Io<S>, R>, protocol: Option<String>) -> Self {
        WebSocket { slot, protocol, stream_done: false }
    }

    pub(crate) fn handle(&mut self) -> SlotOps<'_, R::Io<S>, R> {
        self.slot.ops()
    }

    /// The operations and the stream's end flag, borrowed together (for `Stream`).
    pub(crate) fn parts(&mut self) -> (SlotOps<'_, R::Io<S>, R>, &mut bool) {
        (self.slot.ops(), &mut self.stream_done)
    }

    // ----- receiving -----

    crate::handle::receive_api!();

    // ----- sending -----

    /// Send a message: queue it once the outgoing queue is below the high-water mark, then
    /// write through (or defer the write while received input is buffered; see
    /// [the type's docs](Self#writes-are-coalesced-never-stranded)).
    ///
    /// # Errors
    /// [`Error::Closed`] once the connection has ended; [`Error::Send`] for an invalid
    /// message (control payload over 125 bytes) or when our close was already sent. A
    /// transport error or the write timeout (a peer that stopped reading) ends the
    /// connection: `Closed` with [`CloseCause::TransportError`](tether_proto::CloseCause::TransportError)
    /// or [`CloseCause::WriteTimeout`](tether_proto::CloseCause::WriteTimeout).
    ///
    /// `message`'s payload is queued by reference: large server payloads (over 2 KiB) are
    /// written from the [`Bytes`] itself, never copied. This is the zero-copy owned path;
    /// [`send_text`](Self::send_text) and [`send_bytes`](Self::send_bytes) copy from a
    /// borrowed slice instead, which is cheaper for small messages.
    ///
    /// # Cancel safety
    /// A future that is never polled sends nothing. If dropped while waiting for room below
    /// the high-water mark, the message was not queued; once queued it is sent whole (frames
    /// of two messages never interleave), even if the future is dropped while it is being
    /// written.
    pub fn send(&mut self, message: Message) -> impl Future<Output = Result<(), Error>> + '_ {
        // The inner future itself, as `recv` returns its own: the message is moved into it
        // once, not first into an `async fn` wrapper's state.
        self.handle().send(message, true)
    }

    /// Send a text message copied from `text` (a `&str`, `String`, [`Utf8Bytes`], …):
    /// the bytes go straight from it into the connection's outgoing queue (masked in that
    /// copy by clients), with no allocation or reference counting of their own. Otherwise
    /// as [`send`](Self::send) — the same backpressure and write-through (or deferral).
    /// For a large payload already in a [`Utf8Bytes`] on a server,
    /// `send(Message::Text(..))` avoids the copy.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    ///
    /// # Cancel safety
    /// As [`send`](Self::send): the copy into the queue happens in the first poll that
    /// finds room below the high-water mark, and the future holds `text` until then. If it
    /// is dropped before that (waiting for room), nothing is sent and `text` is dropped
    /// with it; once copied, the message is sent whole even if the future is dropped.
    pub async fn send_text(&mut self, text: impl AsRef<str>) -> Result<(), Error> {
        self.handle().send_text(text.as_ref(), true).await
    }

    /// Send a binary message copied from `data` (a `&[u8]`, `Vec<u8>`, [`Bytes`], …), as
    /// [`send_text`](Self::send_text) does for text. For a large payload already in a
    /// [`Bytes`] on a server, `send(Message::Binary(..))` avoids the copy.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    ///
    /// # Cancel safety
    /// As [`send_text`](Self::send_text): nothing is sent if the future is dropped before
    /// `data` was copied into the queue; everything, whole, if after.
    pub async fn send_bytes(&mut self, data: impl AsRef<[u8]>) -> Result<(), Error> {
        self.handle().send_bytes(data.as_ref(), true).await
    }

    /// Send `value` encoded as JSON in a text message.
    ///
    /// # Errors
    /// [`Error::Json`] when it cannot be encoded (nothing is sent); otherwise as
    /// [`send`](Self::send).
    ///
    /// # Cancel safety
    /// As [`send`](Self::send).
    #[cfg(feature = "json")]
    pub async fn send_json<V: serde::Serialize + ?Sized>(&mut self, value: &V) -> Result<(), Error> {
        let text = serde_json::to_string(value)?;
        self.handle().send(Message::text(text), true).await
    }

    /// Send several messages encoded together and written with one flush (vectored
    /// writes); returns once they are all written.
    ///
    /// # Errors
    /// As [`send`](Self::send); messages before an invalid one stay queued.
    ///
    /// # Cancel safety
    /// Once the first poll queued them, the messages are sent even if the future is dropped.
    pub async fn send_batch(&mut self, messages: impl IntoIterator<Item = Message>) -> Result<(), Error> {
        self.handle().send_batch(messages.into_iter().collect()).await
    }

    /// Queue a message without writing it (waiting only while above the high-water mark);
    /// [`flush`](Self::flush) writes what was fed.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    ///
    /// # Cancel safety
    /// As [`send`](Self::send).
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        self.handle().feed(message).await
    }

    /// Write everything queued and flush the transport.
    ///
    /// # Errors
    /// [`Error::Closed`] when the connection ended with output left unwritten (a transport
    /// error, the write timeout), or when it has ended and the output can no longer move.
    ///
    /// # Cancel safety
    /// Cancel safe: what is not written yet stays queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.handle().flush().await
    }

    /// Send a ping (at most 125 bytes of payload). The pong comes back as a message only
    /// with [`set_control_messages(true)`](Self::set_control_messages).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    ///
    /// # Cancel safety
    /// As [`send`](Self::send).
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        self.handle().send(Message::Ping(payload.into()), false).await
    }

    /// Close the connection: send a close frame with `code` and `reason`, then wait for
    /// the peer's (messages that arrive meanwhile are discarded) and shut the transport
    /// down — bounded by [`Config::close_timeout`](tether_proto::Config::close_timeout).
    /// Idempotent: once closing or closed it only finishes the ending. Afterwards
    /// [`close_frame`](Self::close_frame) tells how it ended (a peer that did not answer
    /// gives [`CloseCause::CloseTimeout`](tether_proto::CloseCause::CloseTimeout)).
    ///
    /// # Errors
    /// [`Error::Send`] for a code that may not be sent (1005, 1006, 1015, …) or a reason
    /// over 123 bytes (nothing is sent); [`Error::Closed`] when the ending abandoned our
    /// output (a transport error, the write timeout): the close frame was not delivered.
    ///
    /// # Cancel safety
    /// Cancel safe: the close frame stays queued and a later call (or `recv`) finishes
    /// the handshake.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.handle().close(code, reason).await
    }

    // ----- getters -----

    /// How the connection ended — the peer's close code and reason, or what was reported
    /// locally, and the cause — once that has been observed.
    pub fn close_frame(&self) -> Option<Closed> {
        self.slot.read(|core| core.closed())
    }

    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The kind of the transport error that ended the connection, if one did (the ending
    /// itself is reported as [`Error::Closed`] with
    /// [`CloseCause::TransportError`](tether_proto::CloseCause::TransportError)).
    pub fn transport_error(&self) -> Option<std::io::ErrorKind> {
        self.slot.read(|core| core.transport_error())
    }

    /// Where the connection is, as far as this side has observed.
    pub fn state(&self) -> State {
        self.slot.read(|core| core.connection().state())
    }

    /// Outgoing bytes queued and not yet written to the transport.
    pub fn buffered_transmit(&self) -> usize {
        self.slot.read(|core| core.connection().buffered_transmit())
    }

    /// Received bytes not yet handed out as messages.
    pub fn buffered_receive(&self) -> usize {
        self.slot.read(|core| core.connection().buffered_receive())
    }

    /// Split into a [`Reader`] (which drives reads and timers) and a cloneable [`Sender`]
    /// for other tasks. Both refer to the same connection; neither holds a lock across an
    /// `.await`.
    pub fn split(self) -> (Reader<S, R>, Sender<S, R>) {
        let shared = self.slot.into_shared();
        let sender = Sender::new(shared.clone());
        (Reader::new(shared, self.protocol), sender)
    }
}
