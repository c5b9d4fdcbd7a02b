//! The catalogue's handshake, framing and close faults (hostile peers A5–A10, C1, C3–C8,
//! C10, D1–D7, E1–E8, E10, F1, F3, F4, H4) replayed over real sockets against a Tether server on
//! every runtime: a raw client sends the fault and must see the documented HTTP status, or
//! the documented close code followed by the end of the TCP connection. The engine's own
//! tests cover the same items without sockets; what is checked here is that the adapters
//! carry every answer to the wire and then let the connection go.

use std::io::{Read, Write};
use std::net::SocketAddr;

use tether_testkit::{Frame, LengthForm, CONTINUATION};

use super::*;

/// A server for one connection: reads the upgrade and, if it is valid, accepts it and echoes
/// until the connection ends.
async fn serve_one(config: Config) -> (SocketAddr, impl std::future::Future<Output = ()>) {
    let (listener, addr) = rt::listen().await;
    let task = rt::spawn(async move {
        let stream = rt::accept(&listener).await;
        if let Ok(upgrade) = Upgrade::<Stream, R>::read_with_config(stream, config).await {
            if let Ok(ws) = upgrade.accept().await {
                echo(ws).await;
            }
        }
    });
    (addr, task)
}

/// Sends `request` and returns the status code of the answer, having read to the end.
fn status_of(addr: SocketAddr, request: &[u8]) -> u16 {
    let mut s = raw::connect(addr);
    s.write_all(request).unwrap();
    let answer = String::from_utf8_lossy(&raw::read_to_end(&mut s)).into_owned();
    answer.get(9..12).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// Upgrades, sends `frames`, and returns the server's close code (the payload's first two
/// bytes) and the data messages it echoed first. Fails if the server does not end the TCP
/// connection after its close frame.
fn close_code_after(addr: SocketAddr, frames: &[u8]) -> (u16, Payloads) {
    let written = frames_after(addr, frames);
    let mut echoed = Vec::new();
    for (i, (opcode, payload)) in written.iter().enumerate() {
        match *opcode {
            CLOSE => {
                assert_eq!(i + 1, written.len(), "frames after the close frame: {:?}", &written[i + 1..]);
                let code = payload.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])).unwrap_or(1005);
                return (code, echoed);
            }
            TEXT | BINARY => echoed.push(payload.clone()),
            _ => {}
        }
    }
    panic!("no close frame before the end of the connection: {written:?}");
}

fn masked(opcode: u8, payload: &[u8]) -> Frame<'_> {
    Frame::new(opcode, payload).mask(Some([1, 2, 3, 4]))
}

fn request_with(edit: impl Fn(String) -> String) -> Vec<u8> {
    edit(raw::request("/")).into_bytes()
}

