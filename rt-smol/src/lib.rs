//! `tether-smol`: Tether WebSockets on smol — the `Runtime` impl and type aliases. The
//! connection API lives in `tether-rt` (identical on every runtime); protocol rules live in
//! `tether-proto`. smol streams already speak futures-io, so no compat shim is needed.
//!
//! ```no_run
//! # async fn server(listener: smol::net::TcpListener) -> Result<(), Box<dyn std::error::Error>> {
//! let (tcp, _) = listener.accept().await?;
//! let pending = tether_smol::Upgrade::read(tcp).await?; // bounded by the handshake deadline
//! let mut ws = pending.accept().await?;
//! while let Some(message) = ws.recv().await? {
//!     ws.send(message).await?;
//! }
//! # Ok(()) }
//! # async fn client() -> Result<(), Box<dyn std::error::Error>> {
//! let mut ws = tether_smol::connect("ws://127.0.0.1:9001/chat").await?;
//! ws.send_text("hello").await?;
//! # Ok(()) }
//! ```
//!
//! Keepalive is on by default (ping after 20 s of silence, 20 s to answer); see
//! [`default_config`]. Any `futures_io::AsyncRead + AsyncWrite + Unpin` stream works.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub)]

use std::future::Future;
use std::io;
use std::time::Instant;

/// The smol runtime (async-io's reactor and timers), as the `R` parameter of `tether_rt`
/// types.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

impl tether_rt::Runtime for Smol {
    type Io<S> = tether_rt::Plain<S>;
    type Sleep = smol::Timer;
    type TcpStream = smol::net::TcpStream;

    fn wrap<S>(stream: S) -> tether_rt::Plain<S> {
        tether_rt::Plain::new(stream)
    }

    fn now() -> Instant {
        Instant::now()
    }

    fn sleep_until(deadline: Instant) -> smol::Timer {
        smol::Timer::at(deadline)
    }

    fn reset(sleep: &mut smol::Timer, deadline: Instant) {
        sleep.set_at(deadline);
    }

    fn connect_tcp(host: &str, port: u16) -> impl Future<Output = io::Result<smol::net::TcpStream>> + Send {
        let host = host.to_owned();
        async move {
            let stream = smol::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        }
    }
}

tether_rt::adapter_surface!(Smol, smol::net::TcpStream, "smol", S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin);
