//! `tether-tests`: helpers shared by the cross-runtime suite (`tests/suite/*.rs`, included
//! by `tests/tests/{tokio,smol,async_std}.rs`): a deadline helper, a slow transport, and a
//! scripted raw-TCP peer for hostile-peer tests, real-peer processes (`peer`) and memory
//! measurement (`mem`), test certificates (`pki`). The tests themselves live in `suite/`; the frames a raw peer writes
//! and parses come from `tether-testkit`.
#![deny(missing_docs)]

pub mod mem;
pub mod peer;
pub mod pki;

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tether_rt::Runtime;

/// `f`'s output, or `None` once `d` has passed (on runtime `R`'s timer).
pub async fn timeout<R: Runtime, F: Future>(d: Duration, f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    let mut timer = R::sleep_until(R::now() + d);
    poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if Pin::new(&mut timer).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Close `ws` with 1000 and read until the peer's answer ends it, within `d`: the ending,
/// which a test then checks (`None` if the close could not be queued or did not finish
/// in time).
pub async fn close_and_wait<S, R>(ws: &mut tether_rt::WebSocket<S, R>, d: Duration) -> Option<tether_rt::proto::Closed>
where
    R: Runtime,
    R::Io<S>: tether_rt::Transport,
{
    ws.close(tether_rt::proto::CloseCode::NORMAL, "bye").await.ok()?;
    timeout::<R, _>(d, async {
        while let Ok(Some(_)) = ws.recv().await {}
        ws.closed()
    })
    .await
    .flatten()
}

/// Sleep for `d` on runtime `R`'s timer.
pub async fn sleep<R: Runtime>(d: Duration) {
    let _ = R::sleep_until(R::now() + d).await;
}

/// A transport that reads at most one byte per call and returns `Pending` (after waking
/// itself) every other call, on both read and write: it exercises every partial-read and
/// resume path. Implements both the futures-io and the tokio IO traits.
#[derive(Debug)]
pub struct Slow<S> {
    inner: S,
    read_turn: bool,
    write_turn: bool,
}

impl<S> Slow<S> {
    /// Wrap `inner`.
    pub fn new(inner: S) -> Self {
        Slow { inner, read_turn: false, write_turn: false }
    }

    /// `Pending` every other call (waking the task so it comes back).
    fn stall(turn: &mut bool, cx: &mut Context<'_>) -> bool {
        *turn = !*turn;
        if *turn {
            cx.waker().wake_by_ref();
        }
        *turn
    }
}

impl<S: futures_io::AsyncRead + Unpin> futures_io::AsyncRead for Slow<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if Self::stall(&mut this.read_turn, cx) {
            return Poll::Pending;
        }
        let len = buf.len().min(1);
        Pin::new(&mut this.inner).poll_read(cx, &mut buf[..len])
    }
}

impl<S: futures_io::AsyncWrite + Unpin> futures_io::AsyncWrite for Slow<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if Self::stall(&mut this.write_turn, cx) {
            return Poll::Pending;
        }
        let len = buf.len().min(7);
        Pin::new(&mut this.inner).poll_write(cx, &buf[..len])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &**b);
        self.poll_write(cx, first)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Slow<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if Self::stall(&mut this.read_turn, cx) {
            return Poll::Pending;
        }
        let mut one = [0u8; 1];
        let mut small = tokio::io::ReadBuf::new(&mut one[..buf.remaining().min(1)]);
        let result = Pin::new(&mut this.inner).poll_read(cx, &mut small);
        if let Poll::Ready(Ok(())) = result {
            buf.put_slice(small.filled());
        }
        result
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Slow<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if Self::stall(&mut this.write_turn, cx) {
            return Poll::Pending;
        }
        let len = buf.len().min(7);
        Pin::new(&mut this.inner).poll_write(cx, &buf[..len])
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Reads pass through to the wrapped stream, for both IO trait families: the test
/// transports below differ only in how they write.
macro_rules! read_passes_through {
    ($name:ident) => {
        impl<S: futures_io::AsyncRead + Unpin> futures_io::AsyncRead for $name<S> {
            fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.0).poll_read(cx, buf)
            }
        }

        impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for $name<S> {
            fn poll_read(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut self.0).poll_read(cx, buf)
            }
        }
    };
}

/// A transport whose shutdown never completes (and never wakes the task): reads and writes
/// pass through, `poll_close` / `poll_shutdown` stay `Pending` forever — like a TLS
/// close_notify queued to a peer that stopped reading. Implements both the futures-io and
/// the tokio IO traits.
#[derive(Debug)]
pub struct NeverCloses<S>(pub S);

read_passes_through!(NeverCloses);

impl<S: futures_io::AsyncWrite + Unpin> futures_io::AsyncWrite for NeverCloses<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for NeverCloses<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

/// A transport whose writes never complete (and never wake the task): reads pass through,
/// `poll_write` stays `Pending` forever — a peer that never reads, with full buffers from
/// the first byte. Implements both the futures-io and the tokio IO traits.
#[derive(Debug)]
pub struct NeverWrites<S>(pub S);

read_passes_through!(NeverWrites);

impl<S: Unpin> futures_io::AsyncWrite for NeverWrites<S> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Pending
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

impl<S: Unpin> tokio::io::AsyncWrite for NeverWrites<S> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Pending
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

/// A scripted raw-TCP peer on a plain thread with blocking std IO: it can send anything,
/// at any pace, and is independent of the runtime under test.
pub mod raw {
    use super::*;

    /// A valid upgrade request for `path` (fixed key `dGhlIHNhbXBsZSBub25jZQ==`).
    pub fn request(path: &str) -> String {
        format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
    }

    /// Connect with short IO timeouts (so a broken test cannot hang).
    pub fn connect(addr: SocketAddr) -> TcpStream {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    /// Read until the end of an HTTP head (`\r\n\r\n`), byte by byte (nothing past it).
    pub fn read_head(s: &mut TcpStream) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match s.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&head).into_owned()
    }

    /// Connect and complete the opening handshake as a client; returns the socket.
    pub fn client(addr: SocketAddr) -> TcpStream {
        let mut s = connect(addr);
        s.write_all(request("/").as_bytes()).unwrap();
        let head = read_head(&mut s);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        s
    }

    /// Read everything until EOF or error (e.g. a reset).
    pub fn read_to_end(s: &mut TcpStream) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    }
}

/// Milliseconds since `start`, for messages.
pub fn elapsed_ms(start: Instant) -> u128 {
    start.elapsed().as_millis()
}
