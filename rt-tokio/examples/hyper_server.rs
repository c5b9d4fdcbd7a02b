//! `hyper_server ADDR` (default 127.0.0.1:8080): one hyper 1.x HTTP/1.1 port serving an HTML
//! page at `GET /` and an echo WebSocket at `/ws` through `tether_tokio::hyper`; anything
//! else is 404. With the `deflate` feature the WebSocket offers permessage-deflate. No TLS.

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tether_tokio::hyper::{HyperUpgrade, HyperWebSocket, PendingWebSocket};
use tether_tokio::{AcceptOptions, Bytes};

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>Tether on hyper</title>
<input id="m" value="hello"><button onclick="ws.send(m.value)">send</button><pre id="log"></pre>
<script>
const ws = new WebSocket(`ws://${location.host}/ws`);
ws.onmessage = (e) => { log.textContent += e.data + "\n"; };
</script>
"#;

/// The connection's configuration: the server default, with permessage-deflate when built
/// with the `deflate` feature.
fn options() -> AcceptOptions {
    #[cfg(feature = "deflate")]
    {
        let config = tether_tokio::server_config()
            .to_builder()
            .deflate(Some(tether_tokio::DeflateConfig::default()))
            .build()
            .expect("the default deflate settings are valid");
        AcceptOptions::new().config(config)
    }
    #[cfg(not(feature = "deflate"))]
    AcceptOptions::new()
}

async fn echo(pending: PendingWebSocket) {
    let mut ws: HyperWebSocket = match pending.await {
        Ok(ws) => ws,
        Err(e) => return eprintln!("upgrade failed: {e}"),
    };
    while let Ok(Some(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

async fn handle(mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    match req.uri().path() {
        "/" => {
            let mut response = Response::new(Full::new(Bytes::from_static(PAGE.as_bytes())));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            Ok(response)
        }
        "/ws" => {
            let accepted = HyperUpgrade::new(&mut req).and_then(|upgrade| upgrade.accept(&options()));
            match accepted {
                Ok((response, pending)) => {
                    tokio::spawn(echo(pending));
                    Ok(response)
                }
                Err(e) => Ok(e.response()),
            }
        }
        _ => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"not found")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            Ok(response)
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(async move {
            // The timer bounds reading a request head (hyper's header_read_timeout).
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(tcp), service_fn(handle))
                .with_upgrades();
            if let Err(e) = conn.await {
                eprintln!("connection: {e}");
            }
        });
    }
}
