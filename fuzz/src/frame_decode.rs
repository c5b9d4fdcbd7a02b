//! Target `frame_decode`: arbitrary bytes into the frame decoder, both roles, compared with
//! the reference decoder under random chunking.

use tether_proto::{Bytes, CloseCause, CloseCode, Connection, Instant, Message, Role};
use tether_testkit::Chunker;

use super::drive::{drain, feed, FeedMode};
use super::events::{same_messages, EventLog};
use super::input::{config_with, Cursor};
use super::output::{check_with_peer_engine, parse_output, OutItem};
use super::reference::{reference_decode, RefEnd, RefRules};

/// Arbitrary bytes into the frame decoder, both roles: the events must be exactly what the
/// reference decoder predicts, under random chunking, and the output (pongs, the close frame)
/// must be well-formed and answer what came in.
///
/// Layout: byte 0 = limits and switches, byte 1 = chunking, bytes 2..10 = seed, rest = stream.
pub fn frame_decode(data: &[u8]) {
    let mut c = Cursor { data };
    let flags = c.u8();
    let chunking = c.u8();
    let seed = c.u64();
    let stream = c.rest();
    for role in [Role::Server, Role::Client] {
        frame_decode_role(role, flags, chunking, seed, stream);
    }
}

pub(crate) fn frame_decode_role(role: Role, flags: u8, chunking: u8, seed: u64, stream: &[u8]) {
    let max_frame = [16, 200, 16 << 10, 70_000][usize::from(flags & 3)];
    let max_message = match (flags >> 2) & 3 {
        0 => max_frame,
        1 => 3 * max_frame + 1,
        2 => 64 << 10,
        _ => 1 << 20,
    }
    .max(max_frame);
    let accept_unmasked = flags & 0x10 != 0;
    let auto_pong = flags & 0x20 == 0;
    let eof = flags & 0x40 != 0;
    let read_buffer = if flags & 0x80 != 0 { 64 } else { 4096 };
    let config = config_with(seed, |b| {
        b.max_frame_size(max_frame)
            .max_message_size(max_message)
            .accept_unmasked_frames(accept_unmasked)
            .auto_pong(auto_pong)
            .read_buffer_size(read_buffer)
    });
    let max_chunk = [1, 7, 300, 0][usize::from(chunking & 3)];
    let mode =
        [FeedMode::Receive, FeedMode::ReadBuf, FeedMode::Mixed, FeedMode::Mixed][usize::from((chunking >> 2) & 3)];
    let eager_drain = chunking & 0x10 != 0;
    let mut chunker = Chunker::mixed(seed ^ u64::from(chunking), max_chunk);
    let mut conn = Connection::new(role, config.clone());
    let mut log = EventLog::new(&config);
    let mut wire = Vec::new();

    // Feed in up to 8 slices, draining output between them when asked to.
    let now = Instant::ZERO;
    let mut rest = stream;
    while !rest.is_empty() {
        let cut = rest.len().div_ceil(8).max(1).min(rest.len());
        let (piece, tail) = rest.split_at(cut);
        feed(&mut conn, now, piece, &mut chunker, mode, &mut log);
        rest = tail;
        if eager_drain {
            drain(&mut conn, &mut chunker, &mut wire);
        }
    }
    if eof {
        conn.receive_eof(now);
    }
    log.poll_all(&mut conn);
    drain(&mut conn, &mut chunker, &mut wire);

    // The events are exactly the reference decoder's prediction.
    let rules = RefRules { role, accept_unmasked, max_frame, max_message };
    let expected = reference_decode(stream, &rules);
    same_messages(&log.messages, &expected.messages, &format!("{role:?}: messages vs the reference decoder"));
    let closed = log.closed.clone();
    match (&expected.end, &closed) {
        (RefEnd::NeedMore, None) => assert!(!eof, "{role:?}: EOF but no Closed"),
        (RefEnd::NeedMore, Some(c)) => {
            assert!(eof, "{role:?}: Closed {c:?} without a reason");
            assert_eq!(c.cause, CloseCause::TransportEof);
        }
        (RefEnd::Error(e), Some(c)) => {
            assert_eq!(c.cause, CloseCause::Protocol(e.clone()), "{role:?}: wrong failure")
        }
        (RefEnd::PeerClose(frame), Some(c)) => {
            assert_eq!(c.cause, CloseCause::PeerInitiated, "{role:?}");
            match frame {
                Some((code, reason)) => {
                    assert_eq!((c.code, c.reason.as_str()), (*code, reason.as_str()))
                }
                None => assert_eq!(c.code, CloseCode::NO_STATUS),
            }
        }
        (end, None) => panic!("{role:?}: expected {end:?}, got no Closed"),
    }

    // The output: pongs answering pings (in order, coalesced), then the close frame.
    let out = parse_output(&wire, role, None);
    let pings: Vec<&Bytes> = log
        .messages
        .iter()
        .filter_map(|m| match m {
            Message::Ping(p) => Some(p),
            _ => None,
        })
        .collect();
    let mut next_ping = 0;
    for item in &out.items {
        match item {
            OutItem::Message(Message::Pong(p)) => {
                assert!(auto_pong, "{role:?}: a pong with auto_pong off");
                let found = pings[next_ping..]
                    .iter()
                    .position(|q| *q == p)
                    .unwrap_or_else(|| panic!("{role:?}: pong {p:?} answers no ping in order"));
                next_ping += found + 1;
            }
            OutItem::Message(m) => panic!("{role:?}: the engine sent {m:?} by itself"),
            OutItem::Close(_) => {}
        }
    }
    assert!(!out.cut_message);
    let close = out.close().cloned();
    match (&expected.end, close) {
        (RefEnd::NeedMore, None) => {}
        (RefEnd::Error(e), Some(Some((code, _)))) => assert_eq!(code, e.close_code()),
        (RefEnd::PeerClose(None), Some(None)) => {}
        (RefEnd::PeerClose(Some((code, _))), Some(Some((echo, reason)))) => {
            assert_eq!((echo, reason.as_str()), (*code, ""), "{role:?}: close echo")
        }
        (end, close) => panic!("{role:?}: after {end:?} the engine wrote close {close:?}"),
    }
    check_with_peer_engine(&wire, role, &out);
}
