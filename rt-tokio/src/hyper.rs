//! WebSockets inside a hyper 1.x server (feature `hyper`), over HTTP/1.1 upgrades and over
//! HTTP/2 (RFC 8441 extended CONNECT, on a server built with `enable_connect_protocol()`):
//! [`HyperUpgrade`] validates a request with the engine's checks (`tether_proto`'s `http`
//! conversions), [`HyperUpgrade::accept`] gives the response for hyper to send (101, or 200
//! on HTTP/2) and a [`PendingWebSocket`] that resolves, once hyper hands the connection or
//! the HTTP/2 stream over, to a [`WebSocket`](crate::WebSocket) over [`UpgradedStream`];
//! on the client side, [`connect`] upgrades over a hyper HTTP/1.1 client connection the
//! caller already has. The
//! axum extractor built on it lives in `axum.rs`; protocol rules live in `tether-proto`.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tether_rt::proto::ServerHandshake;
use tether_rt::{AcceptOptions, Config, Connection, HandshakeError, Request};

/// The stream a hyper upgrade hands over, as tokio IO. hyper replays the bytes it had
/// already read past the request (a client's first frames sent with the request), so
/// nothing is lost between the request and the WebSocket.
pub type UpgradedStream = TokioIo<Upgraded>;

/// A WebSocket over a hyper upgrade.
pub type HyperWebSocket = crate::WebSocket<UpgradedStream>;

