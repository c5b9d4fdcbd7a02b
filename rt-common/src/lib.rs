//! `tether-rt`: the generic async layer of Tether — one [`WebSocket`] type with its drive
//! loop and whole public API, written once over futures-io and a small [`Runtime`] trait.
//! What does not live here: protocol rules (in `tether-proto`) and anything naming a
//! runtime (in the `tether-tokio`, `tether-async-std` and `tether-smol` adapters).
//!
//! Applications use an adapter, which fills in the runtime:
//!
//! ```no_run
//! # async fn f<R: tether_rt::Runtime, S>(tcp: S) -> Result<(), Box<dyn std::error::Error>>
//! # where R::Io<S>: tether_rt::Transport {
//! # use tether_rt::{Upgrade, CloseCode, Message};
//! // server (with tether_tokio: `tether_tokio::Upgrade::read(tcp)`)
//! let pending = Upgrade::<S, R>::read(tcp).await?; // bounded by the handshake deadline
//! if pending.path() != "/chat" {
//!     return Ok(pending.reject(404, b"no such endpoint").await?);
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
//!   [`close`](WebSocket::close) and [`closed`](WebSocket::closed);
//! - [`split`](WebSocket::split) into a [`Reader`] and a cloneable [`Sender`];
//! - `futures` [`Stream`](futures_core::Stream) and [`Sink`](futures_sink::Sink).
//! - servers: [`Upgrade`] to look at a request before accepting it (or to answer a plain
//!   HTTP request), a [`HandshakeLimit`] bounding the handshakes in progress, and a
//!   [`Shutdown`] signal that closes the connections watching it with 1001 (Going Away).
//! - observing: [`traffic`](WebSocket::traffic) (data messages and bytes each way, readable
//!   from any thread) and [`on_end`](WebSocket::on_end) (told once how the connection ended:
//!   an [`Ending`] with its [`CloseKind`]), which a server's counters are built on;
//! - errors by kind: [`Error`] for what an open connection does (receive, send, close;
//!   [`Error::Closed`] is how it ended), [`OpenError`] for opening one (accept, connect:
//!   the handshake, its deadline, the transport, a full [`HandshakeLimit`]).
//!
//! Defaults are the engine's ([`Config`]) except keepalive, which adapters turn on: a
//! ping after 20 s without inbound traffic, and the connection closed (reported as 1006,
//! [`CloseCause::IdleTimeout`]) if nothing arrives within 20 s more. See
//! [`default_config`] (clients) and [`server_config`] (servers: smaller size limits).
//!
//! # permessage-deflate
//! Compression (RFC 7692) needs the `deflate` cargo feature (of this crate or of an
//! adapter) and a [`DeflateConfig`] in the connection's [`Config`]
//! ([`ConfigBuilder::deflate`]); both are off by default. The same configuration serves
//! both roles:
//!
//! - a **client** offers it: give the configuration to
//!   [`ClientBuilder::config`];
//! - a **server** accepts the first offer it can honour: the configuration given to
//!   [`Upgrade::read_with_config`] (or [`Upgrade::read_with_permit`]) decides, whatever
//!   [`AcceptOptions`] are passed to accept. Without it every offer is declined.
//!
//! [`WebSocket::deflate`] then tells what was agreed (`None`: the peer did not offer or
//! declined it, and nothing is compressed). Every message of at least
//! [`DeflateConfig::min_size`] bytes is compressed, except those sent with
//! [`send_uncompressed`](WebSocket::send_uncompressed) (already compressed payloads,
//! secrets). Received messages are limited by
//! [`Config::max_message_size`] *after* decompression (a bomb fails with 1009). Each
//! connection that compresses holds a compressor and a decompressor; smaller windows
//! ([`DeflateConfig::window_bits`], [`DeflateConfig::peer_window_bits`]) or no context
//! takeover trade compression for memory.
//!
#![cfg_attr(feature = "deflate", doc = "```no_run")]
#![cfg_attr(not(feature = "deflate"), doc = "```ignore")]
//! # async fn f<R: tether_rt::Runtime, S>(tcp: S) -> Result<(), Box<dyn std::error::Error>>
//! # where R::Io<S>: tether_rt::Transport, R::Io<R::MaybeTls>: tether_rt::Transport,
//! #     for<'a> R::Io<&'a mut R::TcpStream>: tether_rt::Transport {
//! use tether_rt::{ClientBuilder, DeflateConfig, Upgrade};
//! let config = tether_rt::default_config()
//!     .to_builder()
//!     .deflate(Some(DeflateConfig::default().peer_window_bits(12)))
//!     .build()?;
//!
//! // server (with tether_tokio: `tether_tokio::Upgrade::read_with_config(tcp, config)`)
//! let ws = Upgrade::<S, R>::read_with_config(tcp, config.clone()).await?.accept().await?;
//! println!("agreed: {:?}", ws.deflate()); // None when the client did not offer it
//!
//! // client (with tether_tokio: `tether_tokio::client(url).config(config)`)
//! let mut ws = ClientBuilder::<R>::new("ws://127.0.0.1:9001/").config(config).connect().await?;
//! ws.send_text("compressed if the server agreed").await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub)]

