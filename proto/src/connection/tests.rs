//! Scenario tests for the connection (cfg(test) only): every rule of RFC 6455 after the
//! handshake, both roles, each test naming its RFC section; the manual's hostile-peer chapter maps catalogue items to these tests.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::pair::{client_frame, drain, feed, server_frame, test_config, Chunker, Pair};
use bytes::{BufMut, Bytes};

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONT: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

fn server() -> Connection {
    Connection::new(Role::Server, test_config())
}

fn client() -> Connection {
    Connection::new(Role::Client, test_config())
}

fn server_with(f: impl FnOnce(crate::ConfigBuilder) -> crate::ConfigBuilder) -> Connection {
    Connection::new(Role::Server, f(test_config().to_builder()).build().unwrap())
}

/// Feed whole, then one byte at a time; both must give the same events.
fn events_both_ways(make: impl Fn() -> Connection, bytes: &[u8]) -> Vec<Event> {
    let mut a = make();
    let whole = feed(&mut a, Instant::ZERO, bytes, &mut Chunker::new(1, 0));
    let mut b = make();
    let bytewise = feed(&mut b, Instant::ZERO, bytes, &mut Chunker::new(1, 1));
    assert_eq!(whole, bytewise, "chunking changed the events");
    whole
}

fn text(s: &str) -> Event {
    Event::Message(Message::text(s))
}

fn binary(b: &[u8]) -> Event {
    Event::Message(Message::Binary(Bytes::copy_from_slice(b)))
}

fn protocol_error(events: &[Event]) -> (CloseCode, ProtocolError) {
    match events.last() {
        Some(Event::Closed(Closed { code, cause: CloseCause::Protocol(e), .. })) => (*code, e.clone()),
        other => panic!("expected a protocol failure, got {other:?} in {events:?}"),
    }
}

/// The close frame a failing server wrote (unmasked): its code.
fn sent_close_code(conn: &mut Connection) -> u16 {
    let out = drain(conn);
    let pos = out.windows(1).rposition(|w| w[0] == 0x88).expect("a close frame");
    u16::from_be_bytes([out[pos + 2], out[pos + 3]])
}

// ---- messages ----

// §5.6: text and binary round trip both ways, including empty and large messages, with
// random chunking (1-byte reads among them).
#[test]
fn messages_round_trip_both_ways_rfc6455_5_6() {
    for max_chunk in [0, 1, 7, 1000] {
        let mut p = Pair::new(test_config(), 9, max_chunk);
        let big = vec![0xA5u8; 1 << 20];
        p.client.send(Message::text("hello")).unwrap();
        p.client.send(Message::binary(Vec::new())).unwrap();
        p.client.send(Message::Binary(Bytes::from(big.clone()))).unwrap();
        p.server.send(Message::text("héllo wörld")).unwrap();
        p.server.send(Message::Binary(Bytes::from(big.clone()))).unwrap();
        p.drive();
        assert_eq!(p.server_events, vec![text("hello"), binary(&[]), binary(&big)]);
        assert_eq!(p.client_events, vec![text("héllo wörld"), binary(&big)]);
    }
}

// §5.4: a fragmented outgoing message is reassembled; pings interleave between fragments.
#[test]
fn fragmentation_with_interleaved_ping_rfc6455_5_4() {
    let cfg = test_config().to_builder().fragment_size(Some(10)).build().unwrap();
    let mut p = Pair::new(cfg, 3, 5);
    let msg = "0123456789abcdefghijklmnopqrstuvwxyz";
    p.client.send(Message::text(msg)).unwrap();
    let wire = drain(&mut p.client);
    // 4 frames: 10 + 10 + 10 + 6 bytes of payload, the first Text, then continuations.
    assert_eq!(wire[0] & 0x8F, 0x01);
    let frames = 36 + 4 * 6;
    assert_eq!(wire.len(), frames);
    let events = feed(&mut p.server, p.now, &wire, &mut Chunker::new(5, 3));
    assert_eq!(events, vec![text(msg)]);

    // Hostile-peers D4: a ping between fragments is answered; the message survives.
    let mut s = server();
    let mut bytes = client_frame(false, TEXT, b"abc");
    bytes.extend(client_frame(true, PING, b"p"));
    bytes.extend(client_frame(false, CONT, b"def"));
    bytes.extend(client_frame(true, CONT, b"ghi"));
    let events = feed(&mut s, Instant::ZERO, &bytes, &mut Chunker::new(2, 2));
    assert_eq!(events, vec![Event::Message(Message::Ping(Bytes::from_static(b"p"))), text("abcdefghi")]);
    assert_eq!(drain(&mut s), server_frame(true, PONG, b"p"));
}

// Hostile-peers D5: 4 MiB in 64-byte fragments (Autobahn 9.3.1), reassembled.
#[test]
fn many_small_fragments_rfc6455_5_4() {
    let mut bytes = Vec::new();
    let n = (4 << 20) / 64;
    for i in 0..n {
        let op = if i == 0 { BINARY } else { CONT };
        bytes.extend(client_frame(i == n - 1, op, &[7u8; 64]));
    }
    let mut s = server();
    let events = feed(&mut s, Instant::ZERO, &bytes, &mut Chunker::new(1, 70_000));
    assert_eq!(events.len(), 1);
    match &events[0] {
        Event::Message(Message::Binary(b)) => assert_eq!(b.len(), 4 << 20),
        other => panic!("{other:?}"),
    }
}

// Hostile-peers D6: endless empty continuations keep memory flat.
#[test]
fn empty_continuation_flood_is_flat() {
    let mut s = server();
    let _ = feed(&mut s, Instant::ZERO, &client_frame(false, BINARY, b"x"), &mut Chunker::new(1, 0));
    let empty = client_frame(false, CONT, b"");
    let mut chunk = Vec::new();
    for _ in 0..10_000 {
        chunk.extend_from_slice(&empty);
    }
    for _ in 0..100 {
        let events = feed(&mut s, Instant::ZERO, &chunk, &mut Chunker::new(1, 0));
        assert!(events.is_empty());
        assert!(s.rx.capacity() <= 256 << 10, "receive buffer grew to {}", s.rx.capacity());
        assert_eq!(s.recv.partial.as_ref().unwrap().buf.len(), 1);
    }
}

// ---- framing violations (§5.1, §5.2, §5.4, §5.5): fail with 1002, nothing after ----

