//! `tether-tokio`: Tether WebSockets on tokio — the `Runtime` impl, the IO compat shim and
//! type aliases. The connection API itself lives in `tether-rt` and is identical on every
//! runtime; protocol rules live in `tether-proto`.
//!
//! ```no_run
//! # async fn server(listener: tokio::net::TcpListener) -> Result<(), tether_tokio::Error> {
//! // server: look at the request, then accept or reject
//! let (tcp, _) = listener.accept().await?;
//! let pending = tether_tokio::Upgrade::read(tcp).await?; // bounded by the handshake deadline
//! println!("{} {:?} {:?}", pending.path(), pending.query(), pending.protocols());
//! let mut ws = pending.accept().await?;
//! while let Some(message) = ws.recv().await? {
//!     ws.send(message).await?;
//! }
//! # Ok(()) }
//! # async fn client() -> Result<(), tether_tokio::Error> {
//! // client
//! let mut ws = tether_tokio::connect("ws://127.0.0.1:9001/chat").await?;
//! ws.send_text("hello").await?;
//! let reply = ws.recv_text().await?;
//! ws.close(tether_tokio::CloseCode::NORMAL, "bye").await?;
//! # Ok(()) }
//! ```
//!
//! Keepalive is on by default (ping after 20 s of silence, 20 s to answer); see
//! [`default_config`]. Any `tokio::io::AsyncRead + AsyncWrite + Unpin` stream works
//! (TLS, Unix sockets, in-memory duplex), not only TCP.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub)]

mod compat;

use std::future::Future;
use std::io;
use std::time::Instant;

pub use compat::Compat;
pub use tether_rt::{
    default_config, proto, AcceptOptions, Bytes, ClientRequest, CloseCause, CloseCode, Closed, Config, ConfigBuilder,
    Connection, Error, HandshakeError, HandshakeLimit, HandshakePermit, Header, Message, ProtocolError, Request,
    SendError, State, Utf8Bytes,
};

/// The tokio runtime, as the `R` parameter of `tether_rt` types (you rarely name it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl tether_rt::Runtime for Tokio {
    type Io<S> = Compat<S>;
    type Sleep = std::pin::Pin<Box<tokio::time::Sleep>>;
    type TcpStream = tokio::net::TcpStream;

    fn wrap<S>(stream: S) -> Compat<S> {
        Compat::new(stream)
    }

    fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(deadline: Instant) -> Self::Sleep {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn reset(sleep: &mut Self::Sleep, deadline: Instant) {
        sleep.as_mut().reset(deadline.into());
    }

    fn connect_tcp(host: &str, port: u16) -> impl Future<Output = io::Result<tokio::net::TcpStream>> + Send {
        let host = host.to_owned();
        async move {
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            // Frames are written whole; waiting for more (Nagle) only adds latency.
            stream.set_nodelay(true)?;
            Ok(stream)
        }
    }
}

/// A WebSocket connection over a tokio stream `S` (TCP by default). See
/// [`tether_rt::WebSocket`] for the whole API.
pub type WebSocket<S = tokio::net::TcpStream> = tether_rt::WebSocket<S, Tokio>;
/// The receiving half of a split [`WebSocket`]; it drives the connection.
pub type Reader<S = tokio::net::TcpStream> = tether_rt::Reader<S, Tokio>;
/// The cloneable sending half of a split [`WebSocket`].
pub type Sender<S = tokio::net::TcpStream> = tether_rt::Sender<S, Tokio>;
/// A received upgrade request, to accept or reject (server side).
pub type Upgrade<S = tokio::net::TcpStream> = tether_rt::Upgrade<S, Tokio>;
/// Builds a client connection (subprotocols, headers, config, or your own stream).
pub type ClientBuilder = tether_rt::ClientBuilder<Tokio>;

/// Server shortcut: read the upgrade request from `stream` and accept it.
///
/// # Errors
/// As [`tether_rt::Upgrade::read`] and [`tether_rt::Upgrade::accept`].
///
/// # Cancel safety
/// Not cancel safe: dropping the future drops the stream.
pub async fn accept<S>(stream: S) -> Result<WebSocket<S>, Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    WebSocket::accept(stream).await
}

/// Connect to a `ws://` URL over TCP (DNS through tokio) and run the handshake.
///
/// # Errors
/// As [`tether_rt::ClientBuilder::connect`]; [`Error::TlsRequired`] for `wss://`.
///
/// # Cancel safety
/// Not cancel safe: dropping the future drops the connection being made.
pub async fn connect(url: &str) -> Result<WebSocket, Error> {
    ClientBuilder::new(url).connect().await
}

/// A client builder for `url`: `.protocol()`, `.header()`, `.config()`, then `.connect()`
/// or `.connect_on(tls_stream)`.
pub fn client(url: &str) -> ClientBuilder {
    ClientBuilder::new(url)
}
