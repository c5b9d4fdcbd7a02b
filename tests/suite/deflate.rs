//! permessage-deflate (RFC 7692) over real sockets on every runtime (hostile peers H1, H3,
//! H5, H8): Tether pairs negotiating every parameter both ways and round-tripping, a
//! compression bomb against the receiver's memory, and a raw client that reads the RSV1
//! bits and compressed sizes on the wire and sends corrupt compressed data. The engine's
//! own deflate tests (codec, negotiation, RSV1 rules) live in `tether-proto`; interop with
//! other implementations' deflate is in `interop.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use tether_rt::{Bytes, DeflateConfig, DeflateParams};
use tether_testkit::{Frame, CONTINUATION};
use tether_tests::mem;

use super::*;

/// The adapters' defaults with `deflate`.
pub(crate) fn with_deflate(deflate: DeflateConfig) -> Config {
    short(|b| b.deflate(Some(deflate)))
}

/// (window_bits, peer_window_bits, no_context_takeover, peer_no_context_takeover).
fn params(p: DeflateParams) -> (u8, u8, bool, bool) {
    (p.window_bits, p.peer_window_bits, p.no_context_takeover, p.peer_no_context_takeover)
}

/// A compressible message of about `len` bytes, different for every `i` (JSON-like lines,
/// so the LZ77 history of earlier messages helps).
fn payload(i: usize, len: usize) -> String {
    let mut out = String::with_capacity(len + 64);
    let mut n = 0;
    while out.len() < len {
        out.push_str(&format!("{{\"seq\":{i},\"line\":{n},\"user\":\"user-{}\",\"ok\":true}}\n", (i * 7 + n) % 13));
        n += 1;
    }
    out.truncate(len);
    out
}

/// Send `count` messages (text and binary in turn, sizes from 0 up to a few KiB) from `a`
/// and check `b` receives each as sent, then the same the other way.
async fn round_trip(a: &mut Ws, b: &mut Ws, count: usize) {
    one_way(a, b, count).await;
    one_way(b, a, count).await;
}

async fn one_way(from: &mut Ws, to: &mut Ws, count: usize) {
    for i in 0..count {
        let text = payload(i, (i * 397) % 5000);
        let message = if i % 2 == 0 { Message::text(text) } else { Message::binary(text.into_bytes()) };
        from.send(message.clone()).await.expect("send");
        let got = to.recv().await.expect("recv").expect("a message");
        assert!(got == message, "message {i} changed on the way");
    }
}

/// Hostile peers H6, H8 (negotiation): every message of a long conversation comes through
/// intact in both directions with each side's context kept across messages (the default).
#[test]
fn round_trip_with_context_takeover() {
    run(async {
        let (mut client, mut server) =
            pair_with(with_deflate(DeflateConfig::default()), with_deflate(DeflateConfig::default())).await;
        assert_eq!(client.deflate().map(params), Some((15, 15, false, false)));
        assert_eq!(server.deflate().map(params), Some((15, 15, false, false)));
        round_trip(&mut client, &mut server, 300).await;
        // The split halves compress through the same context.
        let (mut reader, sender) = client.split();
        assert_eq!(sender.deflate().map(params), Some((15, 15, false, false)));
        assert_eq!(reader.deflate().map(params), Some((15, 15, false, false)));
        for i in 0..50 {
            let text = payload(1000 + i, 3000);
            sender.send_text(&text).await.expect("send");
            assert_eq!(server.recv_text().await.expect("server recv").as_str(), text);
            server.send_text(&text).await.expect("server send");
            assert_eq!(reader.recv_text().await.expect("recv").as_str(), text);
        }
        sender.close(CloseCode::NORMAL, "").await.expect("close");
        assert_eq!(server.recv().await.expect("clean close"), None);
        assert_eq!(reader.recv().await.expect("clean close"), None);
    })
}

