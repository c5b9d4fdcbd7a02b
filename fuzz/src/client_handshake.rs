//! Target `client_handshake`: arbitrary bytes as the response to a real `ClientHandshake`,
//! and requests built from input fields checked end to end against our server.

use tether_proto::{
    AcceptOptions, ApiMisuse, ClientHandshake, ClientRequest, Config, HandshakeError, Instant, Role, ServerHandshake,
    Transmit,
};
use tether_testkit::Chunker;

use super::drive::drain;
use super::handshake::{check_after_handshake, head_end, line_value, written_head_lines};
use super::input::{config_with, Cursor};
use super::tally::tally;

/// Response templates (`{accept}` is replaced by the right `Sec-WebSocket-Accept`).
pub const RESPONSES: &[&str] = &[
    // RFC 6455 §1.3 / tether's own shape.
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
    // Python websockets.
    "HTTP/1.1 101 Switching Protocols\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nServer: Python/3.12 websockets/12.0\r\n\r\n",
    // Node ws.
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
    // nginx in front of something.
    "HTTP/1.1 101 Switching Protocols\r\nServer: nginx/1.24.0\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nConnection: upgrade\r\nUpgrade: WebSocket\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
];

/// The `Sec-WebSocket-Key` the fuzzed client sends: its rng is seeded with this.
pub(crate) const CLIENT_SEED: u64 = 0x7e7e_7e7e;

thread_local! {
    /// The request our fuzzed client sends and the accept value answering it.
    static CLIENT_ACCEPT: std::cell::RefCell<Option<(Vec<u8>, String)>> =
        const { std::cell::RefCell::new(None) };
}

pub(crate) fn client_config(limit: usize, max_headers: usize) -> Config {
    config_with(CLIENT_SEED, |b| {
        b.max_handshake_bytes(limit)
            .max_handshake_headers(max_headers)
            .max_frame_size(16 << 10)
            .max_message_size(64 << 10)
    })
}

/// The right `Sec-WebSocket-Accept` for `request`, computed by our own server.
pub(crate) fn accept_for(request: &[u8]) -> String {
    if let Some(hit) = CLIENT_ACCEPT.with(|c| c.borrow().as_ref().filter(|(r, _)| r == request).map(|(_, a)| a.clone()))
    {
        return hit;
    }
    let mut server = ServerHandshake::new(Config::default());
    let parsed = server.receive(Instant::ZERO, request).map(|r| r.is_some());
    assert_eq!(parsed, Ok(true), "our server rejects our client's request:\n{}", String::from_utf8_lossy(request));
    let mut conn = server.accept(&AcceptOptions::default()).expect("default accept");
    let mut response = Vec::new();
    drain(&mut conn, &mut Chunker::mixed(1, 0), &mut response);
    let lines = written_head_lines(&response, "accept");
    let accept = line_value(&lines, "sec-websocket-accept").expect("our 101 carries Sec-WebSocket-Accept");
    let accept = String::from_utf8(accept.to_vec()).expect("base64");
    CLIENT_ACCEPT.with(|c| *c.borrow_mut() = Some((request.to_vec(), accept.clone())));
    accept
}

/// Arbitrary bytes as the server's response to a real `ClientHandshake` (raw, after a valid
/// prefix, or after a complete valid response from a real server's header set), fed in
/// input-derived chunks: no panic; never more than the head limit buffered; an error
/// sticks; before success `into_connection` fails with a typed error; on success the
/// connection holds exactly the bytes after the head and decodes them (and what follows) as
/// the reference decoder does. Mode 4 builds requests instead (`from_url`, or
/// `ClientRequest::new` with origin, a header and subprotocols from the input): whatever
/// `ClientHandshake::new` accepts is a well-formed head without injected lines that our
/// server accepts, with the same subprotocol offer, and a full handshake with it completes.
///
/// Layout: byte 0 = mode, byte 1 = chunking and limits, rest = input.
pub fn client_handshake(data: &[u8]) {
    let mut c = Cursor { data };
    let mode = c.u8();
    let chunking = c.u8();
    if mode % 5 == 4 {
        return client_build(mode, c.rest());
    }
    let limit = if chunking & 0x80 != 0 { 256 } else { 8 << 10 };
    let max_headers = if chunking & 0x20 != 0 { 8 } else { 64 };
    let config = client_config(limit, max_headers);
    let request = ClientRequest::from_url("ws://example.com/chat").expect("a valid URL");
    let mut hs = ClientHandshake::new(request, config.clone()).expect("a valid request");
    let mut request_bytes = Vec::new();
    hs.drain_transmit(&mut request_bytes);
    let tail = c.rest();
    let template = RESPONSES[usize::from(mode / 5) % RESPONSES.len()];
    let input: Vec<u8> = match mode % 5 {
        0 => tail.to_vec(),
        1 | 2 => {
            let full = template.replace("{accept}", &accept_for(&request_bytes));
            let mut v = full.as_bytes()[..full.len() - 2].to_vec();
            if mode % 5 == 2 {
                v.truncate(usize::from(mode) * 11 % (full.len() - 2));
            }
            v.extend_from_slice(tail);
            v
        }
        _ => {
            let full = template.replace("{accept}", &accept_for(&request_bytes));
            let mut v = full.into_bytes();
            v.extend_from_slice(tail);
            v
        }
    };
    let max_chunk = [1, 5, 64, 0][usize::from(chunking & 3)];
    let mut chunker = Chunker::mixed(u64::from(chunking), max_chunk);
    let mut fed = 0;
    let mut done = false;
    while fed < input.len() {
        let n = chunker.next(input.len() - fed);
        let result = hs.receive(Instant::ZERO, &input[fed..fed + n]).map(|r| r.is_some());
        fed += n;
        match result {
            Ok(true) => {
                done = true;
                break;
            }
            Ok(false) => assert!(
                fed <= limit,
                "{fed} bytes buffered without a complete response head, over the {limit}-byte limit"
            ),
            Err(e) => {
                tally("client handshake: ", &e);
                let again = hs.receive(Instant::ZERO, &input[fed..]).map(|r| r.is_some());
                assert_eq!(again, Err(e.clone()), "the error did not stick");
                assert_eq!(hs.into_connection().err(), Some(e), "into_connection after an error");
                return;
            }
        }
    }
    if !done {
        assert_eq!(
            hs.into_connection().err(),
            Some(HandshakeError::ApiMisuse(ApiMisuse::Incomplete)),
            "into_connection() before the response was complete"
        );
        return;
    }
    if chunking & 0x40 != 0 && fed < input.len() {
        let n = chunker.next(input.len() - fed);
        let more = hs.receive(Instant::ZERO, &input[fed..fed + n]).map(|r| r.is_some());
        assert_eq!(more, Ok(true), "receive after completion");
        fed += n;
    }
    tally("client handshake: ", &"complete");
    let conn = hs.into_connection().expect("into_connection() after a complete response");
    assert_eq!(conn.role(), Role::Client);
    assert_eq!(conn.protocol(), None, "a subprotocol nobody offered");
    let leftover = conn.buffered_receive();
    assert!(leftover <= fed, "{leftover} leftover bytes but only {fed} fed");
    let head_len = fed - leftover;
    assert!(head_len <= limit, "a {head_len}-byte response head was accepted");
    assert_eq!(head_end(&input[..fed]), Some(head_len), "the response head ended elsewhere than the first empty line");
    let mut chunker = Chunker::mixed(u64::from(chunking) << 8, 97);
    check_after_handshake(conn, &input[head_len..], leftover, &config, &mut chunker);
}

