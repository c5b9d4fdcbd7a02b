//! `Compat`: a tokio `AsyncRead + AsyncWrite` seen as a futures-io one (what the generic
//! layer speaks). Nothing else lives here: no buffering, no WebSocket logic.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tether_rt::proto::bytes::buf::Limit;
use tether_rt::proto::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A tokio stream presented as a futures-io stream. `WebSocket<S>` wraps its stream in one
/// for you; use [`get_ref`](Self::get_ref) to reach the stream (for example its peer
/// address).
#[derive(Debug)]
pub struct Compat<S>(S);

impl<S> Compat<S> {
    /// Wrap `stream`.
    pub fn new(stream: S) -> Self {
        Compat(stream)
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.0
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.0
    }

    /// Unwrap the stream.
    pub fn into_inner(self) -> S {
        self.0
    }
}

impl<S: AsyncRead + Unpin> futures_io::AsyncRead for Compat<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.0).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }
}

/// Reads go straight into the connection's receive buffer through tokio's `ReadBuf`, which
/// accepts uninitialized memory: the buffer is never zeroed before a read.
impl<S: AsyncRead + AsyncWrite + Unpin> tether_rt::Transport for Compat<S> {
    const READS_UNINIT: bool = true;

    fn poll_read_buf(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut Limit<&mut BytesMut>,
    ) -> Poll<io::Result<usize>> {
        tokio_util::io::poll_read_buf(Pin::new(&mut self.0), cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> futures_io::AsyncWrite for Compat<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