#[test]
fn framing_violations_fail_with_1002() {
    let cases: Vec<(Vec<u8>, ProtocolError)> = vec![
        // C1: unmasked client frame.
        (server_frame(true, TEXT, b"hello"), ProtocolError::UnmaskedClientFrame),
        // C7: reserved bits.
        (
            {
                let mut f = client_frame(true, TEXT, b"");
                f[0] |= 0x40;
                f
            },
            ProtocolError::ReservedBitsSet { bits: 4 },
        ),
        // C8: reserved opcodes.
        (client_frame(true, 0x3, b""), ProtocolError::ReservedOpcode(3)),
        (client_frame(true, 0xB, b""), ProtocolError::ReservedOpcode(0xB)),
        // D1: continuation with nothing to continue.
        (client_frame(true, CONT, b"x"), ProtocolError::UnexpectedContinuation),
        // D2: new data frame inside a fragmented message.
        (
            {
                let mut f = client_frame(false, TEXT, b"a");
                f.extend(client_frame(true, BINARY, b"b"));
                f
            },
            ProtocolError::DataFrameInsideFragmentedMessage,
        ),
        // D3: fragmented control frames.
        (client_frame(false, PING, b""), ProtocolError::FragmentedControlFrame),
        (client_frame(false, CLOSE, b""), ProtocolError::FragmentedControlFrame),
        // E1: control frame over 125 bytes.
        (client_frame(true, PING, &[0; 126]), ProtocolError::ControlFrameTooLarge { len: 126 }),
        (client_frame(true, PONG, &[0; 126]), ProtocolError::ControlFrameTooLarge { len: 126 }),
        // E4: 1-byte close payload.
        (client_frame(true, CLOSE, &[3]), ProtocolError::ClosePayloadTooShort),
        // E5: codes that must not appear on the wire.
        (client_frame(true, CLOSE, &1005u16.to_be_bytes()), ProtocolError::InvalidCloseCode(1005)),
        (client_frame(true, CLOSE, &999u16.to_be_bytes()), ProtocolError::InvalidCloseCode(999)),
        // C3: 64-bit length with the MSB set.
        (vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], ProtocolError::PayloadLengthMsbSet),
    ];
    for (bytes, expected) in cases {
        let mut s = server();
        let mut all = client_frame(true, TEXT, b"before");
        all.extend(&bytes);
        all.extend(client_frame(true, TEXT, b"after"));
        let events = events_both_ways(server, &all);
        assert_eq!(events[0], text("before"), "messages before a violation are delivered");
        assert_eq!(events.len(), 2, "nothing after the failure: {events:?}");
        let (code, error) = protocol_error(&events);
        assert_eq!(error, expected);
        assert_eq!(code, CloseCode::PROTOCOL_ERROR);
        let _ = feed(&mut s, Instant::ZERO, &all, &mut Chunker::new(1, 0));
        assert_eq!(sent_close_code(&mut s), 1002);
        assert_eq!(s.state(), State::Closed);
        assert!(s.should_shutdown());
        assert!(s.read_buf().is_empty());
        assert_eq!(s.poll_event(), None);
        assert_eq!(s.send(Message::text("x")), Err(SendError::AlreadyClosed));
    }
}

// C2 (§5.1): a client fails on a masked server frame.
#[test]
fn client_rejects_masked_frames_rfc6455_5_1() {
    let events = events_both_ways(client, &client_frame(true, TEXT, b"hi"));
    assert_eq!(protocol_error(&events).1, ProtocolError::MaskedServerFrame);
}

// C1: the opt-in for unmasked client frames.
#[test]
fn unmasked_frames_opt_in() {
    let events = events_both_ways(|| server_with(|b| b.accept_unmasked_frames(true)), &server_frame(true, TEXT, b"hi"));
    assert_eq!(events, vec![text("hi")]);
}

// ---- limits (§10.4): C10, D7 ----

#[test]
fn frame_and_message_limits_rfc6455_10_4() {
    let make = || server_with(|b| b.max_message_size(100).max_frame_size(50));
    // Exactly at the frame limit: accepted.
    assert_eq!(events_both_ways(make, &client_frame(true, BINARY, &[1; 50])), vec![binary(&[1; 50])]);
    // One over: 1009, decided at the header.
    let mut s = make();
    let events = feed(&mut s, Instant::ZERO, &client_frame(true, BINARY, &[1; 51])[..4], &mut Chunker::new(1, 0));
    let (code, error) = protocol_error(&events);
    assert_eq!(code, CloseCode::MESSAGE_TOO_BIG);
    assert_eq!(error, ProtocolError::FrameTooLarge { size: 51, max: 50 });
    assert_eq!(sent_close_code(&mut s), 1009);
    // Message exactly at the limit across fragments: accepted.
    let mut at = client_frame(false, BINARY, &[1; 50]);
    at.extend(client_frame(true, CONT, &[2; 50]));
    assert_eq!(events_both_ways(make, &at).len(), 1);
    // D7: the running total crosses the cap: fail at that frame's header, not at FIN.
    let mut over = client_frame(false, BINARY, &[1; 50]);
    over.extend(client_frame(false, CONT, &[2; 50]));
    over.extend(&client_frame(false, CONT, &[3; 1])[..6]); // header only
    let mut s = make();
    let events = feed(&mut s, Instant::ZERO, &over, &mut Chunker::new(1, 0));
    assert_eq!(protocol_error(&events).1, ProtocolError::MessageTooLarge { size: 101, max: 100 });
}

// C4, C5: a huge announced length reserves nothing; memory follows received bytes.
#[test]
fn announced_length_reserves_nothing() {
    let mut s = server();
    let header = [0x82, 0xff, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 1, 2, 3, 4]; // 16 MiB - 1
    let _ = feed(&mut s, Instant::ZERO, &header, &mut Chunker::new(1, 0));
    let mut received = 0usize;
    for _ in 0..64 {
        let buf = s.read_buf();
        assert!(!buf.is_empty());
        let n = buf.len().min(1000);
        s.commit_read(Instant::ZERO, n);
        received += n;
        assert_eq!(s.poll_event(), None);
        assert!(
            s.rx.capacity() <= 2 * received + 2 * s.config.read_buffer_size,
            "capacity {} after {} bytes",
            s.rx.capacity(),
            received
        );
    }
}

// Read-side backpressure: with complete frames waiting, read_buf stops offering space.
#[test]
fn read_buf_applies_backpressure() {
    let mut s = server();
    let msg = client_frame(true, BINARY, &[0; 1000]);
    let mut total = 0;
    loop {
        let buf = s.read_buf();
        if buf.is_empty() {
            break;
        }
        let n = buf.len().min(msg.len());
        buf[..n].copy_from_slice(&msg[..n]);
        s.commit_read(Instant::ZERO, n);
        total += n;
        assert!(total < 1 << 20, "read_buf never pushed back");
    }
    assert!(total >= READ_AHEAD);
    assert!(s.poll_event().is_some());
}

// ---- UTF-8 (§8.1): F1-F4 through the connection ----

#[test]
fn invalid_utf8_fails_with_1007_rfc6455_8_1() {
    for bad in [&b"\xce\xba\xe1\xbd\xb9\xcf\x83\xed\xa0\x80"[..], b"\xc0\xaf", b"\xf4\x90\x80\x80", b"ok\xe2\x82"] {
        let events = events_both_ways(server, &client_frame(true, TEXT, bad));
        let (code, error) = protocol_error(&events);
        assert_eq!((code, error), (CloseCode::INVALID_PAYLOAD, ProtocolError::InvalidUtf8));
    }
    // F2: a code point split across fragments is fine.
    let mut ok = client_frame(false, TEXT, b"\xf0\x9f");
    ok.extend(client_frame(true, CONT, b"\x98\x80"));
    assert_eq!(events_both_ways(server, &ok), vec![text("😀")]);
    // F4: truncated at the end of a fragmented message.
    let mut trunc = client_frame(false, TEXT, b"a");
    trunc.extend(client_frame(true, CONT, b"\xe2\x82"));
    assert_eq!(protocol_error(&events_both_ways(server, &trunc)).1, ProtocolError::InvalidUtf8);
}

// F3 / Autobahn 6.4.x: fail as soon as the prefix is impossible — before later fragments,
// and even in the middle of a frame whose rest has not arrived.
#[test]
fn utf8_fails_fast_rfc6455_8_1() {
    let mut s = server();
    let first = client_frame(false, TEXT, b"\xce\xba\xf4\x90");
    let events = feed(&mut s, Instant::ZERO, &first, &mut Chunker::new(1, 0));
    assert_eq!(protocol_error(&events).1, ProtocolError::InvalidUtf8);

    let mut s = server();
    let whole = client_frame(true, TEXT, b"valid \xed\xa0\x80 and more bytes that never come");
    let events = feed(&mut s, Instant::ZERO, &whole[..6 + 9], &mut Chunker::new(1, 0));
    assert_eq!(protocol_error(&events).1, ProtocolError::InvalidUtf8);
}

// ---- ping / pong (§5.5.2, §5.5.3) ----

