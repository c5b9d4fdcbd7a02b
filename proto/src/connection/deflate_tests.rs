//! permessage-deflate message tests (RFC 7692 §6, §7.2; cfg(all(test, feature = "deflate"))):
//! roundtrips in both roles and both context modes, the RFC's own examples, bombs,
//! RSV1 misuse, corrupt streams, and when compressor state lives. Negotiation is tested
//! in `deflate/tests.rs`.

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;
use tether_testkit::{Frame, RFC_MASK_KEY};

use super::*;
use crate::deflate::codec::DeflateState;
use crate::deflate::{DeflateConfig, DeflateParams};
use crate::pair::{drain, feed, test_config, Chunker, Pair};

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONT: u8 = 0x0;
const PING: u8 = 0x9;
const RSV1: u8 = 0b100;

fn params(no_context_takeover: bool, peer_no_context_takeover: bool) -> DeflateParams {
    DeflateParams { window_bits: 15, peer_window_bits: 15, no_context_takeover, peer_no_context_takeover }
}

fn config_with(max_message: usize, fragment: Option<usize>) -> Config {
    test_config()
        .to_builder()
        .deflate(Some(DeflateConfig::default().min_size(0)))
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .fragment_size(fragment)
        .build()
        .unwrap()
}

/// A pair whose handshake agreed on deflate; `client_nct` / `server_nct`: whether each
/// side compresses without context takeover.
fn pair(client_nct: bool, server_nct: bool, fragment: Option<usize>, seed: u64) -> Pair {
    let config = config_with(64 << 20, fragment);
    let mut p = Pair::new(config.clone(), seed, 3000);
    p.client = Connection::with_deflate(Role::Client, config.clone(), params(client_nct, server_nct));
    p.server = Connection::with_deflate(Role::Server, config, params(server_nct, client_nct));
    p
}

fn compressible(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| b"abcdefgh"[(i / 3 + usize::from(seed)) % 8] ^ (i % 251 == 0) as u8).collect()
}

fn messages() -> Vec<Message> {
    let mut out = Vec::new();
    for (i, len) in [0usize, 1, 5, 31, 125, 126, 5000, 70_000, 300_000].into_iter().enumerate() {
        let data = compressible(len, i as u8);
        out.push(Message::Binary(Bytes::from(data.clone())));
        out.push(Message::text(String::from_utf8(data).unwrap()));
    }
    // Incompressible bytes (compressed output larger than the input).
    let mut x = 0x1234_5678u32;
    let noise: Vec<u8> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    out.push(Message::Binary(Bytes::from(noise)));
    out.push(Message::text("héllo wörld ✓ 𝄞".repeat(50)));
    out
}

fn data_events(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m @ (Message::Text(_) | Message::Binary(_))) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

// RFC 7692 §7.2: every message survives compression both ways, in both context modes,
// whole and fragmented, through the owned and the borrowing send calls.
#[test]
fn roundtrip_both_roles_both_context_modes() {
    for (client_nct, server_nct) in [(false, false), (true, false), (false, true), (true, true)] {
        for fragment in [None, Some(7), Some(1000)] {
            let mut p = pair(client_nct, server_nct, fragment, 7);
            let sent = messages();
            for m in &sent {
                if let Some(closed) = p.client_closed().or(p.server_closed()) {
                    panic!("{closed:?} {:?}", (client_nct, server_nct, fragment, m.len()));
                }
                p.client.send(m.clone()).unwrap();
                p.server.send(m.clone()).unwrap();
                p.drive();
            }
            // The borrowing calls.
            p.client.send_text("borrowed text borrowed text borrowed text").unwrap();
            p.server.send_bytes(&compressible(4000, 3)).unwrap();
            p.drive();
            let mut expected_at_server = sent.clone();
            expected_at_server.push(Message::text("borrowed text borrowed text borrowed text"));
            let mut expected_at_client = sent.clone();
            expected_at_client.push(Message::Binary(Bytes::from(compressible(4000, 3))));
            let ctx = (client_nct, server_nct, fragment);
            assert_eq!(data_events(&p.server_events), expected_at_server, "{ctx:?}");
            assert_eq!(data_events(&p.client_events), expected_at_client, "{ctx:?}");
            // State lives only as long as its side takes context over.
            let client = p.client.deflate.as_deref().unwrap().allocated();
            let server = p.server.deflate.as_deref().unwrap().allocated();
            assert_eq!(client, (!client_nct, !server_nct), "{ctx:?}");
            assert_eq!(server, (!server_nct, !client_nct), "{ctx:?}");
        }
    }
}

