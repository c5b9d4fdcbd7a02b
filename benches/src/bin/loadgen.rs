//! The echo load generator: raw TCP with pre-encoded masked frames and no WebSocket
//! library, so the server under test is the only WebSocket code measured. Three modes —
//! throughput (N connections × M messages in flight), ping-pong latency (one connection,
//! p50/p99), and idle memory (open N upgraded connections, read the server's VmRSS). Prints
//! one `key=value` line per run for `run.sh`; no tables here. Loopback only, bounded in time.
//! The `deflate` mode is throughput with permessage-deflate offered: compressible JSON-like
//! text of SIZE bytes, compressed once here (each message on its own, which a server
//! inflates whatever context mode it agreed), and the server's compressed echoes counted
//! whatever their length. The `deflate-memory` mode opens CONNS connections offering
//! permessage-deflate and reads the server's VmRSS twice: idle (upgraded, nothing sent) and
//! busy (after one compressible 4 KiB text echoed on every connection, so each connection's
//! compressor and decompressor exist when the server keeps them between messages), then
//! once more after QUIET_SECS (default 12) without traffic: "quiet", what a busy connection
//! that went quiet keeps (a server may free its compressor when idle).
//!
//! ```text
//! loadgen throughput ADDR CONNS INFLIGHT SIZE SECS
//! loadgen deflate    ADDR CONNS INFLIGHT SIZE SECS
//! loadgen latency    ADDR SIZE COUNT
//! loadgen idle       ADDR CONNS SERVER_PID
//! loadgen deflate-memory ADDR CONNS SERVER_PID [QUIET_SECS]
//! ```

use std::cell::Cell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tether_benches::frames::json_text;
use tether_benches::handshake::{upgrade, upgrade_offering};
use tether_benches::procfs::{own_cpu_secs, vm_rss_kib};
use tether_benches::stats::percentile;
use tether_testkit::{parse_header, Chunker, Frame, BINARY, TEXT};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

type Error = Box<dyn std::error::Error>;

/// Hard cap on any run, whatever the arguments: the generator always stops by itself.
const MAX_RUN: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    tether_benches::cli::main_bounded("loadgen", MAX_RUN, |args| async move { run(&args).await })
}

async fn run(args: &[String]) -> Result<String, Error> {
    let num = |i: usize| -> Result<usize, Error> {
        Ok(args.get(i).ok_or("missing argument")?.parse::<usize>().map_err(|e| format!("argument {i}: {e}"))?)
    };
    let mode = args.first().map(String::as_str).unwrap_or("");
    let addr: SocketAddr = args.get(1).ok_or("missing ADDR")?.parse()?;
    if !addr.ip().is_loopback() {
        return Err("the load generator only targets loopback addresses".into());
    }
    match mode {
        "throughput" => throughput(addr, num(2)?, num(3)?, num(4)?, Duration::from_secs(num(5)? as u64), false).await,
        "deflate" => throughput(addr, num(2)?, num(3)?, num(4)?, Duration::from_secs(num(5)? as u64), true).await,
        "latency" => latency(addr, num(2)?, num(3)?).await,
        "idle" => idle(addr, num(2)?, num(3)?).await,
        "deflate-memory" => deflate_memory(addr, num(2)?, num(3)?, num(4).unwrap_or(12)).await,
        _ => Err("usage: loadgen throughput|deflate|latency|idle|deflate-memory ADDR ...".into()),
    }
}

/// Counts complete server frames in a byte stream that arrives in arbitrary pieces.
struct FrameCounter {
    /// The length every frame must have; `None`: compressed echoes, any length.
    expect_len: Option<usize>,
    /// Bytes still to skip of the frame in progress.
    skip: usize,
    /// A header split across reads.
    partial: Vec<u8>,
    /// Frames seen with RSV1 set (compressed), and their payload bytes.
    compressed: u64,
    compressed_bytes: u64,
}

impl FrameCounter {
    fn new(expect_len: Option<usize>) -> Self {
        FrameCounter { expect_len, skip: 0, partial: Vec::new(), compressed: 0, compressed_bytes: 0 }
    }

