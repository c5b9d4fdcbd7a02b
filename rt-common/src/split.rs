//! `Reader` and `Sender`: the two halves of a split `WebSocket`. The reader drives the
//! connection; senders only queue and write. The async logic itself is in `handle.rs`.

use std::fmt;
use std::time::Duration;

use tether_proto::{Bytes, CloseCode, Closed, Message, Utf8Bytes};

use crate::handle::{Shared, SharedOps, Slot};
use crate::runtime::{Runtime, Transport};
use crate::{Error, WebSocket};

/// The receiving half of a split [`WebSocket`].
///
/// **The reader drives the connection**: reading, answering pings, keepalive pings and
/// timeouts, the peer's close, and writing what senders left queued when the transport
/// was busy all happen while a reader future is polled. Keep one task in `recv` for as
/// long as the connection lives. There is no hidden task.
pub struct Reader<S, R: Runtime> {
    handle: Shared<R::Io<S>, R>,
    protocol: Option<String>,
    stream_done: bool,
}

/// The sending half of a split [`WebSocket`]: `Clone + Send` (for `Send` streams), so
/// many tasks can send to one connection (a chat room broadcasting to its members).
///
/// Each message is queued whole under a short lock taken only inside poll functions, so
/// two messages' frames never interleave and no lock is held across an `.await`. Sends
/// write through to the transport (no deferral, unlike an unsplit [`WebSocket`]); if the
/// transport is busy, bytes below the high-water mark stay queued and the [`Reader`]
/// writes them. Once the connection has ended — including when the reader hit an error —
/// sends fail with [`Error::Closed`].
pub struct Sender<S, R: Runtime> {
    handle: Shared<R::Io<S>, R>,
}

impl<S, R: Runtime> Clone for Sender<S, R> {
    fn clone(&self) -> Self {
        Sender { handle: self.handle.clone() }
    }
}

impl<S, R: Runtime> fmt::Debug for Reader<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl<S, R: Runtime> fmt::Debug for Sender<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<S, R> Reader<S, R>
where
    R: Runtime,
    R::Io<S>: Transport,
{
    pub(crate) fn new(handle: Shared<R::Io<S>, R>, protocol: Option<String>) -> Self {
        Reader { handle, protocol, stream_done: false }
    }

    fn handle(&self) -> SharedOps<'_, R::Io<S>, R> {
        self.handle.ops()
    }

    /// The operations and the stream's end flag, borrowed together (for `Stream`).
    pub(crate) fn parts(&mut self) -> (SharedOps<'_, R::Io<S>, R>, &mut bool) {
        (self.handle.ops(), &mut self.stream_done)
    }

    crate::handle::receive_api!();

    /// As [`WebSocket::closed`].
    pub fn closed(&self) -> Option<Closed> {
        self.handle.lock().closed()
    }

    /// As [`WebSocket::deflate`].
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn deflate(&self) -> Option<tether_proto::DeflateParams> {
        self.handle.lock().connection().deflate().copied()
    }

    /// As [`WebSocket::transport_error`].
    pub fn transport_error(&self) -> Option<std::io::ErrorKind> {
        self.handle.lock().transport_error()
    }

    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Put the halves back together; gives them back if they belong to different
    /// connections.
    ///
    /// # Errors
    /// The two halves, unchanged, when they are not from the same connection.
    pub fn reunite(self, sender: Sender<S, R>) -> Result<WebSocket<S, R>, (Self, Sender<S, R>)> {
        if self.handle.same(&sender.handle) {
            drop(sender);
            Ok(WebSocket::from_parts(Slot::from_shared(self.handle), self.protocol))
        } else {
            Err((self, sender))
        }
    }
}

impl<S, R> Sender<S, R>
where
    R: Runtime,
    R::Io<S>: Transport,
{
    pub(crate) fn new(handle: Shared<R::Io<S>, R>) -> Self {
        Sender { handle }
    }

    pub(crate) fn handle(&self) -> SharedOps<'_, R::Io<S>, R> {
        self.handle.ops()
    }

    crate::handle::send_api!(; defer = false);

    /// Start the close handshake: queue our close frame and write it. The [`Reader`]
    /// completes it (its `recv` returns `Ok(None)` once the peer answered, or reports the
    /// close timeout). Idempotent.
    ///
    /// # Errors
    /// [`Error::Send`] for a code that may not be sent or a reason over 123 bytes;
    /// [`Error::Closed`] when the ending abandoned our output (a transport error, the write
    /// timeout — fired here even when no reader is polled).
    ///
    /// # Cancel safety
    /// Cancel safe: the close frame stays queued.
    pub async fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.handle().close_send(code, reason).await
    }

    /// As [`WebSocket::closed`].
    pub fn closed(&self) -> Option<Closed> {
        self.handle.lock().closed()
    }

    /// As [`WebSocket::deflate`].
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn deflate(&self) -> Option<tether_proto::DeflateParams> {
        self.handle.lock().connection().deflate().copied()
    }

    /// Whether messages can no longer be sent: our close frame is queued, or the
    /// connection's ending is decided (even before the [`Reader`] has handed it out, when
    /// [`closed`](Self::closed) still says `None`).
    pub fn is_closed(&self) -> bool {
        !self.handle.lock().connection().can_send()
    }
}