#[test]
fn automatic_pong_with_same_payload_rfc6455_5_5_2() {
    let mut p = Pair::new(test_config(), 1, 3);
    p.client.send(Message::Ping(Bytes::from_static(b"abc"))).unwrap();
    p.drive();
    assert_eq!(p.server_events, vec![Event::Message(Message::Ping(Bytes::from_static(b"abc")))]);
    assert_eq!(p.client_events, vec![Event::Message(Message::Pong(Bytes::from_static(b"abc")))]);
    // Turned off: no pong.
    let mut s = server_with(|b| b.auto_pong(false));
    let _ = feed(&mut s, Instant::ZERO, &client_frame(true, PING, b"x"), &mut Chunker::new(1, 0));
    assert!(drain(&mut s).is_empty());
}

// Pongs go ahead of queued data that has not started, never inside a frame.
#[test]
fn pong_goes_ahead_of_unstarted_data() {
    let mut s = server();
    s.send(Message::binary(vec![1u8; 10])).unwrap();
    s.send(Message::binary(vec![2u8; 10])).unwrap();
    // Write 3 bytes of the first frame.
    let mut chunks = [&[][..]; 4];
    let _ = s.poll_transmit(&mut chunks);
    s.consume_transmit(3);
    let _ = feed(&mut s, Instant::ZERO, &client_frame(true, PING, b"p"), &mut Chunker::new(1, 0));
    let out = drain(&mut s);
    let mut expected = server_frame(true, BINARY, &[1; 10])[3..].to_vec();
    expected.extend(server_frame(true, PONG, b"p"));
    expected.extend(server_frame(true, BINARY, &[2; 10]));
    assert_eq!(out, expected);
}

// E2: a ping flood while we never write keeps pong memory bounded: pongs queue up to
// URGENT_CAP bytes, then only the latest ping is remembered.
#[test]
fn ping_flood_keeps_pong_memory_bounded() {
    let mut s = server();
    let mut flood = Vec::new();
    for i in 0..1000u32 {
        flood.extend(client_frame(true, PING, &[(i % 256) as u8; 125]));
    }
    for _ in 0..100 {
        let events = feed(&mut s, Instant::ZERO, &flood, &mut Chunker::new(1, 0));
        assert_eq!(events.len(), 1000);
        assert!(s.buffered_transmit() <= URGENT_CAP + 2 + 125, "{}", s.buffered_transmit());
    }
    let out = drain(&mut s);
    assert!(out.ends_with(&server_frame(true, PONG, &[(999 % 256) as u8; 125])), "the latest ping is answered");
}

// E2 with a close after the flood: the latest ping came before the peer's close, so its pong
// is owed (§5.5.2) and goes out before our close frame, also when it was only remembered.
#[test]
fn pending_pong_is_sent_before_the_close_answer() {
    let mut s = server();
    let mut flood = Vec::new();
    for i in 0..1000u32 {
        flood.extend(client_frame(true, PING, &[(i % 256) as u8; 125]));
    }
    feed(&mut s, Instant::ZERO, &flood, &mut Chunker::new(1, 0));
    feed(&mut s, Instant::ZERO, &client_frame(true, CLOSE, &1000u16.to_be_bytes()), &mut Chunker::new(1, 0));
    let out = drain(&mut s);
    let pong = server_frame(true, PONG, &[(999 % 256) as u8; 125]);
    let close = server_frame(true, CLOSE, &1000u16.to_be_bytes());
    assert!(out.ends_with(&[pong, close].concat()), "the latest ping is answered before the close");
}

// E3: unsolicited pongs are delivered (if asked for) and otherwise ignored.
#[test]
fn unsolicited_pongs_are_harmless() {
    let mut bytes = Vec::new();
    for _ in 0..5 {
        bytes.extend(client_frame(true, PONG, b"?"));
    }
    let events = events_both_ways(server, &bytes);
    assert_eq!(events.len(), 5);
}

// ---- close handshake (§5.5.1, §7) ----

