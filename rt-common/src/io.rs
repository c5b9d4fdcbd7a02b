//! Small IO helpers for the opening handshake: write-all, read-some and "race a future
//! against a deadline", over futures-io and the runtime's timer. No protocol here.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::Poll;

use futures_io::{AsyncRead, AsyncWrite};

/// `f`'s output, or `None` if `timer` fires first.
pub(crate) async fn with_deadline<F: Future, D: Future + Unpin>(timer: &mut D, f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if Pin::new(&mut *timer).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Write all of `data` and flush.
pub(crate) async fn write_all<T: AsyncWrite + Unpin>(io: &mut T, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, data)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
    }
    poll_fn(|cx| Pin::new(&mut *io).poll_flush(cx)).await
}

/// Shut the write side down (best effort).
pub(crate) async fn shutdown<T: AsyncWrite + Unpin>(io: &mut T) {
    let _ = poll_fn(|cx| Pin::new(&mut *io).poll_close(cx)).await;
}

/// Read some bytes; end of stream is an `UnexpectedEof` error (a handshake cut short).
pub(crate) async fn read_some<T: AsyncRead + Unpin>(io: &mut T, buf: &mut [u8]) -> io::Result<usize> {
    let n = poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, buf)).await?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the peer closed the connection during the opening handshake",
        ));
    }
    Ok(n)
}

/// Read and discard until end of stream or `limit` bytes, so that closing a socket with
/// unread input does not turn into a reset that destroys the response just written.
pub(crate) async fn drain<T: AsyncRead + Unpin>(io: &mut T, mut limit: usize) {
    let mut buf = [0u8; 1024];
    while limit > 0 {
        match poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, &mut buf)).await {
            Ok(0) | Err(_) => return,
            Ok(n) => limit = limit.saturating_sub(n),
        }
    }
}
