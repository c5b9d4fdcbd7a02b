//! `Handle`: the shared, lockable `Core` and every async operation written once on top of
//! its poll functions. `WebSocket`, `Reader` and `Sender` are thin, documented façades
//! over it. The lock is a std `Mutex` taken only inside poll functions, never across an
//! `.await`.

use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tether_proto::{Bytes, CloseCode, Closed, Connection, Message, Utf8Bytes};

use crate::core::{Core, Next};
use crate::runtime::{Runtime, Transport};
use crate::Error;

/// A connection shared by its façades.
pub(crate) struct Handle<T, R: Runtime> {
    core: Arc<Mutex<Core<T, R>>>,
}

impl<T, R: Runtime> Clone for Handle<T, R> {
    fn clone(&self) -> Self {
        Handle { core: self.core.clone() }
    }
}

impl<T: Transport, R: Runtime> Handle<T, R> {
    pub(crate) fn new(io: T, conn: Connection) -> Self {
        Handle { core: Arc::new(Mutex::new(Core::new(io, conn))) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Core<T, R>> {
        // A panic inside a poll function leaves the engine consistent (it has no partial
        // state outside itself), so a poisoned lock is still usable.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.core, &other.core)
    }

    // ----- receiving -----

    /// `recv`'s poll: `Ok(None)` after a clean close, `Err(Closed)` after an unclean one.
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<Option<Message>, Error>> {
        Poll::Ready(match ready!(self.lock().poll_next(cx))? {
            Next::Message(message) => Ok(Some(message)),
            Next::Ended(closed) if closed.is_clean() => Ok(None),
            Next::Ended(closed) => Err(Error::Closed(closed)),
        })
    }

    /// A message, or `Err(Closed)` for any ending.
    fn poll_message(&self, cx: &mut Context<'_>) -> Poll<Result<Message, Error>> {
        Poll::Ready(match ready!(self.lock().poll_next(cx))? {
            Next::Message(message) => Ok(message),
            Next::Ended(closed) => Err(Error::Closed(closed)),
        })
    }

    pub(crate) fn recv(&self) -> impl Future<Output = Result<Option<Message>, Error>> + '_ {
        poll_fn(|cx| self.poll_recv(cx))
    }

    pub(crate) async fn recv_message(&self) -> Result<Message, Error> {
        poll_fn(|cx| self.poll_message(cx)).await
    }

    pub(crate) async fn recv_text(&self) -> Result<Utf8Bytes, Error> {
        match self.recv_message().await? {
            Message::Text(text) => Ok(text),
            other => Err(Error::UnexpectedMessage(other)),
        }
    }

    pub(crate) async fn recv_bytes(&self) -> Result<Bytes, Error> {
        match self.recv_message().await? {
            Message::Binary(data) => Ok(data),
            other => Err(Error::UnexpectedMessage(other)),
        }
    }

    #[cfg(feature = "json")]
    pub(crate) async fn recv_json<V: serde::de::DeserializeOwned>(&self) -> Result<V, Error> {
        match self.recv_message().await? {
            Message::Text(text) => Ok(serde_json::from_str(text.as_str())?),
            Message::Binary(data) => Ok(serde_json::from_slice(&data)?),
            other => Err(Error::UnexpectedMessage(other)),
        }
    }

    pub(crate) async fn recv_timeout(&self, timeout: Duration) -> Result<Option<Message>, Error> {
        let mut timer = R::sleep_until(R::now() + timeout);
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

    pub(crate) async fn recv_batch(&self, max: usize, timeout: Duration) -> Result<Vec<Message>, Error> {
        let mut out = Vec::new();
        if max == 0 {
            return Ok(out);
        }
        let mut timer = R::sleep_until(R::now() + timeout);
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
    // These return their `poll_fn` directly instead of being `async fn`s: each async layer
    // keeps its own copy of the arguments beside the inner future, and the send future
    // lives in the caller's future (a connection's task) for as long as the connection.
    pub(crate) fn send(&self, message: Message, defer: bool) -> impl Future<Output = Result<(), Error>> + '_ {
        self.send_with(defer, move |core| core.start_send(message))
    }

    /// `send` for a text message copied from `text`.
    pub(crate) fn send_text<'a>(&'a self, text: &'a str, defer: bool) -> impl Future<Output = Result<(), Error>> + 'a {
        self.send_with(defer, move |core| core.start_send_text(text))
    }

    /// `send` for a binary message copied from `data`.
    pub(crate) fn send_binary<'a>(
        &'a self,
        data: &'a [u8],
        defer: bool,
    ) -> impl Future<Output = Result<(), Error>> + 'a {
        self.send_with(defer, move |core| core.start_send_binary(data))
    }

    /// The one send loop: `queue` runs exactly once, in the first poll that finds the queue
    /// below the high-water mark, and the write-through follows in that same poll. Until
    /// then the future holds the message (owned or borrowed) and the engine has seen
    /// nothing, so dropping it sends nothing; afterwards the message is the engine's.
    fn send_with<'a>(
        &'a self,
        defer: bool,
        queue: impl FnOnce(&mut Core<T, R>) -> Result<(), Error> + 'a,
    ) -> impl Future<Output = Result<(), Error>> + 'a {
        let mut queue = Some(queue);
        poll_fn(move |cx| {
            let mut core = self.lock();
            if queue.is_some() {
                ready!(core.poll_ready(cx))?;
                if let Some(queue) = queue.take() {
                    queue(&mut core)?;
                }
            }
            core.poll_write_through(cx, defer)
        })
    }

    pub(crate) async fn feed(&self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.lock().poll_ready(cx)).await?;
        self.lock().start_send(message)
    }

    pub(crate) async fn send_batch(&self, messages: Vec<Message>) -> Result<(), Error> {
        let mut messages = Some(messages);
        poll_fn(|cx| {
            let mut core = self.lock();
            if messages.is_some() {
                ready!(core.poll_ready(cx))?;
                for m in messages.take().into_iter().flatten() {
                    core.start_send(m)?;
                }
            }
            core.poll_flush(cx)
        })
        .await
    }

    pub(crate) async fn flush(&self) -> Result<(), Error> {
        poll_fn(|cx| self.lock().poll_flush(cx)).await
    }

    /// Queue our close frame and flush it (the reading side completes the handshake).
    pub(crate) async fn close_send(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.lock().start_close(code, reason)?;
        match self.flush().await {
            Err(Error::Closed(_)) => Ok(()),
            other => other,
        }
    }

    /// Queue our close frame and drive the connection until it has ended (messages that
    /// arrive meanwhile are discarded), bounded by the close timeout.
    pub(crate) async fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.lock().start_close(code, reason)?;
        poll_fn(|cx| self.poll_close_handshake(cx)).await
    }

    pub(crate) fn poll_close_handshake(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut core = self.lock();
        loop {
            match ready!(core.poll_next(cx))? {
                Next::Message(_) => continue,
                Next::Ended(_) => return Poll::Ready(Ok(())),
            }
        }
    }

    // ----- getters -----

    pub(crate) fn close_frame(&self) -> Option<Closed> {
        self.lock().closed()
    }

    pub(crate) fn set_control(&self, on: bool) {
        self.lock().set_control(on);
    }

    pub(crate) fn with_connection<X>(&self, f: impl FnOnce(&Connection) -> X) -> X {
        f(self.lock().connection())
    }
}

/// Whether `timer` has fired (registering the task otherwise).
pub(crate) fn fired<F: std::future::Future + Unpin>(timer: &mut F, cx: &mut Context<'_>) -> bool {
    std::pin::Pin::new(timer).poll(cx).is_ready()
}