mod async_io;
mod client;
mod core;
mod error;
mod handle;
mod io;
mod limit;
mod observe;
mod proxy;
mod runtime;
mod server;
mod shutdown;
mod split;
mod stream;
#[cfg(feature = "rustls")]
mod tls;
mod waker;
mod websocket;

use std::time::Duration;

pub use client::ClientBuilder;
pub use error::{Error, OpenError};
pub use limit::{HandshakeLimit, HandshakePermit};
pub use observe::{CloseKind, Ending, LocalClose, Traffic, TrafficSnapshot};
pub use runtime::{Plain, Runtime, Transport};
pub use server::Upgrade;
pub use shutdown::{Shutdown, Triggered};
pub use split::{Reader, Sender};
#[cfg(feature = "deflate")]
#[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
pub use tether_proto::{DeflateConfig, DeflateParams};
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use tls::{CertificateProblem, TlsAcceptor, TlsConnector, TlsError};

/// The rustls crate Tether's TLS is built on, for [`TlsConnector::from_config`] and
/// [`TlsAcceptor::from_config`].
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use rustls;
pub use websocket::WebSocket;

pub use tether_proto::{
    AcceptOptions, ApiMisuse, Bytes, ClientRequest, CloseCause, CloseCode, Closed, Config, ConfigBuilder, Connection,
    HandshakeError, Header, Message, NoProxy, PeerMisbehaved, ProtocolError, Proxy, ProxyEnv, ProxyError, ProxyKind,
    Rate, RateKind, RateLimit, RatePolicy, Request, SendError, Socks5Reply, State, Utf8Bytes,
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

/// The adapters' default configuration for servers, used by [`Upgrade::read`],
/// [`Upgrade::read_limited`] and [`WebSocket::accept`]: the engine's [`Config::server`]
/// (256 KiB messages and frames, a 64 KiB write high-water mark: at most
/// [`Config::worst_case_memory`] ≈ 1.6 MiB per connection against a hostile peer, so 10 000
/// fit in 16 GiB) with keepalive on as in [`default_config`]. Larger limits are one setting
/// away:
///
/// ```
/// let config = tether_rt::server_config().to_builder().max_message_size(1 << 20).max_frame_size(1 << 20).build().unwrap();
/// assert!(config.worst_case_memory() < 5 << 20);
/// ```
pub fn server_config() -> Config {
    Config::server()
        .to_builder()
        .keepalive_interval(Some(DEFAULT_KEEPALIVE_INTERVAL))
        .build()
        .unwrap_or_else(|_| Config::server())
}

/// Defines an adapter crate's public surface — the re-exports, the type aliases and the
/// `accept` / `connect` / `client` shortcuts — once for every runtime, so the three adapters
/// cannot drift apart. Each adapter crate invokes it with its runtime type, its TCP stream
/// type, the runtime's name for the docs, and the bound its streams satisfy.
#[doc(hidden)]
#[macro_export]
macro_rules! adapter_surface {
    ($rt:ty, $tcp:ty, $name:literal, S: $($bound:tt)+) => {
        pub use $crate::{
            default_config, server_config, proto, AcceptOptions, ApiMisuse, Bytes, ClientRequest, CloseCause, CloseCode, Closed,
            Config, ConfigBuilder, Connection, Error, OpenError, HandshakeError, HandshakeLimit, HandshakePermit, Header, Message,
            NoProxy, PeerMisbehaved, ProtocolError, Proxy, ProxyEnv, ProxyError, ProxyKind, Socks5Reply, Rate, RateKind, RateLimit, RatePolicy, Request, SendError, Shutdown, State, Triggered, Utf8Bytes,
        };

        /// permessage-deflate settings and what a handshake agreed (the adapter's feature
        /// `deflate`; see [`tether_rt`'s docs](tether_rt#permessage-deflate)).
        #[cfg(feature = "deflate")]
        #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
        pub use $crate::{DeflateConfig, DeflateParams};

        /// TLS configuration shared with every adapter (the adapter's feature `rustls`).
        #[cfg(feature = "rustls")]
        #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
        pub use $crate::{rustls, CertificateProblem, TlsAcceptor, TlsConnector, TlsError};

        #[doc = concat!("The real-time server layer (`tether-server`) on ", $name, ": [`server::Server`] (routes,")]
        /// plain pages, the accept loop, per-IP cap, graceful shutdown), [`server::Incoming`],
        /// the [`server::Router`] and the [`server::Hub`] of rooms — the same API on every
        /// runtime (the adapter's feature `server`).
        #[cfg(feature = "server")]
        #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
        pub mod server {
            pub use ::tether_server::*;

            #[doc = concat!("A WebSocket and page server on ", $name, ": see [`tether_server::Server`].")]
            pub type Server = ::tether_server::Server<$rt>;
            /// A routed WebSocket request, to accept or refuse: see [`tether_server::Incoming`].
            pub type Incoming = ::tether_server::Incoming<$rt>;
        }

        #[doc = concat!("A WebSocket connection over a ", $name, " stream `S` (TCP by default). See")]
        /// [`tether_rt::WebSocket`] for the whole API.
        pub type WebSocket<S = $tcp> = $crate::WebSocket<S, $rt>;
        /// The receiving half of a split [`WebSocket`]; it drives the connection.
        pub type Reader<S = $tcp> = $crate::Reader<S, $rt>;
        /// The cloneable sending half of a split [`WebSocket`].
        pub type Sender<S = $tcp> = $crate::Sender<S, $rt>;
        /// A received upgrade request, to accept or reject (server side).
        pub type Upgrade<S = $tcp> = $crate::Upgrade<S, $rt>;
        /// Builds a client connection (subprotocols, headers, config, or your own stream).
        pub type ClientBuilder = $crate::ClientBuilder<$rt>;

        /// Server shortcut: read the upgrade request from `stream` and accept it.
        ///
        /// # Errors
        /// As [`tether_rt::Upgrade::read`] and [`tether_rt::Upgrade::accept`].
        ///
        /// # Cancel safety
        /// Not cancel safe: dropping the future drops the stream.
        pub async fn accept<S>(stream: S) -> Result<WebSocket<S>, OpenError>
        where
            S: $($bound)+,
        {
            WebSocket::accept(stream).await
        }

        #[doc = concat!("Connect to a `ws://` or `wss://` URL over TCP (DNS through ", $name, "), TLS for")]
        /// `wss://` (feature `rustls`, trust roots per the `rustls-*-roots` features), and run
        /// the handshake, all under the handshake deadline; through the proxy the environment
        /// names, if any (see [`tether_rt::ClientBuilder::connect`]).
        ///
        /// # Errors
        /// As [`tether_rt::ClientBuilder::connect`].
        ///
        /// # Cancel safety
        /// Not cancel safe: dropping the future drops the connection being made.
        pub async fn connect(url: &str) -> Result<WebSocket<<$rt as $crate::Runtime>::MaybeTls>, OpenError> {
            // Boxed: the builder stays out of the caller's future.
            Box::pin(ClientBuilder::new(url).connect()).await
        }

        /// Server shortcut over TLS (feature `rustls`): the TLS handshake with `acceptor`,
        /// then read the upgrade request and accept it, under one handshake deadline.
        ///
        /// # Errors
        /// As [`tether_rt::Upgrade::read_tls`] and [`tether_rt::Upgrade::accept`].
        ///
        /// # Cancel safety
        /// Not cancel safe: dropping the future drops the stream.
        #[cfg(feature = "rustls")]
        #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
        pub async fn accept_tls(
            tcp: $tcp,
            acceptor: &TlsAcceptor,
        ) -> Result<WebSocket<<$rt as $crate::Runtime>::MaybeTls>, OpenError> {
            Box::pin(async move { Upgrade::read_tls(tcp, acceptor).await?.accept().await }).await
        }

        /// A client builder for `url`: `.protocol()`, `.header()`, `.config()`, `.tls()`,
        /// `.proxy()`, `.no_proxy()`, then
        /// `.connect()` or `.connect_on(stream)`.
        pub fn client(url: &str) -> ClientBuilder {
            ClientBuilder::new(url)
        }
    };
}
