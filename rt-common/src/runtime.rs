//! The hidden `Runtime` trait: the only things the generic layer needs from an async
//! runtime (a clock, a resettable timer, TCP connect and accept, spawning a task, how a
//! stream becomes futures-io, and — feature `rustls` — the TLS handshakes over the runtime's
//! TCP stream). No runtime (and no TLS stream crate) is named here; each `tether-*` adapter
//! crate implements it.

use std::future::Future;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use tether_proto::bytes::buf::Limit;
use tether_proto::{BufMut, BytesMut};

/// What the generic layer needs from an async runtime. Implemented by the adapter crates
/// (`tether-tokio`, `tether-async-std`, `tether-smol`); applications never implement or
/// call it, they only see it as the `R` parameter of [`WebSocket`](crate::WebSocket).
pub trait Runtime: Send + Sync + Sized + 'static {
    /// How a stream of this runtime becomes a [`Transport`] ([`Plain`], or a compat
    /// wrapper for tokio).
    type Io<S>;
    /// A timer that can be re-armed without reallocating.
    type Sleep: Future + Send + Unpin;
    /// The runtime's TCP stream, used by [`ClientBuilder::connect`](crate::ClientBuilder::connect).
    type TcpStream: Send + Unpin + 'static;
    /// The runtime's TCP listener, which a server's accept loop (`tether-server`) takes.
    type TcpListener: Send + Sync + 'static;

    /// Wrap a stream of this runtime so it speaks futures-io.
    fn wrap<S>(stream: S) -> Self::Io<S>;
    /// The runtime's clock (tokio's can be paused in tests).
    fn now() -> Instant;
    /// A timer that fires at `deadline`.
    fn sleep_until(deadline: Instant) -> Self::Sleep;
    /// Re-arm `sleep` to fire at `deadline`.
    fn reset(sleep: &mut Self::Sleep, deadline: Instant);
    /// Resolve `host` and open a TCP connection to `port` on it.
    fn connect_tcp(host: &str, port: u16) -> impl Future<Output = io::Result<Self::TcpStream>> + Send;
    /// Accept the next connection on `listener`, with Nagle's algorithm off (frames are
    /// written whole), and the peer's address.
    fn accept_tcp(
        listener: &Self::TcpListener,
    ) -> impl Future<Output = io::Result<(Self::TcpStream, SocketAddr)>> + Send + '_;
    /// Run `future` as a task of its own, detached (a server's connection task).
    fn spawn<F: Future<Output = ()> + Send + 'static>(future: F);

    /// The stream [`ClientBuilder::connect`](crate::ClientBuilder::connect) hands back and
    /// `Upgrade::read_tls` (feature `rustls`) reads from: the runtime's TCP stream,
    /// or TLS over it (with the adapter's feature `rustls`).
    type MaybeTls: Send + Unpin + 'static;

    /// A plain TCP stream as a [`MaybeTls`](Self::MaybeTls).
    fn plain(tcp: Self::TcpStream) -> Self::MaybeTls;

    /// Run a TLS client handshake over `tcp` (SNI `name`). A runtime without a TLS stream
    /// (the adapter built without its `rustls` feature) answers `Unsupported`. The caller
    /// bounds it with the handshake deadline.
    #[cfg(feature = "rustls")]
    fn tls_connect(
        tcp: Self::TcpStream,
        config: std::sync::Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
    ) -> impl Future<Output = io::Result<Self::MaybeTls>> + Send {
        drop((tcp, config, name));
        std::future::ready(Err(tls_unsupported()))
    }

    /// Run a TLS server handshake over `tcp`. As [`tls_connect`](Self::tls_connect).
    #[cfg(feature = "rustls")]
    fn tls_accept(
        tcp: Self::TcpStream,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> impl Future<Output = io::Result<Self::MaybeTls>> + Send {
        drop((tcp, config));
        std::future::ready(Err(tls_unsupported()))
    }
}

/// What a runtime without a TLS stream answers to a TLS handshake.
#[cfg(feature = "rustls")]
fn tls_unsupported() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "TLS needs the adapter's `rustls` feature")
}

/// `start + after`, saturating: a timeout of [`Duration::MAX`] (or any value too large
/// for the clock) is a deadline so far away that it never fires, never a panic. Every
/// deadline of the generic layer is computed here.
pub(crate) fn deadline_after(start: Instant, after: Duration) -> Instant {
    start.checked_add(after).unwrap_or_else(|| {
        // The largest representable instant is platform-dependent: step down from a
        // century until one fits.
        let mut far = FAR_FUTURE;
        loop {
            if let Some(deadline) = start.checked_add(far) {
                return deadline;
            }
            far /= 2;
        }
    })
}

/// A handshake's clock, kept by the connection after it: the engine's `Instant::ZERO` is
/// `epoch`, a moment of the runtime's clock.
pub(crate) struct Clock<R> {
    epoch: Instant,
    _runtime: std::marker::PhantomData<fn() -> R>,
}

