//! The fan-out load generator: one publisher connection (path `/pub`) and N subscriber
//! connections (path `/sub`) on raw TCP, no WebSocket library. The publisher's messages carry a
//! sequence number and a send time; subscribers count deliveries and sample the delivery
//! latency. Two ways to run: paced (`RATE` messages per second: what delivery latency is at a
//! given load) and saturated (`RATE` 0: the publisher keeps at most `WINDOW` messages ahead of
//! the slowest subscriber, which measures sustained deliveries per second without letting any
//! server queue grow without bound). Prints one `key=value` line; no tables here.
//!
//! ```text
//! fanout_load ADDR SUBS SIZE RATE SECS
//! ```

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tether_benches::handshake::upgrade;
use tether_benches::procfs::own_cpu_secs;
use tether_benches::stats::percentile;
use tether_benches::tls::Stream as TcpStream;
use tether_testkit::{parse_header, Frame, BINARY};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

type Error = Box<dyn std::error::Error>;

/// Hard cap on any run, whatever the arguments.
const MAX_RUN: Duration = Duration::from_secs(180);
/// Saturated mode: how far the publisher may run ahead of the slowest subscriber.
const WINDOW: u64 = 64;
/// Latency samples kept per subscriber (every message's latency is counted in the
/// deliveries; only a sample is kept for percentiles, to bound memory at 10 000 subscribers).
const SAMPLES_PER_SUB: usize = 256;

fn main() -> ExitCode {
    tether_benches::cli::main_bounded("fanout_load", MAX_RUN, |args| async move { run(&args).await })
}

struct Shared {
    epoch: Instant,
    /// Per subscriber: the highest sequence number received.
    seen: RefCell<Vec<u64>>,
    deliveries: Cell<u64>,
    samples: RefCell<Vec<u64>>,
    /// Whether the measured phase has begun (warm-up deliveries are not counted).
    measuring: Cell<bool>,
    failed: RefCell<Option<String>>,
}

async fn run(args: &[String]) -> Result<String, Error> {
    let num = |i: usize| -> Result<u64, Error> {
        Ok(args.get(i).ok_or("usage: fanout_load ADDR SUBS SIZE RATE SECS")?.parse::<u64>()?)
    };
    let addr: SocketAddr = args.first().ok_or("missing ADDR")?.parse()?;
    if !addr.ip().is_loopback() {
        return Err("the load generator only targets loopback addresses".into());
    }
    let (subs, size, rate, secs) = (num(1)? as usize, num(2)?.max(16) as usize, num(3)?, num(4)?);

    let shared = Rc::new(Shared {
        epoch: Instant::now(),
        seen: RefCell::new(vec![0; subs]),
        deliveries: Cell::new(0),
        samples: RefCell::new(Vec::new()),
        measuring: Cell::new(false),
        failed: RefCell::new(None),
    });

    // Subscribers first, 256 handshakes at a time.
    let mut streams = Vec::with_capacity(subs);
    for chunk in (0..subs).collect::<Vec<_>>().chunks(256) {
        let pending: Vec<_> = chunk.iter().map(|_| upgrade(addr, "/sub")).collect();
        for s in futures_util::future::join_all(pending).await {
            streams.push(s?);
        }
    }
    for (i, (stream, leftover)) in streams.into_iter().enumerate() {
        tokio::task::spawn_local(subscriber(i, stream, leftover, Rc::clone(&shared)));
    }
    let (mut publisher, _) = upgrade(addr, "/pub").await?;

    // Warm-up: publish until every subscriber has received something (the server may
    // register a subscriber some time after its handshake completed).
    let mut seq = 0u64;
    let warm_deadline = Instant::now() + Duration::from_secs(30);
    loop {
        seq += 1;
        publish(&mut publisher, seq, size, &shared).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        if shared.seen.borrow().iter().all(|&s| s > 0) {
            break;
        }
        if Instant::now() > warm_deadline {
            let missing = shared.seen.borrow().iter().filter(|&&s| s == 0).count();
            return Err(format!("{missing} subscribers received nothing within 30 s").into());
        }
    }
    // Let the warm-up drain, then measure from the next sequence number on.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let first = seq + 1;
    shared.deliveries.set(0);
    shared.measuring.set(true);
    let cpu0 = own_cpu_secs();
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    while Instant::now() < end {
        if let Some(e) = shared.failed.borrow().as_ref() {
            return Err(e.clone().into());
        }
        seq += 1;
        publish(&mut publisher, seq, size, &shared).await?;
        if let Some(due_ns) = ((seq - first + 1) * 1_000_000_000).checked_div(rate) {
            tokio::time::sleep_until((start + Duration::from_nanos(due_ns)).into()).await;
        } else {
            // Stay at most WINDOW messages ahead of the slowest subscriber.
            while shared.seen.borrow().iter().min().copied().unwrap_or(0) + WINDOW < seq {
                tokio::time::sleep(Duration::from_micros(200)).await;
                if Instant::now() > end + Duration::from_secs(10) {
                    return Err("a subscriber stopped receiving".into());
                }
            }
        }
    }
    // Wait (bounded) for the last messages to arrive everywhere.
    let drain_deadline = Instant::now() + Duration::from_secs(10);
    while shared.seen.borrow().iter().any(|&s| s < seq) && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = own_cpu_secs() - cpu0;
    let sent = seq - first + 1;
    let expected = sent * subs as u64;
    let deliveries = shared.deliveries.get();
    let mut samples = shared.samples.take();
    let mut p = |q: f64| if samples.is_empty() { 0.0 } else { percentile(&mut samples, q) as f64 / 1000.0 };
    let (p50, p99) = (p(50.0), p(99.0));
    Ok(format!(
        "mode=fanout subs={subs} size={size} rate={rate} sent={sent} deliveries={deliveries} expected={expected} \
         deliveries_per_sec={:.0} p50_us={p50:.1} p99_us={p99:.1} gen_cpu_pct={:.0}",
        deliveries as f64 / elapsed,
        cpu / elapsed * 100.0
    ))
}