// Local close: the peer echoes the code; the server closes TCP first, the client after.
#[test]
fn close_initiated_by_client_rfc6455_7_1_2() {
    let mut p = Pair::new(test_config(), 4, 3);
    p.client.send(Message::text("last")).unwrap();
    p.client.close(p.now, CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(p.client.state(), State::Closing);
    assert_eq!(p.client.send(Message::text("x")), Err(SendError::AlreadyClosed));
    assert_eq!(p.client.close(p.now, CloseCode::NORMAL, ""), Err(SendError::AlreadyClosed));
    p.drive();
    assert_eq!(p.server_events[0], text("last"));
    let s = p.server_closed().unwrap();
    assert_eq!((s.code, s.reason.as_str(), &s.cause), (CloseCode::NORMAL, "bye", &CloseCause::PeerInitiated));
    let c = p.client_closed().unwrap();
    assert_eq!((c.code, &c.cause), (CloseCode::NORMAL, &CloseCause::LocallyInitiated));
    assert!(c.is_clean() && s.is_clean());
    // E11: the server shut down first; the client then saw EOF and shut down too.
    assert!(p.server_shut && p.client_shut);
    assert_eq!(p.client.state(), State::Closed);
}

// The server initiates; the client answers and waits for the server's EOF.
#[test]
fn close_initiated_by_server_rfc6455_7_1_1() {
    let mut p = Pair::new(test_config(), 5, 0);
    p.server.close(p.now, CloseCode::new(4000).unwrap(), "done").unwrap();
    p.drive();
    let c = p.client_closed().unwrap();
    assert_eq!((c.code.as_u16(), c.reason.as_str(), &c.cause), (4000, "done", &CloseCause::PeerInitiated));
    assert_eq!(p.server_closed().unwrap().cause, CloseCause::LocallyInitiated);
    assert!(p.server_shut && p.client_shut);
}

// A client whose server never ends TCP gives up after the close timeout.
#[test]
fn client_waits_bounded_for_server_eof() {
    let mut c = client();
    let _ = feed(&mut c, Instant::ZERO, &server_frame(true, CLOSE, &1000u16.to_be_bytes()), &mut Chunker::new(1, 0));
    let reply = drain(&mut c);
    assert_eq!(reply.len(), 2 + 4 + 2, "masked close reply with the code");
    assert!(!c.should_shutdown());
    let deadline = c.poll_timeout().unwrap();
    assert_eq!(deadline, Instant::ZERO + Duration::from_secs(5));
    c.handle_timeout(deadline);
    assert!(c.should_shutdown());
}

// E8: data after the peer's close is discarded; one close is sent.
#[test]
fn data_after_close_is_discarded() {
    let mut bytes = client_frame(true, CLOSE, &1000u16.to_be_bytes());
    bytes.extend(client_frame(true, TEXT, b"late"));
    let events = events_both_ways(server, &bytes);
    assert_eq!(events.len(), 1);
    let mut s = server();
    let _ = feed(&mut s, Instant::ZERO, &bytes, &mut Chunker::new(1, 0));
    assert_eq!(drain(&mut s), server_frame(true, CLOSE, &1000u16.to_be_bytes()));
}

// Empty close: reported as 1005, answered with an empty close.
#[test]
fn empty_close_reports_1005_rfc6455_7_1_5() {
    let mut s = server();
    let events = feed(&mut s, Instant::ZERO, &client_frame(true, CLOSE, b""), &mut Chunker::new(1, 0));
    match &events[0] {
        Event::Closed(c) => assert_eq!((c.code, &c.cause), (CloseCode::NO_STATUS, &CloseCause::PeerInitiated)),
        e => panic!("{e:?}"),
    }
    assert_eq!(drain(&mut s), server_frame(true, CLOSE, b""));
}

// E6: an invalid UTF-8 close reason fails with 1007.
#[test]
fn invalid_close_reason_fails_1007() {
    let mut s = server();
    let events =
        feed(&mut s, Instant::ZERO, &client_frame(true, CLOSE, &[3, 0xe8, 0xff, 0xfe]), &mut Chunker::new(1, 0));
    assert_eq!(protocol_error(&events), (CloseCode::INVALID_PAYLOAD, ProtocolError::InvalidCloseReason));
    assert_eq!(sent_close_code(&mut s), 1007);
}

// E7: a 123-byte reason is fine; 124 makes the frame too large.
#[test]
fn close_reason_lengths() {
    let mut ok = 1000u16.to_be_bytes().to_vec();
    ok.extend([b'a'; 123]);
    assert!(matches!(
        events_both_ways(server, &client_frame(true, CLOSE, &ok))[0],
        Event::Closed(Closed { cause: CloseCause::PeerInitiated, .. })
    ));
    ok.push(b'a');
    let events = events_both_ways(server, &client_frame(true, CLOSE, &ok));
    assert_eq!(protocol_error(&events).1, ProtocolError::ControlFrameTooLarge { len: 126 });
}

// E9: we close, the peer never answers: 1006 after the close timeout, then shut down.
#[test]
fn close_timeout_reports_1006() {
    let mut p = Pair::new(test_config(), 6, 0);
    p.server_reads = false;
    p.client.close(p.now, CloseCode::NORMAL, "").unwrap();
    p.drive();
    assert!(p.client_closed().is_none());
    // The close frame is not written (the server does not read): the engine first asks for
    // a tick now, to start its write clock; then the close timeout is next.
    assert_eq!(p.client.poll_timeout(), Some(p.now));
    p.client.handle_timeout(p.now);
    assert_eq!(p.client.poll_timeout(), Some(Instant::ZERO + Duration::from_secs(5)));
    p.advance(Duration::from_secs(4));
    assert!(p.client_closed().is_none());
    p.advance(Duration::from_secs(1));
    let c = p.client_closed().unwrap();
    assert_eq!((c.code, &c.cause), (CloseCode::ABNORMAL, &CloseCause::CloseTimeout));
    assert!(p.client.should_shutdown());
}

// E10: both sides close at once: one close each, clean 1000 on both.
#[test]
fn simultaneous_close() {
    let mut p = Pair::new(test_config(), 7, 2);
    p.client.close(p.now, CloseCode::NORMAL, "").unwrap();
    p.server.close(p.now, CloseCode::NORMAL, "").unwrap();
    p.drive();
    for c in [p.client_closed().unwrap(), p.server_closed().unwrap()] {
        assert_eq!((c.code, &c.cause), (CloseCode::NORMAL, &CloseCause::LocallyInitiated));
    }
    assert!(p.client_shut && p.server_shut);
}

// Messages that arrive after we sent close (but before the peer's) are still delivered.
#[test]
fn messages_in_flight_during_close_are_delivered() {
    let mut p = Pair::new(test_config(), 8, 0);
    p.server.send(Message::text("in flight")).unwrap();
    p.client.close(p.now, CloseCode::NORMAL, "").unwrap();
    p.drive();
    assert_eq!(p.client_events[0], text("in flight"));
    assert!(p.client_closed().unwrap().is_clean());
}

// G5: EOF mid-frame without a close frame: 1006, the partial message is dropped, complete
// messages before it are delivered.
#[test]
fn eof_mid_frame_reports_1006() {
    let mut s = server();
    let mut bytes = client_frame(true, TEXT, b"whole");
    bytes.extend(&client_frame(true, TEXT, b"partial")[..5]);
    let mut events = feed(&mut s, Instant::ZERO, &bytes, &mut Chunker::new(1, 0));
    s.receive_eof(Instant::ZERO);
    while let Some(e) = s.poll_event() {
        events.push(e);
    }
    assert_eq!(events[0], text("whole"));
    match &events[1] {
        Event::Closed(c) => assert_eq!((c.code, &c.cause), (CloseCode::ABNORMAL, &CloseCause::TransportEof)),
        e => panic!("{e:?}"),
    }
    assert_eq!(events.len(), 2);
    assert!(s.should_shutdown());
}

// ---- keepalive and idle timeout (time is an argument) ----

#[test]
fn keepalive_detects_dead_peer() {
    let cfg = test_config()
        .to_builder()
        .keepalive_interval(Some(Duration::from_secs(20)))
        .keepalive_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut s = Connection::new(Role::Server, cfg);
    s.handle_timeout(Instant::ZERO);
    assert_eq!(s.poll_timeout(), Some(Instant::ZERO + Duration::from_secs(20)));
    s.handle_timeout(Instant::ZERO + Duration::from_secs(19));
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(Instant::ZERO + Duration::from_secs(20));
    assert_eq!(drain(&mut s), server_frame(true, PING, b""));
    assert_eq!(s.poll_timeout(), Some(Instant::ZERO + Duration::from_secs(40)));
    s.handle_timeout(Instant::ZERO + Duration::from_secs(40));
    match s.poll_event() {
        Some(Event::Closed(c)) => assert_eq!((c.code, &c.cause), (CloseCode::ABNORMAL, &CloseCause::IdleTimeout)),
        e => panic!("{e:?}"),
    }
    assert_eq!(drain(&mut s), server_frame(true, CLOSE, &1011u16.to_be_bytes()));
    assert!(s.should_shutdown());
}

#[test]
fn keepalive_is_satisfied_by_any_traffic() {
    let cfg = test_config().to_builder().keepalive_interval(Some(Duration::from_secs(20))).build().unwrap();
    let mut p = Pair::new(cfg, 11, 0);
    p.client.handle_timeout(p.now);
    p.server.handle_timeout(p.now);
    for _ in 0..10 {
        p.advance(Duration::from_secs(20)); // both ping, both answer
    }
    assert!(p.client_closed().is_none() && p.server_closed().is_none());
    assert!(p.client_events.iter().all(|e| matches!(e, Event::Message(Message::Ping(_) | Message::Pong(_)))));
}

#[test]
fn idle_timeout_closes() {
    let mut s = server_with(|b| b.idle_timeout(Some(Duration::from_secs(30))));
    s.handle_timeout(Instant::ZERO);
    let _ =
        feed(&mut s, Instant::ZERO + Duration::from_secs(10), &client_frame(true, TEXT, b"x"), &mut Chunker::new(1, 0));
    assert_eq!(s.poll_timeout(), Some(Instant::ZERO + Duration::from_secs(40)));
    s.handle_timeout(Instant::ZERO + Duration::from_secs(39));
    assert_eq!(s.poll_event(), None);
    s.handle_timeout(Instant::ZERO + Duration::from_secs(40));
    assert!(matches!(s.poll_event(), Some(Event::Closed(Closed { cause: CloseCause::IdleTimeout, .. }))));
}

// Complete frames buffered when a timeout ends the connection are still delivered, and
// the first bad one among them ends the stream with the timeout, not a protocol error
// (the server's fast path for small frames keeps to this too).
#[test]
fn frames_buffered_before_a_timeout_are_delivered_then_the_timeout() {
    let mut s = server_with(|b| b.idle_timeout(Some(Duration::from_secs(30))));
    s.handle_timeout(Instant::ZERO);
    let mut wire = client_frame(true, BINARY, b"first");
    wire.extend(client_frame(true, TEXT, &[0xFF]));
    wire.extend(client_frame(true, BINARY, b"never"));
    s.receive(Instant::ZERO, &wire);
    s.handle_timeout(Instant::ZERO + Duration::from_secs(30));
    assert_eq!(s.poll_event(), Some(Event::Message(Message::binary(&b"first"[..]))));
    assert!(matches!(s.poll_event(), Some(Event::Closed(Closed { cause: CloseCause::IdleTimeout, .. }))));
    assert_eq!(s.poll_event(), None);
}

// ---- local misuse (hostile peers I1–I4, see the manual) ----

#[test]
fn local_misuse_is_a_typed_error() {
    let mut s = server();
    assert_eq!(s.send(Message::Ping(Bytes::from(vec![0; 126]))), Err(SendError::ControlPayloadTooLarge { len: 126 }));
    assert_eq!(s.close(Instant::ZERO, CloseCode::ABNORMAL, ""), Err(SendError::InvalidCloseCode(1006)));
    assert_eq!(
        s.close(Instant::ZERO, CloseCode::NORMAL, &"x".repeat(124)),
        Err(SendError::CloseReasonTooLong { len: 124 })
    );
    assert!(drain(&mut s).is_empty(), "nothing invalid reached the wire");
    s.close(Instant::ZERO, CloseCode::NORMAL, "").unwrap();
    assert_eq!(s.close(Instant::ZERO, CloseCode::NORMAL, ""), Err(SendError::AlreadyClosed));
    assert_eq!(s.send(Message::text("x")), Err(SendError::AlreadyClosed));
}

// §5.6, §5.4, §5.3: the borrowed send path writes exactly what `send(Message)` writes —
// same headers, same fragments, same mask keys (both engines draw from the seeded test
// rng) — and a server reading it gets the same messages.
#[test]
fn borrowed_send_matches_owned_send_rfc6455_5_6() {
    let big_text = "héllo wörld ".repeat(400);
    let big_binary: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    for fragment_size in [None, Some(1), Some(7), Some(1000)] {
        for role in [Role::Server, Role::Client] {
            let config = || test_config().to_builder().fragment_size(fragment_size).build().unwrap();
            let (mut owned, mut borrowed) = (Connection::new(role, config()), Connection::new(role, config()));
            for t in ["", "hi", big_text.as_str()] {
                owned.send(Message::text(t)).unwrap();
                borrowed.send_text(t).unwrap();
            }
            for b in [&[][..], &[1, 2, 3][..], &big_binary[..]] {
                owned.send(Message::Binary(Bytes::copy_from_slice(b))).unwrap();
                borrowed.send_bytes(b).unwrap();
            }
            assert_eq!(owned.buffered_transmit(), borrowed.buffered_transmit());
            let wire = drain(&mut borrowed);
            assert_eq!(drain(&mut owned), wire, "{role:?}, fragment_size {fragment_size:?}");

            // Read back by the other role (unmasking a client's frames).
            let peer_role = if role == Role::Client { Role::Server } else { Role::Client };
            let mut peer = Connection::new(peer_role, test_config());
            let events = feed(&mut peer, Instant::ZERO, &wire, &mut Chunker::new(3, 0));
            let expected =
                vec![text(""), text("hi"), text(&big_text), binary(&[]), binary(&[1, 2, 3]), binary(&big_binary)];
            assert_eq!(events, expected, "{role:?}, fragment_size {fragment_size:?}");
        }
    }
}

// The borrowed path obeys the same rules as `send` once our close is queued (hostile peers I4, see the manual).
#[test]
fn borrowed_send_after_close_is_a_typed_error() {
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::new(role, test_config());
        conn.close(Instant::ZERO, CloseCode::NORMAL, "").unwrap();
        let queued = conn.buffered_transmit();
        assert_eq!(conn.send_text("x"), Err(SendError::AlreadyClosed));
        assert_eq!(conn.send_bytes(b"x"), Err(SendError::AlreadyClosed));
        assert_eq!(conn.buffered_transmit(), queued, "nothing queued after our close frame");
    }
    // And after the connection ended (the peer's close, answered).
    let mut s = server();
    let _ = feed(&mut s, Instant::ZERO, &client_frame(true, CLOSE, &[0x03, 0xe8]), &mut Chunker::new(1, 0));
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.send_text("x"), Err(SendError::AlreadyClosed));
    assert_eq!(s.send_bytes(b"x"), Err(SendError::AlreadyClosed));
}