/// Build a request from input fields (NUL-separated: URL or host, path, origin, header name,
/// header value, subprotocols...) and check it end to end against our server.
pub(crate) fn client_build(mode: u8, rest: &[u8]) {
    let text = String::from_utf8_lossy(rest).into_owned();
    let fields: Vec<&str> = text.split('\0').collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or("");
    let mut request = if mode & 0x80 == 0 {
        match ClientRequest::from_url(field(0)) {
            Ok(r) => r,
            Err(e) => {
                assert!(matches!(e, HandshakeError::ApiMisuse(ApiMisuse::InvalidUrl(_))), "from_url failed with {e:?}");
                return;
            }
        }
    } else {
        ClientRequest::new(field(0), field(1))
    };
    let _ = (request.host(), request.port(), request.is_secure(), request.path(), request.host_header());
    let origin = (mode & 0x40 != 0).then(|| field(2));
    if let Some(o) = origin {
        request = request.origin(o);
    }
    let header = (mode & 0x20 != 0).then(|| (field(3), field(4)));
    if let Some((n, v)) = header {
        request = request.header(n, v);
    }
    let protocols: Vec<&str> = fields.iter().skip(5).copied().take(4).collect();
    for p in &protocols {
        request = request.protocol(*p);
    }
    let hs = match ClientHandshake::new(request, client_config(8 << 10, 64)) {
        Ok(hs) => hs,
        Err(e) => {
            tally("client build: ", &e);
            assert!(
                matches!(
                    e,
                    HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(_))
                        | HandshakeError::ApiMisuse(ApiMisuse::InvalidUrl(_))
                ),
                "ClientHandshake::new failed with {e:?}"
            );
            return;
        }
    };
    let mut hs = hs;
    let mut bytes = Vec::new();
    hs.drain_transmit(&mut bytes);
    let mut lines = written_head_lines(&bytes, "request");
    assert_eq!(head_end(&bytes), Some(bytes.len()), "an empty line inside the request head");
    let request_line = lines.remove(0);
    assert!(request_line.starts_with(b"GET /") && request_line.ends_with(b" HTTP/1.1"));
    let expected_lines =
        5 + usize::from(origin.is_some()) + usize::from(!protocols.is_empty()) + usize::from(header.is_some());
    assert_eq!(lines.len(), expected_lines, "request header lines (injection?)");
    let mut server = ServerHandshake::new(Config::default());
    let parsed = server.receive(Instant::ZERO, &bytes).map(|r| r.cloned());
    let req = match parsed {
        Ok(Some(req)) => req,
        other => panic!("our server rejects our client's request: {other:?}\n{}", String::from_utf8_lossy(&bytes)),
    };
    let offered: Vec<String> = protocols.iter().map(|p| String::from(*p)).collect();
    assert_eq!(req.protocols(), offered.as_slice(), "the subprotocol offer changed on the way");
    if let Some(o) = origin {
        assert_eq!(req.origin(), Some(o.trim_matches(|c| c == ' ' || c == '\t')), "Origin");
    }
    // Full handshake, the server choosing the last offer.
    let options = match protocols.last() {
        Some(p) => AcceptOptions::new().protocol(*p),
        None => AcceptOptions::new(),
    };
    let mut conn = server.accept(&options).expect("accepting an offered subprotocol");
    let mut response = Vec::new();
    drain(&mut conn, &mut Chunker::mixed(3, 0), &mut response);
    let mut hs = hs;
    let got = hs.receive(Instant::ZERO, &response).map(|r| r.map(|r| r.protocol().map(String::from)));
    assert_eq!(got, Ok(Some(protocols.last().map(|p| String::from(*p)))), "our client rejects our server's response");
    tally("client build: ", &"complete");
    let client = hs.into_connection().expect("complete");
    assert_eq!(client.protocol(), protocols.last().copied());
    assert_eq!(client.buffered_receive(), 0);
}
