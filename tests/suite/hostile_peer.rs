//! Hostile peers against our client's handshake and against an established connection's
//! flow (hostile peers B4, G2, G6): a server that never answers or answers with an
//! endless head, a peer that drains one byte at a time, a peer that half-closes. The
//! server-handshake faults are in `hostile.rs`; close and reset faults in `close.rs`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::time::Instant;

use tether_rt::{Bytes, HandshakeError, PeerMisbehaved};
use tether_testkit::Frame;

use super::*;

/// A raw server thread: accepts one connection and hands it to `script`.
fn raw_server<T: Send + 'static>(
    script: impl FnOnce(std::net::TcpStream) -> T + Send + 'static,
) -> (std::net::SocketAddr, std::thread::JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let (s, _) = listener.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        script(s)
    });
    (addr, thread)
}

#[test]
fn client_handshake_times_out_when_the_server_never_answers() {
    // Hostile peers B4: the one total deadline applies to the client too.
    run(async {
        let deadline = Duration::from_millis(500);
        let (addr, server) = raw_server(|mut s| raw::read_to_end(&mut s).len());
        let start = Instant::now();
        let config = short(|b| b.handshake_timeout(deadline));
        let result = ClientBuilder::<R>::new(&format!("ws://{addr}/")).config(config).connect().await;
        let elapsed = start.elapsed();
        assert!(
            matches!(result, Err(OpenError::Handshake(HandshakeError::Timeout { after })) if after == deadline),
            "{result:?}"
        );
        assert!(elapsed >= deadline - Duration::from_millis(20), "{elapsed:?}");
        assert!(elapsed < deadline + Duration::from_secs(1), "{elapsed:?}");
        // Our request arrived, then the connection was dropped (the server thread ends).
        assert!(server.join().unwrap() > 0);
    })
}