    /// Feed received bytes; returns how many frames completed.
    fn feed(&mut self, mut data: &[u8]) -> Result<usize, Error> {
        let mut done = 0;
        loop {
            if self.skip > 0 {
                let k = self.skip.min(data.len());
                self.skip -= k;
                data = &data[k..];
                if self.skip > 0 {
                    return Ok(done);
                }
                done += 1;
            }
            if data.is_empty() {
                return Ok(done);
            }
            let header = if self.partial.is_empty() {
                parse_header(data).map(|h| (h, h.header_len))
            } else {
                let had = self.partial.len();
                self.partial.extend_from_slice(&data[..data.len().min(14)]);
                let parsed = parse_header(&self.partial).map(|h| (h, h.header_len - had));
                self.partial.truncate(had);
                parsed
            };
            let Some((h, consumed)) = header else {
                self.partial.extend_from_slice(data);
                return Ok(done);
            };
            self.partial.clear();
            let expected = match self.expect_len {
                Some(len) => h.opcode == BINARY && h.rsv == 0 && h.len == len,
                None => h.opcode == TEXT && (h.rsv == 0 || h.rsv == 0b100),
            };
            if !expected || h.mask.is_some() || !h.fin {
                return Err(format!("unexpected frame from server: {h:?}").into());
            }
            data = &data[consumed..];
            self.skip = h.len;
            if h.rsv == 0b100 {
                self.compressed += 1;
                self.compressed_bytes += h.len as u64;
            }
            if h.len == 0 {
                done += 1;
            }
        }
    }
}

fn message_batch(size: usize, count: usize) -> Vec<u8> {
    let payload = vec![0x61u8; size];
    let mut keys = Chunker::new(7, 0);
    let mut out = Vec::new();
    for _ in 0..count {
        Frame::new(BINARY, &payload).mask(Some(keys.mask_key())).encode_into(&mut out);
    }
    out
}

/// `count` masked text frames carrying `json_text(size)` compressed as one permessage-deflate
/// message (RSV1, raw DEFLATE at level 6 with a 2^15 window, the sync-flush tail removed).
fn deflate_batch(size: usize, count: usize) -> Result<Vec<u8>, Error> {
    let text = json_text(size);
    let mut deflate = flate2::Compress::new(flate2::Compression::new(6), false);
    let mut compressed = Vec::with_capacity(size + 64);
    deflate.compress_vec(&text, &mut compressed, flate2::FlushCompress::Sync)?;
    while deflate.total_in() < text.len() as u64 || !compressed.ends_with(&[0, 0, 0xff, 0xff]) {
        compressed.reserve(size + 64);
        let consumed = deflate.total_in() as usize;
        deflate.compress_vec(&text[consumed..], &mut compressed, flate2::FlushCompress::Sync)?;
    }
    compressed.truncate(compressed.len() - 4);
    let mut keys = Chunker::new(7, 0);
    let mut out = Vec::new();
    for _ in 0..count {
        Frame::new(TEXT, &compressed).rsv(0b100).mask(Some(keys.mask_key())).encode_into(&mut out);
    }
    Ok(out)
}