/// The first byte and the length of every frame in `wire` (server frames, unmasked).
fn frame_heads(wire: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    let mut rest = wire;
    while !rest.is_empty() {
        let frame = tether_testkit::parse_frame(rest).unwrap();
        out.push((rest[0], frame.payload.len()));
        rest = &rest[frame.wire_len()..];
    }
    out
}

// RFC 7692 §6.1: RSV1 on the first frame of a compressed message only; control frames
// and messages below the threshold or sent with `send_uncompressed` go out plain.
#[test]
fn rsv1_marks_first_frames_of_compressed_messages_only() {
    let config = test_config()
        .to_builder()
        .deflate(Some(DeflateConfig::default().min_size(100)))
        .fragment_size(Some(10))
        .build()
        .unwrap();
    let mut server = Connection::with_deflate(Role::Server, config, params(false, false));
    server.send(Message::Binary(Bytes::from(vec![7u8; 1000]))).unwrap();
    let heads = frame_heads(&drain(&mut server));
    assert_eq!(heads[0].0, 0x40 | 0x02, "{heads:?}");
    assert!(heads[1..].iter().all(|&(b0, _)| b0 & 0x70 == 0 && b0 & 0x0F == 0), "{heads:?}");
    assert_eq!(heads.last().unwrap().0 & 0x80, 0x80);
    assert!(heads.iter().map(|h| h.1).sum::<usize>() < 100, "compressed: {heads:?}");
    server.send(Message::Binary(Bytes::from(vec![7u8; 99]))).unwrap();
    assert!(frame_heads(&drain(&mut server)).iter().all(|&(b0, _)| b0 & 0x40 == 0));
    server.send_uncompressed(Message::Binary(Bytes::from(vec![7u8; 1000]))).unwrap();
    let heads = frame_heads(&drain(&mut server));
    assert_eq!(heads.len(), 100);
    assert!(heads.iter().all(|&(b0, _)| b0 & 0x40 == 0));
    server.send(Message::Ping(Bytes::from(vec![7u8; 120]))).unwrap();
    server.send_uncompressed(Message::Pong(Bytes::new())).unwrap();
    assert_eq!(frame_heads(&drain(&mut server)), [(0x89, 120), (0x8A, 0)]);
}

/// Feed `bytes` to `make()` whole and byte by byte; both must give the same events.
fn events_both_ways(make: impl Fn() -> Connection, bytes: &[u8]) -> Vec<Event> {
    let whole = feed(&mut make(), Instant::ZERO, bytes, &mut Chunker::new(1, 0));
    let bytewise = feed(&mut make(), Instant::ZERO, bytes, &mut Chunker::new(1, 1));
    assert_eq!(whole, bytewise, "chunking changed the events");
    whole
}

fn deflate_client(peer_nct: bool) -> Connection {
    Connection::with_deflate(Role::Client, config_with(1 << 20, None), params(false, peer_nct))
}

fn hello() -> Event {
    Event::Message(Message::text("Hello"))
}

fn unmasked(fin: bool, opcode: u8, rsv: u8, payload: &[u8]) -> Vec<u8> {
    Frame::new(opcode, payload).fin(fin).rsv(rsv).encode()
}

fn masked(fin: bool, opcode: u8, rsv: u8, payload: &[u8]) -> Vec<u8> {
    Frame::new(opcode, payload).fin(fin).rsv(rsv).mask(Some(RFC_MASK_KEY)).encode()
}

