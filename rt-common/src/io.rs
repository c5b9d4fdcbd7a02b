//! Small IO helpers for the opening handshake: write-all, read-some and "race a future
//! against a deadline", over futures-io and the runtime's timer. No protocol here.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::Poll;

use futures_io::{AsyncRead, AsyncWrite};
use tether_proto::Transmit;

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

/// Write everything an engine has queued (a handshake's request or answer) and flush.
pub(crate) async fn write_transmit<T: AsyncWrite + Unpin>(io: &mut T, engine: &mut impl Transmit) -> io::Result<()> {
    loop {
        let mut chunks = [&[][..]; 1];
        if engine.poll_transmit(&mut chunks) == 0 {
            break;
        }
        let n = poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, chunks[0])).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        engine.consume_transmit(n);
    }
    poll_fn(|cx| Pin::new(&mut *io).poll_flush(cx)).await
}

/// Shut the write side down (best effort).
pub(crate) async fn shutdown<T: AsyncWrite + Unpin>(io: &mut T) {
    let _ = poll_fn(|cx| Pin::new(&mut *io).poll_close(cx)).await;
}

/// Bytes read per call while an opening handshake arrives.
const HANDSHAKE_READ: usize = 1024;

/// Read and hand every chunk to `feed` until it returns `Some` (its answer), or `None` if
/// `timer` fires first. The read buffer lives on the stack only while the future is being
/// polled, so a handshake parked here — an idle connection — holds no buffer at all.
/// End of stream is an `UnexpectedEof` error (a handshake cut short).
pub(crate) async fn read_until<T, D, X>(
    io: &mut T,
    timer: &mut D,
    mut feed: impl FnMut(&[u8]) -> Option<X>,
) -> Option<io::Result<X>>
where
    T: AsyncRead + Unpin,
    D: Future + Unpin,
{
    poll_fn(|cx| loop {
        let mut buf = [0u8; HANDSHAKE_READ];
        match Pin::new(&mut *io).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(0)) => {
                return Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection during the opening handshake",
                ))))
            }
            Poll::Ready(Ok(n)) => {
                if let Some(answer) = feed(&buf[..n]) {
                    return Poll::Ready(Some(Ok(answer)));
                }
            }
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
            Poll::Pending if Pin::new(&mut *timer).poll(cx).is_ready() => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        }
    })
    .await
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
