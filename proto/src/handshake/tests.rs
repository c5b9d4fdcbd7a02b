//! Cross-role handshake tests: client ↔ server round trips, randomly chunked input, and
//! heads as real peers (Chromium, Python `websockets`) send them. Single-role rules are
//! tested next to their code in `server.rs`, `client.rs`, `http.rs` and `url.rs`.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::*;
use crate::config::{Config, Role};
use crate::error::{ApiMisuse, HandshakeError, PeerMisbehaved};
use crate::rng::SeededRng;
use crate::time::Instant;
use crate::transmit::Transmit;
use tether_testkit::Chunker;

fn seeded(seed: u64) -> Config {
    Config::builder().rng(Arc::new(SeededRng::new(seed))).build().unwrap()
}

/// Key / accept pair quoted in many references (e.g. Wikipedia's WebSocket article).
const KEY: &str = "x3JJHMbDL1EzLkh9GBhXDw==";
const ACCEPT: &str = "HSmrc0sMlYUkAGmm5OPpG2HaGWk=";

/// What Chromium (desktop, v124) sends for `new WebSocket("ws://localhost:8765/chat",
/// ["chat", "superchat"])` from a page on localhost:8000.
fn chromium_request() -> Vec<u8> {
    format!(
        "GET /chat HTTP/1.1\r\n\
Host: localhost:8765\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: http://localhost:8000\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Cookie: sid=abc123; theme=dark\r\n\
Sec-WebSocket-Key: {KEY}\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
\r\n"
    )
    .into_bytes()
}

// Interop (real peers, as the manual's design chapter asks): a Chromium request is accepted,
// everything the app needs is exposed, and the 101 carries the right accept and only the
// chosen protocol.
#[test]
fn chromium_request_is_accepted() {
    let mut hs = ServerHandshake::new(Config::default());
    let req = hs.receive(Instant::ZERO, &chromium_request()).unwrap().unwrap();
    assert_eq!((req.path(), req.query(), req.host()), ("/chat", None, Some("localhost:8765")));
    assert_eq!(req.origin(), Some("http://localhost:8000"));
    assert_eq!(req.header("cookie"), Some("sid=abc123; theme=dark"));
    assert_eq!(req.protocols(), ["chat", "superchat"]);
    assert_eq!(req.extensions(), ["permessage-deflate; client_max_window_bits"]);
    assert_eq!(req.key(), KEY);
    let resp = hs.response_bytes(&AcceptOptions::new().protocol("superchat")).unwrap();
    let text = core::str::from_utf8(&resp).unwrap();
    assert!(text.contains(&format!("\r\nSec-WebSocket-Accept: {ACCEPT}\r\n")));
    assert!(text.contains("\r\nSec-WebSocket-Protocol: superchat\r\n"));
    assert!(!text.contains("Extensions"), "deflate is declined by not answering it");
}

// Interop: Firefox sends `Connection: keep-alive, Upgrade`, which hostile peers A7 (see the
// manual) requires to be accepted.
#[test]
fn firefox_connection_header_is_accepted() {
    let text = String::from_utf8(chromium_request())
        .unwrap()
        .replace("Connection: Upgrade", "Connection: keep-alive, Upgrade");
    assert!(ServerHandshake::new(Config::default()).receive(Instant::ZERO, text.as_bytes()).unwrap().is_some());
}

// Interop: what Python `websockets` (13.x, asyncio client) sends.
#[test]
fn python_websockets_request_is_accepted() {
    let request = format!(
        "GET /ws?token=abc HTTP/1.1\r\n\
Host: 127.0.0.1:9001\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: {KEY}\r\n\
Sec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
User-Agent: Python/3.12 websockets/13.1\r\n\
\r\n"
    );
    let mut hs = ServerHandshake::new(Config::default());
    let req = hs.receive(Instant::ZERO, request.as_bytes()).unwrap().unwrap();
    assert_eq!((req.path(), req.query(), req.origin()), ("/ws", Some("token=abc"), None));
    assert!(req.protocols().is_empty());
    let resp = hs.response_bytes(&AcceptOptions::new()).unwrap();
    assert!(core::str::from_utf8(&resp).unwrap().contains(ACCEPT));
}

