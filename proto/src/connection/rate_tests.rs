//! Rate-limit tests (cfg(test) only): the engine under `Config::rate_limit` with given time —
//! exactly the burst, then the rate; throttling through read space and the timer table;
//! closing with 1008; control frames and endings while throttled; and a property test of
//! the bound `burst + rate * elapsed`.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::BufMut;
use proptest::prelude::*;

use super::*;
use crate::pair::{client_frame, drain, test_config};
use crate::rate_limit::{RateKind, RateLimit};

const BINARY: u8 = 0x2;
const PING: u8 = 0x9;

fn limited(limit: RateLimit) -> Connection {
    Connection::new(Role::Server, test_config().to_builder().rate_limit(limit).build().unwrap())
}

fn at_ms(ms: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(ms)
}

/// `n` masked binary messages of `len` bytes each, numbered in their first byte.
fn messages(n: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let mut payload = alloc::vec![0u8; len];
        if len > 0 {
            payload[0] = i as u8;
        }
        out.extend_from_slice(&client_frame(true, BINARY, &payload));
    }
    out
}

/// Take every event the engine hands out now.
fn take_all(conn: &mut Connection) -> Vec<Event> {
    let mut events = Vec::new();
    while let Some(e) = conn.poll_event() {
        events.push(e);
    }
    events
}

fn closed_cause(events: &[Event]) -> Option<&CloseCause> {
    events.iter().find_map(|e| match e {
        Event::Closed(c) => Some(&c.cause),
        _ => None,
    })
}

/// The close code in a server's (unmasked) close frame at the end of `out`.
fn close_code_sent(out: &[u8]) -> u16 {
    let pos = out.iter().rposition(|&b| b == 0x88).expect("a close frame");
    u16::from_be_bytes([out[pos + 2], out[pos + 3]])
}

// Throttle: exactly the burst at once, then exactly one message per 1/rate, each at the
// deadline the engine asks to be woken at; no read space is lent meanwhile.
#[test]
fn throttle_admits_exactly_the_burst_then_the_rate() {
    let mut conn = limited(RateLimit::messages(10, 5));
    conn.receive(Instant::ZERO, &messages(40, 3));
    assert_eq!(take_all(&mut conn).len(), 5, "the burst");
    assert_eq!(conn.poll_timeout(), Some(at_ms(100)), "one token per 100 ms");
    assert!(conn.read_buf().is_empty(), "throttled: no read space");
    assert_eq!(conn.read_buf_uninit().remaining_mut(), 0);
    conn.handle_timeout(at_ms(99));
    assert_eq!(take_all(&mut conn).len(), 0, "not before the refill instant");
    for k in 1..=20u64 {
        conn.handle_timeout(at_ms(100 * k));
        let got = take_all(&mut conn);
        assert_eq!(got.len(), 1, "at {} ms", 100 * k);
        // In order, nothing dropped.
        assert_eq!(got[0], Event::Message(Message::binary(alloc::vec![(4 + k) as u8, 0, 0])));
        assert_eq!(conn.poll_timeout(), Some(at_ms(100 * (k + 1))));
    }
}

// With a higher rate, a throttled connection wakes about 50 times a second and takes a
// fiftieth of a second's worth each time: burst + rate * t exactly at each wake-up.
#[test]
fn throttle_wakes_at_most_fifty_times_a_second() {
    let mut conn = limited(RateLimit::messages(1000, 100));
    conn.receive(Instant::ZERO, &messages(1000, 0));
    let mut total = take_all(&mut conn).len();
    assert_eq!(total, 100);
    let mut wakeups = 0;
    while let Some(at) = conn.poll_timeout() {
        if total == 1000 {
            break;
        }
        wakeups += 1;
        conn.handle_timeout(at);
        total += take_all(&mut conn).len();
        let ms = at.as_duration().as_millis() as usize;
        assert_eq!(total, (100 + ms).min(1000), "at {ms} ms");
    }
    assert_eq!(total, 1000);
    assert_eq!(wakeups, 900 / 20, "20 messages per wake-up");
}

// A byte limit caps the read space lent: exactly the burst, then the rate.
#[test]
fn byte_limit_caps_read_space() {
    let mut conn = limited(RateLimit::bytes(1000, 100));
    conn.handle_timeout(Instant::ZERO);
    assert_eq!(conn.read_buf().len(), 100);
    let data = messages(50, 10);
    conn.read_buf()[..100].copy_from_slice(&data[..100]);
    conn.commit_read(Instant::ZERO, 100);
    assert!(conn.read_buf().is_empty(), "the burst is spent");
    assert_eq!(conn.poll_timeout(), Some(at_ms(20)), "20 bytes (a fiftieth of a second) later");
    conn.handle_timeout(at_ms(20));
    assert_eq!(conn.read_buf_uninit().remaining_mut(), 20);
    // Messages already read are still handed out while reading is throttled.
    assert_eq!(take_all(&mut conn).len(), 100 / 16);
}

