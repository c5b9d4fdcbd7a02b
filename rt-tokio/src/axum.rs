//! The axum 0.8 extractor (feature `axum`): [`WebSocketUpgrade`] validates the request with
//! the engine's checks and rejects it with the raw path's answers ([`WebSocketRejection`]),
//! then [`WebSocketUpgrade::on_upgrade`] answers 101 and runs a Tether
//! [`WebSocket`](crate::WebSocket) — with the route's [`Config`] (limits, keepalive,
//! permessage-deflate) — in a task, over HTTP/1.1 or HTTP/2 (RFC 8441). The hyper plumbing
//! lives in `hyper.rs`.

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use tether_rt::{AcceptOptions, Config, Request};

use crate::hyper::{HyperError, HyperUpgrade, HyperWebSocket};

/// An axum extractor for a WebSocket upgrade, answered by Tether.
///
/// ```no_run
/// use axum::{extract::Path, response::Response, routing::get, Router};
/// use tether_tokio::axum::WebSocketUpgrade;
///
/// async fn ws(Path(id): Path<String>, upgrade: WebSocketUpgrade) -> Response {
///     upgrade.protocols(["chat"]).on_upgrade(move |mut ws| async move {
///         while let Ok(Some(message)) = ws.recv().await {
///             if ws.send(message).await.is_err() {
///                 break;
///             }
///         }
///         let _ = id;
///     })
/// }
///
/// let app: Router = Router::new().route("/ws/{id}", get(ws));
/// # let _ = app;
/// ```
///
/// A request that is not a valid upgrade is rejected with [`WebSocketRejection`], whose
/// response is the raw path's: 405 with `Allow: GET` for another method, 400 for a missing
/// `Upgrade`/`Connection` or a bad key, 426 with `Upgrade: websocket` and
/// `Sec-WebSocket-Version: 13` for another version.
///
/// HTTP/2 (RFC 8441): on a server with the extended CONNECT setting enabled (`axum::serve`
/// enables it; with hyper-util, `http2().enable_connect_protocol()`), a CONNECT with
/// `:protocol websocket` is accepted by the same handler and answered 200 — route the
/// WebSocket with `any` (or `on(MethodFilter::GET.or(MethodFilter::CONNECT), ...)`), since
/// `get` makes axum answer CONNECT 405 before the extractor runs. [`is_http2`](Self::is_http2)
/// tells the two apart; HTTP/2 refusals are [`HyperError::Http2`] (no `Connection` header,
/// 405 with `Allow: CONNECT`).
#[derive(Debug)]
pub struct WebSocketUpgrade {
    upgrade: HyperUpgrade,
    protocols: Vec<String>,
    options: AcceptOptions,
}

/// Why [`WebSocketUpgrade`] refused a request; its response is the raw path's answer.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct WebSocketRejection(#[from] pub HyperError);

impl IntoResponse for WebSocketRejection {
    fn into_response(self) -> Response {
        self.0.response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = WebSocketRejection;

    async fn from_request_parts(parts: &mut http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let upgrade = HyperUpgrade::from_parts(parts)?;
        Ok(WebSocketUpgrade { upgrade, protocols: Vec::new(), options: AcceptOptions::new() })
    }
}

impl WebSocketUpgrade {
    /// The validated request: path, query, `Origin` (check it: RFC 6455 §10.2), offered
    /// subprotocols and extensions, every header.
    pub fn request(&self) -> &Request {
        self.upgrade.request()
    }

    /// Whether the WebSocket will run on an HTTP/2 stream (RFC 8441 extended CONNECT)
    /// rather than an upgraded HTTP/1.1 connection.
    pub fn is_http2(&self) -> bool {
        self.upgrade.is_http2()
    }

    /// The subprotocols this endpoint speaks, in its order of preference: the first one the
    /// client offered is chosen; none when the client offered none of them.
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Run the connection under `config` (message and frame limits, keepalive,
    /// permessage-deflate when it has [`deflate`](tether_rt::ConfigBuilder::deflate) and the
    /// client offers it) instead of [`server_config`](crate::server_config).
    pub fn config(mut self, config: Config) -> Self {
        self.options = self.options.config(config);
        self
    }

    /// Add a header to the 101 response (see [`AcceptOptions::header`]; a header that cannot
    /// be sent makes [`on_upgrade`](Self::on_upgrade) answer 500).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options = self.options.header(name, value);
        self
    }

    /// The subprotocol [`on_upgrade`](Self::on_upgrade) will choose, if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        let offered = self.request().protocols();
        self.protocols.iter().find(|p| offered.contains(p)).map(String::as_str)
    }

    /// Answer 101 and run `callback` with the WebSocket in a new task once axum hands the
    /// connection over. If the hand-over fails or times out, `callback` is not called.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(HyperWebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut options = self.options.clone();
        if let Some(p) = self.selected_protocol() {
            options = options.protocol(p);
        }
        match self.upgrade.accept(&options) {
            Ok((response, pending)) => {
                tokio::spawn(async move {
                    if let Ok(ws) = pending.await {
                        callback(ws).await;
                    }
                });
                response
            }
            Err(e) => e.response(),
        }
    }
}