// RFC 7692 §7.2.3.1-§7.2.3.6: the RFC's own byte examples, in both context modes where
// they allow it, whole and byte by byte.
#[test]
fn rfc7692_examples_decode() {
    let hello_deflated = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    for peer_nct in [false, true] {
        // §7.2.3.1: one frame, and the same message in two fragments.
        let one = unmasked(true, TEXT, RSV1, &hello_deflated);
        assert_eq!(events_both_ways(|| deflate_client(peer_nct), &one), [hello()]);
        let mut two = unmasked(false, TEXT, RSV1, &hello_deflated[..3]);
        two.extend(unmasked(true, CONT, 0, &hello_deflated[3..]));
        assert_eq!(events_both_ways(|| deflate_client(peer_nct), &two), [hello()]);
        // §7.2.3.3: a stored (uncompressed) DEFLATE block.
        let stored = unmasked(true, TEXT, RSV1, &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]);
        assert_eq!(events_both_ways(|| deflate_client(peer_nct), &stored), [hello()]);
        // §7.2.3.4: a block with BFINAL set (and the stored-block header the RFC puts
        // after it); the next message starts a new stream. Whatever follows the final
        // block in its message is ignored, as zlib-based peers do.
        let mut fin = unmasked(true, TEXT, RSV1, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]);
        fin.extend(&one);
        fin.extend(unmasked(false, TEXT, RSV1, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
        fin.extend(unmasked(true, CONT, 0, &[0xff, 0xff]));
        assert_eq!(events_both_ways(|| deflate_client(peer_nct), &fin), [hello(), hello(), hello()]);
        // §7.2.3.6: an empty message is one 0x00 byte (with the tail, an empty stored
        // block), whole or with its byte in a continuation.
        let mut empty = unmasked(true, BINARY, RSV1, &[0x00]);
        empty.extend(unmasked(true, TEXT, RSV1, &[0x00]));
        empty.extend(unmasked(false, TEXT, RSV1, &[]));
        empty.extend(unmasked(true, CONT, 0, &[0x00]));
        let events = events_both_ways(|| deflate_client(peer_nct), &empty);
        assert_eq!(
            events,
            [
                Event::Message(Message::Binary(Bytes::new())),
                Event::Message(Message::text("")),
                Event::Message(Message::text(""))
            ]
        );
    }
    // §7.2.3.2: the second message refers back into the first (context takeover).
    let mut twice = unmasked(true, TEXT, RSV1, &hello_deflated);
    twice.extend(unmasked(true, TEXT, RSV1, &[0xf2, 0x00, 0x11, 0x00, 0x00]));
    assert_eq!(events_both_ways(|| deflate_client(false), &twice), [hello(), hello()]);
    // ...which a decompressor that forgot the first message cannot read: 1007.
    let events = events_both_ways(|| deflate_client(true), &twice);
    assert_eq!(events[0], hello());
    assert_eq!(protocol_failure(&events), (CloseCode::INVALID_PAYLOAD, ProtocolError::InvalidCompressedData));
}

fn protocol_failure(events: &[Event]) -> (CloseCode, ProtocolError) {
    match events.last() {
        Some(Event::Closed(Closed { code, cause: CloseCause::Protocol(e), .. })) => (*code, e.clone()),
        other => panic!("expected a protocol failure, got {other:?}"),
    }
}

fn deflate_server(max_message: usize, peer_nct: bool) -> Connection {
    Connection::with_deflate(Role::Server, config_with(max_message, None), params(false, peer_nct))
}

/// A client connection's wire bytes for `messages`, compressed with context takeover
/// (fragmented into `fragment`-byte frames if set).
fn client_wire(messages: &[&[u8]], fragment: Option<usize>, nct: bool) -> Vec<u8> {
    let mut client = Connection::with_deflate(Role::Client, config_with(usize::MAX >> 1, fragment), params(nct, false));
    let mut wire = Vec::new();
    for m in messages {
        client.send_bytes(m).unwrap();
        wire.extend(drain(&mut client));
    }
    wire
}

// Hostile peers: decompression bombs. A small compressed message that inflates past
// `max_message_size` fails with 1009 as the limit is crossed, never holding more than
// max + 1 decompressed bytes: in one frame, fragmented into many, and in a later message
// of a context-takeover stream.
#[test]
fn bombs_stop_at_the_limit() {
    let max = 1 << 20;
    let zeros = vec![0u8; 16 << 20];
    for fragment in [None, Some(100)] {
        let wire = client_wire(&[&zeros], fragment, false);
        assert!(wire.len() < 128 << 10, "a bomb is small: {}", wire.len());
        let mut server = deflate_server(max, false);
        let events = feed(&mut server, Instant::ZERO, &wire, &mut Chunker::new(3, 4096));
        match protocol_failure(&events) {
            (CloseCode::MESSAGE_TOO_BIG, ProtocolError::MessageTooLarge { size, max: m }) => {
                assert_eq!(m, max);
                assert!(size as usize <= max + 1, "held {size} bytes");
            }
            other => panic!("{other:?}"),
        }
    }
    // Across context takeover: messages under the limit pass, the one over it fails.
    let small = vec![0u8; max - 10];
    let wire = client_wire(&[&small, &small, &zeros[..max + 1]], None, false);
    let events = feed(&mut deflate_server(max, false), Instant::ZERO, &wire, &mut Chunker::new(5, 0));
    assert_eq!(data_events(&events).len(), 2);
    assert_eq!(protocol_failure(&events).0, CloseCode::MESSAGE_TOO_BIG);
    // Exactly at the limit is fine, compressed or not.
    let wire = client_wire(&[&zeros[..max]], Some(1000), true);
    let events = feed(&mut deflate_server(max, true), Instant::ZERO, &wire, &mut Chunker::new(5, 0));
    assert_eq!(data_events(&events), [Message::Binary(Bytes::from(vec![0u8; max]))]);
}

