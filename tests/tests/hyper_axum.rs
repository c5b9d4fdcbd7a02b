//! Tether WebSockets inside hyper 1.x and axum 0.8 servers (tokio only, so not part of the
//! cross-runtime suite): a Tether client and a scripted raw-TCP client against both over
//! real sockets — echo of text, binary and 1 MiB, subprotocol choice, permessage-deflate
//! agreed and round-tripping, the close handshake (1000) seen by the server, the client's
//! first frame sent with the request (hyper must replay it), and error answers identical
//! (status and headers) to the raw path's for bad requests; and Python `websockets` and
//! Node `ws` clients (`tests/peers/`, installed by `scripts/setup-peers.sh`) against axum.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tether_tokio::axum::WebSocketUpgrade;
use tether_tokio::hyper::{HyperUpgrade, HyperWebSocket, PendingWebSocket};
use tether_tokio::{AcceptOptions, Bytes, CloseCause, CloseCode, Closed, Config, DeflateConfig, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Every test is bounded by this.
const LIMIT: Duration = Duration::from_secs(60);
/// Each single read or answer in a test.
const STEP: Duration = Duration::from_secs(20);

fn run(f: impl Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async { tokio::time::timeout(LIMIT, f).await.expect("test exceeded its limit") });
}

/// Server configuration: room for the peers' 16 MiB messages, optionally deflate.
fn config(deflate: bool) -> Config {
    let mut b = tether_tokio::server_config().to_builder().max_message_size(32 << 20).max_frame_size(32 << 20);
    if deflate {
        b = b.deflate(Some(DeflateConfig::default()));
    }
    b.build().expect("config")
}

fn client_config(deflate: bool) -> Config {
    let mut b = tether_tokio::default_config().to_builder().max_message_size(4 << 20).max_frame_size(4 << 20);
    if deflate {
        b = b.deflate(Some(DeflateConfig::default()));
    }
    b.build().expect("config")
}

/// What the server side saw of one connection.
#[derive(Debug)]
struct Seen {
    closed: Option<Closed>,
    protocol: Option<String>,
    deflate: bool,
}

async fn echo(mut ws: HyperWebSocket, seen: mpsc::UnboundedSender<Seen>) {
    let protocol = ws.protocol().map(str::to_owned);
    let deflate = ws.deflate().is_some();
    while let Ok(Some(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
    let _ = seen.send(Seen { closed: ws.closed(), protocol, deflate });
}

async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    (listener, addr)
}

/// A hyper HTTP/1.1 server: `/ws` is an echo WebSocket (subprotocol `chat` when offered),
/// anything else 404.
async fn hyper_server(deflate: bool) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let (listener, addr) = listen().await;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let tx = tx.clone();
            let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                let tx = tx.clone();
                async move {
                    if req.uri().path() != "/ws" {
                        let mut r = hyper::Response::new(String::new());
                        *r.status_mut() = hyper::StatusCode::NOT_FOUND;
                        return Ok::<_, Infallible>(r);
                    }
                    let accepted = HyperUpgrade::new(&mut req).and_then(|upgrade| {
                        let mut options = AcceptOptions::new().config(config(deflate));
                        if upgrade.request().protocols().iter().any(|p| p == "chat") {
                            options = options.protocol("chat");
                        }
                        upgrade.accept(&options)
                    });
                    Ok(match accepted {
                        Ok((response, pending)) => {
                            tokio::spawn(run_pending(pending, tx));
                            response
                        }
                        Err(e) => e.response(),
                    })
                }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(tcp), service).with_upgrades());
        }
    });
    (addr, rx)
}

async fn run_pending(pending: PendingWebSocket, seen: mpsc::UnboundedSender<Seen>) {
    echo(pending.await.expect("upgrade"), seen).await;
}

