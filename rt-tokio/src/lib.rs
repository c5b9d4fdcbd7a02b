//! `tether-tokio`: Tether WebSockets on tokio — the `Runtime` impl, the IO compat shim,
//! the plain-or-TLS stream (`MaybeTlsStream`, tokio-rustls with feature `rustls`), type
//! aliases, and WebSockets inside hyper (feature `hyper`, module `hyper`, over HTTP/1.1 and
//! HTTP/2), the RFC 8441 client (feature `hyper`, module `http2`) and axum (feature `axum`,
//! module `axum`). The connection API itself lives in `tether-rt` and is identical on every
//! runtime; protocol rules live in `tether-proto`.
//!
//! ```no_run
//! # async fn server(listener: tokio::net::TcpListener) -> Result<(), Box<dyn std::error::Error>> {
//! // server: look at the request, then accept or reject
//! let (tcp, _) = listener.accept().await?;
//! let pending = tether_tokio::Upgrade::read(tcp).await?; // bounded by the handshake deadline
//! println!("{} {:?} {:?}", pending.path(), pending.query(), pending.protocols());
//! let mut ws = pending.accept().await?;
//! while let Some(message) = ws.recv().await? {
//!     ws.send(message).await?;
//! }
//! # Ok(()) }
//! # async fn client() -> Result<(), Box<dyn std::error::Error>> {
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
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub)]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod compat;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod http2;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod hyper;
mod stream;

use std::future::Future;
use std::io;
use std::time::Instant;

pub use compat::Compat;
pub use stream::MaybeTlsStream;

/// The tokio runtime, as the `R` parameter of `tether_rt` types (you rarely name it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl tether_rt::Runtime for Tokio {
    type Io<S> = Compat<S>;
    type Sleep = std::pin::Pin<Box<tokio::time::Sleep>>;
    type TcpStream = tokio::net::TcpStream;
    type TcpListener = tokio::net::TcpListener;

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

    async fn accept_tcp(
        listener: &tokio::net::TcpListener,
    ) -> io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok((stream, peer))
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
        // Detached: the server layer tracks its tasks itself.
        drop(tokio::spawn(future));
    }

    type MaybeTls = MaybeTlsStream;

    fn plain(tcp: tokio::net::TcpStream) -> MaybeTlsStream {
        MaybeTlsStream::Plain(tcp)
    }

    #[cfg(feature = "rustls")]
    fn tls_connect(
        tcp: tokio::net::TcpStream,
        config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
        name: tokio_rustls::rustls::pki_types::ServerName<'static>,
    ) -> impl Future<Output = io::Result<MaybeTlsStream>> + Send {
        stream::tls_connect(tcp, config, name)
    }

    #[cfg(feature = "rustls")]
    fn tls_accept(
        tcp: tokio::net::TcpStream,
        config: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
    ) -> impl Future<Output = io::Result<MaybeTlsStream>> + Send {
        stream::tls_accept(tcp, config)
    }
}

tether_rt::adapter_surface!(crate::Tokio, tokio::net::TcpStream, "tokio", S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin);