// B6 (§5.3, §10.3): a fresh mask key per frame.
#[test]
fn fresh_mask_key_per_frame_rfc6455_5_3() {
    let mut c = Connection::new(Role::Client, Config::default());
    let mut keys = alloc::collections::BTreeSet::new();
    for _ in 0..10_000 {
        c.send(Message::binary(vec![0u8; 4])).unwrap();
        let out = drain(&mut c);
        assert_eq!(out[1], 0x84);
        keys.insert([out[2], out[3], out[4], out[5]]);
    }
    // 10^4 draws from 2^32: a repeat has probability ~1%; allow a couple.
    assert!(keys.len() >= 9_998, "only {} distinct keys", keys.len());
}

// Only a client masks: a server connection never seeds (nor allocates) a key stream, even
// while sending, pinging and closing; a client seeds one with its first frame.
#[test]
fn only_a_client_seeds_a_mask_key_stream() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.send(Message::binary(vec![1u8; 4])).unwrap();
    server.send(Message::Ping(Bytes::from_static(b"p"))).unwrap();
    server.close(Instant::ZERO, CloseCode::NORMAL, "bye").unwrap();
    let _ = drain(&mut server);
    assert!(!server.send.keys.is_seeded());

    let mut client = Connection::new(Role::Client, Config::default());
    assert!(!client.send.keys.is_seeded());
    client.send(Message::binary(vec![1u8; 4])).unwrap();
    assert!(client.send.keys.is_seeded());
}

// Bytes are never emitted in non-minimal form, and server payloads are not copied.
#[test]
fn large_server_payloads_are_not_copied() {
    let mut s = server();
    let payload = Bytes::from(vec![9u8; 100_000]);
    s.send(Message::Binary(payload.clone())).unwrap();
    let mut chunks = [&[][..]; 4];
    let n = s.poll_transmit(&mut chunks);
    assert_eq!(n, 2);
    assert_eq!(chunks[0], &[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0x86, 0xa0][..]);
    assert_eq!(chunks[1].as_ptr(), payload.as_ptr());
}

// Autobahn 2.10: ten pings with payloads in one read get ten pongs, in order.
#[test]
fn autobahn_2_10_every_ping_of_a_burst_is_answered() {
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for i in 0..10 {
        let payload = alloc::format!("payload-{i}");
        bytes.extend(client_frame(true, PING, payload.as_bytes()));
        expected.extend(server_frame(true, PONG, payload.as_bytes()));
    }
    let mut s = server();
    let events = feed(&mut s, Instant::ZERO, &bytes, &mut Chunker::new(1, 0));
    assert_eq!(events.len(), 10);
    assert_eq!(drain(&mut s), expected);
}