impl<R: Runtime> Clock<R> {
    /// A clock starting now.
    pub(crate) fn start() -> Self {
        Clock { epoch: R::now(), _runtime: std::marker::PhantomData }
    }

    /// The runtime instant that is the engine's `Instant::ZERO`.
    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The engine's time now.
    pub(crate) fn now(&self) -> tether_proto::Instant {
        tether_proto::Instant::from_duration(R::now().saturating_duration_since(self.epoch))
    }

    /// A runtime timer at the engine's deadline `at` (never, for `None`).
    pub(crate) fn timer_at(&self, at: Option<tether_proto::Instant>) -> R::Sleep {
        R::sleep_until(deadline_after(self.epoch, at.map_or(Duration::MAX, tether_proto::Instant::as_duration)))
    }
}

/// How far away a deadline that does not fit the clock is put instead.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// A byte stream the connection can run over: a runtime's [`Runtime::Io`] wrapper —
/// [`Plain`] for streams that already speak futures-io (smol, async-std), tokio's
/// `Compat` — implements it for every stream that can carry a connection.
///
/// Besides futures-io reads and writes, it says how to read into the connection's receive
/// buffer: streams that can read into uninitialized memory (tokio's `ReadBuf`) do so, and
/// the buffer is never zeroed; others are lent zeroed space through `poll_read`.
pub trait Transport: AsyncRead + AsyncWrite + Unpin {
    /// Whether [`poll_read_buf`](Self::poll_read_buf) reads into uninitialized memory (and
    /// should be used instead of `poll_read`).
    #[doc(hidden)]
    const READS_UNINIT: bool = false;

    /// Append what can be read now to `buf` (at most its limit), without zeroing the space
    /// first when [`READS_UNINIT`](Self::READS_UNINIT). `Ok(0)` with space offered is the
    /// end of the stream. The default zeroes the space and reads into it with `poll_read`.
    #[doc(hidden)]
    fn poll_read_buf(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut Limit<&mut BytesMut>,
    ) -> Poll<io::Result<usize>> {
        let start = buf.get_ref().len();
        let space = buf.remaining_mut();
        buf.put_bytes(0, space);
        let inner = buf.get_mut();
        let result = self.as_mut().poll_read(cx, &mut inner[start..]);
        let read = match &result {
            Poll::Ready(Ok(n)) => (*n).min(space),
            _ => 0,
        };
        inner.truncate(start + read);
        result
    }
}

/// A futures-io stream as a [`Transport`]: how `tether-smol` and `tether-async-std` see
/// the streams they are given (no buffering, no copying; every call is passed through).
#[derive(Debug)]
pub struct Plain<S>(S);

impl<S> Plain<S> {
    /// Wrap `stream`.
    pub fn new(stream: S) -> Self {
        Plain(stream)
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

impl<S: AsyncRead + Unpin> AsyncRead for Plain<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }

    fn poll_read_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read_vectored(cx, bufs)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Plain<S> {
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
        Pin::new(&mut self.0).poll_close(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Transport for Plain<S> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    /// Hands out `data` in reads of at most `step` bytes, then ends.
    struct Chunks {
        data: Vec<u8>,
        step: usize,
    }

    impl AsyncRead for Chunks {
        fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data.drain(..n);
            Poll::Ready(Ok(n))
        }
    }

    impl AsyncWrite for Chunks {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn deadline_after_saturates() {
        let now = Instant::now();
        assert_eq!(deadline_after(now, Duration::from_secs(1)), now + Duration::from_secs(1));
        for huge in [Duration::MAX, Duration::from_secs(u64::MAX / 2), Duration::new(u64::MAX, 999_999_999)] {
            let far = deadline_after(now, huge);
            assert!(far > now + Duration::from_secs(365 * 24 * 60 * 60), "{huge:?}");
        }
    }

    // The default `poll_read_buf` (for transports without uninitialized reads) appends
    // exactly what was read, never more than the limit, keeps what was there, and reports
    // the end of the stream as 0.
    #[test]
    fn default_poll_read_buf_appends_exactly_what_was_read() {
        let mut io = Plain::new(Chunks { data: (0..100u8).collect(), step: 30 });
        let mut cx = Context::from_waker(Waker::noop());
        let mut buf = BytesMut::from(&b"kept"[..]);
        let mut total = 0;
        loop {
            let mut space = BufMut::limit(&mut buf, 40);
            let Poll::Ready(Ok(n)) = Pin::new(&mut io).poll_read_buf(&mut cx, &mut space) else {
                panic!("read failed");
            };
            assert!(n <= 30);
            total += n;
            assert_eq!(buf.len(), 4 + total, "appended exactly what was read");
            if n == 0 {
                break;
            }
        }
        assert_eq!(total, 100);
        assert_eq!(&buf[..4], b"kept");
        assert!(buf[4..].iter().copied().eq(0..100u8));
    }
}