// Close: the first message beyond the limit ends the connection with 1008 and its own
// cause; the messages within the limit come first.
#[test]
fn close_policy_closes_with_1008_beyond_the_message_limit() {
    let mut conn = limited(RateLimit::messages(10, 5).close());
    conn.receive(Instant::ZERO, &messages(6, 1));
    let events = take_all(&mut conn);
    assert_eq!(events.len(), 6);
    assert!(events[..5].iter().all(|e| matches!(e, Event::Message(_))));
    match &events[5] {
        Event::Closed(c) => {
            assert_eq!(c.code, CloseCode::POLICY_VIOLATION);
            assert_eq!(c.cause, CloseCause::RateLimitExceeded(RateKind::Messages));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(close_code_sent(&drain(&mut conn)), 1008);
    assert!(conn.should_shutdown());

    // Within the limit, refilled: no close.
    let mut conn = limited(RateLimit::messages(10, 5).close());
    conn.receive(Instant::ZERO, &messages(5, 1));
    assert_eq!(take_all(&mut conn).len(), 5);
    conn.receive(at_ms(100), &messages(1, 1));
    assert_eq!(take_all(&mut conn).len(), 1);
    assert_eq!(conn.state(), State::Open);
}

#[test]
fn close_policy_closes_with_1008_beyond_the_byte_limit() {
    let mut conn = limited(RateLimit::bytes(1000, 100).close());
    conn.receive(Instant::ZERO, &[0x82, 0x80, 0, 0, 0, 0]);
    conn.receive(at_ms(0), &alloc::vec![0x82; 94]);
    assert_eq!(conn.state(), State::Open, "exactly the burst is fine");
    conn.receive(at_ms(0), &[0x82]);
    let events = take_all(&mut conn);
    assert_eq!(closed_cause(&events), Some(&CloseCause::RateLimitExceeded(RateKind::Bytes)), "{events:?}");
    assert_eq!(close_code_sent(&drain(&mut conn)), 1008);
}

// Pings count as messages: a ping flood is throttled like data, and the pongs queued are
// bounded by what was admitted.
#[test]
fn pings_are_counted_and_throttled() {
    let mut conn = limited(RateLimit::messages(10, 5));
    let mut flood = Vec::new();
    for _ in 0..1000 {
        flood.extend_from_slice(&client_frame(true, PING, b"x"));
    }
    conn.receive(Instant::ZERO, &flood);
    assert_eq!(take_all(&mut conn).len(), 5);
    assert!(drain(&mut conn).len() <= 5 * 3, "at most one pong per admitted ping");
}

// Our throttling is not the peer's silence: the idle timeout does not fire while we refuse
// to read, and counts again from the end of the throttle.
#[test]
fn idle_clock_pauses_while_throttled() {
    let mut conn = Connection::new(
        Role::Server,
        test_config()
            .to_builder()
            .idle_timeout(Some(Duration::from_millis(500)))
            .rate_limit(RateLimit::messages(1, 1))
            .build()
            .unwrap(),
    );
    conn.receive(Instant::ZERO, &messages(3, 1));
    assert_eq!(take_all(&mut conn).len(), 1);
    conn.handle_timeout(at_ms(600));
    assert_eq!(take_all(&mut conn).len(), 0);
    assert_eq!(conn.state(), State::Open, "no idle timeout while throttled");
    conn.handle_timeout(at_ms(1000));
    assert_eq!(take_all(&mut conn).len(), 1);
    conn.handle_timeout(at_ms(2000));
    assert_eq!(take_all(&mut conn).len(), 1);
    // Nothing more arrives: the idle timeout counts from the last throttle's end.
    conn.handle_timeout(at_ms(2499));
    assert!(take_all(&mut conn).is_empty());
    conn.handle_timeout(at_ms(2500));
    assert_eq!(closed_cause(&take_all(&mut conn)), Some(&CloseCause::IdleTimeout));
}

// An ending decided while throttled (here a transport failure) still hands out the
// messages already received at the rate, then the ending; the deadline stays visible so a
// driver is woken rather than left waiting.
#[test]
fn an_ending_waits_behind_throttled_messages() {
    let mut conn = limited(RateLimit::messages(10, 2));
    conn.receive(Instant::ZERO, &messages(10, 1));
    assert_eq!(take_all(&mut conn).len(), 2);
    conn.handle_transport_error(at_ms(1));
    let mut delivered = 2;
    let mut last = at_ms(1);
    loop {
        let events = take_all(&mut conn);
        delivered += events.iter().filter(|e| matches!(e, Event::Message(_))).count();
        if let Some(cause) = closed_cause(&events) {
            assert_eq!(cause, &CloseCause::TransportError);
            break;
        }
        let at = conn.poll_timeout().expect("a deadline while throttled");
        assert!(at > last, "time moves on");
        last = at;
        conn.handle_timeout(at);
    }
    assert_eq!(delivered, 10);
}

// Without a limit, the engine is unchanged; a limit can be set (per route) after the
// handshake and removed again.
#[test]
fn a_limit_can_be_set_and_removed_on_a_connection() {
    let mut conn = Connection::new(Role::Server, test_config());
    conn.set_rate_limit(Some(RateLimit::messages(10, 2))).unwrap();
    conn.receive(Instant::ZERO, &messages(5, 1));
    assert_eq!(take_all(&mut conn).len(), 2);
    conn.set_rate_limit(None).unwrap();
    assert_eq!(take_all(&mut conn).len(), 3);
    assert_eq!(conn.poll_timeout(), None);
    assert!(conn.set_rate_limit(Some(RateLimit::messages(0, 2))).is_err());
}

/// One step of a driver under test: advance time by `dt_us`, then read at most `want` bytes
/// into the space lent, then take events.
#[derive(Debug, Clone)]
struct Step {
    dt_us: u64,
    want: usize,
    uninit: bool,
    wake_at_deadline: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (0u64..30_000, 1usize..5000, any::<bool>(), any::<bool>())
        .prop_map(|(dt_us, want, uninit, wake_at_deadline)| Step { dt_us, want, uninit, wake_at_deadline })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // Under Throttle, whatever the chunking and the timing, messages handed out never exceed
    // burst + rate * elapsed, nor bytes read burst + rate * elapsed; nothing is dropped or
    // reordered.
    #[test]
    fn admitted_never_exceeds_burst_plus_rate_times_elapsed(
        msg_rate in 1u64..2000,
        msg_burst in 1u64..50,
        byte_rate in 64u64..200_000,
        byte_burst in 1u64..3000,
        sizes in proptest::collection::vec(0usize..300, 1..200),
        steps in proptest::collection::vec(step(), 1..400),
    ) {
        let limit = RateLimit::messages(msg_rate, msg_burst).with_bytes(byte_rate, byte_burst);
        let mut conn = limited(limit);
        let mut wire = Vec::new();
        for (i, &len) in sizes.iter().enumerate() {
            let mut payload = alloc::vec![0u8; len.max(2)];
            payload[..2].copy_from_slice(&(i as u16).to_be_bytes());
            wire.extend_from_slice(&client_frame(true, BINARY, &payload));
        }
        let start = Instant::ZERO;
        conn.handle_timeout(start);
        let mut now = start;
        let (mut pos, mut admitted) = (0usize, 0u64);
        for s in steps.iter().cycle().take(20_000) {
            now += Duration::from_micros(s.dt_us);
            if s.wake_at_deadline {
                if let Some(at) = conn.poll_timeout() {
                    now = now.max(at);
                }
            }
            conn.handle_timeout(now);
            let n = if s.uninit {
                let mut space = conn.read_buf_uninit();
                let n = s.want.min(space.remaining_mut()).min(wire.len() - pos);
                space.put_slice(&wire[pos..pos + n]);
                conn.commit_appended(now);
                n
            } else {
                let space = conn.read_buf();
                let n = s.want.min(space.len()).min(wire.len() - pos);
                space[..n].copy_from_slice(&wire[pos..pos + n]);
                conn.commit_read(now, n);
                n
            };
            pos += n;
            while let Some(e) = conn.poll_event() {
                match e {
                    Event::Message(Message::Binary(b)) => {
                        prop_assert_eq!(u16::from_be_bytes([b[0], b[1]]) as u64, admitted, "in order");
                        admitted += 1;
                    }
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
            let elapsed = now.saturating_duration_since(start).as_nanos();
            prop_assert!(
                u128::from(admitted) * 1_000_000_000 <= u128::from(msg_burst) * 1_000_000_000 + u128::from(msg_rate) * elapsed,
                "{} messages after {} ns", admitted, elapsed
            );
            prop_assert!(
                (pos as u128) * 1_000_000_000 <= u128::from(byte_burst) * 1_000_000_000 + u128::from(byte_rate) * elapsed,
                "{} bytes after {} ns", pos, elapsed
            );
            if admitted as usize == sizes.len() {
                break;
            }
        }
        // Driven at its deadlines long enough, everything arrives.
        let mut guard = 0;
        while (admitted as usize) < sizes.len() {
            guard += 1;
            prop_assert!(guard < 1_000_000, "stuck at {} of {}", admitted, sizes.len());
            now = conn.poll_timeout().map_or(now, |at| now.max(at));
            conn.handle_timeout(now);
            let space = conn.read_buf();
            let n = space.len().min(wire.len() - pos);
            space[..n].copy_from_slice(&wire[pos..pos + n]);
            conn.commit_read(now, n);
            pos += n;
            while let Some(Event::Message(_)) = conn.poll_event() {
                admitted += 1;
            }
        }
    }
}