// Autobahn 3.2, 3.3, 4.1.3, 4.1.4, 4.2.3, 4.2.4, 5.15 (each case's bytes, sent in one
// chop): a valid message, then a violation, then more. The echo the application queued for
// the valid message goes out before the close; nothing after the violation is answered.
#[test]
fn autobahn_echo_precedes_failure_close() {
    let hello = client_frame(true, TEXT, b"Hello, world!");
    let with_bits = |bits: u8| {
        let mut f = client_frame(true, TEXT, b"Hello, world!");
        f[0] |= bits << 4;
        f
    };
    let cases: Vec<(&str, Vec<u8>, Vec<u8>, ProtocolError)> = vec![
        (
            "3.2",
            hello.clone(),
            [with_bits(2), client_frame(true, PING, b"")].concat(),
            ProtocolError::ReservedBitsSet { bits: 2 },
        ),
        (
            "3.3",
            hello.clone(),
            [with_bits(3), client_frame(true, PING, b"")].concat(),
            ProtocolError::ReservedBitsSet { bits: 3 },
        ),
        (
            "4.1.3",
            hello.clone(),
            [client_frame(true, 0x5, b""), client_frame(true, PING, b"")].concat(),
            ProtocolError::ReservedOpcode(5),
        ),
        (
            "4.1.4",
            hello.clone(),
            [client_frame(true, 0x6, b"Hello, world!"), client_frame(true, PING, b"")].concat(),
            ProtocolError::ReservedOpcode(6),
        ),
        (
            "4.2.3",
            hello.clone(),
            [client_frame(true, 0xD, b""), client_frame(true, PING, b"")].concat(),
            ProtocolError::ReservedOpcode(0xD),
        ),
        (
            "4.2.4",
            hello.clone(),
            [client_frame(true, 0xE, b"Hello, world!"), client_frame(true, PING, b"")].concat(),
            ProtocolError::ReservedOpcode(0xE),
        ),
        (
            "5.15",
            [client_frame(false, TEXT, b"fragment1"), client_frame(true, CONT, b"fragment2")].concat(),
            [client_frame(false, CONT, b"fragment3"), client_frame(true, CONT, b"fragment4")].concat(),
            ProtocolError::UnexpectedContinuation,
        ),
    ];
    for (case, valid, violation, expected_error) in cases {
        let mut s = server();
        s.receive(Instant::ZERO, &[valid, violation].concat());
        let Some(Event::Message(m)) = s.poll_event() else { panic!("{case}: the valid message first") };
        let echo = server_frame(true, TEXT, m.as_payload());
        s.send(m).unwrap(); // deferred by an adapter: more input is buffered
        match s.poll_event() {
            Some(Event::Closed(Closed { cause: CloseCause::Protocol(e), .. })) => {
                assert_eq!(e, expected_error, "{case}")
            }
            other => panic!("{case}: expected the failure, got {other:?}"),
        }
        let out = drain(&mut s);
        assert_eq!(&out[..echo.len()], &echo[..], "{case}: the echo goes out first");
        let close = &out[echo.len()..];
        assert_eq!(close.len(), 2 + close[1] as usize, "{case}: then exactly one close frame, no pong");
        assert_eq!((close[0], u16::from_be_bytes([close[2], close[3]])), (0x88, 1002), "{case}");
        assert!(s.should_shutdown());
    }
}

// Idle memory: a burst grows the receive buffer with the read window; once reads turn
// short (the peer slowed down) the window shrinks and the emptied buffer follows it, while
// small messages are copied out so the buffer is reused in place meanwhile.
#[test]
fn receive_buffer_shrinks_after_a_burst() {
    let mut s = server();
    let frame = client_frame(true, BINARY, &[7; 16]);
    let wire: Vec<u8> = frame.iter().cycle().take(frame.len() * 20_000).copied().collect();
    let mut pos = 0;
    let mut seen = 0;
    while pos < wire.len() {
        let buf = s.read_buf();
        let n = buf.len().min(wire.len() - pos);
        buf[..n].copy_from_slice(&wire[pos..pos + n]);
        pos += n;
        s.commit_read(Instant::ZERO, n);
        while let Some(event) = s.poll_event() {
            assert_eq!(event, Event::Message(Message::Binary(Bytes::from_static(&[7; 16]))));
            seen += 1;
        }
    }
    assert_eq!(seen, 20_000);
    assert!(s.rx.capacity() >= 16 << 10, "the window grew: {}", s.rx.capacity());
    for _ in 0..10 {
        let buf = s.read_buf();
        buf[..frame.len()].copy_from_slice(&frame);
        s.commit_read(Instant::ZERO, frame.len());
        assert!(matches!(s.poll_event(), Some(Event::Message(_))));
    }
    let _ = s.read_buf();
    assert!(s.rx.capacity() <= 4 * s.config.read_buffer_size, "capacity {}", s.rx.capacity());
}

/// Feed `bytes` through `read_buf`/`commit_read` in reads of at most `step` bytes (and at
/// most what `read_buf` offers), then take one event.
fn read_in_steps(conn: &mut Connection, bytes: &[u8], step: usize) -> Option<Event> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let buf = conn.read_buf();
        let n = buf.len().min(step).min(rest.len());
        assert!(n > 0, "read_buf offers no space");
        buf[..n].copy_from_slice(&rest[..n]);
        conn.commit_read(Instant::ZERO, n);
        rest = &rest[n..];
    }
    conn.poll_event()
}

// Messages up to SMALL_COPY are copied out whether their frame arrived in one read or
// several: a message the application keeps never pins the receive buffer, and the buffer
// stays unshared (reused in place, not reallocated and zeroed again). Larger payloads are
// handed out zero-copy, as a view into the buffer they arrived in.
#[test]
fn small_messages_are_copied_out_and_large_ones_shared() {
    for (len, step, shared) in [
        (16, 4096, false),
        (1024, 4096, false),
        (1024, 300, false),
        (4096, 1000, false),
        (8192, 20000, true),
        (8192, 3000, true),
    ] {
        let mut conn = server();
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let frame = client_frame(true, BINARY, &payload);
        let Some(Event::Message(Message::Binary(got))) = read_in_steps(&mut conn, &frame, step) else {
            panic!("no message for {len} bytes in reads of {step}");
        };
        assert_eq!(&got[..], &payload[..]);
        // A copied-out message owns its allocation; a shared one shares it with the
        // connection's receive buffer, still alive here.
        assert_eq!(!got.is_unique(), shared, "{len}-byte message in reads of {step}: shared with the receive buffer");
    }
}

// `read_buf_uninit` lends the same space as `read_buf`, as capacity: bounded by the read
// window, zero under backpressure, appends committed exactly once; appending past the
// offer (through `get_mut`) is cut at the offer, and cutting the buffer below what was
// committed corrupts only the caller's own input — the engine fails the protocol, it does
// not panic.
#[test]
fn read_buf_uninit_lends_bounded_space_and_survives_misuse() {
    let mut conn = server();
    let first = conn.read_buf_uninit().remaining_mut();
    assert!(first > 0 && first <= READ_AHEAD, "offered {first}");
    let frame = client_frame(true, BINARY, b"hello");
    conn.read_buf_uninit().put_slice(&frame[..3]);
    conn.commit_appended(Instant::ZERO);
    assert_eq!(conn.poll_event(), None);
    conn.read_buf_uninit().put_slice(&frame[3..]);
    conn.commit_appended(Instant::ZERO);
    assert_eq!(conn.poll_event(), Some(binary(b"hello")));
    assert_eq!(conn.buffered_receive(), 0);

    // Backpressure: once READ_AHEAD bytes of complete frames wait, no space is offered.
    let small = client_frame(true, BINARY, &[7u8; 100]);
    let mut queued = 0;
    loop {
        let mut space = conn.read_buf_uninit();
        if space.remaining_mut() < small.len() {
            // Only backpressure stops the offer: a full read-ahead of complete frames.
            assert_eq!(space.remaining_mut(), 0);
            assert!(conn.buffered_receive() >= READ_AHEAD, "stopped at {}", conn.buffered_receive());
            break;
        }
        space.put_slice(&small);
        conn.commit_appended(Instant::ZERO);
        queued += 1;
        assert!(queued * small.len() <= READ_AHEAD + small.len(), "read-ahead not enforced");
    }
    while let Some(event) = conn.poll_event() {
        assert_eq!(event, binary(&[7u8; 100]));
        queued -= 1;
    }
    assert_eq!(queued, 0);

    // Appending past the offer is cut at the offer.
    let mut space = conn.read_buf_uninit();
    let offered = space.remaining_mut();
    space.get_mut().extend_from_slice(&vec![0u8; offered + 10]);
    conn.commit_appended(Instant::ZERO);
    assert_eq!(conn.buffered_receive(), offered);

    // Cutting the buffer: no panic, a protocol failure.
    let mut conn = server();
    conn.read_buf_uninit().put_slice(&frame[..4]);
    conn.commit_appended(Instant::ZERO);
    conn.read_buf_uninit().get_mut().clear();
    conn.commit_appended(Instant::ZERO);
    conn.read_buf_uninit().put_slice(&frame[4..]);
    conn.commit_appended(Instant::ZERO);
    let events: Vec<Event> = core::iter::from_fn(|| conn.poll_event()).collect();
    assert!(matches!(events.last(), Some(Event::Closed(_))), "{events:?}");
}