#[test]
fn client_rejects_a_response_head_of_one_mib() {
    // Hostile peers B4: response headers are capped like requests (8 KiB by default), and the
    // client stops at the cap instead of reading the whole megabyte.
    run(async {
        let (addr, server) = raw_server(|mut s| {
            let _ = raw::read_head(&mut s);
            let mut head = b"HTTP/1.1 101 Switching Protocols\r\nX: ".to_vec();
            head.extend(std::iter::repeat_n(b'a', 1 << 20));
            // The client stops reading: the write fails or stalls (bounded by its timeout).
            let written = s.write(&head).unwrap_or(0);
            let _ = s.write_all(&head[written..]);
        });
        let start = Instant::now();
        let result = ClientBuilder::<R>::new(&format!("ws://{addr}/")).connect().await;
        assert!(
            matches!(
                result,
                Err(OpenError::Handshake(HandshakeError::PeerMisbehaved(PeerMisbehaved::HeadTooLarge { .. })))
            ),
            "expected HeadTooLarge, got {result:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
        drop(result);
        server.join().unwrap();
    })
}

#[test]
fn client_rejects_ten_thousand_response_headers() {
    // Hostile peers B4: the header count cap, client side.
    run(async {
        let (addr, server) = raw_server(|mut s| {
            let _ = raw::read_head(&mut s);
            let mut head = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
            for _ in 0..10_000 {
                head.extend_from_slice(b"a: x\r\n");
            }
            let _ = s.write_all(&head);
        });
        let result = ClientBuilder::<R>::new(&format!("ws://{addr}/")).connect().await;
        assert!(
            matches!(
                result,
                Err(OpenError::Handshake(
                    HandshakeError::PeerMisbehaved(PeerMisbehaved::TooManyHeaders { .. })
                        | HandshakeError::PeerMisbehaved(PeerMisbehaved::HeadTooLarge { .. })
                ))
            ),
            "{result:?}"
        );
        drop(result);
        server.join().unwrap();
    })
}

#[test]
fn slow_drain_keeps_the_send_queue_bounded() {
    // Hostile peers G2: the peer reads one byte every 10 ms. Sends wait at the high-water mark;
    // the queue never exceeds it by more than one message, and nothing is dropped (the
    // bytes that did arrive are exactly the start of what was sent).
    run(async {
        let chunk = Bytes::from((0..64u32 << 10).map(|i| (i % 253) as u8).collect::<Vec<u8>>());
        let expected = chunk.clone();
        let (addr, server) = server(config(), move |mut ws| async move {
            let hwm = ws_hwm();
            let mut max_seen = 0;
            let mut sent = 0usize;
            let start = Instant::now();
            let mut blocked = false;
            // Fill the kernel buffers, then keep offering messages for a while.
            while start.elapsed() < Duration::from_millis(1500) {
                match timeout::<R, _>(Duration::from_millis(100), ws.send_bytes(chunk.clone())).await {
                    Some(result) => {
                        result.unwrap();
                        sent += 1;
                    }
                    None => blocked = true,
                }
                max_seen = max_seen.max(ws.buffered_transmit());
                assert!(ws.buffered_transmit() <= hwm + chunk.len() + 14, "{}", ws.buffered_transmit());
            }
            (blocked, sent, max_seen)
        })
        .await;
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let peer = std::thread::spawn(move || {
            let mut s = raw::client(addr);
            let mut got = Vec::new();
            let mut byte = [0u8; 1];
            while stop_rx.try_recv().is_err() {
                match s.read(&mut byte) {
                    Ok(1) => got.push(byte[0]),
                    _ => break,
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            got
        });
        let (blocked, sent, max_seen) = server.await;
        stop_tx.send(()).unwrap();
        let got = peer.join().unwrap();
        println!("slow drain: {sent} messages of 64 KiB queued, send queue peaked at {max_seen} B");
        assert!(blocked, "send never waited ({sent} messages)");
        // What trickled through is a frame header followed by the first message's bytes.
        assert!(got.len() > 20, "the peer read {} bytes", got.len());
        assert_eq!(got[0], 0x82, "a final binary frame");
        assert_eq!(got[1], 127, "a 64 KiB payload uses the 64-bit length (unmasked)");
        const HEADER: usize = 10;
        assert_eq!(&got[HEADER..], &expected[..got.len() - HEADER]);
    })
}

/// The adapters' default write high-water mark.
fn ws_hwm() -> usize {
    config().write_high_water_mark()
}

#[test]
fn peer_half_close_ends_the_connection_and_we_drop_it() {
    // Hostile peers G6: the peer ends its write side (FIN) but keeps reading. We treat it as the
    // peer going away (1006, the transport ended without a close frame), and our side of
    // TCP ends promptly too — well within the close timeout — after what we had sent.
    run(async {
        let (addr, server) = server(config(), |mut ws| async move {
            ws.send_text("before").await.unwrap();
            let start = Instant::now();
            let result = ws.recv().await;
            (result, start.elapsed())
        })
        .await;
        let peer = std::thread::spawn(move || {
            let mut s = raw::client(addr);
            let mut first = [0u8; 8];
            s.read_exact(&mut first).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let start = Instant::now();
            let rest = raw::read_to_end(&mut s);
            (first, rest, start.elapsed())
        });
        let (result, elapsed) = server.await;
        let (first, rest, eof_after) = peer.join().unwrap();
        match result {
            Err(Error::Closed(closed)) => {
                assert_eq!(closed.code, CloseCode::ABNORMAL);
                assert_eq!(closed.cause, CloseCause::TransportEof);
            }
            other => panic!("{other:?}"),
        }
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        assert_eq!(parse_frame(&first).map(|f| (f.header.opcode, f.payload)), Some((TEXT, &b"before"[..])));
        assert!(eof_after < Duration::from_secs(2), "our end of TCP came after {eof_after:?}");
        // Nothing but possibly a close frame follows (none is owed after an abnormal end).
        if let Some(frame) = parse_frame(&rest) {
            assert_eq!(frame.header.opcode, CLOSE, "only a close frame may follow: {rest:?}");
        }
    })
}

/// A rewrite of a response head.
type HeadEdit = fn(String) -> String;

/// Reads the client's request, answers it with a valid 101 from our own server handshake
/// after `edit` has rewritten the response head, and returns the socket.
fn answer_101(mut s: std::net::TcpStream, edit: impl FnOnce(String) -> String) -> std::net::TcpStream {
    use tether_proto::{ServerHandshake, Transmit};
    let head = raw::read_head(&mut s);
    let mut hs = ServerHandshake::new(tether_proto::Config::default());
    hs.receive(tether_proto::Instant::ZERO, head.as_bytes()).expect("a valid request").expect("a whole request");
    let mut conn = hs.accept(&tether_proto::AcceptOptions::new()).expect("accept");
    let mut response = Vec::new();
    conn.drain_transmit(&mut response);
    let response = String::from_utf8(response).expect("an ASCII head");
    s.write_all(edit(response).as_bytes()).unwrap();
    s
}

/// Connects our client to a raw server that answers with `edit`ed 101; returns the result.
async fn connect_to_edited_101(edit: fn(String) -> String) -> Result<ClientWs, OpenError> {
    let (addr, server) = raw_server(move |s| {
        let mut s = answer_101(s, edit);
        raw::read_to_end(&mut s)
    });
    let result = ClientBuilder::<R>::new(&format!("ws://{addr}/")).connect().await;
    if result.is_err() {
        // The client gave up: the server thread sees the end of the connection.
        server.join().unwrap();
    }
    result
}

#[test]
fn wrong_or_missing_accept_key_fails_the_handshake() {
    // Hostile peers B2: Sec-WebSocket-Accept missing, wrong, in the wrong case, or repeated.
    fn accept_line(head: &str) -> &str {
        head.lines().find(|l| l.starts_with("Sec-WebSocket-Accept:")).expect("an accept line")
    }
    let cases: Vec<(&str, HeadEdit)> = vec![
        ("missing", |h| h.replace(&format!("{}\r\n", accept_line(&h)), "")),
        ("wrong", |h| h.replace(accept_line(&h), "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
        ("wrong case", |h| {
            let line = accept_line(&h).to_string();
            let value = line["Sec-WebSocket-Accept:".len()..].trim();
            h.replace(&line, &format!("Sec-WebSocket-Accept: {}", value.to_ascii_lowercase()))
        }),
        ("empty", |h| h.replace(accept_line(&h), "Sec-WebSocket-Accept:")),
        ("repeated", |h| {
            let line = accept_line(&h).to_string();
            h.replace(&line, &format!("{line}\r\n{line}"))
        }),
    ];
    for (case, edit) in cases {
        run(async {
            let result = connect_to_edited_101(edit).await;
            assert!(
                matches!(result, Err(OpenError::Handshake(HandshakeError::PeerMisbehaved(PeerMisbehaved::BadAccept)))),
                "{case}: {result:?}"
            );
        });
    }
}

#[test]
fn unoffered_subprotocol_or_extension_fails_the_handshake() {
    // Hostile peers B3: our client offered no subprotocol and no extension.
    let cases: Vec<(&str, HeadEdit)> = vec![
        ("a subprotocol", |h| h.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n")),
        ("an unknown extension", |h| h.replace("\r\n\r\n", "\r\nSec-WebSocket-Extensions: x-webkit-frame\r\n\r\n")),
        ("deflate with window bits 7", |h| {
            h.replace("\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n\r\n")
        }),
    ];
    for (case, edit) in cases {
        run(async {
            let result = connect_to_edited_101(edit).await;
            assert!(
                matches!(
                    result,
                    Err(OpenError::Handshake(HandshakeError::PeerMisbehaved(
                        PeerMisbehaved::UnofferedProtocol(_) | PeerMisbehaved::UnofferedExtension(_)
                    )))
                ),
                "{case}: {result:?}"
            );
        });
    }
}

#[test]
fn header_injection_is_refused_before_anything_is_sent() {
    // Hostile peers B5: a header value with CR LF never reaches the wire; the server sees a
    // connection at most, and not one byte of a request.
    run(async {
        let (addr, server) = raw_server(|mut s| raw::read_to_end(&mut s));
        let result =
            ClientBuilder::<R>::new(&format!("ws://{addr}/")).header("X-Note", "a\r\nInjected: yes").connect().await;
        assert!(
            matches!(
                result,
                Err(OpenError::Handshake(HandshakeError::ApiMisuse(tether_rt::ApiMisuse::InvalidHeader(_))))
            ),
            "{result:?}"
        );
        // The refusal may come before the TCP connect; make sure the server thread ends.
        if let Ok(s) = std::net::TcpStream::connect(addr) {
            drop(s);
        }
        let seen = server.join().unwrap();
        assert!(seen.is_empty(), "the server saw {:?}", String::from_utf8_lossy(&seen));
    })
}

#[test]
fn masked_server_frame_fails_the_client_with_1002() {
    // Hostile peers C2: a server frame with the mask bit set.
    run(async {
        let (addr, server) = raw_server(|s| {
            let mut s = answer_101(s, |h| h);
            s.write_all(&Frame::new(TEXT, b"hello").mask(Some([1, 2, 3, 4])).encode()).unwrap();
            raw::read_to_end(&mut s)
        });
        let mut ws = ClientBuilder::<R>::new(&format!("ws://{addr}/")).connect().await.expect("connect");
        let result = ws.recv().await;
        match result {
            Err(Error::Closed(closed)) => assert_eq!(closed.code, CloseCode::PROTOCOL_ERROR, "{closed:?}"),
            other => panic!("{other:?}"),
        }
        drop(ws);
        let wire = server.join().unwrap();
        let close = parse_frame(&wire).expect("our client's close frame");
        assert_eq!(close.header.opcode, CLOSE);
        let mut payload = close.payload.to_vec();
        tether_testkit::xor_mask(&mut payload, close.header.mask.expect("a client frame is masked"));
        assert_eq!(&payload[..2], &1002u16.to_be_bytes());
    })
}
