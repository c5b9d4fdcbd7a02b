//! WebSockets over HTTP/2 (RFC 8441) on the server side, tokio only: the `hyper_server`
//! example's server (`rt-tokio/examples/hyper_app/app.rs`, included here) and an axum router,
//! against hyper's own HTTP/2 client sending extended CONNECTs by hand — several Tether
//! WebSockets multiplexed on one connection, refusals as typed answers — and against real
//! peers: headless Chromium loading the page over TLS and opening its WebSocket on the
//! page's HTTP/2 connection (then over HTTP/1.1 when the server offers no `h2`), and Python's
//! `h2` package driving extended CONNECTs frame by frame (`tests/peers/h2_client.py`). And
//! Tether's own RFC 8441 client (`tether_tokio::http2`): several WebSockets on one TLS
//! connection to that server, the fallback to HTTP/1.1 without `h2`, and no `:protocol`
//! sent to an HTTP/2 server that does not enable it, a subprotocol and permessage-deflate
//! agreed on a stream; and against another implementation, axum's own extractor
//! (tungstenite) served over h2c by `axum::serve`. HTTP/1.1 upgrades are tested in
//! `hyper_axum.rs`.

#[path = "../../rt-tokio/examples/hyper_app/app.rs"]
#[allow(dead_code)]
mod app;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use axum::routing::any;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tether_tests::peer::{self, Peer};
use tether_tests::pki::Ca;
use tether_tokio::axum::WebSocketUpgrade;
use tether_tokio::http2::{AnyWebSocket, Http2Connection, Http2Error};
use tether_tokio::{Bytes, CloseCause, CloseCode, Config, Message};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Every test is bounded by this (a browser start included).
const LIMIT: Duration = Duration::from_secs(90);
/// Each single exchange in a test.
const STEP: Duration = Duration::from_secs(20);

fn run(f: impl Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async { tokio::time::timeout(LIMIT, f).await.expect("test exceeded its limit") });
}

fn server_config() -> Config {
    tether_tokio::server_config()
        .to_builder()
        .max_message_size(32 << 20)
        .max_frame_size(32 << 20)
        .build()
        .expect("config")
}

fn server_config_deflate() -> Config {
    server_config().to_builder().deflate(Some(tether_tokio::DeflateConfig::default())).build().expect("config")
}

/// The example's server on a loopback port, plain (HTTP/1.1 and h2c) or TLS.
async fn example_server(
    tls: Option<tokio_rustls::TlsAcceptor>,
    http2: bool,
    config: Config,
) -> (SocketAddr, Arc<app::App>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = app::App::new(config);
    let served = app.clone();
    tokio::spawn(async move {
        let _ = app::run(listener, tls, http2, served).await;
    });
    (addr, app)
}

/// An HTTP/2 (prior knowledge) client connection to `addr`, once the server's SETTINGS
/// have arrived (a first `GET /stats` waits for them).
async fn h2_client(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
    h2_client_via(addr, "/stats").await
}

/// An HTTP/2 (prior knowledge) client connection to `addr` whose `GET path` has been
/// answered — so the server's SETTINGS have arrived — and which saw the server enable
/// extended CONNECT.
async fn h2_client_via(addr: SocketAddr, path: &str) -> SendRequest<Empty<Bytes>> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await.expect("h2 handshake");
    // The setting is read on the connection, which a task drives: it reports it after each poll.
    let enabled = Arc::new(AtomicBool::new(false));
    let report = enabled.clone();
    tokio::spawn(async move {
        let mut conn = Box::pin(conn);
        std::future::poll_fn(|cx| {
            let polled = conn.as_mut().poll(cx);
            report.store(conn.is_extended_connect_protocol_enabled(), Ordering::Relaxed);
            polled
        })
        .await
    });
    // Twice: the connection task is polled when a request is queued, and only the second
    // request comes after the server's SETTINGS (which precede the first answer).
    for _ in 0..2 {
        let req = hyper::Request::get(format!("http://{addr}{path}")).body(Empty::new()).expect("request");
        let response = tokio::time::timeout(STEP, send.send_request(req)).await.expect("in time").expect("GET");
        let _ = response.into_body().collect().await;
    }
    assert!(enabled.load(Ordering::Relaxed), "the server must send SETTINGS_ENABLE_CONNECT_PROTOCOL");
    send
}