// A steady stream of messages larger than four read windows, each read filling the space
// offered (as an adapter that reads into uninitialized space does): once the application
// drops a message, the receive buffer it was split from is reclaimed and reused for the
// next one — not freed as if the connection had gone idle and allocated again (which
// doubled the time to decode 1 MiB messages). Two offers without a read in between stay
// the same.
#[test]
fn large_messages_reuse_the_receive_buffer() {
    let mut conn = server();
    let len = 2 * 4 * MAX_READ_WINDOW;
    let payload = vec![0x5a_u8; len];
    let frame = client_frame(true, BINARY, &payload);
    for round in 0..4 {
        let mut rest = &frame[..];
        while !rest.is_empty() {
            let mut space = conn.read_buf_uninit();
            let n = space.remaining_mut().min(rest.len());
            assert!(n > 0, "round {round}: no space offered after {} of {}", frame.len() - rest.len(), frame.len());
            space.put_slice(&rest[..n]);
            conn.commit_appended(Instant::ZERO);
            rest = &rest[n..];
            // As the adapters do: take events between reads (the header is parsed here).
            if !rest.is_empty() {
                assert_eq!(conn.poll_event(), None, "round {round}");
            }
        }
        match conn.poll_event() {
            Some(Event::Message(Message::Binary(got))) => assert_eq!(got.len(), len),
            other => panic!("round {round}: {other:?}"),
        }
        // The message is dropped: its allocation is the connection's alone again.
        let first = conn.read_buf_uninit().remaining_mut();
        assert_eq!(conn.read_buf_uninit().remaining_mut(), first, "round {round}: offers differ");
        if round > 0 {
            assert!(conn.rx.capacity() >= len, "round {round}: buffer given back under load: {}", conn.rx.capacity());
        }
    }
}

// A large frame that starts deep inside the receive buffer (right after the previous large
// message, which took the front of it) is moved to the front of the allocation as soon as
// its header is parsed, while little of it has arrived, when the allocation can then hold
// it whole: otherwise it is moved later, whole (a 1 MiB memmove per 1 MiB message, seen
// in the decode profile). No memory is allocated for this.
#[test]
fn a_large_frame_deep_in_the_buffer_is_moved_to_the_front_early() {
    let mut conn = server_with(|b| b.max_message_size(1 << 20).max_frame_size(1 << 20));
    let len = 700_000;
    let frame = client_frame(true, BINARY, &vec![1u8; len]);
    let wire = [frame.clone(), frame.clone(), frame].concat();
    let mut pos = 0;
    let mut messages = 0;
    let mut checked = 0;
    while pos < wire.len() {
        while let Some(event) = conn.poll_event() {
            assert!(matches!(event, Event::Message(Message::Binary(ref b)) if b.len() == len));
            messages += 1;
        }
        if messages > 0 && conn.recv.is_mid_frame() {
            // A frame in progress behind a delivered (and dropped) message.
            assert!(conn.rx.capacity() >= len, "capacity {} for a {len}-byte frame", conn.rx.capacity());
            checked += 1;
        }
        let mut space = conn.read_buf_uninit();
        let n = space.remaining_mut().min(wire.len() - pos);
        space.put_slice(&wire[pos..pos + n]);
        conn.commit_appended(Instant::ZERO);
        pos += n;
    }
    while conn.poll_event().is_some() {
        messages += 1;
    }
    assert_eq!(messages, 3);
    assert!(checked > 0, "the situation under test never arose");
}

// Once a large message has been handed out and dropped, the next large frame is read in
// place: the empty buffer goes back to the start of its allocation before the read, so the
// frame fits behind its header and no part of it is moved once it has arrived (measured:
// without this, 256 KiB moved per 1 MiB message). Payloads are checked to sit exactly
// where the caller wrote their bytes.
#[test]
fn a_large_frame_after_a_delivered_large_message_is_read_in_place() {
    let mut conn = server_with(|b| b.max_message_size(1 << 20).max_frame_size(1 << 20));
    let len = 700_000;
    let frame = client_frame(true, BINARY, &vec![1u8; len]);
    let header_len = frame.len() - len;
    let frames = 4;
    let wire = frame.repeat(frames);
    // (first wire offset, destination address, bytes) of every read.
    let mut reads: Vec<(usize, usize, usize)> = Vec::new();
    let written_at = |reads: &[(usize, usize, usize)], offset: usize| {
        reads
            .iter()
            .rev()
            .find(|&&(at, _, n)| offset >= at && offset < at + n)
            .map(|&(at, addr, _)| addr + (offset - at))
    };
    let (mut pos, mut messages, mut in_place) = (0, 0, 0);
    loop {
        while let Some(event) = conn.poll_event() {
            let Event::Message(Message::Binary(payload)) = event else { panic!("unexpected {event:?}") };
            assert_eq!(payload.len(), len);
            let payload_at = messages * frame.len() + header_len;
            if messages >= 2 {
                // The buffer has reached its steady size by the third message.
                assert_eq!(
                    Some(payload.as_ptr() as usize),
                    written_at(&reads, payload_at),
                    "message {messages} was moved"
                );
                in_place += 1;
            }
            messages += 1;
        }
        if pos == wire.len() {
            break;
        }
        let mut space = conn.read_buf_uninit();
        let n = space.remaining_mut().min(wire.len() - pos);
        reads.push((pos, space.chunk_mut().as_mut_ptr() as usize, n));
        space.put_slice(&wire[pos..pos + n]);
        conn.commit_appended(Instant::ZERO);
        pos += n;
    }
    assert_eq!((messages, in_place), (frames, frames - 2));
}

// ---- any call order is legal: the input calls ----

// Input through `receive` voids space lent by `read_buf`: committing it afterwards commits
// nothing, and every later call works (this sequence used to leave the buffer's indices
// past its end, and the next `poll_event` panicked).
#[test]
fn commit_after_receive_commits_nothing() {
    let first = client_frame(true, TEXT, b"first");
    let second = client_frame(true, TEXT, b"second");
    let mut conn = server();
    let buf = conn.read_buf();
    buf[..second.len()].copy_from_slice(&second);
    conn.receive(Instant::ZERO, &first);
    conn.commit_read(Instant::ZERO, second.len());
    assert_eq!(conn.poll_event(), Some(text("first")));
    assert_eq!(conn.poll_event(), None);
    assert_eq!(conn.buffered_receive(), 0);

    let mut conn = server();
    conn.read_buf_uninit().put_slice(&second);
    conn.receive(Instant::ZERO, &first);
    conn.commit_appended(Instant::ZERO);
    assert_eq!(conn.poll_event(), Some(text("first")));
    assert_eq!(conn.poll_event(), None);
}

// A commit counts only against its own kind of loan, and never past it.
#[test]
fn commits_never_exceed_their_loan() {
    let frame = client_frame(true, BINARY, b"abc");
    let mut conn = server();
    // `read_buf`'s zeroed space is not an append: committing it as one commits nothing.
    let _ = conn.read_buf();
    conn.commit_appended(Instant::ZERO);
    assert_eq!(conn.buffered_receive(), 0);
    // More than was lent: capped at the loan (what the caller claims beyond what it wrote
    // is its own garbage; here zeroes, which do not parse past the frame).
    let buf = conn.read_buf();
    let lent = buf.len();
    buf[..frame.len()].copy_from_slice(&frame);
    conn.commit_read(Instant::ZERO, lent + 1000);
    assert_eq!(conn.buffered_receive(), lent);
    assert_eq!(conn.poll_event(), Some(binary(b"abc")));
    // An uninitialized loan is not committed by `commit_read`.
    let mut conn = server();
    conn.read_buf_uninit().put_slice(&frame);
    conn.commit_read(Instant::ZERO, frame.len());
    assert_eq!(conn.buffered_receive(), 0);
    conn.commit_appended(Instant::ZERO);
    assert_eq!(conn.poll_event(), Some(binary(b"abc")));
}

