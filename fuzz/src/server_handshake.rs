//! Target `server_handshake`: arbitrary bytes as an upgrade request (raw, after a real
//! client's prefix, or after a whole real request), then accept or reject.

use tether_proto::{AcceptOptions, ApiMisuse, HandshakeError, Instant, ServerHandshake, Transmit};
use tether_testkit::Chunker;

use super::drive::drain;
use super::handshake::{check_after_handshake, check_response_head, find, head_end, is_token, line_value};
use super::input::{config_with, Cursor};
use super::tally::tally;

/// Real upgrade requests as browsers and libraries send them (header sets and order as those
/// clients write them); used as valid prefixes and as seeds.
pub const REQUESTS: &[&str] = &[
    // Chromium.
    "GET /chat HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\nUpgrade: websocket\r\nOrigin: https://example.com\r\nSec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    // Firefox.
    "GET /chat HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nSec-WebSocket-Version: 13\r\nOrigin: https://example.com\r\nSec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nConnection: keep-alive, Upgrade\r\nSec-Fetch-Dest: empty\r\nSec-Fetch-Mode: websocket\r\nSec-Fetch-Site: same-origin\r\nPragma: no-cache\r\nCache-Control: no-cache\r\nUpgrade: websocket\r\n\r\n",
    // Python websockets.
    "GET /chat HTTP/1.1\r\nHost: localhost:8765\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nUser-Agent: Python/3.12 websockets/12.0\r\n\r\n",
    // Node ws.
    "GET /chat HTTP/1.1\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: E4WSEcseoWr4csPLS2QJHA==\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nHost: localhost:8080\r\n\r\n",
    // curl.
    "GET /chat HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nConnection: Upgrade\r\n\r\n",
    // RFC 6455 §1.3, with a subprotocol offer.
    "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n",
];