/// An extended CONNECT to `path` with `headers` (`:protocol` when `protocol` is given).
fn connect_request(
    addr: SocketAddr,
    path: &str,
    protocol: Option<&'static str>,
    headers: &[(&str, &str)],
) -> hyper::Request<Empty<Bytes>> {
    let mut req = hyper::Request::builder().method(hyper::Method::CONNECT).version(hyper::Version::HTTP_2);
    req = req.uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut req = req.body(Empty::new()).expect("request");
    if let Some(p) = protocol {
        req.extensions_mut().insert(hyper::ext::Protocol::from_static(p));
    }
    req
}

/// A Tether client WebSocket on a new stream of `send`: the extended CONNECT answered 200,
/// then the stream driven by a client `Connection` (no HTTP/1.1 handshake).
async fn open(
    send: &mut SendRequest<Empty<Bytes>>,
    addr: SocketAddr,
    path: &str,
) -> (hyper::http::response::Parts, tether_tokio::WebSocket<TokioIo<hyper::upgrade::Upgraded>>) {
    send.ready().await.expect("ready");
    let req = connect_request(addr, path, Some("websocket"), &[("sec-websocket-version", "13")]);
    let response = tokio::time::timeout(STEP, send.send_request(req)).await.expect("in time").expect("CONNECT");
    assert_eq!(response.status(), 200, "{response:?}");
    let (parts, body) = response.into_parts();
    let upgraded = hyper::upgrade::on(hyper::Response::from_parts(parts.clone(), body)).await.expect("stream");
    let config = tether_tokio::default_config()
        .to_builder()
        .max_message_size(4 << 20)
        .max_frame_size(4 << 20)
        .build()
        .expect("config");
    let conn = tether_proto::Connection::new(tether_proto::Role::Client, config);
    (parts, tether_tokio::WebSocket::from_connection(TokioIo::new(upgraded), conn))
}

async fn roundtrip<S>(ws: &mut tether_tokio::WebSocket<S>, message: Message)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    ws.send(message.clone()).await.expect("send");
    let echoed = tokio::time::timeout(STEP, ws.recv()).await.expect("echo in time").expect("recv").expect("message");
    assert_eq!(echoed, message);
}

#[test]
fn several_websockets_multiplexed_on_one_http2_connection() {
    run(async {
        let (addr, app) = example_server(None, true, server_config()).await;
        let mut send = h2_client(addr).await;
        let mut sockets = Vec::new();
        for _ in 0..4 {
            let (parts, ws) = open(&mut send, addr, "/ws").await;
            for forbidden in ["sec-websocket-accept", "upgrade", "connection"] {
                assert!(parts.headers.get(forbidden).is_none(), "{forbidden} in {parts:?}");
            }
            sockets.push(ws);
        }
        assert_eq!((app.http2.load(Ordering::Relaxed), app.http1.load(Ordering::Relaxed)), (4, 0));
        // Interleaved on the one connection: every socket echoes its own messages.
        let big: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i * 31 + 7) as u8).collect();
        for round in 0..3 {
            for (i, ws) in sockets.iter_mut().enumerate() {
                roundtrip(ws, Message::text(format!("socket {i} round {round}"))).await;
            }
        }
        roundtrip(&mut sockets[1], Message::binary(Bytes::from(big))).await;
        // Closing one stream leaves the others working.
        let mut first = sockets.remove(0);
        first.close(CloseCode::NORMAL, "done").await.expect("close");
        let closed = tokio::time::timeout(STEP, async {
            while let Ok(Some(_)) = first.recv().await {}
            first.closed()
        })
        .await
        .expect("close in time")
        .expect("closed");
        assert_eq!((closed.code, closed.cause), (CloseCode::NORMAL, CloseCause::LocallyInitiated));
        for ws in &mut sockets {
            roundtrip(ws, Message::text("still here")).await;
        }
    });
}