// RFC 7692 §6.1 / RFC 6455 §5.2: RSV1 only on the first frame of a data message, and only
// with the extension; RSV2 and RSV3 stay reserved. All fail with 1002.
#[test]
fn rsv1_misuse_fails_with_1002() {
    let compressed_a = [0x4a, 0x04, 0x00];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("RSV1 on a continuation", {
            let mut w = masked(false, TEXT, 0, b"a");
            w.extend(masked(true, CONT, RSV1, &compressed_a));
            w
        }),
        ("RSV1 on a continuation of a compressed message", {
            let mut w = masked(false, TEXT, RSV1, &compressed_a);
            w.extend(masked(true, CONT, RSV1, &[0x00]));
            w
        }),
        ("RSV1 on a ping", masked(true, PING, RSV1, b"")),
        ("RSV1 on a close", masked(true, 0x8, RSV1, b"")),
        ("RSV2", masked(true, TEXT, 0b010, b"a")),
        ("RSV1 and RSV3", masked(true, TEXT, 0b101, &compressed_a)),
    ];
    for (what, wire) in cases {
        let events = events_both_ways(|| deflate_server(1 << 20, false), &wire);
        let (code, error) = protocol_failure(&events);
        assert_eq!(code, CloseCode::PROTOCOL_ERROR, "{what}");
        assert!(matches!(error, ProtocolError::ReservedBitsSet { .. }), "{what}: {error:?}");
    }
    // Without the extension negotiated, RSV1 is reserved too.
    let plain = || Connection::new(Role::Server, config_with(1 << 20, None));
    let events = events_both_ways(plain, &masked(true, TEXT, RSV1, &compressed_a));
    assert_eq!(protocol_failure(&events), (CloseCode::PROTOCOL_ERROR, ProtocolError::ReservedBitsSet { bits: 4 }));
    // The sanity case: the same compressed "a" decodes with it.
    let events = events_both_ways(|| deflate_server(1 << 20, false), &masked(true, TEXT, RSV1, &compressed_a));
    assert_eq!(events, [Event::Message(Message::text("a"))]);
}

// RFC 7692 §7.2.2 ("Fail the WebSocket Connection" on data that does not decompress):
// 1007, as data inconsistent with the message's type; likewise decompressed text that is not UTF-8 (RFC 6455 §8.1).
#[test]
fn corrupt_streams_and_bad_text_fail_with_1007() {
    for (what, payload) in [
        ("reserved block type", vec![0xff, 0xff, 0xff, 0xff]),
        ("distance too far back", vec![0xf2, 0x00, 0x11, 0x00, 0x00]),
    ] {
        let events = events_both_ways(|| deflate_server(1 << 20, false), &masked(true, BINARY, RSV1, &payload));
        assert_eq!(
            protocol_failure(&events),
            (CloseCode::INVALID_PAYLOAD, ProtocolError::InvalidCompressedData),
            "{what}"
        );
    }
    let mut state = DeflateState::new(params(false, false), &DeflateConfig::default());
    let bad_utf8 = state.compress(&[b'a', 0xc3, 0x28, b'b']).unwrap();
    let events = events_both_ways(|| deflate_server(1 << 20, false), &masked(true, TEXT, RSV1, &bad_utf8));
    assert_eq!(protocol_failure(&events), (CloseCode::INVALID_PAYLOAD, ProtocolError::InvalidUtf8));
    // A character split across two compressed fragments is fine; one that never ends is not.
    let mut state = DeflateState::new(params(false, false), &DeflateConfig::default());
    let first = state.compress("é".as_bytes()).unwrap();
    let mut wire = masked(false, TEXT, RSV1, &first[..first.len() / 2]);
    wire.extend(masked(true, CONT, 0, &first[first.len() / 2..]));
    assert_eq!(events_both_ways(|| deflate_server(1 << 20, false), &wire), [Event::Message(Message::text("é"))]);
    let mut state = DeflateState::new(params(false, false), &DeflateConfig::default());
    let cut = state.compress(&"é".as_bytes()[..1]).unwrap();
    let events = events_both_ways(|| deflate_server(1 << 20, false), &masked(true, TEXT, RSV1, &cut));
    assert_eq!(protocol_failure(&events), (CloseCode::INVALID_PAYLOAD, ProtocolError::InvalidUtf8));
}

