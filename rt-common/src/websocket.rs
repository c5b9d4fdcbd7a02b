//! `WebSocket`: the public connection type of every adapter — its whole async API
//! (receive, send, close, split) in rustdoc, delegating to `Handle`. The drive loop is in
//! `core.rs`; the opening handshake in `server.rs` and `client.rs`.

use std::fmt;
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
/// println!("{:?}", ws.closed());
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
/// message; one that reads nothing for
/// [`Config::write_timeout`](tether_proto::Config::write_timeout) ends the connection
/// ([`CloseCause::WriteTimeout`](tether_proto::CloseCause::WriteTimeout)), on every write
/// path.
///
/// # Dropping
/// One policy for a `WebSocket` and for the last of a split one's [`Reader`] and
/// [`Sender`]s: a connection that has not ended gets a 1001 (Going Away) close frame behind
/// what is queued, and everything queued — sends that returned `Ok` while deferred
/// included — is written as far as the transport takes it without waiting, then the
/// transport is shut down. Await [`close`](Self::close) to deliver everything and hear the
/// peer's answer.
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
            let upgrade = crate::Upgrade::<S, R>::read_inner(stream, crate::server_config(), None).await?;
            upgrade.finish_accept(&tether_proto::AcceptOptions::new()).await
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

    crate::handle::send_api!(mut; defer = true);

    /// Close the connection: send a close frame with `code` and `reason`, then wait for
    /// the peer's (messages that arrive meanwhile are discarded) and shut the transport
    /// down — bounded by [`Config::close_timeout`](tether_proto::Config::close_timeout).
    /// Idempotent: once closing or closed it only finishes the ending. Afterwards
    /// [`closed`](Self::closed) tells how it ended (a peer that did not answer
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

    // ----- observing -----

    /// This connection's [`Traffic`](crate::Traffic) counters — data messages and payload
    /// bytes each way — counting from the first call on (later calls return the same
    /// counters). Read them from any thread while the connection runs. Without this call
    /// nothing is counted.
    pub fn traffic(&mut self) -> std::sync::Arc<crate::Traffic> {
        self.handle().with(|core| core.traffic())
    }

    /// Have `f` told, once, how the connection ended ([`Ending`](crate::Ending): a
    /// [`CloseKind`](crate::CloseKind), the close code, the traffic if counted): when a
    /// receive hands the ending out, or else when the connection (the last of its split
    /// halves) is dropped. It runs on the task doing that, inside the connection (its lock
    /// held when split): keep it short (count, log) and do not touch the connection from it.
    /// A second call replaces the first callback.
    pub fn on_end(&mut self, f: impl FnOnce(&crate::Ending) + Send + Sync + 'static) {
        self.handle().with(|core| core.on_end(Box::new(f)));
    }

    // ----- getters -----

    /// How the connection ended — the peer's close code and reason, or what was reported
    /// locally, and the cause — once a receive (or `close`) has handed the ending out, as
    /// the engine's [`Connection::closed`]. Sends learn a decided ending earlier, as
    /// [`Error::Closed`].
    pub fn closed(&self) -> Option<Closed> {
        self.slot.read(|core| core.closed())
    }

    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The permessage-deflate parameters the handshake agreed on, or `None` when the
    /// connection does not compress (not configured on this side, not offered or declined by
    /// the peer). Enable it with [`ConfigBuilder::deflate`](tether_proto::ConfigBuilder::deflate)
    /// (see [the crate docs](crate#permessage-deflate)).
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn deflate(&self) -> Option<tether_proto::DeflateParams> {
        self.slot.read(|core| core.connection().deflate().copied())
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