#[test]
fn http2_refusals_are_typed_answers() {
    run(async {
        let (addr, app) = example_server(None, true, server_config()).await;
        let mut send = h2_client(addr).await;
        let cases: [(hyper::Method, Option<&'static str>, &str, u16); 4] = [
            (hyper::Method::CONNECT, Some("websocket"), "8", 426),
            (hyper::Method::CONNECT, Some("websocket"), "", 426),
            (hyper::Method::CONNECT, Some("webtransport"), "13", 400),
            (hyper::Method::GET, None, "13", 405),
        ];
        for (method, protocol, version, status) in cases {
            send.ready().await.expect("ready");
            let headers: Vec<(&str, &str)> =
                if version.is_empty() { vec![] } else { vec![("sec-websocket-version", version)] };
            let mut req = connect_request(addr, "/ws", protocol, &headers);
            *req.method_mut() = method.clone();
            let response = tokio::time::timeout(STEP, send.send_request(req)).await.expect("in time").expect("answer");
            assert_eq!(response.status().as_u16(), status, "{method} {protocol:?} {version}: {response:?}");
            match status {
                426 => assert_eq!(response.headers()["sec-websocket-version"], "13"),
                405 => assert_eq!(response.headers()["allow"], "CONNECT"),
                _ => {}
            }
            assert!(response.headers().get("connection").is_none());
        }
        assert_eq!(app.http2.load(Ordering::Relaxed), 0);
    });
}

/// What the `chat_router` handler saw of one WebSocket: over HTTP/2, the subprotocol, deflate.
type Seen = (bool, Option<String>, bool);

/// An axum router with an echo WebSocket at `/ws` (routed with `any`, so both protocols
/// reach it) that agrees to subprotocol `chat` and permessage-deflate, and reports what it
/// saw of each WebSocket on `tx` when it ends.
fn chat_router(tx: mpsc::UnboundedSender<Seen>) -> Router {
    Router::new().route(
        "/ws",
        any(move |upgrade: WebSocketUpgrade| {
            let tx = tx.clone();
            async move {
                let http2 = upgrade.is_http2();
                let response: Response =
                    upgrade.protocols(["chat"]).config(server_config_deflate()).on_upgrade(move |mut ws| async move {
                        let deflate = ws.deflate().is_some();
                        let protocol = ws.protocol().map(str::to_owned);
                        while let Ok(Some(m)) = ws.recv().await {
                            if ws.send(m).await.is_err() {
                                break;
                            }
                        }
                        let _ = tx.send((http2, protocol, deflate));
                    });
                response
            }
        }),
    )
}

/// The axum extractor takes the same handler over both protocols; routed with `any`.
#[test]
fn axum_extractor_accepts_http2_and_http1_alike() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let router = chat_router(tx);
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });

        let mut send = h2_client_via(addr, "/").await;
        send.ready().await.expect("ready");
        let req = connect_request(
            addr,
            "/ws",
            Some("websocket"),
            &[
                ("sec-websocket-version", "13"),
                ("sec-websocket-protocol", "chat"),
                ("sec-websocket-extensions", "permessage-deflate"),
            ],
        );
        let response = tokio::time::timeout(STEP, send.send_request(req)).await.expect("in time").expect("CONNECT");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        let ext = response.headers()["sec-websocket-extensions"].to_str().expect("ascii");
        assert!(ext.starts_with("permessage-deflate"), "{ext}");
        // Drive it without deflate on our side is not possible once agreed: close right away
        // (a close frame is never compressed) and check what the server saw.
        let upgraded = hyper::upgrade::on(response).await.expect("stream");
        let conn = tether_proto::Connection::new(tether_proto::Role::Client, tether_tokio::default_config());
        let mut ws = tether_tokio::WebSocket::from_connection(TokioIo::new(upgraded), conn);
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        let _ = tokio::time::timeout(STEP, ws.recv()).await.expect("close answered");
        let (http2, protocol, deflate) = tokio::time::timeout(STEP, rx.recv()).await.expect("in time").expect("seen");
        assert_eq!((http2, protocol.as_deref(), deflate), (true, Some("chat"), true));

        // The same route over HTTP/1.1.
        let mut ws = tokio::time::timeout(STEP, tether_tokio::connect(&format!("ws://{addr}/ws")))
            .await
            .expect("in time")
            .expect("HTTP/1.1 upgrade");
        roundtrip(&mut ws, Message::text("over HTTP/1.1")).await;
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        let _ = tokio::time::timeout(STEP, ws.recv()).await.expect("close answered");
        let (http2, _, _) = tokio::time::timeout(STEP, rx.recv()).await.expect("in time").expect("seen");
        assert!(!http2);
    });
}