// Interop: a Python `websockets` server's 101 (with Date and Server headers, headers in its
// order) is accepted by the client, and its 403 refusal is a typed UnexpectedStatus (B1).
#[test]
fn python_websockets_responses() {
    let request = ClientRequest::from_url("ws://127.0.0.1:8765/").unwrap().protocol("chat");
    let mut hs = ClientHandshake::new(request.clone(), seeded(9)).unwrap();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\n\
Date: Mon, 01 Jul 2024 12:00:00 GMT\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: {}\r\n\
Sec-WebSocket-Protocol: chat\r\n\
Server: Python/3.12 websockets/13.1\r\n\
\r\n",
        hs.expected_accept()
    );
    let resp = hs.receive(Instant::ZERO, response.as_bytes()).unwrap().unwrap();
    assert_eq!((resp.status(), resp.protocol()), (101, Some("chat")));
    assert_eq!(resp.header("server"), Some("Python/3.12 websockets/13.1"));

    let mut hs = ClientHandshake::new(request, seeded(9)).unwrap();
    let refusal = b"HTTP/1.1 403 Forbidden\r\n\
Date: Mon, 01 Jul 2024 12:00:00 GMT\r\n\
Connection: close\r\n\
Content-Length: 52\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Failed to open a WebSocket connection: invalid origin.\n";
    match hs.receive(Instant::ZERO, refusal).unwrap_err() {
        HandshakeError::UnexpectedStatus { status, headers } => {
            assert_eq!(status, 403);
            assert_eq!(headers.len(), 4);
            assert_eq!(headers[3].value_str(), Some("text/plain; charset=utf-8"));
        }
        other => panic!("{other:?}"),
    }
}

// RFC 6455 §4 end to end: client request → server → accept → 101 → client, protocol
// negotiated, the first frames on both sides carried over exactly (hostile peers A11).
#[test]
fn client_server_round_trip() {
    let request = ClientRequest::from_url("ws://LOCALHOST:9001/echo?x=1")
        .unwrap()
        .origin("https://app.example")
        .protocol("v2.json")
        .protocol("v1.json")
        .header("Authorization", "Bearer t");
    let mut client = ClientHandshake::new(request, seeded(5)).unwrap();
    let mut server = ServerHandshake::new(Config::default());

    let client_frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    let req =
        server.receive(Instant::ZERO, &[request_of(&mut client), client_frame.to_vec()].concat()).unwrap().unwrap();
    assert_eq!((req.path(), req.query(), req.host()), ("/echo", Some("x=1"), Some("localhost:9001")));
    assert_eq!(req.origin(), Some("https://app.example"));
    assert_eq!(req.header("authorization"), Some("Bearer t"));
    assert_eq!(req.protocols(), ["v2.json", "v1.json"]);
    let chosen = req.protocols()[1].clone();
    let options = AcceptOptions::new().protocol(chosen).header("X-Server", "tether");
    let response = server.response_bytes(&options).unwrap();
    assert_eq!(server.leftover(), Some(&client_frame[..]));
    let conn = server.accept(&options).unwrap();
    assert_eq!((conn.role(), conn.protocol()), (Role::Server, Some("v1.json")));

    let server_frame = b"\x81\x05Hello";
    let resp = client.receive(Instant::ZERO, &[&response[..], server_frame].concat()).unwrap().unwrap();
    assert_eq!((resp.protocol(), resp.header("x-server")), (Some("v1.json"), Some("tether")));
    assert_eq!(client.leftover(), Some(&server_frame[..]));
    let conn = client.into_connection().unwrap();
    assert_eq!((conn.role(), conn.protocol()), (Role::Client, Some("v1.json")));
}

// Hostile peers A4/A11 (and B4 mirrored), under random chunking:
// any chunking of request + frames gives the same request and the exact leftover, both
// roles, over 200 seeded chunkings.
#[test]
fn random_chunking_is_equivalent() {
    let frames = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58\x88\x80\x01\x02\x03\x04";
    let wire = [&chromium_request()[..], frames].concat();
    let mut client =
        ClientHandshake::new(ClientRequest::from_url("ws://a/").unwrap().protocol("p"), seeded(1)).unwrap();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\nupgrade: WebSocket\nconnection: upgrade\nsec-websocket-accept: {}\nsec-websocket-protocol: p\n\n",
        client.expected_accept()
    );
    let client_wire = [response.as_bytes(), frames].concat();
    for round in 0..200 {
        let max = [1, 3, 17, 64, 512][round % 5];
        let mut chunker = Chunker::new(42 + round as u64, max);
        let mut hs = ServerHandshake::new(Config::default());
        let mut done = false;
        for c in chunker.split(&wire) {
            done = hs.receive(Instant::ZERO, c).unwrap().is_some();
        }
        assert!(done);
        assert_eq!(hs.request().unwrap().protocols(), ["chat", "superchat"]);
        assert_eq!(hs.leftover(), Some(&frames[..]), "round {round}");

        let mut hs =
            ClientHandshake::new(ClientRequest::from_url("ws://a/").unwrap().protocol("p"), seeded(1)).unwrap();
        for c in chunker.split(&client_wire) {
            done = hs.receive(Instant::ZERO, c).unwrap().is_some();
        }
        assert!(done);
        assert_eq!(hs.leftover(), Some(&frames[..]), "round {round}");
    }
    assert!(client.receive(Instant::ZERO, &client_wire).unwrap().is_some());
}