/// Why a request could not become a WebSocket through hyper.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HyperError {
    /// The request is not a valid upgrade (the raw path's checks and errors), or accepting
    /// failed (a subprotocol that was not offered, an extra header that cannot be sent).
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// An HTTP/2 request is not a valid RFC 8441 extended CONNECT (method CONNECT,
    /// `:protocol websocket`, `Sec-WebSocket-Version: 13`), or accepting it failed.
    #[error("HTTP/2 WebSocket request refused: {0}")]
    Http2(#[source] HandshakeError),
    /// The request carries no hyper upgrade handle: the connection was not served with
    /// `with_upgrades()`, or the handle was already taken.
    #[error("the request cannot be upgraded (no hyper OnUpgrade; serve the connection with_upgrades())")]
    NotUpgradable,
    /// hyper failed to hand the connection over (it closed, or was not upgradable).
    #[error("hyper upgrade failed: {0}")]
    Upgrade(#[source] hyper::Error),
    /// hyper did not hand the connection over within the configuration's
    /// [`handshake_timeout`](tether_rt::ConfigBuilder::handshake_timeout).
    #[error("the upgrade did not complete within {0:?}")]
    Timeout(Duration),
}

impl HyperError {
    /// The HTTP answer for this error: for a request that failed a check, exactly what the
    /// raw path writes ([`HandshakeError::http_response`]: 400, 405 with `Allow: GET`, 426
    /// with `Upgrade: websocket` and `Sec-WebSocket-Version: 13`), or its HTTP/2 form for an
    /// HTTP/2 request ([`HandshakeError::http2_response`]: no `Connection`/`Upgrade`, 405
    /// with `Allow: CONNECT`); 500 otherwise.
    pub fn response<B: Default>(&self) -> http::Response<B> {
        let response = match self {
            HyperError::Handshake(e) => e.http_response(),
            HyperError::Http2(e) => e.http2_response(),
            _ => None,
        };
        response
            .unwrap_or_else(|| {
                let mut r = http::Response::new(());
                *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                r
            })
            .map(|()| B::default())
    }
}

/// A validated upgrade request received by hyper, to accept (or to answer otherwise).
///
/// The same code serves HTTP/1.1 upgrades and, on a connection served by hyper's HTTP/2
/// with `enable_connect_protocol()` (hyper-util's auto builder: `http2().enable_connect_protocol()`),
/// RFC 8441 extended CONNECTs; [`is_http2`](Self::is_http2) tells which.
///
/// ```no_run
/// use http_body_util::Empty;
/// use tether_tokio::{hyper::HyperUpgrade, Bytes};
///
/// async fn handle(mut req: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Empty<Bytes>> {
///     let upgrade = match HyperUpgrade::new(&mut req) {
///         Ok(upgrade) => upgrade,
///         Err(e) => return e.response(),
///     };
///     let (response, pending) = match upgrade.accept(&tether_tokio::AcceptOptions::new()) {
///         Ok(accepted) => accepted,
///         Err(e) => return e.response(),
///     };
///     tokio::spawn(async move {
///         let Ok(mut ws) = pending.await else { return };
///         while let Ok(Some(message)) = ws.recv().await {
///             if ws.send(message).await.is_err() {
///                 break;
///             }
///         }
///     });
///     response
/// }
/// ```
#[derive(Debug)]
pub struct HyperUpgrade {
    handshake: ServerHandshake,
    on_upgrade: OnUpgrade,
    config: Config,
    http2: bool,
}

/// The `:protocol` pseudo-header of an HTTP/2 request, which hyper keeps as an extension.
fn protocol(extensions: &http::Extensions) -> Option<&str> {
    extensions.get::<hyper::ext::Protocol>().map(hyper::ext::Protocol::as_str)
}

impl HyperUpgrade {
    /// Validate `req` and take its hyper upgrade handle; the connection gets
    /// [`server_config`](crate::server_config) unless [`AcceptOptions::config`] says
    /// otherwise. An invalid request keeps its handle. An HTTP/1.x request is checked as
    /// [`tether_rt::proto::Request::from_http`] does, an HTTP/2 one as an RFC 8441 extended
    /// CONNECT ([`tether_rt::proto::Request::from_http2`], with hyper's `:protocol`).
    ///
    /// # Errors
    /// [`HyperError::Handshake`] for an invalid upgrade request, [`HyperError::Http2`] for
    /// an invalid HTTP/2 one (answer either with [`HyperError::response`]),
    /// [`HyperError::NotUpgradable`] without a handle.
    pub fn new<B>(req: &mut http::Request<B>) -> Result<Self, HyperError> {
        let config = crate::server_config();
        let http2 = req.version() == http::Version::HTTP_2;
        let handshake = if http2 {
            ServerHandshake::from_http2(config.clone(), req, protocol(req.extensions())).map_err(HyperError::Http2)?
        } else {
            ServerHandshake::from_http(config.clone(), req)?
        };
        let on_upgrade = req.extensions_mut().remove::<OnUpgrade>().ok_or(HyperError::NotUpgradable)?;
        Ok(HyperUpgrade { handshake, on_upgrade, config, http2 })
    }

    /// As [`new`](Self::new), from a request's parts (what extractors get).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn from_parts(parts: &mut http::request::Parts) -> Result<Self, HyperError> {
        let config = crate::server_config();
        let http2 = parts.version == http::Version::HTTP_2;
        let handshake = if http2 {
            ServerHandshake::from_http2_parts(config.clone(), parts, protocol(&parts.extensions))
                .map_err(HyperError::Http2)?
        } else {
            ServerHandshake::from_http_parts(config.clone(), parts)?
        };
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or(HyperError::NotUpgradable)?;
        Ok(HyperUpgrade { handshake, on_upgrade, config, http2 })
    }

    /// Whether this is an RFC 8441 WebSocket on an HTTP/2 stream (answered 200), rather
    /// than an HTTP/1.1 upgrade (answered 101).
    pub fn is_http2(&self) -> bool {
        self.http2
    }

    /// The validated request: path, query, `Origin`, offered subprotocols and extensions.
    pub fn request(&self) -> &Request {
        // `from_http` builds a complete handshake, which always has its request.
        self.handshake.request().expect("a handshake built from an http request has its request")
    }

    /// Accept: the 101 response to return from the hyper service (with
    /// `Sec-WebSocket-Accept`, the chosen subprotocol, the permessage-deflate answer when
    /// the configuration has deflate and the client offered it, and `options`' headers —
    /// the raw path's response; on HTTP/2 the same answer as a 200 without the HTTP/1.1
    /// upgrade headers), and the WebSocket to come once hyper has sent it. The connection
    /// runs under `options`' [`config`](AcceptOptions::config) (limits, keepalive, deflate)
    /// or the server default, exactly as on the raw path.
    ///
    /// # Errors
    /// [`HyperError::Handshake`] (or [`HyperError::Http2`]) as
    /// [`ServerHandshake::accept_http`].
    pub fn accept<B: Default>(
        self,
        options: &AcceptOptions,
    ) -> Result<(http::Response<B>, PendingWebSocket), HyperError> {
        let timeout = options.chosen_config().unwrap_or(&self.config).handshake_timeout();
        let http2 = self.http2;
        let (response, connection) = self.handshake.accept_http(options).map_err(|e| {
            if http2 {
                HyperError::Http2(e)
            } else {
                HyperError::Handshake(e)
            }
        })?;
        let pending = PendingWebSocket {
            upgrade: Box::pin(tokio::time::timeout(timeout, self.on_upgrade)),
            connection: Some(connection),
            timeout,
            http2,
        };
        Ok((response.map(|()| B::default()), pending))
    }
}