// ----- real peers -----

/// The example's TLS server for `leaf`, with or without `h2` in its ALPN.
async fn tls_example_server(leaf: &tether_tests::pki::Leaf, http2: bool) -> (SocketAddr, Arc<app::App>) {
    let base = tether_tokio::TlsAcceptor::from_pem(leaf.cert.as_bytes(), leaf.key.as_bytes()).expect("acceptor");
    let tls = tokio_rustls::TlsAcceptor::from(app::tls_config(&base.config(), http2));
    example_server(Some(tls), http2, server_config_deflate()).await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Headless Chromium loads `https://…/` from the example (pinning its key), then runs the
/// browser conversation against `wss://…/ws` from that page; returns the driver's output
/// and the server's counters.
fn chromium_against_example(http2: bool) -> (String, usize, usize) {
    let mut result = (String::new(), 0, 0);
    run(async {
        peer::ensure_setup(true);
        let leaf = Ca::new("Tether h2 CA").leaf();
        let (addr, app) = tls_example_server(&leaf, http2).await;
        let pin = hex(&leaf.spki_der);
        let page = format!("https://127.0.0.1:{}/", addr.port());
        let url = format!("wss://127.0.0.1:{}/ws", addr.port());
        let env = [("TETHER_SPKI_DER_HEX", pin.as_str()), ("TETHER_PAGE", page.as_str())];
        let mut client = Peer::spawn_with_env(peer::PYTHON, &["tests/peers/browser_check.py", &url], &env);
        let status = client.wait::<tether_tokio::Tokio>(LIMIT - Duration::from_secs(10)).await;
        let output = client.output();
        assert!(status.success(), "Chromium failed ({status}):\n{output}");
        assert!(output.contains(r#""mismatches": []"#), "{output}");
        assert!(output.contains(r#""clean": true"#), "{output}");
        assert!(output.contains("permessage-deflate"), "{output}");
        result = (output, app.http1.load(Ordering::Relaxed), app.http2.load(Ordering::Relaxed));
    });
    result
}

#[test]
fn chromium_opens_its_websocket_over_http2() {
    let (output, http1, http2) = chromium_against_example(true);
    assert!(http2 >= 1, "no RFC 8441 stream (HTTP/1.1 upgrades: {http1}):\n{output}");
    assert_eq!(http1, 0, "{output}");
}

#[test]
fn chromium_falls_back_to_http1_without_h2() {
    let (output, http1, http2) = chromium_against_example(false);
    assert_eq!(http2, 0, "{output}");
    assert!(http1 >= 1, "{output}");
}

/// Python's `h2` drives extended CONNECTs by hand (h2c, prior knowledge): several
/// WebSockets on one connection, each echoing a few frames, then closing.
#[test]
fn python_h2_client_against_the_example() {
    run(async {
        peer::ensure_setup(false);
        let (addr, app) = example_server(None, true, server_config_deflate()).await;
        let port = addr.port().to_string();
        let mut client = Peer::spawn(peer::PYTHON, &["tests/peers/h2_client.py", "127.0.0.1", &port, "3"]);
        let status = client.wait::<tether_tokio::Tokio>(LIMIT - Duration::from_secs(10)).await;
        let output = client.output();
        assert!(status.success(), "h2 client failed ({status}):\n{output}");
        assert_eq!(output.lines().filter(|l| l.starts_with("stream ") && l.ends_with(" ok")).count(), 3, "{output}");
        assert!(output.contains("refused 426"), "{output}");
        assert!(output.contains("deflate permessage-deflate"), "{output}");
        assert_eq!((app.http2.load(Ordering::Relaxed), app.http1.load(Ordering::Relaxed)), (3, 0));
    });
}

// ----- Tether's RFC 8441 client -----

fn client_config() -> Config {
    tether_tokio::default_config()
        .to_builder()
        .max_message_size(4 << 20)
        .max_frame_size(4 << 20)
        .build()
        .expect("config")
}

/// Tether's client opens several WebSockets on one TLS connection (ALPN `h2`) to the
/// example's server, which sees them all as RFC 8441 streams.
#[test]
fn tether_client_multiplexes_websockets_on_one_tls_connection() {
    run(async {
        let ca = Ca::new("Tether h2 CA");
        let (addr, app) = tls_example_server(&ca.leaf(), true).await;
        let connector = tether_tokio::TlsConnector::with_roots_from_pem(ca.pem.as_bytes()).expect("roots");
        let connection = Http2Connection::connect_tls("127.0.0.1", addr.port(), &connector, client_config())
            .await
            .expect("HTTP/2 connection");
        assert!(connection.supports_websockets());
        let mut sockets = Vec::new();
        for _ in 0..5 {
            sockets.push(connection.websocket("/ws").await.expect("WebSocket on a stream"));
        }
        // The same connection again through `connect`, which reuses it.
        let (ws, reused) =
            tether_tokio::http2::connect("127.0.0.1", addr.port(), "/ws", &connector, Some(connection.clone()))
                .await
                .expect("connect");
        let AnyWebSocket::Http2(ws) = ws else { panic!("expected HTTP/2") };
        assert!(reused.is_some());
        sockets.push(ws);
        assert_eq!((app.http2.load(Ordering::Relaxed), app.http1.load(Ordering::Relaxed)), (6, 0));
        let big: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i * 13 + 1) as u8).collect();
        for round in 0..3 {
            for (i, ws) in sockets.iter_mut().enumerate() {
                roundtrip(ws, Message::text(format!("socket {i} round {round}"))).await;
            }
        }
        roundtrip(&mut sockets[2], Message::binary(Bytes::from(big))).await;
        for ws in &mut sockets {
            let closed = tether_tests::close_and_wait(ws, STEP).await.expect("closed in time");
            assert_eq!((closed.code, closed.cause), (CloseCode::NORMAL, CloseCause::LocallyInitiated));
        }
    });
}

/// Without `h2` in the server's ALPN, `connect` falls back to an HTTP/1.1 upgrade.
#[test]
fn tether_client_falls_back_to_http1_without_h2() {
    run(async {
        let ca = Ca::new("Tether h2 CA");
        let (addr, app) = tls_example_server(&ca.leaf(), false).await;
        let connector = tether_tokio::TlsConnector::with_roots_from_pem(ca.pem.as_bytes()).expect("roots");
        let refused = Http2Connection::connect_tls("127.0.0.1", addr.port(), &connector, client_config()).await;
        assert!(matches!(refused, Err(Http2Error::NotOffered)), "{refused:?}");
        let (ws, reuse) =
            tether_tokio::http2::connect("127.0.0.1", addr.port(), "/ws", &connector, None).await.expect("connect");
        assert!(reuse.is_none());
        let AnyWebSocket::Http1(mut ws) = ws else { panic!("expected HTTP/1.1") };
        roundtrip(&mut ws, Message::text("over HTTP/1.1")).await;
        assert_eq!((app.http2.load(Ordering::Relaxed), app.http1.load(Ordering::Relaxed)), (0, 1));
    });
}

/// An HTTP/2 server that does not enable extended CONNECT: the client sees it in the
/// SETTINGS and sends no `:protocol` (RFC 8441 §3).
#[test]
fn tether_client_sends_no_extended_connect_unless_enabled() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = requests.clone();
        tokio::spawn(async move {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let service = hyper::service::service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                seen.fetch_add(1, Ordering::Relaxed);
                async { Ok::<_, std::convert::Infallible>(hyper::Response::new(Empty::<Bytes>::new())) }
            });
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let authority = addr.to_string().parse().expect("authority");
        let connection = Http2Connection::handshake(tcp, authority, hyper::http::uri::Scheme::HTTP, client_config())
            .await
            .expect("HTTP/2 connection");
        assert!(!connection.supports_websockets());
        assert!(matches!(connection.websocket("/ws").await, Err(Http2Error::NotOffered)));
        assert_eq!(requests.load(Ordering::Relaxed), 0);
    });
}

