//! `Handle`: every async operation of a connection, written once on top of `Core`'s poll
//! functions and generic over how the core is reached — owned by an unsplit `WebSocket`
//! (`Slot`: no lock), or shared by the halves of a split one (`Shared`: a std `Mutex`
//! taken only inside poll functions, never across an `.await`). `WebSocket`, `Reader` and
//! `Sender` are thin, documented façades over it.

use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tether_proto::{Bytes, CloseCode, Connection, Message, Utf8Bytes};

use crate::core::{output_abandoned, Core, Next};
use crate::runtime::{deadline_after, Runtime, Transport};
use crate::Error;

/// A connection shared by the halves of a split `WebSocket` (`Reader`, `Sender`s).
pub(crate) struct Shared<T, R: Runtime> {
    core: Arc<Mutex<Core<T, R>>>,
}

impl<T, R: Runtime> Clone for Shared<T, R> {
    fn clone(&self) -> Self {
        Shared { core: self.core.clone() }
    }
}

impl<T: Transport, R: Runtime> Shared<T, R> {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Core<T, R>> {
        // A panic inside a poll function leaves the engine consistent (it has no partial
        // state outside itself), so a poisoned lock is still usable.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.core, &other.core)
    }

    /// The operations, each poll under the lock.
    pub(crate) fn ops(&self) -> SharedOps<'_, T, R> {
        Handle(self)
    }
}

/// An unsplit `WebSocket`'s connection: owned — no lock, no atomic operation per call —
/// until it is split (or when reunited while other `Sender` clones still exist).
pub(crate) enum Slot<T, R: Runtime> {
    Owned(Box<Core<T, R>>),
    Shared(Shared<T, R>),
}

impl<T: Transport, R: Runtime> Slot<T, R> {
    pub(crate) fn new(io: T, conn: Connection, epoch: std::time::Instant) -> Self {
        Slot::Owned(Box::new(Core::new(io, conn, epoch)))
    }

    /// Back from a split: owned again if no other half is left.
    pub(crate) fn from_shared(shared: Shared<T, R>) -> Self {
        match Arc::try_unwrap(shared.core) {
            Ok(mutex) => Slot::Owned(Box::new(mutex.into_inner().unwrap_or_else(|e| e.into_inner()))),
            Err(core) => Slot::Shared(Shared { core }),
        }
    }

    pub(crate) fn into_shared(self) -> Shared<T, R> {
        match self {
            Slot::Owned(core) => Shared { core: Arc::new(Mutex::new(*core)) },
            Slot::Shared(shared) => shared,
        }
    }

    /// Read the core (getters).
    pub(crate) fn read<X>(&self, f: impl FnOnce(&Core<T, R>) -> X) -> X {
        match self {
            Slot::Owned(core) => f(core),
            Slot::Shared(shared) => f(&shared.lock()),
        }
    }

    /// The operations, on the owned core directly.
    pub(crate) fn ops(&mut self) -> SlotOps<'_, T, R> {
        Handle(self)
    }
}

/// Access to a connection's `Core` for the length of one poll: a lock for the halves of a
/// split connection, a plain `&mut` for an unsplit one.
pub(crate) trait Access {
    type T: Transport;
    type R: Runtime;
    fn with<X>(&mut self, f: impl FnOnce(&mut Core<Self::T, Self::R>) -> X) -> X;
}

impl<T: Transport, R: Runtime> Access for &Shared<T, R> {
    type T = T;
    type R = R;
    fn with<X>(&mut self, f: impl FnOnce(&mut Core<T, R>) -> X) -> X {
        f(&mut self.lock())
    }
}

impl<T: Transport, R: Runtime> Access for &mut Slot<T, R> {
    type T = T;
    type R = R;
    #[inline]
    fn with<X>(&mut self, f: impl FnOnce(&mut Core<T, R>) -> X) -> X {
        match self {
            Slot::Owned(core) => f(core),
            Slot::Shared(shared) => f(&mut shared.lock()),
        }
    }
}

/// The operations of an unsplit connection.
pub(crate) type SlotOps<'a, T, R> = Handle<&'a mut Slot<T, R>>;
/// The operations of one half of a split connection.
pub(crate) type SharedOps<'a, T, R> = Handle<&'a Shared<T, R>>;