// §7.2.3.6: every empty message we compress is the one byte 0x00, even when zlib has
// nothing to flush (a second empty message in a row), so the receiver's tail always makes
// an empty stored block.
#[test]
fn empty_messages_compress_to_one_zero_byte() {
    for nct in [false, true] {
        let mut state = DeflateState::new(params(nct, false), &DeflateConfig::default());
        for m in [&b""[..], b"", b"a", b"", b""] {
            let out = state.compress(m).unwrap();
            if m.is_empty() {
                assert_eq!(out, [0x00], "nct {nct}");
            }
        }
    }
}

// Messages sent plain in a deflate connection still arrive (RSV1 is per message), and
// a peer may mix them with compressed ones under context takeover.
#[test]
fn plain_and_compressed_messages_mix() {
    let mut client = Connection::with_deflate(Role::Client, config_with(1 << 20, None), params(false, false));
    let mut wire = Vec::new();
    for i in 0..20 {
        let m = Message::Binary(Bytes::from(compressible(500 + i, i as u8)));
        if i % 3 == 0 {
            client.send_uncompressed(m).unwrap();
        } else {
            client.send(m).unwrap();
        }
        wire.extend(drain(&mut client));
    }
    let events = events_both_ways(|| deflate_server(1 << 20, false), &wire);
    let expected: Vec<Message> =
        (0..20).map(|i| Message::Binary(Bytes::from(compressible(500 + i, i as u8)))).collect();
    assert_eq!(data_events(&events), expected);
}

// A kept compressor unused for `release_idle_compressor` is freed by the connection's
// timer (the decompressor stays: the peer keeps its context); the next message starts a
// fresh compressor that the peer's context-keeping decompressor reads like any other.
#[test]
fn an_idle_compressor_is_released_and_the_next_message_starts_afresh() {
    let mut p = pair(false, false, None, 11);
    let mut sent = Vec::new();
    let mut send_both = |p: &mut Pair, i: u8| {
        let m = Message::Binary(Bytes::from(compressible(3000, i)));
        p.client.send(m.clone()).unwrap();
        p.server.send(m.clone()).unwrap();
        p.drive();
        sent.push(m);
    };
    send_both(&mut p, 0);
    let allocated =
        |p: &Pair| (p.client.deflate.as_deref().unwrap().allocated(), p.server.deflate.as_deref().unwrap().allocated());
    assert_eq!(allocated(&p), ((true, true), (true, true)));
    let release = crate::deflate::DEFAULT_COMPRESSOR_IDLE_RELEASE;
    assert_eq!(p.server.poll_timeout(), Some(p.now + release), "the release is the next deadline");
    p.advance(release - Duration::from_millis(1));
    assert_eq!(allocated(&p), ((true, true), (true, true)), "not before the deadline");
    // Sending moves the deadline.
    send_both(&mut p, 1);
    p.advance(release - Duration::from_millis(1));
    assert_eq!(allocated(&p), ((true, true), (true, true)), "each message restarts the clock");
    p.advance(Duration::from_millis(1));
    assert_eq!(allocated(&p), ((false, true), (false, true)), "compressors freed, decompressors kept");
    assert_eq!(p.server.poll_timeout(), None, "nothing left to release");
    for i in 2..6 {
        send_both(&mut p, i);
    }
    assert!(p.client_closed().is_none() && p.server_closed().is_none());
    assert_eq!(data_events(&p.server_events), sent);
    assert_eq!(data_events(&p.client_events), sent);
}

// `release_idle_compressor(None)` keeps the compressor for the connection's life.
#[test]
fn a_compressor_is_kept_when_release_is_off() {
    let config = test_config()
        .to_builder()
        .deflate(Some(DeflateConfig::default().min_size(0).release_idle_compressor(None)))
        .build()
        .unwrap();
    let mut p = Pair::new(config.clone(), 3, 3000);
    p.server = Connection::with_deflate(Role::Server, config.clone(), params(false, false));
    p.client = Connection::with_deflate(Role::Client, config, params(false, false));
    p.server.send(Message::Binary(Bytes::from(compressible(3000, 1)))).unwrap();
    p.drive();
    assert_eq!(p.server.poll_timeout(), None);
    p.advance(Duration::from_secs(3600));
    assert_eq!(p.server.deflate.as_deref().unwrap().allocated(), (true, false));
}