/// One masked binary frame: sequence number, send time (ns since the epoch), padding.
async fn publish(stream: &mut TcpStream, seq: u64, size: usize, shared: &Shared) -> Result<(), Error> {
    let mut payload = vec![0u8; size];
    payload[..8].copy_from_slice(&seq.to_be_bytes());
    let sent = shared.epoch.elapsed().as_nanos() as u64;
    payload[8..16].copy_from_slice(&sent.to_be_bytes());
    let frame = Frame::new(BINARY, &payload).mask(Some([1, 2, 3, 4])).encode();
    stream.write_all(&frame).await?;
    Ok(())
}

async fn subscriber(index: usize, mut stream: TcpStream, mut buf: Vec<u8>, shared: Rc<Shared>) {
    let mut kept = 0usize;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        while let Some(h) = parse_header(&buf) {
            if buf.len() < h.header_len + h.len {
                break;
            }
            let payload = &buf[h.header_len..h.header_len + h.len];
            if h.opcode == BINARY && payload.len() >= 16 {
                let seq = u64::from_be_bytes(payload[..8].try_into().unwrap_or_default());
                let sent = u64::from_be_bytes(payload[8..16].try_into().unwrap_or_default());
                let now = shared.epoch.elapsed().as_nanos() as u64;
                let mut seen = shared.seen.borrow_mut();
                if seq <= seen[index] {
                    *shared.failed.borrow_mut() = Some(format!("subscriber {index}: {seq} after {}", seen[index]));
                }
                seen[index] = seq;
                drop(seen);
                if shared.measuring.get() {
                    shared.deliveries.set(shared.deliveries.get() + 1);
                    // Keep an evenly spread sample (every 8th message, up to the cap).
                    if seq % 8 == 0 && kept < SAMPLES_PER_SUB {
                        shared.samples.borrow_mut().push(now.saturating_sub(sent));
                        kept += 1;
                    }
                }
            }
            buf.drain(..h.header_len + h.len);
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
