//! `tether-rt`: the generic async layer of Tether — one [`WebSocket`] type with its drive
//! loop and whole public API, written once over futures-io and a small [`Runtime`] trait.
//! What does not live here: protocol rules (in `tether-proto`) and anything naming a
//! runtime (in the `tether-tokio`, `tether-async-std` and `tether-smol` adapters).
//!
//! Applications use an adapter, which fills in the runtime:
//!
//! ```no_run
//! # async fn f<R: tether_rt::Runtime, S>(tcp: S) -> Result<(), tether_rt::Error>
//! # where R::Io<S>: tether_rt::Transport {
//! # use tether_rt::{Upgrade, CloseCode, Message};
//! // server (with tether_tokio: `tether_tokio::Upgrade::read(tcp)`)
//! let pending = Upgrade::<S, R>::read(tcp).await?; // bounded by the handshake deadline
//! if pending.path() != "/chat" {
//!     return pending.reject(404, b"no such endpoint").await;
//! }
//! let mut ws = pending.accept().await?;
//! while let Some(message) = ws.recv().await? {
//!     ws.send(message).await?;                       // echo
//! }
//! # Ok(()) }
//! ```
//!
//! - receiving: [`recv`](WebSocket::recv) (text and binary; `Ok(None)` after a clean
//!   close), [`recv_text`](WebSocket::recv_text), [`recv_bytes`](WebSocket::recv_bytes),
//!   `recv_json` (feature `json`), [`recv_timeout`](WebSocket::recv_timeout),
//!   [`recv_batch`](WebSocket::recv_batch); typed receives report any close as
//!   [`Error::Closed`];
//! - sending: [`send`](WebSocket::send), [`send_text`](WebSocket::send_text),
//!   [`send_bytes`](WebSocket::send_bytes), `send_json`,
//!   [`send_batch`](WebSocket::send_batch), [`feed`](WebSocket::feed) +
//!   [`flush`](WebSocket::flush), [`ping`](WebSocket::ping),
//!   [`close`](WebSocket::close) and [`close_frame`](WebSocket::close_frame);
//! - [`split`](WebSocket::split) into a [`Reader`] and a cloneable [`Sender`];
//! - `futures` [`Stream`](futures_core::Stream) and [`Sink`](futures_sink::Sink).
//! - servers: [`Upgrade`] to look at a request before accepting it, and a
//!   [`HandshakeLimit`] bounding the handshakes in progress.
//!
//! Defaults are the engine's ([`Config`]) except keepalive, which adapters turn on: a
//! ping after 20 s without inbound traffic, and the connection closed (reported as 1006,
//! [`CloseCause::IdleTimeout`]) if nothing arrives within 20 s more. See
//! [`default_config`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub)]

mod client;
mod core;
mod error;
mod handle;
mod io;
mod limit;
mod runtime;
mod server;
mod split;
mod stream;
mod waker;
mod websocket;

use std::time::Duration;

pub use client::ClientBuilder;
pub use error::Error;
pub use limit::{HandshakeLimit, HandshakePermit};
pub use runtime::{Runtime, Transport};
pub use server::Upgrade;
pub use split::{Reader, Sender};
pub use websocket::WebSocket;

pub use tether_proto::{
    AcceptOptions, Bytes, ClientRequest, CloseCause, CloseCode, Closed, Config, ConfigBuilder, Connection,
    HandshakeError, Header, Message, ProtocolError, Request, SendError, State, Utf8Bytes,
};

/// The engine crate, for what is not re-exported here.
pub use tether_proto as proto;

/// Keepalive ping interval adapters use by default.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);

/// The adapters' default configuration: the engine's [`Config::default`] with keepalive
/// on ([`DEFAULT_KEEPALIVE_INTERVAL`], and [`Config::keepalive_timeout`]'s 20 s to hear
/// back). Start from it to change a few settings:
///
/// ```
/// let config = tether_rt::default_config()
///     .to_builder()
///     .max_message_size(1 << 20) // a public endpoint
///     .max_frame_size(1 << 20)
///     .build()
///     .unwrap();
/// assert_eq!(config.keepalive_interval(), Some(std::time::Duration::from_secs(20)));
/// ```
pub fn default_config() -> Config {
    Config::builder().keepalive_interval(Some(DEFAULT_KEEPALIVE_INTERVAL)).build().unwrap_or_default()
}