// The accept path hands the connection the 101 bytes, the leftover and the protocol.
#[test]
fn accept_hands_response_leftover_and_protocol_to_the_connection() {
    let frame = b"\x81\x80\x00\x00\x00\x00";
    let mut hs = ServerHandshake::new(Config::default());
    hs.receive(Instant::ZERO, &[&chromium_request()[..], frame].concat()).unwrap();
    let expected = hs.response_bytes(&AcceptOptions::new().protocol("chat")).unwrap();
    let conn = hs.accept(&AcceptOptions::new().protocol("chat")).unwrap();
    let mut conn = conn;
    assert_eq!(crate::pair::drain(&mut conn), expected, "the 101 goes out first");
    assert_eq!(conn.poll_event(), Some(crate::Event::Message(crate::Message::text(""))), "leftover parsed as a frame");
    assert_eq!(conn.protocol(), Some("chat"));
}

// The client's connection gets the leftover and the protocol.
#[test]
fn client_connection_gets_leftover_and_protocol() {
    let mut hs = ClientHandshake::new(ClientRequest::from_url("ws://a/").unwrap().protocol("p"), seeded(1)).unwrap();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: p\r\n\r\n",
        hs.expected_accept()
    );
    hs.receive(Instant::ZERO, &[response.as_bytes(), b"\x89\x00"].concat()).unwrap();
    let mut conn = hs.into_connection().unwrap();
    assert_eq!(conn.poll_event(), Some(crate::Event::Message(crate::Message::Ping(bytes::Bytes::new()))));
    assert!(
        crate::pair::drain(&mut conn).starts_with(&[0x8a, 0x80]),
        "only the automatic pong: the request went out before"
    );
    assert_eq!(conn.protocol(), Some("p"));
}

// RFC 6455 §4.2.2 known vector, independent of the RFC's own.
#[test]
fn second_accept_vector() {
    assert_eq!(accept_key(KEY.as_bytes()), ACCEPT);
}

/// Everything a handshake has queued for the transport.
fn request_of(hs: &mut impl Transmit) -> Vec<u8> {
    let mut out = Vec::new();
    hs.drain_transmit(&mut out);
    out
}

// ---- the one total deadline ----

fn at(secs: u64) -> Instant {
    Instant::ZERO + core::time::Duration::from_secs(secs)
}

/// A server whose handshake deadline is 10 s (the default).
fn ten_second_server() -> ServerHandshake {
    ServerHandshake::new(Config::default())
}

// Hostile peers A1: a request dripped slowly fails at the total deadline counted from the
// first instant given; arriving bytes do not move it. Nothing is answered to a timeout.
#[test]
fn the_server_deadline_is_total_rfc6455_4_2() {
    let request = chromium_request();
    let mut hs = ten_second_server();
    hs.handle_timeout(at(0));
    assert_eq!(hs.poll_timeout(), Some(at(10)));
    for (i, byte) in request[..request.len() - 1].iter().enumerate() {
        let now = Instant::ZERO + core::time::Duration::from_millis(i as u64 * 9_999 / request.len() as u64);
        assert_eq!(hs.receive(now, core::slice::from_ref(byte)).map(|r| r.is_some()), Ok(false));
        assert_eq!(hs.poll_timeout(), Some(at(10)), "a byte moved the deadline");
    }
    let timeout = HandshakeError::Timeout { after: core::time::Duration::from_secs(10) };
    assert_eq!(hs.receive(at(10), &request[request.len() - 1..]).map(|r| r.is_some()), Err(timeout.clone()));
    assert!(hs.should_close());
    assert_eq!(hs.poll_timeout(), None);
    assert_eq!(hs.buffered_transmit(), 0, "a timeout is not answered");
    assert_eq!(hs.accept(&AcceptOptions::new()).unwrap_err(), timeout);
}

