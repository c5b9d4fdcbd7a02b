//! Property tests (cfg(test) only): chunking never changes what is received, and arbitrary
//! bytes never panic the engine or make it buffer past its limits.

use alloc::vec::Vec;

use bytes::Bytes;
use proptest::prelude::*;

use crate::close::{CloseCode, CloseFrame};
use crate::config::{Config, Role};
use crate::connection::Connection;
use crate::event::{CloseCause, Event};
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