/// An axum router: `/ws/{id}` is an echo WebSocket (subprotocols `chat`, `superchat` in
/// that order of preference), `/` a plain page.
async fn axum_server(deflate: bool) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let (listener, addr) = listen().await;
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new().route("/", get(|| async { "page" })).route(
        "/ws/{id}",
        get(move |Path(id): Path<String>, upgrade: WebSocketUpgrade| {
            let tx = tx.clone();
            async move {
                assert_eq!(id, "42");
                let response: Response =
                    upgrade.protocols(["chat", "superchat"]).config(config(deflate)).on_upgrade(move |ws| echo(ws, tx));
                response
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (addr, rx)
}

/// The raw path's server: one connection read by `tether_tokio::Upgrade` (its answer to an
/// invalid request is what the others must match).
async fn raw_server() -> SocketAddr {
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                if let Ok(upgrade) = tether_tokio::Upgrade::read(tcp).await {
                    let _ = upgrade.accept().await;
                }
            });
        }
    });
    addr
}

async fn tether_client(
    url: &str,
    protocols: &[&str],
    deflate: bool,
) -> tether_tokio::WebSocket<tether_tokio::MaybeTlsStream> {
    let mut builder = tether_tokio::ClientBuilder::new(url).config(client_config(deflate));
    for p in protocols {
        builder = builder.protocol(p);
    }
    builder.connect().await.expect("connect")
}

/// Text, binary, 1 MiB of binary and 1 MiB of compressible text, each echoed; then a
/// close with 1000 that the server sees as the peer's.
async fn exchange<S>(mut ws: tether_tokio::WebSocket<S>, seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let text: String = "tether over http ".repeat((1 << 20) / 17);
    let messages = [
        Message::text("hello"),
        Message::binary(Bytes::from_static(&[0, 1, 2, 255])),
        Message::binary(Bytes::from(big)),
        Message::text(text),
    ];
    for m in messages {
        ws.send(m.clone()).await.expect("send");
        let echoed =
            tokio::time::timeout(STEP, ws.recv()).await.expect("echo in time").expect("recv").expect("a message");
        assert_eq!(echoed, m);
    }
    ws.close(CloseCode::NORMAL, "done").await.expect("close");
    let seen = tokio::time::timeout(STEP, seen.recv()).await.expect("server report in time").expect("server report");
    let closed = seen.closed.clone().expect("the server saw the ending");
    assert_eq!(closed.code, CloseCode::NORMAL);
    assert_eq!(closed.cause, CloseCause::PeerInitiated);
    seen
}

#[test]
fn hyper_echo_and_close() {
    run(async {
        let (addr, mut seen) = hyper_server(false).await;
        let ws = tether_client(&format!("ws://{addr}/ws"), &["x", "chat"], false).await;
        assert_eq!(ws.protocol(), Some("chat"));
        assert!(ws.deflate().is_none());
        let seen = exchange(ws, &mut seen).await;
        assert_eq!(seen.protocol.as_deref(), Some("chat"));
        assert!(!seen.deflate);
    });
}

#[test]
fn hyper_deflate_round_trips() {
    run(async {
        let (addr, mut seen) = hyper_server(true).await;
        let ws = tether_client(&format!("ws://{addr}/ws"), &[], true).await;
        assert!(ws.deflate().is_some(), "the client agreed permessage-deflate");
        assert_eq!(ws.protocol(), None);
        let seen = exchange(ws, &mut seen).await;
        assert!(seen.deflate, "the server's connection compresses");
    });
}

#[test]
fn axum_echo_subprotocol_and_close() {
    run(async {
        let (addr, mut seen) = axum_server(false).await;
        // The server's preference wins among offered ones: chat before superchat.
        let ws = tether_client(&format!("ws://{addr}/ws/42"), &["superchat", "chat"], false).await;
        assert_eq!(ws.protocol(), Some("chat"));
        let seen = exchange(ws, &mut seen).await;
        assert_eq!(seen.protocol.as_deref(), Some("chat"));
    });
}