/// Tether's client offers a subprotocol and permessage-deflate on an HTTP/2 stream (h2c to
/// an axum router): the 200's answer is checked as a 101's, and the WebSocket compresses.
#[test]
fn tether_client_negotiates_subprotocol_and_deflate_over_http2() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let router = chat_router(tx);
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
        let config =
            client_config().to_builder().deflate(Some(tether_tokio::DeflateConfig::default())).build().expect("config");
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let authority: hyper::http::uri::Authority = addr.to_string().parse().expect("authority");
        let connection = Http2Connection::handshake(tcp, authority, hyper::http::uri::Scheme::HTTP, config)
            .await
            .expect("HTTP/2 connection");
        assert!(connection.supports_websockets());
        let request =
            tether_tokio::proto::ClientRequest::new(addr.to_string(), "/ws").protocol("other").protocol("chat");
        let mut ws = connection.websocket_with(request).await.expect("WebSocket on a stream");
        assert_eq!(ws.protocol(), Some("chat"));
        assert!(ws.deflate().is_some(), "permessage-deflate agreed");
        let text = "{\"type\":\"message\",\"text\":\"hello\"} ".repeat(2000);
        roundtrip(&mut ws, Message::text(text)).await;
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        let _ = tokio::time::timeout(STEP, ws.recv()).await.expect("close answered");
        let seen = tokio::time::timeout(STEP, rx.recv()).await.expect("in time").expect("seen");
        assert_eq!(seen, (true, Some("chat".to_owned()), true));

        // A subprotocol the server does not speak: nothing agreed, and still a WebSocket.
        let request = tether_tokio::proto::ClientRequest::new(addr.to_string(), "/ws").protocol("other");
        let mut ws = connection.websocket_with(request).await.expect("WebSocket on a stream");
        assert_eq!(ws.protocol(), None);
        roundtrip(&mut ws, Message::text("no subprotocol")).await;
    });
}

