//! `futures::Stream` and `Sink` for `WebSocket`, `Reader` (stream) and `Sender` (sink), for
//! those who compose streams. They use the same poll functions as the async methods.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tether_proto::{CloseCode, Message};

use crate::handle::{Access, Handle};
use crate::runtime::{Runtime, Transport};
use crate::{Error, Reader, Sender, WebSocket};

fn poll_stream<A: Access>(
    mut handle: Handle<A>,
    done: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Message, Error>>> {
    if *done {
        return Poll::Ready(None);
    }
    match ready!(handle.poll_recv(cx)) {
        Ok(Some(message)) => Poll::Ready(Some(Ok(message))),
        Ok(None) => {
            *done = true;
            Poll::Ready(None)
        }
        Err(e) => {
            // One error, then the stream ends.
            *done = true;
            Poll::Ready(Some(Err(e)))
        }
    }
}

/// The one `Stream` impl, for `WebSocket` and `Reader` (each has `parts()`: its operations
/// and the stream's end flag).
macro_rules! impl_stream {
    ($($ty:ident: $doc:literal),+) => {$(
        #[doc = $doc]
        impl<S, R> Stream for $ty<S, R>
        where
            R: Runtime,
            R::Io<S>: Transport,
        {
            type Item = Result<Message, Error>;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                let (handle, done) = self.get_mut().parts();
                poll_stream(handle, done, cx)
            }
        }
    )+};
}

impl_stream!(
    WebSocket: "Messages as [`WebSocket::recv`] hands them out; the stream ends after a clean close, or after yielding one error.",
    Reader: "As the [`WebSocket`] stream."
);

/// `poll_ready` waits below the high-water mark, `start_send` queues, `poll_flush` writes
/// everything, `poll_close` runs the close handshake (code 1000) like
/// [`WebSocket::close`].
impl<S, R> Sink<Message> for WebSocket<S, R>
where
    R: Runtime,
    R::Io<S>: Transport,
{
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.handle().with(|core| core.poll_ready(cx))
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.handle().with(|core| core.start_send(item))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.handle().with(|core| core.poll_flush(cx))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut handle = self.handle();
        handle.with(|core| core.start_close(CloseCode::NORMAL, ""))?;
        handle.poll_close_handshake(cx)
    }
}

/// As the [`WebSocket`] sink, except that `poll_close` only sends our close frame (the
/// [`Reader`] completes the handshake), like [`Sender::close`].
impl<S, R> Sink<Message> for Sender<S, R>
where
    R: Runtime,
    R::Io<S>: Transport,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.handle().with(|core| core.poll_ready(cx))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.handle().with(|core| core.start_send(item))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.handle().with(|core| core.poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut handle = self.handle();
        handle.with(|core| core.start_close(CloseCode::NORMAL, ""))?;
        handle.poll_close_sent(cx)
    }
}
