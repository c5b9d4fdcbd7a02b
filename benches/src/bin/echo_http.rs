//! Echo servers inside an HTTP server, for `benches/http.sh`: one binary, the library chosen
//! by the second argument — `tether-hyper` (hyper 1.x HTTP/1.1 with Tether's `HyperUpgrade`),
//! `tether-axum` (an axum 0.8 router with Tether's extractor), `axum-ws` (axum's own
//! extractor, tungstenite underneath) and `yawc-axum` (yawc's axum extractor). Every one
//! echoes text and binary messages with its library's receive/send loop, on a
//! single-threaded tokio runtime with `TCP_NODELAY`, at `/` with no compression (the
//! client offers none). What is not here: the raw-stream servers (`run.sh`), TLS, HTTP/2.
//! Usage: `echo_http ADDR LIBRARY`.

use std::convert::Infallible;

use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use tether_benches::serve::serve;
use tether_tokio::hyper::{HyperUpgrade, HyperWebSocket, PendingWebSocket};
use tether_tokio::{AcceptOptions, Bytes};

async fn tether_echo(mut ws: HyperWebSocket) {
    while let Ok(Some(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

async fn tether_hyper(mut req: Request<Incoming>) -> Result<hyper::Response<Empty<Bytes>>, Infallible> {
    let upgrade = match HyperUpgrade::new(&mut req) {
        Ok(upgrade) => upgrade,
        Err(e) => return Ok(e.response()),
    };
    match upgrade.accept(&AcceptOptions::new()) {
        Ok((response, pending)) => {
            tokio::spawn(async move {
                let pending: PendingWebSocket = pending;
                if let Ok(ws) = pending.await {
                    tether_echo(ws).await;
                }
            });
            Ok(response)
        }
        Err(e) => Ok(e.response()),
    }
}

async fn tether_axum(upgrade: tether_tokio::axum::WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(tether_echo)
}

async fn axum_ws(upgrade: axum::extract::ws::WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut ws| async move {
        while let Some(Ok(message)) = ws.recv().await {
            let echo = match message {
                axum::extract::ws::Message::Text(_) | axum::extract::ws::Message::Binary(_) => message,
                axum::extract::ws::Message::Close(_) => break,
                _ => continue,
            };
            if ws.send(echo).await.is_err() {
                break;
            }
        }
    })
}

async fn yawc_axum(upgrade: yawc::IncomingUpgrade) -> Response {
    let options = yawc::Options::default().with_utf8().with_limits(64 << 20, 64 << 20);
    let Ok((response, fut)) = upgrade.upgrade(options) else {
        return Response::builder().status(400).body(axum::body::Body::empty()).unwrap_or_default();
    };
    tokio::spawn(async move {
        let Ok(mut ws) = fut.await else { return };
        while let Some(frame) = ws.next().await {
            let sent = match frame.opcode() {
                yawc::frame::OpCode::Text | yawc::frame::OpCode::Binary => ws.send(frame).await.is_ok(),
                yawc::frame::OpCode::Close => false,
                _ => true,
            };
            if !sent {
                break;
            }
        }
    });
    response.map(|_| axum::body::Body::empty())
}

fn main() -> std::io::Result<()> {
    let library = std::env::args().nth(2).unwrap_or_default();
    let app = match library.as_str() {
        "tether-hyper" => None,
        "tether-axum" => Some(Router::new().route("/", get(tether_axum))),
        "axum-ws" => Some(Router::new().route("/", get(axum_ws))),
        "yawc-axum" => Some(Router::new().route("/", get(yawc_axum))),
        _ => {
            eprintln!("usage: echo_http ADDR tether-hyper|tether-axum|axum-ws|yawc-axum");
            std::process::exit(2);
        }
    };
    serve(move |stream| {
        let app = app.clone();
        async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let builder = http1::Builder::new();
            let _ = match app {
                None => builder.serve_connection(io, service_fn(tether_hyper)).with_upgrades().await,
                Some(app) => {
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    builder.serve_connection(io, service).with_upgrades().await
                }
            };
        }
    })
}