/// The WebSocket of an accepted hyper upgrade: resolves once hyper has written the 101 (or,
/// on HTTP/2, the 200) and handed the connection (or the stream) over, bounded by the
/// configuration's handshake timeout.
#[derive(Debug)]
#[must_use = "the WebSocket only exists once this future is awaited"]
pub struct PendingWebSocket {
    upgrade: Pin<Box<tokio::time::Timeout<OnUpgrade>>>,
    connection: Option<Connection>,
    timeout: Duration,
    http2: bool,
}

impl PendingWebSocket {
    /// Whether the WebSocket runs on an HTTP/2 stream (RFC 8441) rather than an upgraded
    /// HTTP/1.1 connection.
    pub fn is_http2(&self) -> bool {
        self.http2
    }
}

impl Future for PendingWebSocket {
    type Output = Result<HyperWebSocket, HyperError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let upgraded = match ready!(self.upgrade.as_mut().poll(cx)) {
            Ok(Ok(upgraded)) => upgraded,
            Ok(Err(e)) => return Poll::Ready(Err(HyperError::Upgrade(e))),
            Err(_) => return Poll::Ready(Err(HyperError::Timeout(self.timeout))),
        };
        match self.connection.take() {
            Some(connection) => Poll::Ready(Ok(crate::WebSocket::from_connection(TokioIo::new(upgraded), connection))),
            // Polled again after completion: the upgrade handle has nothing more to give.
            None => Poll::Ready(Err(HyperError::NotUpgradable)),
        }
    }
}

/// Open a WebSocket over `send`, a hyper HTTP/1.1 client connection the caller already has
/// (its connection task driven with `with_upgrades()`): the upgrade `GET` built and the 101
/// checked by the engine ([`Http1ClientHandshake`](tether_rt::proto::Http1ClientHandshake):
/// the raw client's checks and typed errors), then the upgraded connection driven as a
/// client [`WebSocket`](crate::WebSocket) under `config` (subprotocol and permessage-deflate
/// as agreed). `request`'s host goes in `Host`; its path is the request target. The whole
/// exchange is bounded by `config`'s handshake timeout.
///
/// # Errors
/// [`HyperError::Handshake`] for a request that cannot be sent or an answer the client
/// refuses (with its status for anything but 101), [`HyperError::Upgrade`] when hyper fails
/// to send or to hand the connection over, [`HyperError::Timeout`].
pub async fn connect<B>(
    send: &mut hyper::client::conn::http1::SendRequest<B>,
    request: tether_rt::proto::ClientRequest,
    config: Config,
) -> Result<HyperWebSocket, HyperError>
where
    B: hyper::body::Body + Default + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let timeout = config.handshake_timeout();
    let (handshake, get) = tether_rt::proto::Http1ClientHandshake::new(request, config)?;
    let exchange = async {
        send.ready().await.map_err(HyperError::Upgrade)?;
        let response = send.send_request(get.map(|()| B::default())).await.map_err(HyperError::Upgrade)?;
        let (parts, body) = response.into_parts();
        let connection = handshake.finish(&parts)?;
        let upgraded =
            hyper::upgrade::on(http::Response::from_parts(parts, body)).await.map_err(HyperError::Upgrade)?;
        Ok(crate::WebSocket::from_connection(TokioIo::new(upgraded), connection))
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| HyperError::Timeout(timeout))?
}