// An application that takes too long to decide: the deadline fires while the complete
// request waits for an answer, and `accept` then fails.
#[test]
fn the_server_deadline_covers_the_decision() {
    let mut hs = ten_second_server();
    assert!(hs.receive(at(0), &chromium_request()).unwrap().is_some());
    assert_eq!(hs.poll_timeout(), Some(at(10)));
    hs.handle_timeout(at(9));
    assert!(!hs.should_close());
    hs.handle_timeout(at(10));
    assert!(hs.should_close());
    assert!(matches!(hs.accept(&AcceptOptions::new()), Err(HandshakeError::Timeout { .. })));
}

// The deadline lasts until the 101 is written: the accepted connection carries it, and a
// peer that never reads the response ends the connection with its own cause.
#[test]
fn the_connection_carries_the_deadline_until_the_response_is_written() {
    use crate::event::{CloseCause, Event};
    let mut hs = ten_second_server();
    assert!(hs.receive(at(2), &chromium_request()).unwrap().is_some());
    let mut conn = hs.accept(&AcceptOptions::new()).unwrap();
    assert!(conn.poll_timeout().is_some_and(|t| t <= at(2)), "output waits: the write clock wants a tick");
    conn.handle_timeout(at(3));
    assert_eq!(conn.poll_timeout(), Some(at(12)));
    conn.handle_timeout(at(12));
    match conn.poll_event() {
        Some(Event::Closed(c)) => assert_eq!(c.cause, CloseCause::HandshakeTimeout),
        other => panic!("{other:?}"),
    }

    // Written in time: the deadline is gone.
    let mut hs = ten_second_server();
    assert!(hs.receive(at(2), &chromium_request()).unwrap().is_some());
    let mut conn = hs.accept(&AcceptOptions::new()).unwrap();
    conn.handle_timeout(at(3));
    let _ = request_of(&mut conn);
    conn.handle_timeout(at(30));
    assert_eq!(conn.poll_event(), None);
    assert!(conn.ending().is_none());
}

// A refusal and an error response leave through the same route as every other byte, once.
#[test]
fn every_answer_leaves_through_transmit() {
    let mut hs = ten_second_server();
    let err = hs.receive(at(0), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap_err();
    assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingUpgrade));
    assert!(hs.should_close());
    let first = request_of(&mut hs);
    assert!(first.starts_with(b"HTTP/1.1 400 Bad Request\r\n"), "{:?}", String::from_utf8_lossy(&first));
    // Errors are sticky and answered once; a refusal after it adds nothing.
    assert_eq!(hs.receive(at(0), b"more").unwrap_err(), err);
    hs.reject(403, b"no");
    assert!(request_of(&mut hs).is_empty());

    let mut hs = ten_second_server();
    assert!(hs.receive(at(0), &chromium_request()).unwrap().is_some());
    hs.reject(403, b"no");
    hs.reject(404, b"twice");
    let out = request_of(&mut hs);
    assert!(out.starts_with(b"HTTP/1.1 403 Forbidden\r\n") && out.ends_with(b"\r\n\r\nno"));
    assert_eq!(hs.accept(&AcceptOptions::new()).unwrap_err(), HandshakeError::ApiMisuse(ApiMisuse::AlreadyAnswered));
}

// The client's deadline counts from the first instant it is given (the start of the
// connection attempt) and covers the whole response.
#[test]
fn the_client_deadline_is_total() {
    let request = ClientRequest::from_url("ws://h/").unwrap();
    let mut client = ClientHandshake::new(request, seeded(3)).unwrap();
    client.handle_timeout(at(100));
    assert_eq!(client.poll_timeout(), Some(at(110)));
    assert_eq!(client.receive(at(105), b"HTTP/1.1 101 Switching").map(|r| r.is_some()), Ok(false));
    assert!(matches!(client.receive(at(110), b" Protocols\r\n"), Err(HandshakeError::Timeout { .. })));
    assert_eq!(client.poll_timeout(), None);
    assert!(matches!(client.into_connection(), Err(HandshakeError::Timeout { .. })));
}
