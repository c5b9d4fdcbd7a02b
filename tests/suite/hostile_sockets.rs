//! The catalogue's handshake and framing faults (hostile peers A5–A8, C1, C3, C4, C6–C8,
//! D1–D3, E1, E4–E6, F1, F3, F4, H4) replayed over real sockets against a Tether server on
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
fn close_code_after(addr: SocketAddr, frames: &[u8]) -> (u16, Vec<Vec<u8>>) {
    let mut s = raw::client(addr);
    // Writing may fail once the server has closed: what matters is what it answered.
    let _ = s.write_all(frames);
    let wire = raw::read_to_end(&mut s);
    let mut rest = &wire[..];
    let mut echoed = Vec::new();
    while let Some(frame) = parse_frame(rest) {
        assert!(frame.header.mask.is_none(), "a server frame is never masked");
        match frame.header.opcode {
            CLOSE => {
                let code = frame.payload.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])).unwrap_or(1005);
                let after = &rest[frame.wire_len()..];
                assert!(after.is_empty(), "bytes after the close frame: {after:?}");
                return (code, echoed);
            }
            TEXT | BINARY => echoed.push(frame.payload.to_vec()),
            _ => {}
        }
        rest = &rest[frame.wire_len()..];
    }
    panic!("no close frame before the end of the connection: {wire:?}");
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
