//! `tether-async-std`: Tether WebSockets on async-std (discontinued upstream, so this
//! adapter is kept nearly free) — the `Runtime` impl and type aliases (both expanded from
//! `tether_rt`'s async-io macro, shared with `tether-smol`). The
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
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub)]

tether_rt::async_io_runtime!(
    /// The async-std runtime (timers from async-io, which async-std itself uses), as the `R`
    /// parameter of `tether_rt` types.
    AsyncStd,
    timer = async_io::Timer,
    tcp = async_std::net::TcpStream,
    listener = async_std::net::TcpListener,
    // Dropping async-std's handle detaches the task.
    spawn = |future| drop(async_std::task::spawn(future)),
    runtime_name = "async-std"
);