/// Every async operation of a connection, written once over its poll functions;
/// `WebSocket`, `Reader` and `Sender` are thin, documented façades over it.
pub(crate) struct Handle<A>(A);

impl<A: Access> Handle<A> {
    // ----- receiving -----

    /// `recv`'s poll: `Ok(None)` after a clean close, `Err(Closed)` after an unclean one.
    #[inline]
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Message>, Error>> {
        Poll::Ready(match ready!(self.0.with(|core| core.poll_next(cx)))? {
            Next::Message(message) => Ok(Some(message)),
            Next::Ended(closed) if closed.is_clean() => Ok(None),
            Next::Ended(closed) => Err(Error::Closed(closed)),
        })
    }

    /// A message, or `Err(Closed)` for any ending.
    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Result<Message, Error>> {
        Poll::Ready(match ready!(self.0.with(|core| core.poll_next(cx)))? {
            Next::Message(message) => Ok(message),
            Next::Ended(closed) => Err(Error::Closed(closed)),
        })
    }

    // These return their `poll_fn` directly instead of being `async fn`s: each async layer
    // keeps its own copy of the arguments beside the inner future, and these futures live
    // in the caller's future (a connection's task) for as long as the connection.
    pub(crate) fn recv(mut self) -> impl Future<Output = Result<Option<Message>, Error>> {
        hot_poll_fn(move |cx| self.poll_recv(cx))
    }

    pub(crate) fn recv_message(mut self) -> impl Future<Output = Result<Message, Error>> {
        poll_fn(move |cx| self.poll_message(cx))
    }

    pub(crate) async fn recv_text(self) -> Result<Utf8Bytes, Error> {
        match self.recv_message().await? {
            Message::Text(text) => Ok(text),
            other => Err(Error::UnexpectedMessage(other)),
        }
    }

    pub(crate) async fn recv_bytes(self) -> Result<Bytes, Error> {
        match self.recv_message().await? {
            Message::Binary(data) => Ok(data),
            other => Err(Error::UnexpectedMessage(other)),
        }
    }

    #[cfg(feature = "json")]
    pub(crate) async fn recv_json<V: serde::de::DeserializeOwned>(self) -> Result<V, Error> {
        match self.recv_message().await? {
            Message::Text(text) => Ok(serde_json::from_str(text.as_str())?),
            Message::Binary(data) => Ok(serde_json::from_slice(&data)?),
            other => Err(Error::UnexpectedMessage(other)),
        }
    }

    pub(crate) async fn recv_timeout(mut self, timeout: Duration) -> Result<Option<Message>, Error> {
        let mut timer = <A::R as Runtime>::sleep_until(deadline_after(<A::R as Runtime>::now(), timeout));
        poll_fn(|cx| {
            if let Poll::Ready(result) = self.poll_message(cx) {
                return Poll::Ready(result.map(Some));
            }
            if fired(&mut timer, cx) {
                return Poll::Ready(Ok(None));
            }
            Poll::Pending
        })
        .await
    }

    pub(crate) async fn recv_batch(mut self, max: usize, timeout: Duration) -> Result<Vec<Message>, Error> {
        let mut out = Vec::new();
        if max == 0 {
            return Ok(out);
        }
        let mut timer = <A::R as Runtime>::sleep_until(deadline_after(<A::R as Runtime>::now(), timeout));
        poll_fn(|cx| loop {
            if out.len() >= max {
                return Poll::Ready(Ok(std::mem::take(&mut out)));
            }
            match self.poll_message(cx) {
                Poll::Ready(Ok(message)) => out.push(message),
                // The ending is sticky: what was collected is returned now, the error on
                // the next call.
                Poll::Ready(Err(_)) if !out.is_empty() => return Poll::Ready(Ok(std::mem::take(&mut out))),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if fired(&mut timer, cx) => return Poll::Ready(Ok(std::mem::take(&mut out))),
                Poll::Pending => return Poll::Pending,
            }
        })
        .await
    }

    // ----- sending -----

    /// Queue `message` once below the high-water mark, then write through (see
    /// `Core::poll_write_through` for `defer`).
    pub(crate) fn send(self, message: Message, defer: bool) -> impl Future<Output = Result<(), Error>> {
        self.send_with(defer, move |core| core.start_send(message))
    }

