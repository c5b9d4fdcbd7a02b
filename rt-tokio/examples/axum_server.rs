//! `axum_server ADDR` (default 127.0.0.1:8080): an axum 0.8 router with an ordinary JSON
//! route (`GET /api/health`) and an echo WebSocket at `/ws/{id}` through
//! `tether_tokio::axum::WebSocketUpgrade` (subprotocol `echo` when offered; with the
//! `deflate` feature, permessage-deflate when offered). No TLS.

use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use tether_tokio::axum::WebSocketUpgrade;
use tether_tokio::hyper::HyperWebSocket;
use tether_tokio::Config;

/// The server default, with permessage-deflate when built with the `deflate` feature.
fn config() -> Config {
    let builder = tether_tokio::server_config().to_builder();
    #[cfg(feature = "deflate")]
    let builder = builder.deflate(Some(tether_tokio::DeflateConfig::default()));
    builder.build().expect("the server defaults are valid")
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "websocket": "/ws/{id}" }))
}

async fn ws(Path(id): Path<String>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.protocols(["echo"]).config(config()).on_upgrade(move |ws| echo(id, ws))
}

async fn echo(id: String, mut ws: HyperWebSocket) {
    while let Ok(Some(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
    eprintln!("{id}: {:?}", ws.closed());
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".into());
    let app = Router::new().route("/api/health", get(health)).route("/ws/{id}", get(ws));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
