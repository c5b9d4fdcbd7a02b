//! The two error types of the async API, by kind of operation: `Error` for what a
//! connection does (receive, send, close), `OpenError` for opening one (accept, connect,
//! and their TLS handshakes). No protocol rules here.

use std::io;

use tether_proto::{Closed, HandshakeError, Header, Message, ProxyError, SendError};

/// What an operation on an open connection (receive, send, close) can fail with.
///
/// The variant to match in a receive loop is [`Error::Closed`]: the connection ended (the
/// peer closed it, a protocol violation, a keepalive, close or write timeout, or the
/// transport ended or failed), with the code, reason and
/// [`CloseCause`](tether_proto::CloseCause) — the counterpart of the frameworks'
/// `WebSocketDisconnect`.
///
/// There is no `Io` variant: a transport error ends the connection through the engine, so
/// every call — the one that hit it included — reports the same [`Error::Closed`] with
/// [`CloseCause::TransportError`](tether_proto::CloseCause::TransportError) (1006), after
/// the messages already received. The error's kind is kept:
/// [`WebSocket::transport_error`](crate::WebSocket::transport_error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection has ended; this is how. Typed receives (`recv_text`, …) return it for
    /// any ending, [`recv`](crate::WebSocket::recv) only for an unclean one; sends return
    /// it as soon as the ending is decided, even before a receive has handed it out.
    #[error("connection closed: {} {:?} ({:?})", .0.code, .0.reason.as_str(), .0.cause)]
    Closed(Closed),
    /// A command was invalid (close code or reason, control payload too large) or the
    /// connection is already closing; nothing was queued.
    #[error(transparent)]
    Send(#[from] SendError),
    /// A typed receive got a message of another kind; the message is returned, not lost.
    #[error("unexpected {} message", kind(.0))]
    UnexpectedMessage(Message),
    /// `recv_json` could not decode the message, or `send_json` could not encode the value.
    #[cfg(feature = "json")]
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

fn kind(message: &Message) -> &'static str {
    match message {
        Message::Text(_) => "text",
        Message::Binary(_) => "binary",
        Message::Ping(_) => "ping",
        Message::Pong(_) => "pong",
        Message::Close(_) => "close",
    }
}

impl Error {
    /// How the connection ended, when this error says it has.
    pub fn closed(&self) -> Option<&Closed> {
        match self {
            Error::Closed(closed) => Some(closed),
            _ => None,
        }
    }
}

/// What opening a connection — a server's [`Upgrade`](crate::Upgrade) (read, accept,
/// reject) or a client's [`ClientBuilder::connect`](crate::ClientBuilder::connect) — can
/// fail with. No connection exists yet, so there is no `Closed` here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The opening handshake failed: an invalid request or response
    /// ([`HandshakeError::PeerMisbehaved`]), a server that did not answer 101
    /// ([`HandshakeError::UnexpectedStatus`], or use [`OpenError::http_status`]), the one
    /// total deadline ([`HandshakeError::Timeout`]), or invalid options
    /// ([`HandshakeError::ApiMisuse`]).
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// Resolving, connecting or the transport failed (or ended) during the handshake.
    #[error("transport error: {0}")]
    Io(#[from] io::Error),
    /// A [`HandshakeLimit`](crate::HandshakeLimit) with this bound had no permit left: the
    /// connection was refused before its request was read.
    #[error("too many handshakes in progress (at most {0})")]
    TooManyHandshakes(usize),
    /// A `wss://` URL was given to `connect` without the `rustls` feature: turn the
    /// feature on, or connect the TLS stream yourself and use
    /// [`ClientBuilder::connect_on`](crate::ClientBuilder::connect_on).
    #[error("wss:// needs TLS: enable the `rustls` feature, or use ClientBuilder::connect_on with a TLS stream")]
    TlsRequired,
    /// The TLS handshake failed (feature `rustls`): a refused certificate
    /// ([`TlsError::Certificate`](crate::TlsError::Certificate) says why — unknown issuer,
    /// wrong name, expired), a peer that does not speak TLS, or no trust roots.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    #[error("TLS handshake failed: {0}")]
    Tls(#[from] crate::TlsError),
    /// The proxy did not open the tunnel (a client through a proxy): it refused `CONNECT`
    /// ([`ProxyError::Refused`] with the status, 407 for missing or wrong credentials; or
    /// use [`OpenError::proxy_status`]), SOCKS5 failed ([`ProxyError::Socks5Failed`] with
    /// the reply code, [`ProxyError::NoAcceptableAuth`], [`ProxyError::AuthRejected`]), it
    /// answered malformed bytes, the handshake deadline passed during the exchange
    /// ([`ProxyError::Timeout`]), or the proxy setting is not a valid proxy URL
    /// ([`ProxyError::InvalidProxyUrl`]).
    #[error("proxy: {0}")]
    Proxy(#[from] ProxyError),
    /// The proxy itself could not be reached (resolving or connecting to it failed: refused,
    /// unreachable). What happened after that is [`OpenError::Proxy`] or [`OpenError::Io`].
    #[error("could not connect to the proxy: {0}")]
    ProxyUnreachable(#[source] io::Error),
}

impl OpenError {
    /// The HTTP status a server answered the upgrade with, when it was not 101.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            OpenError::Handshake(HandshakeError::UnexpectedStatus { status, .. }) => Some(*status),
            _ => None,
        }
    }

    /// The response headers of a non-101 answer to the upgrade.
    pub fn http_headers(&self) -> Option<&[Header]> {
        match self {
            OpenError::Handshake(HandshakeError::UnexpectedStatus { headers, .. }) => Some(headers),
            _ => None,
        }
    }

    /// Why the peer's certificate was refused, when that is how the TLS handshake failed.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn certificate_problem(&self) -> Option<&crate::CertificateProblem> {
        match self {
            OpenError::Tls(crate::TlsError::Certificate(problem)) => Some(problem),
            _ => None,
        }
    }

    /// A TLS stream's handshake failure as an opening error: the TLS error inside it
    /// typed ([`OpenError::Tls`]), any other transport failure as [`OpenError::Io`].
    #[cfg(feature = "rustls")]
    pub(crate) fn from_tls_io(e: io::Error) -> OpenError {
        match crate::TlsError::from_io(&e) {
            Some(tls) => OpenError::Tls(tls),
            None => OpenError::Io(e),
        }
    }

    /// The HTTP status a proxy answered `CONNECT` with, when it refused the tunnel (407:
    /// credentials missing or wrong).
    pub fn proxy_status(&self) -> Option<u16> {
        match self {
            OpenError::Proxy(ProxyError::Refused { status, .. }) => Some(*status),
            _ => None,
        }
    }

    /// Whether the handshake's deadline passed (during the proxy exchange too).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            OpenError::Handshake(HandshakeError::Timeout { .. }) | OpenError::Proxy(ProxyError::Timeout { .. })
        )
    }
}