/// axum's own WebSocket extractor (tungstenite, not Tether) as an echo server speaking the
/// subprotocol `chat`: axum::serve enables extended CONNECT on HTTP/2.
fn axum_own_echo_router() -> Router {
    use axum::extract::ws::{Message as AxMessage, WebSocketUpgrade as AxUpgrade};
    async fn echo(ws: AxUpgrade) -> Response {
        ws.protocols(["chat"]).on_upgrade(|mut socket| async move {
            // Echo data until the stream ends; tungstenite answers the close by itself.
            while let Some(Ok(message)) = socket.recv().await {
                if matches!(message, AxMessage::Text(_) | AxMessage::Binary(_)) && socket.send(message).await.is_err() {
                    break;
                }
            }
        })
    }
    Router::new().route("/echo", any(echo))
}

/// Tether's RFC 8441 client against another implementation: several WebSockets on one h2c
/// connection to axum's own extractor (tungstenite). The subprotocol is agreed; the
/// permessage-deflate offer is declined (tungstenite has none) and the WebSocket runs
/// uncompressed; a path the router lacks is a typed refusal; closes complete both ways.
#[test]
fn tether_client_against_axums_own_http2_websockets() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, axum_own_echo_router()).await.expect("serve") });
        let config =
            client_config().to_builder().deflate(Some(tether_tokio::DeflateConfig::default())).build().expect("config");
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let authority: hyper::http::uri::Authority = addr.to_string().parse().expect("authority");
        let connection = Http2Connection::handshake(tcp, authority, hyper::http::uri::Scheme::HTTP, config)
            .await
            .expect("HTTP/2 connection");
        assert!(connection.supports_websockets(), "axum::serve enables extended CONNECT");

        let missing = connection.websocket("/nowhere").await;
        assert!(matches!(missing, Err(Http2Error::Refused(status)) if status == 404), "{missing:?}");

        let mut sockets = Vec::new();
        for _ in 0..4 {
            let request = tether_tokio::proto::ClientRequest::new(addr.to_string(), "/echo").protocol("chat");
            let ws = connection.websocket_with(request).await.expect("WebSocket on a stream");
            assert_eq!(ws.protocol(), Some("chat"));
            assert!(ws.deflate().is_none(), "tungstenite declines permessage-deflate");
            sockets.push(ws);
        }
        let big: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i * 7 + 3) as u8).collect();
        for round in 0..3 {
            for (i, ws) in sockets.iter_mut().enumerate() {
                roundtrip(ws, Message::text(format!("socket {i} round {round}"))).await;
            }
        }
        roundtrip(&mut sockets[1], Message::binary(Bytes::from(big))).await;
        for ws in &mut sockets {
            let closed = tether_tests::close_and_wait(ws, STEP).await.expect("closed in time");
            assert_eq!((closed.code, closed.cause), (CloseCode::NORMAL, CloseCause::LocallyInitiated));
        }
    });
}