/// Each side's settings end up in both sides' agreed parameters, whichever side asked, and
/// a conversation works under each agreement.
#[test]
fn parameters_are_negotiated_both_ways() {
    let d = DeflateConfig::default;
    #[allow(clippy::type_complexity)]
    let cases: [(&str, DeflateConfig, DeflateConfig, (u8, u8, bool, bool)); 8] = [
        ("client keeps no context", d().no_context_takeover(true), d(), (15, 15, true, false)),
        ("client asks the server to keep none", d().peer_no_context_takeover(true), d(), (15, 15, false, true)),
        ("server keeps no context", d(), d().no_context_takeover(true), (15, 15, false, true)),
        ("server asks the client to keep none", d(), d().peer_no_context_takeover(true), (15, 15, true, false)),
        ("client compresses with 2^10", d().window_bits(10), d(), (10, 15, false, false)),
        ("client asks the server for 2^11", d().peer_window_bits(11), d(), (15, 11, false, false)),
        ("server compresses with 2^13", d(), d().window_bits(13), (15, 13, false, false)),
        ("server asks the client for 2^9", d(), d().peer_window_bits(9), (9, 15, false, false)),
    ];
    for (name, client_side, server_side, expected) in cases {
        run(async {
            let (mut client, mut server) = pair_with(with_deflate(client_side), with_deflate(server_side)).await;
            // The client's view; the server's is the same seen from the other end.
            let (w, pw, nct, pnct) = expected;
            assert_eq!(client.deflate().map(params), Some(expected), "{name}: client");
            assert_eq!(server.deflate().map(params), Some((pw, w, pnct, nct)), "{name}: server");
            round_trip(&mut client, &mut server, 40).await;
            client.close(CloseCode::NORMAL, "").await.expect("close");
        });
    }
}

/// Deflate needs both sides: a server without it declines the offer, a client without it
/// does not offer; either way messages go plain.
#[test]
fn one_sided_configuration_compresses_nothing() {
    for (client_side, server_side) in
        [(with_deflate(DeflateConfig::default()), config()), (config(), with_deflate(DeflateConfig::default()))]
    {
        run(async {
            let (mut client, mut server) = pair_with(client_side, server_side).await;
            assert_eq!(client.deflate(), None);
            assert_eq!(server.deflate(), None);
            round_trip(&mut client, &mut server, 10).await;
        });
    }
}

/// Hostile peers H8: `send_uncompressed` (on a `WebSocket` and on a split `Sender`) sends a
/// message plain under an agreed deflate, and the peer receives it intact; `send` keeps
/// compressing around it.
#[test]
fn send_uncompressed_round_trips() {
    run(async {
        let (client, mut server) =
            pair_with(with_deflate(DeflateConfig::default()), with_deflate(DeflateConfig::default())).await;
        let (mut reader, sender) = client.split();
        let text = payload(1, 4000);
        server.send_uncompressed(Message::text(text.clone())).await.expect("send_uncompressed");
        server.send(Message::text(text.clone())).await.expect("send");
        server.send_uncompressed(Message::binary(text.clone().into_bytes())).await.expect("send_uncompressed");
        assert_eq!(reader.recv_text().await.unwrap().as_str(), text);
        assert_eq!(reader.recv_text().await.unwrap().as_str(), text);
        assert_eq!(reader.recv_bytes().await.unwrap(), text.as_bytes());
        sender.send_uncompressed(Message::binary(Bytes::from(text.clone()))).await.expect("sender send_uncompressed");
        sender.send_uncompressed(Message::text("")).await.expect("empty");
        assert_eq!(server.recv_bytes().await.unwrap(), text.as_bytes());
        assert_eq!(server.recv_text().await.unwrap().as_str(), "");
    })
}

// ----- the wire, seen by a raw client -----

/// A server for one connection under `config` that runs `serve` on it.
async fn deflate_server<F, Fut>(config: Config, serve: F) -> (SocketAddr, impl Future<Output = ()>)
where
    F: FnOnce(Ws) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    server(config, serve).await
}

/// Connect raw, offering `offer` as `Sec-WebSocket-Extensions`; returns the socket and the
/// server's `Sec-WebSocket-Extensions` answer (empty if none).
fn raw_client(addr: SocketAddr, offer: &str) -> (TcpStream, String) {
    let mut s = raw::connect(addr);
    let request = raw::request("/").replace("\r\n\r\n", &format!("\r\nSec-WebSocket-Extensions: {offer}\r\n\r\n"));
    s.write_all(request.as_bytes()).unwrap();
    let head = raw::read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let answer = head.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: ")).unwrap_or_default().to_owned();
    (s, answer)
}

/// One frame as read by the raw client.
#[derive(Debug)]
struct Seen {
    rsv: u8,
    opcode: u8,
    payload: Vec<u8>,
}

