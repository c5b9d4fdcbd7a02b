//! Property tests (cfg(test) only): chunking never changes what is received, and arbitrary
//! bytes never panic the engine or make it buffer past its limits.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use proptest::prelude::*;

use crate::close::{CloseCode, CloseFrame};
use crate::config::{Config, Role};
use crate::connection::Connection;
use crate::event::{CloseCause, Event};
use crate::mask::apply_mask;
use crate::message::Message;
use crate::pair::{drain, feed, test_config, Chunker};
use crate::time::Instant;

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        "\\PC{0,300}".prop_map(Message::text),
        proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Message::binary),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(|v| Message::Ping(Bytes::from(v))),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(|v| Message::Pong(Bytes::from(v))),
    ]
}

fn close() -> impl Strategy<Value = Option<CloseFrame>> {
    prop_oneof![
        Just(None),
        (prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999], "\\PC{0,30}")
            .prop_map(|(code, reason)| Some(CloseFrame::new(CloseCode::new(code).unwrap(), reason.as_str()).unwrap()))
    ]
}

/// One frame as a hostile client might send it: mostly the small masked data frames a
/// server's fast path takes (`Connection::small_masked_frame`), and what surrounds them at
/// its edges: 7- and 16-bit lengths (minimal or not), the size limits, invalid UTF-8,
/// unmasked frames, RSV bits, fragments, control and close frames, a length that lies, a
/// payload that looks like a frame.
fn hostile_frame() -> impl Strategy<Value = Vec<u8>> {
    let first = prop_oneof![
        6 => prop_oneof![Just(0x81u8), Just(0x82)],
        2 => prop_oneof![Just(0x01u8), Just(0x02), Just(0x00), Just(0x80)],
        1 => prop_oneof![Just(0x89u8), Just(0x8A), Just(0x88)],
        1 => prop_oneof![Just(0xC1u8), Just(0xA2), Just(0x83)],
        1 => any::<u8>(),
    ];
    let payload = prop_oneof![
        4 => proptest::collection::vec(0x20u8..0x7F, 0..130),
        1 => proptest::collection::vec(0x20u8..0x7F, 0..300),
        1 => "\\PC{0,60}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        // A frame inside: what a decoder that lost its place would take for the next one.
        1 => (proptest::collection::vec(any::<u8>(), 0..20), any::<[u8; 4]>()).prop_map(|(inner, key)| {
            let mut frame = vec![0x82, 0x80 | inner.len() as u8];
            frame.extend_from_slice(&key);
            frame.extend_from_slice(&mask_copy(&inner, key));
            frame
        }),
        // A valid close payload (1000), to end the connection cleanly before later frames.
        1 => Just(vec![0x03, 0xE8]),
    ];
    let masked = prop_oneof![7 => Just(true), 1 => Just(false)];
    let lie = prop_oneof![8 => Just(None), 1 => any::<u8>().prop_map(Some)];
    (first, masked, lie, payload, any::<[u8; 4]>(), any::<bool>()).prop_map(
        |(b0, masked, lie, payload, key, extended)| {
            let mut frame = vec![b0];
            let mask_bit = if masked { 0x80 } else { 0 };
            let len = payload.len();
            if len < 126 && !extended {
                frame.push(mask_bit | lie.map_or(len as u8, |l| l & 0x7F));
            } else {
                // 16-bit length, minimal or not.
                frame.push(mask_bit | 126);
                frame.extend_from_slice(&lie.map_or(len as u16, u16::from).to_be_bytes());
            }
            if masked {
                frame.extend_from_slice(&key);
                frame.extend_from_slice(&mask_copy(&payload, key));
            } else {
                frame.extend_from_slice(&payload);
            }
            frame
        },
    )
}

fn mask_copy(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = payload.to_vec();
    apply_mask(&mut out, key, 0);
    out
}