/// Many small echoes left unread across many streams of one connection (what a multiplexed
/// client holds when its sockets are busy): h2 closes a connection that holds more small
/// DATA frames unread than its budget allows (half the connection window; GOAWAY
/// `ENHANCE_YOUR_CALM`, "too_many_data_frames"), so the client's windows must leave room for
/// 32 sockets × 16 small messages. axum's own extractor (tungstenite) is the server: it
/// writes each echo on its own, one DATA frame per message (Tether's server coalesces them).
#[test]
fn tether_client_holds_many_small_echoes_unread_across_streams() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, axum_own_echo_router()).await.expect("serve") });
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let authority: hyper::http::uri::Authority = addr.to_string().parse().expect("authority");
        let connection = Http2Connection::handshake(tcp, authority, hyper::http::uri::Scheme::HTTP, client_config())
            .await
            .expect("HTTP/2 connection");
        let mut sockets = Vec::new();
        for _ in 0..32 {
            sockets.push(connection.websocket("/echo").await.expect("WebSocket on a stream"));
        }
        let message = |i: usize, j: usize| Message::binary(Bytes::from(vec![i as u8, j as u8, 0xA5, 0x5A]));
        for (i, ws) in sockets.iter_mut().enumerate() {
            for j in 0..16 {
                ws.send(message(i, j)).await.expect("send");
            }
        }
        // Every echo arrives and waits, unread, in the connection's buffers.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for (i, ws) in sockets.iter_mut().enumerate() {
            for j in 0..16 {
                let echoed = tokio::time::timeout(STEP, ws.recv()).await.expect("echo in time");
                assert_eq!(echoed.expect("recv").expect("message"), message(i, j), "socket {i}, message {j}");
            }
        }
    });
}
