//! `tether-smol`: Tether WebSockets on smol — the `Runtime` impl and type aliases (both
//! expanded from `tether_rt`'s async-io macro, shared with `tether-async-std`). The
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
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub)]

tether_rt::async_io_runtime!(
    /// The smol runtime (async-io's reactor and timers), as the `R` parameter of `tether_rt`
    /// types.
    Smol,
    timer = smol::Timer,
    tcp = smol::net::TcpStream,
    listener = smol::net::TcpListener,
    // smol's global executor; a dropped `Task` would cancel it, so it is detached.
    spawn = |future| smol::spawn(future).detach(),
    runtime_name = "smol"
);
