//! Inbound rate limits over sockets (hostile peers G11): a peer flooding messages or bytes
//! is throttled to at most `burst + rate * elapsed` (an upper bound, which slowness cannot
//! break; no lower timing bound is asserted), or closed with 1008 under the Close policy.
//! The exact arithmetic is tested in the engine with given time (`tether-proto`).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tether_rt::{RateKind, RateLimit};

use super::*;

/// A raw client that completes the handshake and then writes `frame` over and over, as
/// fast as the socket takes it, until `stop` is set or the socket fails.
fn flood(addr: std::net::SocketAddr, frame: Vec<u8>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut s = raw::client(addr);
        let batch = frame.repeat(64);
        while !stop.load(Ordering::Relaxed) {
            if s.write_all(&batch).is_err() {
                break;
            }
        }
    })
}

/// `f`, counting its polls into `polls`.
async fn counting_polls<F: Future>(f: F, polls: &mut u64) -> F::Output {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(|cx| {
        *polls += 1;
        f.as_mut().poll(cx)
    })
    .await
}

/// Whether `admitted` units fit in `burst + rate * elapsed` (in integers: nanoseconds).
fn within(admitted: u64, burst: u64, rate: u64, elapsed: Duration) -> bool {
    u128::from(admitted) * 1_000_000_000 <= u128::from(burst) * 1_000_000_000 + u128::from(rate) * elapsed.as_nanos()
}

#[test]
fn a_message_flood_is_throttled_to_burst_plus_rate() {
    const RATE: u64 = 200;
    const BURST: u64 = 20;
    const WANT: u64 = 80;
    run(async {
        let config = short(|b| b.rate_limit(RateLimit::messages(RATE, BURST)));
        // Before the server's engine exists: its buckets start later, so this bound is looser.
        let start = Instant::now();
        let (addr, server) = server(config, move |mut ws| async move {
            let (mut n, mut polls) = (0, 0);
            while n < WANT {
                match counting_polls(ws.recv(), &mut polls).await {
                    Ok(Some(_)) => n += 1,
                    other => panic!("after {n} messages: {other:?}"),
                }
                let elapsed = start.elapsed();
                assert!(within(n, BURST, RATE, elapsed), "{n} messages after {elapsed:?}");
            }
            // Throttled, the reading side sleeps until the refill instant: it is polled about
            // once per wake-up (a fiftieth of a second's worth each), never in a busy loop.
            // A slower machine polls less, not more.
            assert!(polls <= 2 * WANT + 10, "{polls} polls for {WANT} messages");
            ws
        })
        .await;
        let stop = Arc::new(AtomicBool::new(false));
        let peer = flood(addr, client_frame(true, BINARY, b"flood"), stop.clone());
        let ws = server.await;
        stop.store(true, Ordering::Relaxed);
        drop(ws);
        peer.join().unwrap();
    })
}

#[test]
fn a_byte_flood_is_throttled_to_burst_plus_rate() {
    const RATE: u64 = 64 << 10;
    const BURST: u64 = 8 << 10;
    const WANT: u64 = 40 << 10;
    run(async {
        let config = short(|b| b.rate_limit(RateLimit::bytes(RATE, BURST)));
        let start = Instant::now();
        let (addr, server) = server(config, move |mut ws| async move {
            // Payload bytes: fewer than the bytes read (headers), so the bound holds for them.
            let mut bytes = 0;
            while bytes < WANT {
                match ws.recv().await {
                    Ok(Some(m)) => bytes += m.as_payload().len() as u64,
                    other => panic!("after {bytes} bytes: {other:?}"),
                }
                let elapsed = start.elapsed();
                assert!(within(bytes, BURST, RATE, elapsed), "{bytes} bytes after {elapsed:?}");
            }
            ws
        })
        .await;
        let stop = Arc::new(AtomicBool::new(false));
        let peer = flood(addr, client_frame(true, BINARY, &[7u8; 1000]), stop.clone());
        let ws = server.await;
        stop.store(true, Ordering::Relaxed);
        drop(ws);
        peer.join().unwrap();
    })
}

#[test]
fn a_flood_beyond_the_limit_is_closed_with_1008() {
    const RATE: u64 = 100;
    const BURST: u64 = 10;
    run(async {
        let config = short(|b| b.rate_limit(RateLimit::messages(RATE, BURST).close()));
        let start = Instant::now();
        let (addr, server) = server(config, move |mut ws| async move {
            let mut n = 0;
            loop {
                match ws.recv().await {
                    Ok(Some(_)) => n += 1,
                    Err(Error::Closed(closed)) => {
                        assert_eq!(closed.code, CloseCode::POLICY_VIOLATION);
                        assert_eq!(closed.cause, CloseCause::RateLimitExceeded(RateKind::Messages));
                        break;
                    }
                    other => panic!("after {n} messages: {other:?}"),
                }
                assert!(within(n, BURST, RATE, start.elapsed()), "{n} messages");
            }
        })
        .await;
        // A burst well beyond the limit, small enough to sit in the socket buffers: the
        // server reads it all before closing, so its close frame is not lost to a reset.
        let peer = std::thread::spawn(move || {
            let mut s = raw::client(addr);
            s.write_all(&client_frame(true, TEXT, b"flood").repeat(200)).unwrap();
            raw::read_to_end(&mut s)
        });
        server.await;
        let answer = peer.join().unwrap();
        // The server only reads: the first frame it writes is its close.
        let close = parse_frame(&answer).expect("a close frame");
        assert_eq!(close.header.opcode, CLOSE);
        assert_eq!(u16::from_be_bytes([close.payload[0], close.payload[1]]), 1008);
    })
}

#[test]
fn a_limit_set_after_accepting_applies_from_then_on() {
    // A server that routes first and limits per route: `set_rate_limit` on the connection.
    const RATE: u64 = 100;
    const BURST: u64 = 5;
    run(async {
        let (addr, server) = server(config(), move |mut ws| async move {
            let start = Instant::now();
            ws.set_rate_limit(Some(RateLimit::messages(RATE, BURST))).unwrap();
            for n in 1..=30 {
                assert!(ws.recv().await.unwrap().is_some());
                assert!(within(n, BURST, RATE, start.elapsed()), "{n} messages");
            }
            ws
        })
        .await;
        let stop = Arc::new(AtomicBool::new(false));
        let peer = flood(addr, client_frame(true, TEXT, b"x"), stop.clone());
        let ws = server.await;
        stop.store(true, Ordering::Relaxed);
        drop(ws);
        peer.join().unwrap();
    })
}