fn config(fragment: Option<usize>) -> Config {
    test_config().to_builder().fragment_size(fragment).auto_pong(false).build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    // Any sequence of messages (and an optional close) encoded by one role and fed to the
    // other in random chunk sizes gives exactly the events of feeding it whole, and those
    // events are the messages sent (RFC 6455 §5: framing is transparent).
    #[test]
    fn chunking_never_changes_events(
        messages in proptest::collection::vec(message(), 0..12),
        end in close(),
        from_client in any::<bool>(),
        fragment in prop_oneof![Just(None), (1usize..200).prop_map(Some)],
        seed in any::<u64>(),
        max_chunk in 1usize..64,
    ) {
        let (sender_role, receiver_role) = if from_client { (Role::Client, Role::Server) } else { (Role::Server, Role::Client) };
        let mut sender = Connection::new(sender_role, config(fragment));
        for m in &messages {
            sender.send(m.clone()).unwrap();
        }
        sender.send(Message::Close(end.clone())).unwrap();
        let wire = drain(&mut sender);

        let mut whole = Connection::new(receiver_role, config(None));
        let expected = feed(&mut whole, Instant::ZERO, &wire, &mut Chunker::new(seed, 0));
        let mut chunked = Connection::new(receiver_role, config(None));
        let got = feed(&mut chunked, Instant::ZERO, &wire, &mut Chunker::new(seed, max_chunk));
        prop_assert_eq!(&got, &expected);

        let (last, data) = expected.split_last().unwrap();
        let sent: Vec<Event> = messages.into_iter().map(Event::Message).collect();
        prop_assert_eq!(data, &sent[..]);
        match last {
            Event::Closed(c) => {
                prop_assert_eq!(&c.cause, &CloseCause::PeerInitiated);
                prop_assert_eq!(c.code, end.as_ref().map_or(CloseCode::NO_STATUS, |f| f.code));
            }
            other => prop_assert!(false, "expected Closed, got {:?}", other),
        }
    }

    // Arbitrary bytes never panic either role, never produce an event after Closed, and
    // never leave more buffered than one max-size frame plus the read-ahead window.
    #[test]
    fn arbitrary_bytes_are_survivable(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        server in any::<bool>(),
        seed in any::<u64>(),
        max_chunk in 1usize..300,
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let cfg = test_config().to_builder().max_frame_size(1024).max_message_size(2048).build().unwrap();
        let mut conn = Connection::new(role, cfg);
        let events = feed(&mut conn, Instant::ZERO, &bytes, &mut Chunker::new(seed, max_chunk));
        let closed_at = events.iter().position(|e| matches!(e, Event::Closed(_)));
        if let Some(i) = closed_at {
            prop_assert_eq!(i, events.len() - 1);
            if let Event::Closed(c) = &events[i] {
                if let CloseCause::Protocol(e) = &c.cause {
                    prop_assert_eq!(c.code, e.close_code());
                    prop_assert!(c.code.is_sendable());
                }
            }
        }
        prop_assert!(conn.buffered_receive() <= 1024 + 14 + (64 << 10));
        let _ = drain(&mut conn);
        prop_assert_eq!(conn.poll_event(), None);
    }
}

proptest! {
    // More cases than above: the interesting sequences (a fragment, then a small data
    // frame; a frame at a size limit) are a few in a hundred.
    #![proptest_config(ProptestConfig::with_cases(1000))]

    // Hostile frames decode to the same events whether they arrive whole (where a server's
    // fast path for small masked data frames takes them), a frame per read, or byte by byte
    // (where the general decoder does: the header is parsed before the payload is there):
    // the fast path changes nothing, limits and errors included, and a client never takes
    // it.
    #[test]
    fn fast_path_decodes_like_the_general_decoder(
        frames in proptest::collection::vec(hostile_frame(), 1..8),
        server in prop_oneof![3 => Just(true), 1 => Just(false)],
        max_frame in prop_oneof![Just(64usize), Just(125), Just(126), Just(200), Just(1 << 20)],
        message_extra in prop_oneof![Just(0usize), Just(75), Just(1 << 20)],
    ) {
        let max_message = max_frame + message_extra;
        // Each its own RNG from the same seed: a client's close frame is masked alike.
        let cfg = || test_config().to_builder().max_frame_size(max_frame).max_message_size(max_message).build().unwrap();
        let wire = frames.concat();
        let role = if server { Role::Server } else { Role::Client };
        let mut whole = Connection::new(role, cfg());
        let expected = feed(&mut whole, Instant::ZERO, &wire, &mut Chunker::new(1, 0));
        let mut bytewise = Connection::new(role, cfg());
        let mut got = Vec::new();
        for byte in &wire {
            got.extend(feed(&mut bytewise, Instant::ZERO, core::slice::from_ref(byte), &mut Chunker::new(1, 0)));
        }
        prop_assert_eq!(&got, &expected);
        // One read per frame, events taken between: each frame meets the fast path with
        // whatever the frames before it left (an open fragmented message, an ending).
        let mut framewise = Connection::new(role, cfg());
        let mut got = Vec::new();
        for frame in &frames {
            got.extend(feed(&mut framewise, Instant::ZERO, frame, &mut Chunker::new(1, 0)));
        }
        prop_assert_eq!(&got, &expected);
        let wire_out = drain(&mut whole);
        prop_assert_eq!(drain(&mut bytewise), wire_out.clone());
        prop_assert_eq!(drain(&mut framewise), wire_out);
    }
}