    /// `send` without compression, even under permessage-deflate.
    #[cfg(feature = "deflate")]
    pub(crate) fn send_uncompressed(self, message: Message, defer: bool) -> impl Future<Output = Result<(), Error>> {
        self.send_with(defer, move |core| core.start_send_uncompressed(message))
    }

    /// `send` for a text message copied from `text`.
    pub(crate) fn send_text<'a>(self, text: &'a str, defer: bool) -> impl Future<Output = Result<(), Error>> + 'a
    where
        A: 'a,
    {
        self.send_with(defer, move |core| core.start_send_text(text))
    }

    /// `send` for a binary message copied from `data`.
    pub(crate) fn send_bytes<'a>(self, data: &'a [u8], defer: bool) -> impl Future<Output = Result<(), Error>> + 'a
    where
        A: 'a,
    {
        self.send_with(defer, move |core| core.start_send_bytes(data))
    }

    /// The one send loop: `queue` runs exactly once, in the first poll that finds the queue
    /// below the high-water mark, and the write-through follows in that same poll. Until
    /// then the future holds the message (owned or borrowed) and the engine has seen
    /// nothing, so dropping it sends nothing; afterwards the message is the engine's.
    fn send_with<Q>(mut self, defer: bool, queue: Q) -> impl Future<Output = Result<(), Error>>
    where
        Q: FnOnce(&mut Core<A::T, A::R>) -> Result<(), Error>,
    {
        let mut queue = Some(queue);
        hot_poll_fn(move |cx| self.0.with(|core| poll_send(core, cx, &mut queue, defer)))
    }

    pub(crate) async fn feed(mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.0.with(|core| core.poll_ready(cx))).await?;
        self.0.with(|core| core.start_send(message))
    }

    /// Queue each message once the queue is below the high-water mark (checked per
    /// message, so a batch cannot push the queue past the mark by more than one message),
    /// then write everything and flush.
    pub(crate) async fn send_batch(mut self, messages: impl Iterator<Item = Message>) -> Result<(), Error> {
        let mut messages = messages.peekable();
        poll_fn(|cx| {
            self.0.with(|core| {
                while messages.peek().is_some() {
                    ready!(core.poll_ready(cx))?;
                    if let Some(message) = messages.next() {
                        core.start_send(message)?;
                    }
                }
                core.poll_flush(cx)
            })
        })
        .await
    }

    pub(crate) fn flush(mut self) -> impl Future<Output = Result<(), Error>> {
        poll_fn(move |cx| self.0.with(|core| core.poll_flush(cx)))
    }

    /// Queue our close frame and flush it (the reading side completes the handshake).
    pub(crate) async fn close_send(mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.0.with(|core| core.start_close(code, reason))?;
        poll_fn(|cx| self.poll_close_sent(cx)).await
    }

    /// Flush after queueing our close frame; a connection that has already ended is fine,
    /// unless the ending abandoned our output (a transport error, the write timeout).
    pub(crate) fn poll_close_sent(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        match ready!(self.0.with(|core| core.poll_flush(cx))) {
            Err(Error::Closed(closed)) if !output_abandoned(&closed) => Poll::Ready(Ok(())),
            other => Poll::Ready(other),
        }
    }

    /// Queue our close frame and drive the connection until it has ended (messages that
    /// arrive meanwhile are discarded), bounded by the close timeout.
    pub(crate) async fn close(mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.0.with(|core| core.start_close(code, reason))?;
        poll_fn(|cx| self.poll_close_handshake(cx)).await
    }

    pub(crate) fn poll_close_handshake(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.0.with(|core| {
            // Messages that arrive meanwhile are discarded, a bounded number per poll: a
            // flooding peer on a runtime without a cooperative budget (smol, async-std)
            // would otherwise keep this loop inside one poll until the close timeout.
            for _ in 0..CLOSE_DISCARD_BUDGET {
                match ready!(core.poll_next(cx))? {
                    Next::Message(_) => continue,
                    Next::Ended(closed) if output_abandoned(&closed) => return Poll::Ready(Err(Error::Closed(closed))),
                    Next::Ended(_) => return Poll::Ready(Ok(())),
                }
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
    }

    /// Run `f` on the core (Sink's poll functions, setters).
    pub(crate) fn with<X>(&mut self, f: impl FnOnce(&mut Core<A::T, A::R>) -> X) -> X {
        self.0.with(f)
    }
}

/// The receiving methods and their docs, written once for `WebSocket` and `Reader` (each
/// has a `handle()` giving its operations), so the two cannot drift apart.
macro_rules! receive_api {
    () => {
        /// The next text or binary message (pings and pongs too after
        /// [`set_control_messages(true)`](Self::set_control_messages)); `Ok(None)` once the
        /// connection has closed cleanly (see [`closed`](Self::closed) for how).
        ///
        /// # Errors
        /// [`Error::Closed`] when the connection ended uncleanly (protocol violation, keepalive
        /// or close timeout, transport ended without a close frame: code 1006 or the code we
        /// failed with; [`CloseCause::TransportError`](tether_proto::CloseCause::TransportError)
        /// when the transport failed, after the messages already received).
        ///
        /// # Cancel safety
        /// Cancel safe: every byte read is in the engine before the future yields, so dropping
        /// it (in `select!`, or under a timeout) loses nothing; the next call resumes.
        pub fn recv(&mut self) -> impl std::future::Future<Output = Result<Option<Message>, Error>> + '_ {
            // The inner future itself, not an `async fn` around it: every message is moved
            // once less, through no wrapper's state machine (16 B echo under callgrind: 35
            // instructions fewer per message; +1-2% msg/s in A/B runs, about the noise).
            self.handle().recv()
        }

        /// The next message, which must be text.
        ///
        /// # Errors
        /// [`Error::Closed`] for any ending, clean or not (like the frameworks'
        /// `WebSocketDisconnect`); [`Error::UnexpectedMessage`] (carrying the message) for a
        /// binary one.
        ///
        /// # Cancel safety
        /// Cancel safe, as [`recv`](Self::recv).
        pub async fn recv_text(&mut self) -> Result<Utf8Bytes, Error> {
            self.handle().recv_text().await
        }

        /// The next message, which must be binary.
        ///
        /// # Errors
        /// As [`recv_text`](Self::recv_text), with a text message unexpected.
        ///
        /// # Cancel safety
        /// Cancel safe, as [`recv`](Self::recv).
        pub async fn recv_bytes(&mut self) -> Result<Bytes, Error> {
            self.handle().recv_bytes().await
        }

        /// The next message (text or binary), decoded as JSON.
        ///
        /// # Errors
        /// As [`recv_text`](Self::recv_text); [`Error::Json`] when it does not decode (the
        /// message is consumed).
        ///
        /// # Cancel safety
        /// Cancel safe, as [`recv`](Self::recv).
        #[cfg(feature = "json")]
        pub async fn recv_json<V: serde::de::DeserializeOwned>(&mut self) -> Result<V, Error> {
            self.handle().recv_json().await
        }

        /// The next message, or `Ok(None)` if none arrived within `timeout`; the connection is
        /// still usable afterwards.
        ///
        /// # Errors
        /// [`Error::Closed`] for any ending (so that `Ok(None)` always means "timed out").
        ///
        /// # Cancel safety
        /// Cancel safe, as [`recv`](Self::recv).
        pub async fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Message>, Error> {
            self.handle().recv_timeout(timeout).await
        }

        /// Up to `max` messages, returning when `max` have arrived or `timeout` has passed
        /// (possibly with none), or early with what was collected when the connection ends.
        ///
        /// # Errors
        /// [`Error::Closed`] when the connection has ended and nothing was collected.
        ///
        /// # Cancel safety
        /// Not cancel safe: messages collected so far are lost if the future is dropped. Use
        /// its `timeout` rather than wrapping it in one.
        pub async fn recv_batch(&mut self, max: usize, timeout: Duration) -> Result<Vec<Message>, Error> {
            self.handle().recv_batch(max, timeout).await
        }

        /// Hand pings and pongs to the application too (they are always answered
        /// automatically when [`Config::auto_pong`](tether_proto::Config::auto_pong) is on).
        /// Off by default.
        pub fn set_control_messages(&mut self, on: bool) {
            self.handle().with(|core| core.set_control(on));
        }

        /// Limit what the peer may send from now on (`None` removes the limit), with fresh
        /// buckets: see [`RateLimit`](tether_proto::RateLimit). A server sets one for every
        /// connection in its [`Config`](tether_proto::Config)
        /// ([`ConfigBuilder::rate_limit`](tether_proto::ConfigBuilder::rate_limit)), or per
        /// route with this once the request is routed.
        ///
        /// # Errors
        /// [`ConfigError::Zero`](tether_proto::ConfigError::Zero) for a rate or burst of 0
        /// (nothing changes).
        pub fn set_rate_limit(
            &mut self,
            limit: Option<tether_proto::RateLimit>,
        ) -> Result<(), tether_proto::ConfigError> {
            self.handle().with(|core| core.set_rate_limit(limit))
        }

        /// Close this connection with 1001 (Going Away) when `shutdown` is
        /// [triggered](crate::Shutdown::trigger): a task waiting in `recv` is woken, the close
        /// frame is queued behind what is already queued, and receiving then finishes the
        /// closing handshake as for any close (`Ok(None)` once the peer answered, within
        /// [`Config::close_timeout`](tether_proto::Config::close_timeout)). Observed by the
        /// receive and send paths (keep a `recv` running, as always). Watching a second
        /// signal replaces the first.
        pub fn close_on(&mut self, shutdown: &crate::Shutdown) {
            self.handle().with(|core| core.close_on(shutdown));
        }
    };
}
pub(crate) use receive_api;

/// The sending methods and their docs, written once for `WebSocket` (`send_api!(mut;
/// defer = true)`: `&mut self`, writes deferred while received input is buffered) and
/// `Sender` (`send_api!(; defer = false)`: `&self`, always written through), each having a
/// `handle()` giving its operations, so the two cannot drift apart.
macro_rules! send_api {
    ($($mut:ident)?; defer = $defer:expr) => {
        /// Send a message: queue it once the outgoing queue is below the high-water mark, then
        /// write through (an unsplit [`WebSocket`](crate::WebSocket) defers the write while
        /// received input is buffered; see
        /// [its docs](crate::WebSocket#writes-are-coalesced-never-stranded)).
        ///
        /// # Errors
        /// [`Error::Closed`] once the connection's ending is decided (also when the other
        /// half hit it); [`Error::Send`] for an invalid message (control payload over 125
        /// bytes) or when our close was already sent. A transport error or the write timeout
        /// (a peer that stopped reading) ends the connection: `Closed` with
        /// [`CloseCause::TransportError`](tether_proto::CloseCause::TransportError) or
        /// [`CloseCause::WriteTimeout`](tether_proto::CloseCause::WriteTimeout).
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
        pub fn send(&$($mut)? self, message: Message) -> impl std::future::Future<Output = Result<(), Error>> + '_ {
            // The inner future itself, as `recv` returns its own: the message is moved into it
            // once, not first into an `async fn` wrapper's state.
            self.handle().send(message, $defer)
        }

        /// Send a text or binary message without compressing it, even when
        /// permessage-deflate was negotiated (RSV1 clear; the peer reads it as any message).
        /// For payloads that are already compressed (JPEG, gzip, …), and for secrets that
        /// must not share a compression context with bytes an attacker chooses (RFC 7692 §9:
        /// CRIME and BREACH). Without deflate in use it is [`send`](Self::send). Pings,
        /// pongs and closes go as `send` sends them (control frames are never compressed).
        ///
        /// ```no_run
        /// # async fn f<S, R: tether_rt::Runtime>(mut ws: tether_rt::WebSocket<S, R>, jpeg: Vec<u8>) -> Result<(), tether_rt::Error>
        /// # where R::Io<S>: tether_rt::Transport {
        /// use tether_rt::Message;
        /// ws.send(Message::text("compressed when deflate is on")).await?;
        /// ws.send_uncompressed(Message::binary(jpeg)).await?; // already compressed
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// As [`send`](Self::send).
        ///
        /// # Cancel safety
        /// As [`send`](Self::send).
        #[cfg(feature = "deflate")]
        #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
        pub fn send_uncompressed(&$($mut)? self, message: Message) -> impl std::future::Future<Output = Result<(), Error>> + '_ {
            self.handle().send_uncompressed(message, $defer)
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
        pub async fn send_text(&$($mut)? self, text: impl AsRef<str>) -> Result<(), Error> {
            self.handle().send_text(text.as_ref(), $defer).await
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
        pub async fn send_bytes(&$($mut)? self, data: impl AsRef<[u8]>) -> Result<(), Error> {
            self.handle().send_bytes(data.as_ref(), $defer).await
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
        pub async fn send_json<V: serde::Serialize + ?Sized>(&$($mut)? self, value: &V) -> Result<(), Error> {
            let text = serde_json::to_string(value)?;
            self.handle().send(Message::text(text), $defer).await
        }

        /// Send several messages encoded together and written with one flush (vectored
        /// writes); returns once they are all written. The high-water mark is checked before
        /// each message, as for [`send`](Self::send): a batch waits for the transport rather
        /// than queue past the mark.
        ///
        /// # Errors
        /// As [`send`](Self::send); messages before an invalid one stay queued.
        ///
        /// # Cancel safety
        /// Messages already queued are sent even if the future is dropped; the rest (those
        /// waiting for room below the mark) are dropped with it.
        pub async fn send_batch(&$($mut)? self, messages: impl IntoIterator<Item = Message>) -> Result<(), Error> {
            self.handle().send_batch(messages.into_iter()).await
        }

        /// Queue a message without writing it (waiting only while above the high-water mark);
        /// [`flush`](Self::flush) writes what was fed.
        ///
        /// # Errors
        /// As [`send`](Self::send).
        ///
        /// # Cancel safety
        /// As [`send`](Self::send).
        pub async fn feed(&$($mut)? self, message: Message) -> Result<(), Error> {
            self.handle().feed(message).await
        }

        /// Write everything queued and flush the transport, firing the connection's timers
        /// (the write timeout among them) while the transport is not ready.
        ///
        /// # Errors
        /// [`Error::Closed`] when the connection ended with output left unwritten (a transport
        /// error, the write timeout), or when it has ended and the output can no longer move.
        ///
        /// # Cancel safety
        /// Cancel safe: what is not written yet stays queued.
        pub async fn flush(&$($mut)? self) -> Result<(), Error> {
            self.handle().flush().await
        }

        /// Send a ping (at most 125 bytes of payload). The pong comes back as a message only
        /// with `set_control_messages(true)` on the receiving side.
        ///
        /// # Errors
        /// As [`send`](Self::send).
        ///
        /// # Cancel safety
        /// As [`send`](Self::send).
        pub async fn ping(&$($mut)? self, payload: impl Into<Bytes>) -> Result<(), Error> {
            self.handle().send(Message::Ping(payload.into()), false).await
        }
    };
}
pub(crate) use send_api;

/// One poll of `send_with`'s future, always inlined into the closure that runs it on the
/// core, so the queueing (`Connection::send` included) is one function with it (measured on
/// the 16 B echo server: +1%). That closure itself stays out of the caller's future:
/// inlining it there as well was 1% slower.
#[inline(always)]
fn poll_send<T: Transport, R: Runtime, Q>(
    core: &mut Core<T, R>,
    cx: &mut Context<'_>,
    queue: &mut Option<Q>,
    defer: bool,
) -> Poll<Result<(), Error>>
where
    Q: FnOnce(&mut Core<T, R>) -> Result<(), Error>,
{
    if queue.is_some() {
        ready!(core.poll_ready(cx))?;
        if let Some(queue) = queue.take() {
            queue(core)?;
        }
    }
    core.poll_write_through(cx, defer)
}

/// Messages `close` discards in one poll before it yields.
const CLOSE_DISCARD_BUDGET: usize = 32;

/// Whether `timer` has fired (registering the task otherwise).
pub(crate) fn fired<F: std::future::Future + Unpin>(timer: &mut F, cx: &mut Context<'_>) -> bool {
    std::pin::Pin::new(timer).poll(cx).is_ready()
}

/// `std::future::poll_fn` with its `poll` always inlined into the caller's future: for the
/// per-message futures (`recv`, `send`), so a message is built where the caller's state
/// machine reads it rather than returned through memory once more. Measured on the 16 B
/// echo server: the returned `Result<Option<Message>, Error>` (64 bytes) was written field
/// by field and copied with wide loads, a store-forwarding stall in the caller.
struct HotPollFn<F>(F);

fn hot_poll_fn<T, F: FnMut(&mut Context<'_>) -> Poll<T>>(f: F) -> HotPollFn<F> {
    HotPollFn(f)
}

impl<F> Unpin for HotPollFn<F> {}

impl<T, F: FnMut(&mut Context<'_>) -> Poll<T>> Future for HotPollFn<F> {
    type Output = T;

    #[inline(always)]
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        (self.0)(cx)
    }
}