async fn throughput(
    addr: SocketAddr,
    conns: usize,
    inflight: usize,
    size: usize,
    secs: Duration,
    deflate: bool,
) -> Result<String, Error> {
    let batch = Rc::new(if deflate { deflate_batch(size, inflight)? } else { message_batch(size, inflight) });
    let frame_len = batch.len() / inflight;
    let echoed = Rc::new(Cell::new(0u64));
    // Compressed echoes and their bytes, over every connection (deflate mode).
    let compressed = Rc::new(Cell::new((0u64, 0u64)));
    let stop = Rc::new(Cell::new(false));
    let mut tasks = Vec::new();
    let mut agreed = String::new();
    for _ in 0..conns {
        let (mut stream, leftover) = if deflate {
            let (stream, head, leftover) =
                upgrade_offering(addr, "/", Some("permessage-deflate; client_max_window_bits")).await?;
            let Some(line) = head.lines().find(|l| l.to_ascii_lowercase().starts_with("sec-websocket-extensions:"))
            else {
                return Err("the server did not agree to permessage-deflate".into());
            };
            agreed = line.split_once(':').map_or("", |(_, v)| v.trim()).replace(' ', "");
            (stream, leftover)
        } else {
            upgrade(addr, "/").await?
        };
        let (batch, echoed, stop, compressed) = (batch.clone(), echoed.clone(), stop.clone(), compressed.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let mut counter = FrameCounter::new((!deflate).then_some(size));
            let mut done = counter.feed(&leftover)?;
            stream.write_all(&batch).await?;
            let mut buf = vec![0u8; 256 << 10];
            loop {
                // Each completed echo is answered by one new message: `inflight` stay out.
                if done > 0 {
                    echoed.set(echoed.get() + done as u64);
                    let (n, bytes) = compressed.get();
                    compressed.set((n + counter.compressed, bytes + counter.compressed_bytes));
                    (counter.compressed, counter.compressed_bytes) = (0, 0);
                    if stop.get() {
                        return Ok::<(), Error>(());
                    }
                    let mut left = done;
                    while left > 0 {
                        let k = left.min(inflight);
                        stream.write_all(&batch[..k * frame_len]).await?;
                        left -= k;
                    }
                }
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Err("server closed the connection".into());
                }
                done = counter.feed(&buf[..n])?;
            }
        }));
    }
    let warmup = Duration::from_secs(1);
    tokio::time::sleep(warmup).await;
    let (start, start_count, cpu0) = (Instant::now(), echoed.get(), own_cpu_secs());
    tokio::time::sleep(secs).await;
    let (elapsed, count, cpu1) = (start.elapsed(), echoed.get() - start_count, own_cpu_secs());
    stop.set(true);
    for t in &tasks {
        if t.is_finished() {
            return Err("a connection failed during the run".into());
        }
    }
    for t in tasks {
        t.abort();
    }
    let rate = count as f64 / elapsed.as_secs_f64();
    let gen_cpu = (cpu1 - cpu0) / elapsed.as_secs_f64() * 100.0;
    let mode = if deflate { "deflate" } else { "throughput" };
    let (n, bytes) = compressed.get();
    let echo_bytes = bytes.checked_div(n).unwrap_or(0);
    let agreed = if deflate {
        format!(" agreed={agreed} wire_bytes={frame_len} compressed_echoes={n} echo_payload_bytes={echo_bytes}")
    } else {
        String::new()
    };
    Ok(format!(
        "mode={mode} conns={conns} inflight={inflight} size={size} msgs_per_sec={rate:.0} mib_per_sec={:.2} \
         gen_cpu_pct={gen_cpu:.0}{agreed}",
        rate * size as f64 / f64::from(1 << 20)
    ))
}

async fn latency(addr: SocketAddr, size: usize, count: usize) -> Result<String, Error> {
    let (mut stream, leftover) = upgrade(addr, "/").await?;
    if !leftover.is_empty() {
        return Err("unexpected bytes after the handshake".into());
    }
    let frame = message_batch(size, 1);
    let mut counter = FrameCounter::new(Some(size));
    let mut buf = vec![0u8; 256 << 10];
    let warmup = count / 10;
    let mut samples = Vec::with_capacity(count);
    for i in 0..warmup + count {
        let start = Instant::now();
        stream.write_all(&frame).await?;
        let mut done = 0;
        while done == 0 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err("server closed the connection".into());
            }
            done = counter.feed(&buf[..n])?;
        }
        if i >= warmup {
            samples.push(start.elapsed().as_nanos() as u64);
        }
    }
    let mean = samples.iter().sum::<u64>() / samples.len().max(1) as u64;
    let p50 = percentile(&mut samples, 50.0);
    let p99 = percentile(&mut samples, 99.0);
    Ok(format!(
        "mode=latency size={size} count={count} p50_us={:.1} p99_us={:.1} mean_us={:.1}",
        us(p50),
        us(p99),
        us(mean)
    ))
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