/// Read frames until the server's close frame (included), answer it with a close frame,
/// and return them all.
fn frames_until_close(s: &mut TcpStream) -> Vec<Seen> {
    let mut buf = Vec::new();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 16 << 10];
    loop {
        while let Some(frame) = parse_frame(&buf) {
            assert!(frame.header.mask.is_none(), "a server frame is never masked");
            let (opcode, len) = (frame.header.opcode, frame.wire_len());
            seen.push(Seen { rsv: frame.header.rsv, opcode, payload: frame.payload.to_vec() });
            buf.drain(..len);
            if opcode == CLOSE {
                let _ = s.write_all(&Frame::new(CLOSE, &[0x03, 0xe8]).mask(Some([9, 8, 7, 6])).encode());
                return seen;
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => panic!("the connection ended before a close frame: {seen:?}"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The close code in a close frame's payload.
fn close_code(frame: &Seen) -> u16 {
    assert_eq!(frame.opcode, CLOSE);
    frame.payload.get(..2).map_or(1005, |b| u16::from_be_bytes([b[0], b[1]]))
}

/// On the wire: compressed messages carry RSV1 and shrink, a repeated message shrinks to a
/// few bytes while the server keeps its context and not at all when it keeps none, and
/// `send_uncompressed` (WebSocket and Sender) writes the payload as is with RSV1 clear.
#[test]
fn rsv1_and_context_takeover_on_the_wire() {
    for (offer, takeover) in [
        ("permessage-deflate; client_max_window_bits", true),
        ("permessage-deflate; server_no_context_takeover", false),
    ] {
        run(async {
            let text = payload(7, 2000);
            let sent = text.clone();
            let (addr, served) = deflate_server(with_deflate(DeflateConfig::default()), move |mut ws| async move {
                for _ in 0..3 {
                    ws.send_text(&sent).await.expect("send");
                }
                ws.send_uncompressed(Message::text(sent.clone())).await.expect("send_uncompressed");
                let (mut reader, sender) = ws.split();
                sender.send_uncompressed(Message::binary(sent.into_bytes())).await.expect("send_uncompressed");
                sender.close(CloseCode::NORMAL, "").await.expect("close");
                assert_eq!(reader.recv().await.expect("clean close"), None);
            })
            .await;
            let peer = std::thread::spawn(move || {
                let (mut s, answer) = raw_client(addr, offer);
                assert!(answer.starts_with("permessage-deflate"), "deflate was not agreed: {answer:?}");
                assert_eq!(answer.contains("server_no_context_takeover"), !takeover, "{answer}");
                frames_until_close(&mut s)
            });
            served.await;
            let frames = peer.join().expect("raw client");
            assert_eq!(frames.len(), 6, "{frames:?}");
            let sizes: Vec<usize> = frames[..3].iter().map(|f| f.payload.len()).collect();
            for f in &frames[..3] {
                assert_eq!((f.rsv, f.opcode), (0b100, TEXT), "compressed: RSV1 set");
            }
            assert!(sizes[0] < text.len() / 2, "the first message is compressed: {sizes:?}");
            if takeover {
                assert!(sizes[1] * 8 < sizes[0], "a repeat refers to the context: {sizes:?}");
                assert!(sizes[2] * 8 < sizes[0], "{sizes:?}");
            } else {
                assert_eq!(sizes, [sizes[0]; 3], "no context: every message compresses alike");
            }
            assert_eq!((frames[3].rsv, frames[3].opcode), (0, TEXT), "send_uncompressed: RSV1 clear");
            assert_eq!(frames[3].payload, text.as_bytes());
            assert_eq!((frames[4].rsv, frames[4].opcode), (0, BINARY), "Sender::send_uncompressed: RSV1 clear");
            assert_eq!(frames[4].payload, text.as_bytes());
            assert_eq!(close_code(&frames[5]), 1000);
        });
    }
}

/// A stored DEFLATE block (`BFINAL` set) holding `data`: what a compressor writes for
/// incompressible bytes, built by hand so corrupt content can be sent compressed.
fn stored_block(data: &[u8]) -> Vec<u8> {
    let len = data.len() as u16;
    let mut out = vec![0x01];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// Hostile peers H3, H5 over sockets: invalid DEFLATE data and text that inflates to
/// invalid UTF-8 fail with 1007; RSV1 on a control frame or a continuation fails with 1002.
/// A valid hand-made compressed message before each fault is echoed, so the fault is what
/// failed the connection.
#[test]
fn corrupt_compressed_data_and_rsv1_misuse_close_the_connection() {
    let key = Some([1, 2, 3, 4]);
    let hello = stored_block(b"hello");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("H5 reserved block type", Frame::new(BINARY, &[0x07, 0x00]).rsv(0b100).mask(key).encode(), 1007),
        ("H5 garbage", Frame::new(BINARY, &[0xff; 40]).rsv(0b100).mask(key).encode(), 1007),
        (
            "H5 text inflating to invalid UTF-8",
            Frame::new(TEXT, &stored_block(&[0xff, 0xfe])).rsv(0b100).mask(key).encode(),
            1007,
        ),
        ("H3 RSV1 on a ping", Frame::new(PING, b"").rsv(0b100).mask(key).encode(), 1002),
        (
            "H3 RSV1 on a continuation",
            [
                Frame::new(TEXT, &hello[..3]).fin(false).rsv(0b100).mask(key).encode(),
                Frame::new(CONTINUATION, &hello[3..]).rsv(0b100).mask(key).encode(),
            ]
            .concat(),
            1002,
        ),
    ];
    for (name, fault, code) in cases {
        run(async {
            let (addr, served) = deflate_server(with_deflate(DeflateConfig::default()), |ws| async move {
                echo(ws).await;
            })
            .await;
            let hello = Frame::new(TEXT, &stored_block(b"hello")).rsv(0b100).mask(key).encode();
            let peer = std::thread::spawn(move || {
                let (mut s, answer) = raw_client(addr, "permessage-deflate");
                assert!(answer.starts_with("permessage-deflate"), "deflate was not agreed: {answer:?}");
                s.write_all(&hello).unwrap();
                let _ = s.write_all(&fault);
                frames_until_close(&mut s)
            });
            served.await;
            let frames = peer.join().expect("raw client");
            assert_eq!(frames.len(), 2, "{name}: {frames:?}");
            // "hello" is shorter than the default min_size, so the echo goes plain.
            assert_eq!((frames[0].rsv, frames[0].opcode, &frames[0].payload[..]), (0, TEXT, &b"hello"[..]), "{name}");
            assert_eq!(close_code(&frames[1]), code, "{name}");
        });
    }
}

/// Hostile peers H1 over sockets: 8 MiB of zeros compressed to a few KiB, sent to a server
/// that accepts messages up to 512 KiB, fails with 1009 on both sides, and the whole
/// process's heap never grows by more than a few times the limit while it is inflated —
/// in one frame, fragmented into 1 KiB compressed frames, and after a first message on the
/// same context (the bomb then reaches back into the window the first one filled).
#[test]
fn a_compression_bomb_closes_with_1009_within_bounded_memory() {
    bomb(with_deflate(DeflateConfig::default()), false);
}

#[test]
fn a_fragmented_compression_bomb_closes_with_1009_within_bounded_memory() {
    let fragmenting = with_deflate(DeflateConfig::default()).to_builder().fragment_size(Some(1024)).build().unwrap();
    bomb(fragmenting, false);
}

#[test]
fn a_compression_bomb_across_context_takeover_closes_with_1009_within_bounded_memory() {
    bomb(with_deflate(DeflateConfig::default()), true);
}

fn bomb(client_config: Config, after_a_first_message: bool) {
    const LIMIT: usize = 512 << 10;
    const BOMB: usize = 8 << 20;
    run_alone(Duration::from_secs(60), async {
        let server_config =
            short(|b| b.deflate(Some(DeflateConfig::default())).max_message_size(LIMIT).max_frame_size(LIMIT));
        let (mut client, mut server) = pair_with(client_config, server_config).await;
        assert!(server.deflate().is_some());
        if after_a_first_message {
            // 64 KiB of zeros, within the limit: the server's window is now full of them.
            client.send(Message::binary(vec![0u8; 64 << 10])).await.expect("send");
            assert_eq!(server.recv_bytes().await.expect("the first message").len(), 64 << 10);
        }
        // Compressed as it is queued; the plain 8 MiB are freed before the measurement.
        client.feed(Message::binary(vec![0u8; BOMB])).await.expect("feed");
        let queued = client.buffered_transmit();
        assert!(queued < BOMB / 100, "the bomb is small on the wire: {queued} bytes");
        mem::reset_peak();
        let before = mem::heap_bytes();
        let (flushed, received) = futures_util::join!(client.flush(), server.recv());
        flushed.expect("flush");
        let peak = mem::peak_heap_bytes() - before;
        match received {
            Err(Error::Closed(closed)) => assert_eq!(closed.code.as_u16(), 1009, "{closed:?}"),
            other => panic!("expected the server to fail with 1009, got {other:?}"),
        }
        // The client completes the close handshake the server started.
        assert_eq!(client.recv().await.expect("the server's close"), None);
        let closed = client.closed().expect("ended");
        assert_eq!((closed.code.as_u16(), &closed.cause), (1009, &CloseCause::PeerInitiated), "{closed:?}");
        assert!(peak < 4 * LIMIT, "inflating the bomb held {peak} bytes more at its peak (limit {LIMIT})");
    })
}