/// Arbitrary bytes as an upgrade request (raw, after a real client's valid prefix, or after a
/// complete real request), fed in input-derived chunks: no panic; never more than the head
/// limit buffered; an error sticks and maps to a well-formed error response with its status;
/// a complete request can be rejected (well-formed response, any status) or accepted (with
/// input-chosen options: typed errors only, and no header injection), and the accepted
/// connection holds exactly the bytes after the head and decodes them (and what follows)
/// exactly as the reference decoder does.
///
/// Layout: byte 0 = mode, byte 1 = chunking and limits, byte 2 = what to do on success,
/// rest = input.
pub fn server_handshake(data: &[u8]) {
    let mut c = Cursor { data };
    let mode = c.u8();
    let chunking = c.u8();
    let action = c.u8();
    let tail = c.rest();
    let pick = usize::from(mode / 4) % REQUESTS.len();
    let input: Vec<u8> = match mode % 4 {
        // Raw bytes.
        0 => tail.to_vec(),
        // A real request without its final empty line (1) or cut inside the head (2), then
        // the tail.
        1 | 2 => {
            let req = REQUESTS[pick].as_bytes();
            let mut v = req[..req.len() - 2].to_vec();
            if mode % 4 == 2 {
                v.truncate(usize::from(mode) * 7 % (req.len() - 2));
            }
            v.extend_from_slice(tail);
            v
        }
        // A complete real request, then the tail (frames for the connection).
        _ => {
            let mut v = REQUESTS[pick].as_bytes().to_vec();
            v.extend_from_slice(tail);
            v
        }
    };
    let limit = if chunking & 0x80 != 0 { 256 } else { 8 << 10 };
    let max_headers = if chunking & 0x20 != 0 { 8 } else { 64 };
    let config = config_with(u64::from(mode), |b| {
        b.max_handshake_bytes(limit)
            .max_handshake_headers(max_headers)
            .max_frame_size(16 << 10)
            .max_message_size(64 << 10)
    });
    let max_chunk = [1, 5, 64, 0][usize::from(chunking & 3)];
    let mut chunker = Chunker::mixed(u64::from(chunking), max_chunk);
    let mut hs = ServerHandshake::new(config.clone());
    let mut fed = 0;
    let mut complete = false;
    while fed < input.len() {
        let n = chunker.next(input.len() - fed);
        let result = hs.receive(Instant::ZERO, &input[fed..fed + n]).map(|r| r.is_some());
        fed += n;
        match result {
            Ok(true) => {
                complete = true;
                break;
            }
            Ok(false) => {
                assert!(fed <= limit, "{fed} bytes buffered without a complete head, over the {limit}-byte limit")
            }
            Err(e) => {
                tally("server handshake: ", &e);
                let again = hs.receive(Instant::ZERO, &input[fed..]).map(|r| r.is_some());
                assert_eq!(again, Err(e.clone()), "the error did not stick");
                assert!(hs.should_close(), "a failed request does not say to close");
                let mut response = Vec::new();
                hs.drain_transmit(&mut response);
                match (!response.is_empty()).then_some(response) {
                    Some(response) => {
                        let status = e
                            .http_status()
                            .unwrap_or_else(|| panic!("an error response for {e:?}, which has no HTTP status"));
                        check_response_head(&response, status, "error_response");
                    }
                    None => panic!("a request error without an error response: {e:?}"),
                }
                return;
            }
        }
    }
    if !complete {
        assert!(hs.request().is_none());
        assert_eq!(
            hs.accept(&AcceptOptions::new()).err(),
            Some(HandshakeError::ApiMisuse(ApiMisuse::Incomplete)),
            "accept before a complete request"
        );
        return;
    }
    // Bytes fed after completion are kept for the connection too.
    if chunking & 0x40 != 0 && fed < input.len() {
        let n = chunker.next(input.len() - fed);
        let more = hs.receive(Instant::ZERO, &input[fed..fed + n]).map(|r| r.is_some());
        assert_eq!(more, Ok(true), "receive after completion");
        fed += n;
    }
    let request = hs.request().expect("a complete request").clone();
    // Every accessor works on whatever was accepted.
    let _ = (
        request.method(),
        request.uri(),
        request.path(),
        request.query(),
        request.headers().len(),
        request.host(),
        request.origin(),
        request.extensions().len(),
    );
    assert_eq!(request.key().len(), 24, "a key that is not base64 of 16 bytes");
    let offered = request.protocols().to_vec();

    if action & 1 == 1 {
        let status = [0u16, 99, 100, 101, 403, 999, 1000, 65535][usize::from((action >> 1) & 7)];
        let body = action_body(action);
        hs.reject(status, body);
        assert!(hs.should_close(), "a refusal does not say to close");
        let mut response = Vec::new();
        hs.drain_transmit(&mut response);
        let sent = if (100..=999).contains(&status) { status } else { 500 };
        let lines = check_response_head(&response, sent, "reject");
        assert!(response.ends_with(body), "reject: body missing");
        let length = line_value(&lines, "content-length").expect("reject: Content-Length");
        assert_eq!(length, body.len().to_string().as_bytes(), "reject: Content-Length");
        return;
    }
    let text = String::from_utf8_lossy(&tail[..tail.len().min(12)]).into_owned();
    let (options, expect_ok, extra_lines) = match (action >> 1) & 3 {
        0 => (AcceptOptions::new(), true, 0),
        1 => match offered.first() {
            Some(p) => (AcceptOptions::new().protocol(p.as_str()), is_token(p), 1),
            None => (AcceptOptions::new().protocol("chat"), false, 1),
        },
        2 => {
            let ok = text.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80);
            (AcceptOptions::new().header("X-Fuzz", text.as_str()), ok, 1)
        }
        _ => {
            let ok = offered.contains(&text) && is_token(&text);
            (AcceptOptions::new().protocol(text.as_str()), ok, 1)
        }
    };
    let accepted = hs.accept(&options);
    tally("server accept: ", &accepted.as_ref().map(|_| ()));
    let mut conn = match accepted {
        Ok(conn) => {
            assert!(expect_ok, "accept with {options:?} succeeded (offered {offered:?})");
            conn
        }
        Err(e) => {
            assert!(!expect_ok, "accept with {options:?} failed with {e:?} (offered {offered:?})");
            assert!(
                matches!(
                    e,
                    HandshakeError::ApiMisuse(ApiMisuse::ProtocolNotOffered(_))
                        | HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(_))
                ),
                "accept failed with an unexpected error {e:?}"
            );
            return;
        }
    };
    assert_eq!(conn.protocol(), options.chosen_protocol(), "the connection's subprotocol");
    // What followed the head in the bytes fed so far is in the connection already.
    let leftover = conn.buffered_receive();
    assert!(leftover <= fed, "{leftover} leftover bytes but only {fed} fed");
    let head_len = fed - leftover;
    assert!(head_len <= limit, "a {head_len}-byte head was accepted");
    assert_eq!(
        head_end(&input[..fed]),
        Some(head_len),
        "the head ended elsewhere than the first empty line ({leftover} leftover bytes)"
    );
    let mut chunker = Chunker::mixed(u64::from(chunking) << 8, 97);
    let mut response = Vec::new();
    drain(&mut conn, &mut chunker, &mut response);
    let lines = check_response_head(&response, 101, "accept");
    assert_eq!(
        lines.len(),
        3 + extra_lines,
        "accept wrote {} header lines, expected {} (header injection?)",
        lines.len(),
        3 + extra_lines
    );
    assert!(line_value(&lines, "sec-websocket-accept").is_some(), "101 without Sec-WebSocket-Accept");
    assert_eq!(response.len(), find(&response, b"\r\n\r\n").expect("checked") + 4, "bytes after the 101 response head");
    let config = config.clone();
    check_after_handshake(conn, &input[head_len..], leftover, &config, &mut chunker);
}

pub(crate) fn action_body(action: u8) -> &'static [u8] {
    match action >> 6 {
        0 => b"",
        1 => b"go away",
        2 => b"{\"error\":\"nope\"}\r\n\r\n",
        _ => b"\x00\xff binary",
    }
}
