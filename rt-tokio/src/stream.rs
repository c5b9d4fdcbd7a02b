//! `MaybeTlsStream`: tokio's client stream (and TLS server stream) — plain TCP, or TLS over
//! TCP through tokio-rustls (feature `rustls`) — and the TLS handshakes of the `Runtime`
//! impl. No WebSocket logic and no TLS configuration here (that is `tether_rt::tls`).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TCP stream, or TLS over one: what [`connect`](crate::connect) hands back (`ws://` or
/// `wss://`) and what `Upgrade::read_tls` (feature `rustls`) reads from.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// Plain TCP (`ws://`).
    Plain(TcpStream),
    /// TLS over TCP (`wss://`, or a TLS server's accepted connection). Boxed: the TLS
    /// state is large, and a plain stream should not carry its size.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP stream underneath (for its peer address, or socket options).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp,
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Tls(tls) => tls.get_ref().0,
        }
    }

    /// Whether this is a TLS stream.
    pub fn is_tls(&self) -> bool {
        !matches!(self, MaybeTlsStream::Plain(_))
    }
}

/// Forward a call to whichever stream this is.
macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            MaybeTlsStream::Plain($s) => $e,
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Tls($s) => $e,
        }
    };
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_flush(cx))
    }

    /// For TLS, sends close_notify, then shuts TCP's write side down.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// The TLS client handshake over `tcp`.
#[cfg(feature = "rustls")]
pub(crate) async fn tls_connect(
    tcp: TcpStream,
    config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    name: tokio_rustls::rustls::pki_types::ServerName<'static>,
) -> io::Result<MaybeTlsStream> {
    let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
    Ok(MaybeTlsStream::Tls(Box::new(tls.into())))
}

/// The TLS server handshake over `tcp`.
#[cfg(feature = "rustls")]
pub(crate) async fn tls_accept(
    tcp: TcpStream,
    config: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
) -> io::Result<MaybeTlsStream> {
    let tls = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await?;
    Ok(MaybeTlsStream::Tls(Box::new(tls.into())))
}
