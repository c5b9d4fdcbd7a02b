//! The `hyper_server` example's server, written once and shared with the tests (included
//! with `#[path]`, not a library module): one port serving an HTML page at `GET /`, an echo
//! WebSocket at `/ws` and its counters at `GET /stats`, over HTTP/1.1 and HTTP/2 (hyper-util's
//! auto builder with the RFC 8441 extended CONNECT setting enabled), plain or TLS (ALPN `h2`
//! and `http/1.1`, or `http/1.1` alone when HTTP/2 is off). Argument parsing and loading the
//! certificate live in `hyper_server.rs`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tether_tokio::hyper::{HyperUpgrade, PendingWebSocket};
use tether_tokio::{AcceptOptions, Bytes, Config};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::ServerConfig;

/// The page: a text box whose lines go to the echo socket (`wss:` when the page came over
/// TLS), and what comes back.
pub const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>Tether on hyper</title>
<input id="m" value="hello"><button onclick="ws.send(m.value)">send</button><pre id="log"></pre>
<script>
const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
ws.onmessage = (e) => { log.textContent += e.data + "\n"; };
</script>
"#;

/// How long a client has to finish its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's state: the WebSockets' configuration and how many were accepted over
/// each protocol.
#[derive(Debug)]
pub struct App {
    /// Each WebSocket's configuration (limits, keepalive, permessage-deflate).
    pub config: Config,
    /// WebSockets accepted as HTTP/1.1 upgrades.
    pub http1: AtomicUsize,
    /// WebSockets accepted as RFC 8441 extended CONNECTs on HTTP/2 streams.
    pub http2: AtomicUsize,
}

impl App {
    /// A server whose WebSockets run under `config`.
    pub fn new(config: Config) -> Arc<App> {
        Arc::new(App { config, http1: AtomicUsize::new(0), http2: AtomicUsize::new(0) })
    }

    /// The counters as JSON, for `GET /stats`.
    fn stats(&self) -> String {
        format!(
            "{{\"http1_websockets\":{},\"http2_websockets\":{}}}",
            self.http1.load(Ordering::Relaxed),
            self.http2.load(Ordering::Relaxed)
        )
    }
}

/// `base` (a certificate and key) with the ALPN list for `http2`: `h2` then `http/1.1`, or
/// `http/1.1` alone.
pub fn tls_config(base: &ServerConfig, http2: bool) -> Arc<ServerConfig> {
    let mut config = base.clone();
    config.alpn_protocols = if http2 { vec![b"h2".to_vec(), b"http/1.1".to_vec()] } else { vec![b"http/1.1".to_vec()] };
    Arc::new(config)
}

/// Serve every connection `listener` accepts (TLS first when `tls` is given) until the
/// listener fails. `http2` off: HTTP/1.1 only.
pub async fn run(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    http2: bool,
    app: Arc<App>,
) -> std::io::Result<()> {
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(serve(tcp, tls.clone(), http2, app.clone()));
    }
}

/// One connection: HTTP/1.1 (with upgrades) or HTTP/2 (with extended CONNECT), whichever
/// the client speaks.
async fn serve(tcp: TcpStream, tls: Option<tokio_rustls::TlsAcceptor>, http2: bool, app: Arc<App>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The timer bounds reading a request head (hyper's header_read_timeout).
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new()).enable_connect_protocol();
    if !http2 {
        builder = builder.http1_only();
    }
    let service = service_fn(move |req| handle(req, app.clone()));
    let result = match tls {
        Some(tls) => match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
            Ok(Ok(stream)) => builder.serve_connection_with_upgrades(TokioIo::new(stream), service).await,
            Ok(Err(e)) => return eprintln!("TLS handshake: {e}"),
            Err(_) => return eprintln!("TLS handshake: timed out"),
        },
        None => builder.serve_connection_with_upgrades(TokioIo::new(tcp), service).await,
    };
    if let Err(e) = result {
        eprintln!("connection: {e}");
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    response
}

async fn handle(mut req: Request<Incoming>, app: Arc<App>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match req.uri().path() {
        "/" => respond(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        "/stats" => respond(StatusCode::OK, "application/json", app.stats()),
        "/ws" => {
            let options = AcceptOptions::new().config(app.config.clone());
            match HyperUpgrade::new(&mut req).and_then(|upgrade| upgrade.accept(&options)) {
                Ok((response, pending)) => {
                    let counter = if pending.is_http2() { &app.http2 } else { &app.http1 };
                    counter.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(echo(pending));
                    response
                }
                Err(e) => e.response(),
            }
        }
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found"),
    })
}

async fn echo(pending: PendingWebSocket) {
    let mut ws = match pending.await {
        Ok(ws) => ws,
        Err(e) => return eprintln!("upgrade failed: {e}"),
    };
    while let Ok(Some(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}