// Other calls between a loan and its commit do not disturb it: bytes written into the loan
// and committed after `poll_event` (which here starts a large frame and moves the buffer)
// are input, in order.
#[test]
fn a_loan_survives_poll_event_between_read_and_commit() {
    let payload: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let frame = client_frame(true, BINARY, &payload);
    for uninit in [false, true] {
        let mut conn = server_with(|b| b.max_message_size(1 << 20).max_frame_size(1 << 20));
        // A small message first, so the large frame starts deep in the buffer.
        let small = client_frame(true, TEXT, b"s");
        conn.receive(Instant::ZERO, &small);
        conn.receive(Instant::ZERO, &frame[..100]);
        let mut rest = &frame[100..];
        let mut events = Vec::new();
        while !rest.is_empty() {
            let n = if uninit {
                let mut space = conn.read_buf_uninit();
                let n = space.remaining_mut().min(rest.len()).min(3000);
                space.put_slice(&rest[..n]);
                n
            } else {
                let buf = conn.read_buf();
                let n = buf.len().min(rest.len()).min(3000);
                buf[..n].copy_from_slice(&rest[..n]);
                n
            };
            assert!(n > 0);
            // Between the write and its commit: take events, write, fire timers.
            while let Some(e) = conn.poll_event() {
                events.push(e);
            }
            let _ = drain(&mut conn);
            conn.handle_timeout(Instant::ZERO);
            if uninit {
                conn.commit_appended(Instant::ZERO);
            } else {
                conn.commit_read(Instant::ZERO, n);
            }
            rest = &rest[n..];
        }
        while let Some(e) = conn.poll_event() {
            events.push(e);
        }
        assert_eq!(events, vec![text("s"), binary(&payload)], "uninit: {uninit}");
    }
}

// ---- the write timeout ----

// A peer that stops reading: once queued output has not moved for the write timeout, the
// connection ends with its own cause (1006 reported, no close frame added to the stuck
// queue), and a driver blocked on writing learns it from `handle_timeout`.
#[test]
fn stalled_output_ends_at_the_write_timeout() {
    let mut s = server_with(|b| b.write_timeout(Some(Duration::from_secs(10))));
    let t0 = Instant::ZERO;
    s.handle_timeout(t0);
    s.send_text("stuck").unwrap();
    // Output waits and the write clock has not started: a tick is asked for now.
    assert_eq!(s.poll_timeout(), Some(t0));
    s.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(11)));
    s.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(s.poll_event(), None);
    s.handle_timeout(t0 + Duration::from_secs(11));
    assert_eq!(s.ending().map(|c| &c.cause), Some(&CloseCause::WriteTimeout));
    assert!(!s.can_send());
    match s.poll_event() {
        Some(Event::Closed(c)) => assert_eq!((c.code, c.cause), (CloseCode::ABNORMAL, CloseCause::WriteTimeout)),
        other => panic!("{other:?}"),
    }
    assert!(s.should_shutdown());
    assert_eq!(drain(&mut s), server_frame(true, TEXT, b"stuck"), "nothing added after the stuck message");
}

// A slow reader is not a stalled one: every byte written restarts the write clock.
#[test]
fn slow_progress_keeps_the_connection() {
    let mut s = server_with(|b| b.write_timeout(Some(Duration::from_secs(10))));
    s.handle_timeout(Instant::ZERO);
    s.send_bytes(&[7u8; 100]).unwrap();
    let mut now = Instant::ZERO;
    for _ in 0..50 {
        now += Duration::from_secs(9);
        s.handle_timeout(now);
        let mut chunks = [&[][..]; 4];
        assert!(s.poll_transmit(&mut chunks) > 0);
        s.consume_transmit(1);
        assert_eq!(s.poll_event(), None, "ended while bytes were moving");
        s.send_bytes(&[7u8; 1]).unwrap();
    }
    assert!(s.ending().is_none());
    // `None` turns the write timeout off.
    let mut s = server_with(|b| b.write_timeout(None));
    s.handle_timeout(Instant::ZERO);
    s.send_text("x").unwrap();
    assert_eq!(s.poll_timeout(), None);
}

// ---- transport failure ----

// The transport failed: complete messages already received are still handed out, then the
// one `Closed` with its own cause; nothing more is written or sent, and `ending()` says so
// at once while `closed()` follows the events.
#[test]
fn transport_error_delivers_what_arrived_then_ends() {
    let mut s = server();
    let mut bytes = client_frame(true, TEXT, b"one");
    bytes.extend(client_frame(true, TEXT, b"two"));
    bytes.extend(&client_frame(true, TEXT, b"three")[..4]);
    s.receive(Instant::ZERO, &bytes);
    s.send_text("queued").unwrap();
    s.handle_transport_error(Instant::ZERO);
    assert_eq!(s.ending().map(|c| &c.cause), Some(&CloseCause::TransportError));
    assert_eq!(s.closed(), None);
    assert_eq!(s.send_text("late"), Err(SendError::AlreadyClosed));
    assert_eq!(s.buffered_transmit(), 0, "nothing is written to a failed transport");
    assert_eq!(s.poll_event(), Some(text("one")));
    assert_eq!(s.poll_event(), Some(text("two")));
    match s.poll_event() {
        Some(Event::Closed(c)) => assert_eq!((c.code, c.cause), (CloseCode::ABNORMAL, CloseCause::TransportError)),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.poll_event(), None);
    assert!(s.should_shutdown());
    assert_eq!(s.closed().map(|c| &c.cause), Some(&CloseCause::TransportError));
}

// ---- the high-water mark ----

// The engine answers whether the queue is full: at the mark, not only beyond it.
#[test]
fn transmit_is_full_at_the_high_water_mark() {
    let mut s = server_with(|b| b.write_high_water_mark(10));
    s.send_bytes(&[0u8; 7]).unwrap();
    assert_eq!((s.buffered_transmit(), s.is_transmit_full()), (9, false));
    s.send_bytes(&[]).unwrap();
    assert_eq!((s.buffered_transmit(), s.is_transmit_full()), (11, true));
    let out = drain(&mut s);
    assert_eq!((out.len(), s.is_transmit_full()), (11, false));
}

// ---- the handshake response ----

// The server's 101 response goes out first and whole: a ping that arrived glued to the
// request is answered after it, never ahead of it (an urgent pong used to jump the queue).
#[test]
fn the_handshake_response_goes_out_before_any_frame() {
    let request = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut bytes = request.to_vec();
    bytes.extend(client_frame(true, PING, b"p"));
    let mut hs = crate::ServerHandshake::new(test_config());
    assert!(hs.receive(Instant::ZERO, &bytes).unwrap().is_some());
    let mut conn = hs.accept(&crate::AcceptOptions::new()).unwrap();
    assert_eq!(conn.poll_event(), Some(Event::Message(Message::Ping(Bytes::from_static(b"p")))));
    // Written one byte at a time, so the pong is due while the response is half written.
    let mut out = Vec::new();
    loop {
        let mut chunks = [&[][..]; 4];
        let n = conn.poll_transmit(&mut chunks);
        if n == 0 {
            break;
        }
        out.push(chunks[0][0]);
        conn.consume_transmit(1);
    }
    assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"), "{:?}", String::from_utf8_lossy(&out));
    assert!(out.ends_with(&server_frame(true, PONG, b"p")), "{out:?}");
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(&out[head_end..], &server_frame(true, PONG, b"p")[..]);
}