#[test]
fn axum_no_common_subprotocol_means_none() {
    run(async {
        let (addr, mut seen) = axum_server(false).await;
        let ws = tether_client(&format!("ws://{addr}/ws/42"), &["other"], false).await;
        assert_eq!(ws.protocol(), None);
        let seen = exchange(ws, &mut seen).await;
        assert_eq!(seen.protocol, None);
    });
}

#[test]
fn axum_deflate_round_trips() {
    run(async {
        let (addr, mut seen) = axum_server(true).await;
        let ws = tether_client(&format!("ws://{addr}/ws/42"), &[], true).await;
        assert!(ws.deflate().is_some(), "the client agreed permessage-deflate");
        let seen = exchange(ws, &mut seen).await;
        assert!(seen.deflate, "the server's connection compresses");
    });
}

#[test]
fn axum_without_deflate_config_declines_it() {
    run(async {
        let (addr, mut seen) = axum_server(false).await;
        let ws = tether_client(&format!("ws://{addr}/ws/42"), &[], true).await;
        assert!(ws.deflate().is_none());
        let seen = exchange(ws, &mut seen).await;
        assert!(!seen.deflate);
    });
}

// ----- the scripted raw client -----

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn request(path: &str, method: &str, edit: impl Fn(&mut Vec<(String, String)>)) -> Vec<u8> {
    let mut headers: Vec<(String, String)> = [
        ("Host", "127.0.0.1"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", KEY),
        ("Sec-WebSocket-Version", "13"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    edit(&mut headers);
    let mut out = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
    for (n, v) in headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Status, headers (names lower-cased, `date` left out: hyper adds it) and the bytes read
/// after the head.
type Head = (u16, Vec<(String, String)>);

async fn read_head(tcp: &mut TcpStream) -> (Head, Vec<u8>) {
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(STEP, tcp.read(&mut chunk)).await.expect("answer in time").expect("read");
        assert!(n > 0, "connection closed before a full head: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..end].to_vec()).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .filter(|(n, _)| n != "date")
        .collect();
    ((status, headers), buf[end + 4..].to_vec())
}

async fn answer(addr: SocketAddr, bytes: &[u8]) -> Head {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(bytes).await.expect("write");
    read_head(&mut tcp).await.0
}

#[test]
fn error_answers_match_the_raw_path() {
    run(async {
        let raw = raw_server().await;
        let (hyper, _) = hyper_server(false).await;
        let (axum, _) = axum_server(false).await;
        type Edit = fn(&mut Vec<(String, String)>);
        let cases: [(&str, Edit, u16); 6] = [
            ("bad key", |h| h[3].1 = "not-a-key".into(), 400),
            ("version 8", |h| h[4].1 = "8".into(), 426),
            ("no version", |h| h.retain(|(n, _)| n != "Sec-WebSocket-Version"), 426),
            ("no upgrade", |h| h.retain(|(n, _)| n != "Upgrade"), 400),
            ("no connection upgrade", |h| h[2].1 = "keep-alive".into(), 400),
            ("no key", |h| h.retain(|(n, _)| n != "Sec-WebSocket-Key"), 400),
        ];
        for (name, edit, status) in cases {
            let expected = answer(raw, &request("/ws", "GET", edit)).await;
            assert_eq!(expected.0, status, "{name}: the raw path");
            assert_eq!(answer(hyper, &request("/ws", "GET", edit)).await, expected, "{name}: hyper");
            assert_eq!(answer(axum, &request("/ws/42", "GET", edit)).await, expected, "{name}: axum");
        }
        // A POST to the hyper endpoint reaches the checks: 405 with Allow: GET, as raw.
        let expected = answer(raw, &request("/ws", "POST", |_| {})).await;
        assert_eq!(expected.0, 405);
        assert_eq!(answer(hyper, &request("/ws", "POST", |_| {})).await, expected, "POST: hyper");
    });
}

#[test]
fn raw_client_first_frame_with_the_request_is_replayed() {
    for use_axum in [false, true] {
        run(async move {
            let (addr, mut seen) = if use_axum { axum_server(false).await } else { hyper_server(false).await };
            let path = if use_axum { "/ws/42" } else { "/ws" };
            let mut bytes = request(path, "GET", |h| h.push(("Sec-WebSocket-Protocol".into(), "chat".into())));
            // The first frame in the same write as the request: hyper reads it along with the
            // head and must hand it to the WebSocket.
            bytes.extend_from_slice(&tether_testkit::client_frame(true, tether_testkit::TEXT, b"early"));
            let mut tcp = TcpStream::connect(addr).await.expect("connect");
            tcp.write_all(&bytes).await.expect("write");
            let ((status, headers), mut rest) = read_head(&mut tcp).await;
            assert_eq!(status, 101);
            let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
            assert_eq!(header("sec-websocket-accept"), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
            assert_eq!(header("sec-websocket-protocol"), Some("chat"));
            assert_eq!(header("upgrade"), Some("websocket"));
            let frame = loop {
                if let Some(f) = tether_testkit::parse_frame(&rest) {
                    break (f.header.opcode, f.payload.to_vec());
                }
                let mut chunk = [0u8; 4096];
                let n = tokio::time::timeout(STEP, tcp.read(&mut chunk)).await.expect("echo in time").expect("read");
                assert!(n > 0, "closed before the echo");
                rest.extend_from_slice(&chunk[..n]);
            };
            assert_eq!(frame, (tether_testkit::TEXT, b"early".to_vec()));
            // Close 1000, then the server's close answer.
            tcp.write_all(&tether_testkit::client_frame(true, tether_testkit::CLOSE, &1000u16.to_be_bytes()))
                .await
                .expect("write close");
            let seen = tokio::time::timeout(STEP, seen.recv()).await.expect("report in time").expect("report");
            let closed = seen.closed.expect("ended");
            assert_eq!(closed.code, CloseCode::NORMAL);
            assert_eq!(closed.cause, CloseCause::PeerInitiated);
        });
    }
}

#[test]
fn axum_other_routes_still_work() {
    run(async {
        let (addr, _) = axum_server(false).await;
        let (status, _) = answer(addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        assert_eq!(status, 200);
    });
}

// ----- real peers against axum -----

/// A peer client (`tests/peers/`) against the axum echo route: it must exit 0, report
/// permessage-deflate exactly when the route's Config has it (the peers always offer it),
/// and hear our echo of its 4001 close, which the server saw as the peer's.
fn peer_against_axum(deflate: bool, program: &[&str], name: &str) {
    run(async {
        tether_tests::peer::ensure_setup(false);
        let (addr, mut seen) = axum_server(deflate).await;
        let url = format!("ws://{addr}/ws/42");
        let mut args: Vec<&str> = program[1..].to_vec();
        args.push(&url);
        let mut client = tether_tests::peer::Peer::spawn(program[0], &args);
        let status = client.wait::<tether_tokio::Tokio>(LIMIT - Duration::from_secs(10)).await;
        let output = client.output();
        assert!(status.success(), "{name} client failed ({status}):\n{output}");
        let line = output.lines().find(|l| l.starts_with("extensions")).unwrap_or_default();
        assert_eq!(line.contains("permessage-deflate"), deflate, "{name} reports {line:?}:\n{output}");
        let line = output.lines().find(|l| l.starts_with("closed ")).unwrap_or_default();
        assert_eq!(line.trim_end(), "closed 4001", "{output}");
        let seen = tokio::time::timeout(STEP, seen.recv()).await.expect("report in time").expect("report");
        assert_eq!(seen.deflate, deflate);
        let closed = seen.closed.expect("ended");
        assert_eq!((closed.code.as_u16(), closed.cause), (4001, CloseCause::PeerInitiated));
        assert_eq!(closed.reason, format!("bye from {name}"));
    });
}

#[test]
fn python_client_against_axum() {
    peer_against_axum(false, &[tether_tests::peer::PYTHON, "tests/peers/py_client.py"], "python");
}

#[test]
fn python_client_against_axum_with_deflate() {
    peer_against_axum(true, &[tether_tests::peer::PYTHON, "tests/peers/py_client.py"], "python");
}

#[test]
fn node_client_against_axum() {
    peer_against_axum(false, &["node", "tests/peers/node_client.js"], "node");
}

#[test]
fn node_client_against_axum_with_deflate() {
    peer_against_axum(true, &["node", "tests/peers/node_client.js"], "node");
}

// ----- Tether's client over a hyper HTTP/1.1 client connection -----

/// A hyper HTTP/1.1 client connection to `addr`, its task driven with upgrades.
async fn hyper_client(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<http_body_util::Empty<Bytes>> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.expect("HTTP/1.1 handshake");
    tokio::spawn(conn.with_upgrades());
    send
}

/// `tether_tokio::hyper::connect` upgrades a hyper client connection: subprotocol and
/// permessage-deflate agreed with Tether's server in hyper, the usual exchange and close.
#[test]
fn tether_client_over_a_hyper_client_connection() {
    run(async {
        let (addr, mut seen) = hyper_server(true).await;
        let mut send = hyper_client(addr).await;
        let request = tether_tokio::proto::ClientRequest::new(addr.to_string(), "/ws").protocol("chat");
        let ws = tether_tokio::hyper::connect(&mut send, request, client_config(true)).await.expect("upgrade");
        assert_eq!(ws.protocol(), Some("chat"));
        assert!(ws.deflate().is_some(), "permessage-deflate agreed");
        let seen = exchange(ws, &mut seen).await;
        assert_eq!((seen.protocol.as_deref(), seen.deflate), (Some("chat"), true));
    });
}

/// The same against another implementation, axum's own extractor (tungstenite): the
/// subprotocol agreed, the deflate offer declined, messages echoed; and a refusal (404) is
/// the typed status the raw client reports.
#[test]
fn tether_client_over_hyper_against_axums_own_extractor() {
    use axum::extract::ws::{Message as AxMessage, WebSocketUpgrade as AxUpgrade};
    run(async {
        let (listener, addr) = listen().await;
        let app = Router::new().route(
            "/echo",
            get(|ws: AxUpgrade| async move {
                ws.protocols(["chat"]).on_upgrade(|mut socket| async move {
                    while let Some(Ok(message)) = socket.recv().await {
                        if matches!(message, AxMessage::Text(_) | AxMessage::Binary(_))
                            && socket.send(message).await.is_err()
                        {
                            break;
                        }
                    }
                })
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

        let mut send = hyper_client(addr).await;
        let missing = tether_tokio::proto::ClientRequest::new(addr.to_string(), "/nowhere");
        let refused = tether_tokio::hyper::connect(&mut send, missing, client_config(true)).await;
        assert!(
            matches!(
                refused,
                Err(tether_tokio::hyper::HyperError::Handshake(tether_tokio::HandshakeError::UnexpectedStatus {
                    status: 404,
                    ..
                }))
            ),
            "{refused:?}"
        );

        let mut send = hyper_client(addr).await;
        let request = tether_tokio::proto::ClientRequest::new(addr.to_string(), "/echo").protocol("chat");
        let mut ws = tether_tokio::hyper::connect(&mut send, request, client_config(true)).await.expect("upgrade");
        assert_eq!(ws.protocol(), Some("chat"));
        assert!(ws.deflate().is_none(), "tungstenite declines permessage-deflate");
        let big = Bytes::from(vec![0x5a_u8; 1 << 20]);
        for m in [Message::text("hello"), Message::binary(big)] {
            ws.send(m.clone()).await.expect("send");
            let echoed =
                tokio::time::timeout(STEP, ws.recv()).await.expect("echo in time").expect("recv").expect("a message");
            assert_eq!(echoed, m);
        }
        let closed = tether_tests::close_and_wait(&mut ws, STEP).await.expect("closed in time");
        assert_eq!((closed.code, closed.cause), (CloseCode::NORMAL, CloseCause::LocallyInitiated));
    });
}