async fn idle(addr: SocketAddr, conns: usize, pid: usize) -> Result<String, Error> {
    // Warm the server up with one echoed message on one connection, so lazily created
    // runtime state is not counted per connection.
    {
        let (mut stream, _) = upgrade(addr, "/").await?;
        stream.write_all(&message_batch(16, 1)).await?;
        let mut counter = FrameCounter::new(Some(16));
        let mut buf = [0u8; 256];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err("server closed the warm-up connection".into());
            }
            if counter.feed(&buf[..n])? > 0 {
                break;
            }
        }
        let mut keep = vec![stream];
        for _ in 0..9 {
            keep.push(upgrade(addr, "/").await?.0);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = vm_rss_kib(pid)?;
    let mut open = Vec::with_capacity(conns);
    let wave = 200;
    while open.len() < conns {
        let n = wave.min(conns - open.len());
        let handles: Vec<_> = (0..n).map(|_| tokio::task::spawn_local(upgrade(addr, "/"))).collect();
        for h in handles {
            open.push(h.await.map_err(|e| e.to_string())??.0);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = vm_rss_kib(pid)?;
    let per_conn = (after.saturating_sub(before)) as f64 * 1024.0 / conns as f64;
    drop(open);
    Ok(format!("mode=idle conns={conns} rss_before_kib={before} rss_after_kib={after} bytes_per_conn={per_conn:.0}"))
}

/// Offer permessage-deflate (as every browser does) and fail unless the server agreed.
async fn upgrade_deflate(addr: SocketAddr) -> Result<(tether_benches::tls::Stream, Vec<u8>), Error> {
    let (stream, head, leftover) =
        upgrade_offering(addr, "/", Some("permessage-deflate; client_max_window_bits")).await?;
    if !head.to_ascii_lowercase().contains("sec-websocket-extensions:") {
        return Err("the server did not agree to permessage-deflate".into());
    }
    Ok((stream, leftover))
}

/// Send one compressed message on `stream` and wait for its (compressed or plain) echo.
async fn echo_one(stream: &mut tether_benches::tls::Stream, leftover: &[u8], frame: &[u8]) -> Result<(), Error> {
    let mut counter = FrameCounter::new(None);
    if counter.feed(leftover)? > 0 {
        return Err("a frame arrived before any was sent".into());
    }
    stream.write_all(frame).await?;
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        if counter.feed(&buf[..n])? > 0 {
            return Ok(());
        }
    }
}

async fn deflate_memory(addr: SocketAddr, conns: usize, pid: usize, quiet_secs: usize) -> Result<String, Error> {
    let frame = Rc::new(deflate_batch(4096, 1)?);
    // Warm-up as in `idle`: one echoed message and a few connections, not counted.
    {
        let (mut stream, leftover) = upgrade_deflate(addr).await?;
        echo_one(&mut stream, &leftover, &frame).await?;
        let mut keep = vec![stream];
        for _ in 0..9 {
            keep.push(upgrade_deflate(addr).await?.0);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = vm_rss_kib(pid)?;
    let mut open = Vec::with_capacity(conns);
    let wave = 200;
    while open.len() < conns {
        let n = wave.min(conns - open.len());
        let handles: Vec<_> = (0..n).map(|_| tokio::task::spawn_local(upgrade_deflate(addr))).collect();
        for h in handles {
            open.push(h.await.map_err(|e| e.to_string())??);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = vm_rss_kib(pid)?;
    let mut busy_open = Vec::with_capacity(conns);
    while !open.is_empty() {
        let n = wave.min(open.len());
        let handles: Vec<_> = open
            .drain(..n)
            .map(|(mut stream, leftover)| {
                let frame = frame.clone();
                tokio::task::spawn_local(async move {
                    echo_one(&mut stream, &leftover, &frame).await?;
                    Ok::<_, Error>(stream)
                })
            })
            .collect();
        for h in handles {
            busy_open.push(h.await.map_err(|e| e.to_string())??);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let busy = vm_rss_kib(pid)?;
    tokio::time::sleep(Duration::from_secs(quiet_secs as u64).saturating_sub(Duration::from_secs(2))).await;
    let quiet = vm_rss_kib(pid)?;
    let per = |kib: u64| kib.saturating_sub(before) as f64 * 1024.0 / conns as f64;
    drop(busy_open);
    Ok(format!(
        "mode=deflate-memory conns={conns} rss_before_kib={before} rss_idle_kib={idle} rss_busy_kib={busy} \
         rss_quiet_kib={quiet} idle_bytes_per_conn={:.0} busy_bytes_per_conn={:.0} quiet_bytes_per_conn={:.0}",
        per(idle),
        per(busy),
        per(quiet)
    ))
}