#[test]
fn handshake_faults_get_their_status() {
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("A5 version 8", request_with(|r| r.replace("Version: 13", "Version: 8")), 426),
        ("A5 no version", request_with(|r| r.replace("Sec-WebSocket-Version: 13\r\n", "")), 426),
        ("A6 key not base64", request_with(|r| r.replace("dGhlIHNhbXBsZSBub25jZQ==", "not base64!")), 400),
        ("A6 key of 15 bytes", request_with(|r| r.replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ")), 400),
        ("A6 no key", request_with(|r| r.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")), 400),
        ("A7 no Upgrade", request_with(|r| r.replace("Upgrade: websocket\r\n", "")), 400),
        (
            "A7 Connection without upgrade",
            request_with(|r| r.replace("Connection: Upgrade", "Connection: keep-alive")),
            400,
        ),
        ("A7 POST", request_with(|r| r.replacen("GET", "POST", 1)), 405),
        ("A7 HTTP/1.0", request_with(|r| r.replace("HTTP/1.1", "HTTP/1.0")), 400),
        (
            "A8 duplicate key",
            request_with(|r| r.replace("\r\n\r\n", "\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n")),
            400,
        ),
        ("A8 duplicate Host", request_with(|r| r.replace("\r\n\r\n", "\r\nHost: other\r\n\r\n")), 400),
        ("A8 no Host", request_with(|r| r.replace("Host: 127.0.0.1\r\n", "")), 400),
    ];
    for (item, request, status) in cases {
        run(async {
            let (addr, server) = serve_one(config()).await;
            let peer = std::thread::spawn(move || status_of(addr, &request));
            server.await;
            assert_eq!(peer.join().unwrap(), status, "{item}");
        });
    }
}

#[test]
fn framing_faults_get_their_close_code_and_the_connection_ends() {
    let long = vec![b'p'; 126];
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("C1 unmasked client frame", Frame::new(TEXT, b"hello").encode(), 1002),
        ("C3 length with the top bit set", vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], 1002),
        ("C4 length over the max frame size", masked(BINARY, b"").announce(1 << 40).encode(), 1009),
        ("C7 RSV2 set", masked(TEXT, b"x").rsv(0b010).encode(), 1002),
        ("C8 reserved data opcode 0x3", masked(0x3, b"x").encode(), 1002),
        ("C8 reserved control opcode 0xB", masked(0xB, b"x").encode(), 1002),
        ("D1 continuation with nothing to continue", masked(CONTINUATION, b"x").encode(), 1002),
        (
            "D2 new message inside a fragmented one",
            [masked(TEXT, b"a").fin(false).encode(), masked(TEXT, b"b").encode()].concat(),
            1002,
        ),
        ("D3 fragmented ping", masked(PING, b"x").fin(false).encode(), 1002),
        ("E1 ping of 126 bytes", masked(PING, &long).encode(), 1002),
        ("E4 one-byte close payload", masked(CLOSE, &[3]).encode(), 1002),
        ("E5 close code 1005", masked(CLOSE, &1005u16.to_be_bytes()).encode(), 1002),
        ("E5 close code 999", masked(CLOSE, &999u16.to_be_bytes()).encode(), 1002),
        ("E6 close reason not UTF-8", masked(CLOSE, &[0x03, 0xe8, 0xff, 0xfe]).encode(), 1007),
        ("F1 surrogate in text", masked(TEXT, b"\xed\xa0\x80").encode(), 1007),
        (
            // The second and third fragments never come: the verdict cannot wait for them.
            "F3 invalid byte in the first of three fragments",
            masked(TEXT, b"ok \xff").fin(false).encode(),
            1007,
        ),
        ("F4 truncated last character", masked(TEXT, b"\xe2\x82").encode(), 1007),
        ("H4 RSV1 without deflate", masked(TEXT, b"x").rsv(0b100).encode(), 1002),
    ];
    for (item, frames, code) in cases {
        run(async {
            let limits = short(|b| b.max_frame_size(1 << 20));
            let (addr, server) = serve_one(limits).await;
            let peer = std::thread::spawn(move || close_code_after(addr, &frames));
            server.await;
            let (got, echoed) = peer.join().unwrap();
            assert_eq!(got, code, "{item}");
            assert!(echoed.is_empty(), "{item}: echoed {echoed:?}");
        });
    }
}

#[test]
fn non_minimal_lengths_are_accepted() {
    // Hostile peers C6: a 5-byte payload announced in the 16-bit and the 64-bit forms.
    run(async {
        let (addr, server) = serve_one(config()).await;
        let peer = std::thread::spawn(move || {
            let frames = [
                masked(TEXT, b"hello").length_form(LengthForm::Extended16).encode(),
                masked(BINARY, b"world").length_form(LengthForm::Extended64).encode(),
                masked(CLOSE, &1000u16.to_be_bytes()).encode(),
            ]
            .concat();
            close_code_after(addr, &frames)
        });
        server.await;
        let (code, echoed) = peer.join().unwrap();
        assert_eq!((code, echoed), (1000, vec![b"hello".to_vec(), b"world".to_vec()]));
    });
}

#[test]
fn a_raw_peer_is_not_left_hanging_when_it_stops_mid_header() {
    // Hostile peers C5 (the trickle ends in silence) with a short idle timeout: the server
    // gives up on the connection and tells the peer.
    run(async {
        let short_idle = short(|b| b.idle_timeout(Some(Duration::from_millis(300))).keepalive_interval(None));
        let (addr, server) = serve_one(short_idle).await;
        let peer = std::thread::spawn(move || {
            let mut s = raw::client(addr);
            s.write_all(&[0x82, 0xff]).unwrap();
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
            rest
        });
        server.await;
        let wire = peer.join().unwrap();
        let close = parse_frame(&wire).expect("a close frame");
        assert_eq!(close.header.opcode, CLOSE);
    });
}

/// Data payloads echoed, in order.
type Payloads = Vec<Vec<u8>>;

/// Frames a server wrote, as (opcode, payload).
type Written = Vec<(u8, Vec<u8>)>;

/// Upgrades, sends `frames`, and returns every frame the server wrote until it ended the
/// connection, as (opcode, payload).
fn frames_after(addr: SocketAddr, frames: &[u8]) -> Written {
    let mut s = raw::client(addr);
    let _ = s.write_all(frames);
    let wire = raw::read_to_end(&mut s);
    let mut rest = &wire[..];
    let mut out = Vec::new();
    while let Some(frame) = parse_frame(rest) {
        assert!(frame.header.mask.is_none(), "a server frame is never masked");
        out.push((frame.header.opcode, frame.payload.to_vec()));
        rest = &rest[frame.wire_len()..];
    }
    assert!(rest.is_empty(), "a partial frame at the end: {rest:?}");
    out
}

/// The close payload for `code` (and no reason).
fn close_payload(code: u16) -> Vec<u8> {
    code.to_be_bytes().to_vec()
}

#[test]
fn limits_at_and_one_past() {
    // Hostile peers C10 and D7, with a 4 KiB message cap: a frame exactly at the cap is
    // echoed; one byte more fails with 1009; fragments each under the cap whose sum crosses
    // it fail with 1009 at the crossing fragment, before the message would end.
    let at = vec![b'a'; 4096];
    let past = vec![b'b'; 4097];
    let quarter = vec![b'c'; 1024];
    let cases: Vec<(&str, Vec<u8>, Payloads, u16)> = vec![
        (
            "C10 a frame at the cap, then one past it",
            [masked(BINARY, &at).encode(), masked(BINARY, &past).encode()].concat(),
            vec![at.clone()],
            1009,
        ),
        (
            "D7 five fragments of 1 KiB (no final one needed)",
            [
                masked(BINARY, &quarter).fin(false).encode(),
                masked(CONTINUATION, &quarter).fin(false).encode(),
                masked(CONTINUATION, &quarter).fin(false).encode(),
                masked(CONTINUATION, &quarter).fin(false).encode(),
                masked(CONTINUATION, &quarter).fin(false).encode(),
            ]
            .concat(),
            vec![],
            1009,
        ),
        (
            "D7 four fragments of 1 KiB make a message at the cap",
            [
                masked(TEXT, &quarter).fin(false).encode(),
                masked(CONTINUATION, &quarter).fin(false).encode(),
                masked(CONTINUATION, &quarter).fin(false).encode(),
                masked(CONTINUATION, &quarter).encode(),
                masked(CLOSE, &close_payload(1000)).encode(),
            ]
            .concat(),
            vec![[quarter.clone(), quarter.clone(), quarter.clone(), quarter.clone()].concat()],
            1000,
        ),
    ];
    for (item, frames, expected, code) in cases {
        run(async {
            let limits = short(|b| b.max_frame_size(4096).max_message_size(4096));
            let (addr, server) = serve_one(limits).await;
            let peer = std::thread::spawn(move || close_code_after(addr, &frames));
            server.await;
            let (got, echoed) = peer.join().unwrap();
            assert_eq!(got, code, "{item}");
            assert_eq!(echoed, expected, "{item}");
        });
    }
}

#[test]
fn control_and_close_faults_over_sockets() {
    // Hostile peers D4, E3, E7, E8: what the server writes back, frame by frame.
    let reason_123 = [&1000u16.to_be_bytes()[..], &[b'r'; 123]].concat();
    let reason_124 = [&1000u16.to_be_bytes()[..], &[b'r'; 124]].concat();
    let pong = |p: &[u8]| (0xA, p.to_vec());
    let cases: Vec<(&str, Vec<u8>, Written)> = vec![
        (
            "D4 a ping between fragments is answered at once; the message completes",
            [
                masked(TEXT, b"frag").fin(false).encode(),
                masked(PING, b"p1").encode(),
                masked(CONTINUATION, b"ment").encode(),
                masked(CLOSE, &close_payload(1000)).encode(),
            ]
            .concat(),
            vec![pong(b"p1"), (TEXT, b"fragment".to_vec()), (CLOSE, close_payload(1000))],
        ),
        (
            "D4 a close between fragments is honoured; the unfinished message is dropped",
            [
                masked(TEXT, b"never").fin(false).encode(),
                masked(CLOSE, &close_payload(1000)).encode(),
                masked(CONTINUATION, b" finished").encode(),
            ]
            .concat(),
            vec![(CLOSE, close_payload(1000))],
        ),
        (
            "E3 unsolicited pongs are harmless",
            [
                masked(0xA, b"nobody asked").encode(),
                masked(0xA, b"").encode(),
                masked(0xA, &[0xff; 125]).encode(),
                masked(TEXT, b"still here").encode(),
                masked(CLOSE, &close_payload(1000)).encode(),
            ]
            .concat(),
            vec![(TEXT, b"still here".to_vec()), (CLOSE, close_payload(1000))],
        ),
        (
            "E7 a close reason of 123 bytes is accepted (the code is echoed)",
            masked(CLOSE, &reason_123).encode(),
            vec![(CLOSE, close_payload(1000))],
        ),
        (
            "E7 a close reason of 124 bytes is a protocol error",
            masked(CLOSE, &reason_124).encode(),
            vec![(CLOSE, close_payload(1002))],
        ),
        (
            "E8 data after the peer's close is discarded; one close answers",
            [
                masked(CLOSE, &close_payload(1000)).encode(),
                masked(TEXT, b"late").encode(),
                masked(BINARY, b"later").encode(),
                masked(CLOSE, &close_payload(1000)).encode(),
            ]
            .concat(),
            vec![(CLOSE, close_payload(1000))],
        ),
    ];
    for (item, frames, expected) in cases {
        run(async {
            let (addr, server) = serve_one(config()).await;
            let peer = std::thread::spawn(move || frames_after(addr, &frames));
            server.await;
            // A close frame is compared by its code (a protocol error carries a reason).
            let mut got = peer.join().unwrap();
            for (opcode, payload) in &mut got {
                if *opcode == CLOSE {
                    payload.truncate(2);
                }
            }
            assert_eq!(got, expected, "{item}");
        });
    }
}

#[test]
fn floods_of_tiny_fragments_reassemble() {
    // Hostile peers D5 and D6: a 4 MiB message in 65 536 fragments of 64 bytes, and 100 000
    // empty continuations inside one message, both echoed whole.
    let tiny = vec![b'f'; 64];
    let mut d5 = masked(BINARY, &tiny).fin(false).encode();
    for _ in 1..65_535 {
        masked(CONTINUATION, &tiny).fin(false).encode_into(&mut d5);
    }
    masked(CONTINUATION, &tiny).encode_into(&mut d5);
    masked(CLOSE, &close_payload(1000)).encode_into(&mut d5);
    let mut d6 = masked(TEXT, b"a").fin(false).encode();
    for _ in 0..100_000 {
        masked(CONTINUATION, b"").fin(false).encode_into(&mut d6);
    }
    masked(CONTINUATION, b"b").encode_into(&mut d6);
    masked(CLOSE, &close_payload(1000)).encode_into(&mut d6);
    let cases = [("D5", d5, vec![b'f'; 4 << 20]), ("D6", d6, b"ab".to_vec())];
    for (item, frames, message) in cases {
        run(async {
            let big = short(|b| b.max_message_size(8 << 20).max_frame_size(8 << 20));
            let (addr, server) = serve_one(big).await;
            let peer = std::thread::spawn(move || close_code_after(addr, &frames));
            server.await;
            let (code, echoed) = peer.join().unwrap();
            assert_eq!(code, 1000, "{item}");
            assert_eq!(echoed.len(), 1, "{item}");
            assert!(echoed[0] == message, "{item}: {} bytes echoed", echoed[0].len());
        });
    }
}

#[test]
fn simultaneous_close_is_clean_on_both_sides() {
    // Hostile peers E10: the server closes as the peer's close is already on its way. The
    // server ends cleanly with no error; the peer sees exactly one close frame.
    run(async {
        let (addr, server) = server(config(), |mut ws| async move {
            let closed = ws.close(CloseCode::NORMAL, "bye").await;
            (closed, ws.closed())
        })
        .await;
        let peer = std::thread::spawn(move || frames_after(addr, &masked(CLOSE, &close_payload(1000)).encode()));
        let (result, closed) = server.await;
        let frames = peer.join().unwrap();
        assert!(result.is_ok(), "{result:?}");
        let closed = closed.expect("the connection ended");
        assert_eq!(closed.code, CloseCode::NORMAL, "{closed:?}");
        assert!(matches!(closed.cause, CloseCause::LocallyInitiated | CloseCause::PeerInitiated), "{closed:?}");
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(frames[0].0, CLOSE);
    })
}

#[test]
fn hostile_lists_and_extension_offers_are_declined() {
    // Hostile peers A9 and A10 within the default head cap: a protocol list of commas and
    // spaces, and junk extension offers. The upgrade succeeds, choosing nothing.
    let commas = format!("a{}", ",".repeat(6_000));
    let spaces = format!("b{}x", " ".repeat(6_000));
    let cases = [
        ("A9 commas", format!("Sec-WebSocket-Protocol: {commas}")),
        ("A9 spaces", format!("Sec-WebSocket-Protocol: {spaces}")),
        ("A10 constructor", "Sec-WebSocket-Extensions: constructor".to_string()),
        ("A10 bad window bits", "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99".to_string()),
        (
            "A10 repeated parameters",
            "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_no_context_takeover"
                .to_string(),
        ),
    ];
    for (item, header) in cases {
        run(async {
            let (addr, server) = serve_one(config()).await;
            let request = request_with(|r| r.replace("\r\n\r\n", &format!("\r\n{header}\r\n\r\n")));
            let peer = std::thread::spawn(move || {
                let mut s = raw::connect(addr);
                s.write_all(&request).unwrap();
                let head = raw::read_head(&mut s);
                let _ = s.write_all(&masked(CLOSE, &close_payload(1000)).encode());
                let _ = raw::read_to_end(&mut s);
                head
            });
            server.await;
            let head = peer.join().unwrap();
            assert!(head.starts_with("HTTP/1.1 101"), "{item}: {head}");
            let lower = head.to_ascii_lowercase();
            assert!(!lower.contains("sec-websocket-protocol"), "{item}: {head}");
            assert!(!lower.contains("sec-websocket-extensions"), "{item}: {head}");
        });
    }
}

#[test]
fn ping_flood_from_a_peer_that_never_reads_keeps_the_heap_bounded() {
    // Hostile peers E2: 200 000 pings of 125 bytes (25 MiB, far more than the kernel's socket
    // buffers hold in pongs) from a peer that reads nothing until it has sent them all. The
    // server keeps reading, its pong queue stays small (older pings of a burst are
    // superseded by the latest, RFC 6455 §5.5.3), and the last ping is answered.
    const PINGS: u32 = 200_000;
    run_alone(Duration::from_secs(60), async {
        let mut flood = Vec::with_capacity(PINGS as usize * 131 + 8);
        let mut payload = [b'p'; 125];
        for i in 0..PINGS {
            payload[..4].copy_from_slice(&i.to_be_bytes());
            masked(PING, &payload).encode_into(&mut flood);
        }
        masked(CLOSE, &close_payload(1000)).encode_into(&mut flood);
        tether_tests::mem::trim();
        let baseline = tether_tests::mem::heap_bytes();
        let (addr, server) = serve_one(config()).await;
        let (sent_tx, sent_rx) = std::sync::mpsc::channel::<()>();
        let (measured_tx, measured_rx) = std::sync::mpsc::channel::<()>();
        let peer = std::thread::spawn(move || {
            let mut s = raw::client(addr);
            s.write_all(&flood).expect("the server keeps reading the flood");
            sent_tx.send(()).unwrap();
            // Read nothing until the measurement is over (what this thread reads is heap too).
            let _ = measured_rx.recv_timeout(Duration::from_secs(20));
            let wire = raw::read_to_end(&mut s);
            drop(flood);
            wire
        });
        // Sample the heap while the flood is read and answered, until the peer has sent it
        // all and the server has had time to process it.
        let mut peak = 0usize;
        let mut sent = false;
        let mut after_sent = 0;
        while after_sent < 30 {
            peak = peak.max(tether_tests::mem::heap_bytes().saturating_sub(baseline));
            sent = sent || sent_rx.try_recv().is_ok();
            if sent {
                after_sent += 1;
            }
            sleep::<R>(Duration::from_millis(10)).await;
        }
        measured_tx.send(()).unwrap();
        server.await;
        let wire = peer.join().unwrap();
        let mut rest = &wire[..];
        let (mut pongs, mut last) = (0u32, None);
        while let Some(frame) = parse_frame(rest) {
            if frame.header.opcode == 0xA {
                pongs += 1;
                last = Some(u32::from_be_bytes(frame.payload[..4].try_into().unwrap()));
            }
            rest = &rest[frame.wire_len()..];
        }
        println!("ping flood: {PINGS} pings, {pongs} pongs written, heap peak {peak} B above baseline");
        assert_eq!(last, Some(PINGS - 1), "the latest ping is answered");
        assert!(pongs < PINGS, "every ping was answered: the kernel buffers held them all; flood harder");
        // The flood itself (the peer's buffer) was allocated before the baseline. What the
        // server holds is its read buffer, a small pong queue and the connection.
        assert!(peak < 1 << 20, "heap grew by {peak} B during the flood");
    })
}
