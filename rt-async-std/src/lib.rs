//! `tether-async-std`: Tether WebSockets on async-std (discontinued upstream, so this adapter is kept nearly free) — the `Runtime` impl and type aliases. The
//! connection API lives in `tether-rt` (identical on every runtime); protocol rules live in
//! `tether-proto`. async-std streams already speak futures-io, so no compat shim is needed.
//!
//! ```no_run
//! # async fn server(listener: async_std::net::TcpListener) -> Result<(), Box<dyn std::error::Error>> {
//! let (tcp, _) = listener.accept().await?;
//! let pending = tether_async_std::Upgrade::read(tcp).await?; // bounded by the handshake deadline
//! let mut ws = pending.accept().await?;
//! while let Some(message) = ws.recv().await? {
//!     ws.send(message).await?;
//! }
//! # Ok(()) }
//! # async fn client() -> Result<(), Box<dyn std::error::Error>> {
//! let mut ws = tether_async_std::connect("ws://127.0.0.1:9001/chat").await?;
//! ws.send_text("hello").await?;
//! # Ok(()) }
//! ```
//!
//! async-std's `TcpStream::poll_close` only flushes (it does not half-close TCP); the
//! connection therefore releases (closes) its transport as soon as it has ended, like on
//! every runtime, so the peer sees the end of TCP without waiting for the `WebSocket` to
//! be dropped.
//!
//! Keepalive is on by default (ping after 20 s of silence, 20 s to answer); see
//! [`default_config`]. Any `futures_io::AsyncRead + AsyncWrite + Unpin` stream works.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub)]

use std::future::Future;
use std::io;
use std::time::Instant;

/// The async-std runtime (timers from async-io, which async-std itself uses), as the `R` parameter of `tether_rt`
/// types.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

impl tether_rt::Runtime for AsyncStd {
    type Io<S> = tether_rt::Plain<S>;
    type Sleep = async_io::Timer;
    type TcpStream = async_std::net::TcpStream;

    fn wrap<S>(stream: S) -> tether_rt::Plain<S> {
        tether_rt::Plain::new(stream)
    }

    fn now() -> Instant {
        Instant::now()
    }

    fn sleep_until(deadline: Instant) -> async_io::Timer {
        async_io::Timer::at(deadline)
    }

    fn reset(sleep: &mut async_io::Timer, deadline: Instant) {
        sleep.set_at(deadline);
    }

    fn connect_tcp(host: &str, port: u16) -> impl Future<Output = io::Result<async_std::net::TcpStream>> + Send {
        let host = host.to_owned();
        async move {
            let stream = async_std::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        }
    }
}

tether_rt::adapter_surface!(AsyncStd, async_std::net::TcpStream, "async-std", S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin);
