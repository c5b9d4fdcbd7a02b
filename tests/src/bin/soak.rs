//! `soak`: a long mixed load against one running echo server process — echo sessions with
//! random sizes, fragmentation and pipelining, clean closes, abrupt resets mid-frame, slow
//! readers that push the server into backpressure, connections dropped during the handshake —
//! while sampling the server's RSS, anonymous memory and open file descriptors from /proc.
//! It fails (exit 1) on any wrong echo, if memory keeps growing after warm-up, or if the
//! descriptor count does not return to its baseline. The peer is written by hand (frames from
//! `tether-testkit`), so it shares no code with the server it checks. Run by `scripts/soak.sh`.
//!
//! `soak --addr HOST:PORT --pid PID --secs N [--conns C] [--seed S] [--label NAME]`

use std::io;
use std::time::{Duration, Instant};

use tether_testkit::{parse_header, Chunker, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IO_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    sessions: u64,
    messages: u64,
    bytes: u64,
    resets: u64,
    slow: u64,
    aborted: u64,
    failures: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.sessions += o.sessions;
        self.messages += o.messages;
        self.bytes += o.bytes;
        self.resets += o.resets;
        self.slow += o.slow;
        self.aborted += o.aborted;
        self.failures += o.failures;
    }
}

struct Args {
    addr: String,
    pid: u32,
    secs: u64,
    conns: usize,
    seed: u64,
    label: String,
}

fn args() -> Args {
    let mut a = Args { addr: String::new(), pid: 0, secs: 30, conns: 32, seed: 1, label: "server".into() };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => a.addr = value,
            "--pid" => a.pid = value.parse().expect("--pid"),
            "--secs" => a.secs = value.parse().expect("--secs"),
            "--conns" => a.conns = value.parse().expect("--conns"),
            "--seed" => a.seed = value.parse().expect("--seed"),
            "--label" => a.label = value,
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!a.addr.is_empty() && a.pid != 0, "usage: soak --addr HOST:PORT --pid PID --secs N");
    a
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ok = runtime.block_on(run(args));
    std::process::exit(if ok { 0 } else { 1 });
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    at: f64,
    rss_kib: u64,
    anon_kib: u64,
    fds: u64,
}

fn sample(pid: u32, start: Instant) -> io::Result<Sample> {
    let field = |text: &str, name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64;
    Ok(Sample {
        at: start.elapsed().as_secs_f64(),
        rss_kib: field(&status, "VmRSS:"),
        anon_kib: field(&rollup, "Anonymous:"),
        fds,
    })
}

async fn run(args: Args) -> bool {
    let start = Instant::now();
    let baseline = sample(args.pid, start).expect("the server process is readable in /proc");
    let deadline = start + Duration::from_secs(args.secs);

    let mut workers = Vec::new();
    for i in 0..args.conns {
        let addr = args.addr.clone();
        let seed = args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i as u64 + 1);
        workers.push(tokio::spawn(worker(addr, seed, deadline)));
    }
    let mut samples = vec![baseline];
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        match sample(args.pid, start) {
            Ok(s) => samples.push(s),
            Err(e) => {
                eprintln!("soak {}: the server is gone: {e}", args.label);
                return false;
            }
        }
    }
    let mut counts = Counts::default();
    for w in workers {
        counts.add(w.await.unwrap_or(Counts { failures: 1, ..Counts::default() }));
    }

    // Every connection is closed or reset: the server must be back to its descriptors.
    let mut end = sample(args.pid, start).expect("server alive after the load");
    let settle = Instant::now();
    while end.fds > baseline.fds && settle.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        end = sample(args.pid, start).expect("server alive after the load");
    }

    // Plateau: after a warm-up of the first 30%, the peak of the last half of the samples may
    // exceed the peak of the first half by at most 10% plus 4 MiB.
    let warm = &samples[(samples.len() * 3 / 10).max(1)..];
    let (first, last) = warm.split_at(warm.len() / 2);
    let peak = |s: &[Sample], f: fn(&Sample) -> u64| s.iter().map(f).max().unwrap_or(0);
    let grows = |f: fn(&Sample) -> u64| {
        let (a, b) = (peak(first, f), peak(last, f));
        (a, b, b > a + a / 10 + 4096)
    };
    let (rss_a, rss_b, rss_grows) = grows(|s| s.rss_kib);
    let (anon_a, anon_b, anon_grows) = grows(|s| s.anon_kib);
    let fd_peak = peak(&samples, |s| s.fds);

    println!(
        "soak {}: {:.0} s, {} sessions, {} messages, {:.1} MiB echoed, {} resets, {} slow readers, {} aborted handshakes, {} failures",
        args.label,
        start.elapsed().as_secs_f64(),
        counts.sessions,
        counts.messages,
        counts.bytes as f64 / (1024.0 * 1024.0),
        counts.resets,
        counts.slow,
        counts.aborted,
        counts.failures
    );
    println!(
        "soak {}: RSS {} KiB at start, peaks {} -> {} KiB (warm halves); anonymous {} -> {} KiB; fds {} at start, {} peak, {} after",
        args.label, baseline.rss_kib, rss_a, rss_b, anon_a, anon_b, baseline.fds, fd_peak, end.fds
    );
    let last_sample = samples.last().copied().unwrap_or(baseline);
    println!("soak {}: last sample at {:.0} s", args.label, last_sample.at);

    let mut ok = true;
    if counts.failures > 0 {
        eprintln!("soak {}: FAILED: {} sessions saw a wrong or missing echo", args.label, counts.failures);
        ok = false;
    }
    if counts.sessions == 0 || counts.messages == 0 {
        eprintln!("soak {}: FAILED: no session completed", args.label);
        ok = false;
    }
    if rss_grows || anon_grows {
        eprintln!("soak {}: FAILED: memory keeps growing after warm-up", args.label);
        ok = false;
    }
    if end.fds > baseline.fds {
        eprintln!(
            "soak {}: FAILED: {} descriptors left open after every client left",
            args.label,
            end.fds - baseline.fds
        );
        ok = false;
    }
    ok
}

async fn worker(addr: String, seed: u64, deadline: Instant) -> Counts {
    let mut rng = Chunker::new(seed, 1 << 20);
    let mut counts = Counts::default();
    while Instant::now() < deadline {
        let roll = below(&mut rng, 100);
        let outcome = match roll {
            0..=69 => session(&addr, &mut rng, &mut counts).await,
            70..=79 => reset_mid_frame(&addr, &mut rng).await.map(|()| counts.resets += 1),
            80..=89 => slow_reader(&addr, &mut rng, &mut counts).await.map(|()| counts.slow += 1),
            _ => abort_handshake(&addr, &mut rng).await.map(|()| counts.aborted += 1),
        };
        if let Err(e) = outcome {
            eprintln!("soak worker: {e}");
            counts.failures += 1;
        }
    }
    counts
}

/// A uniform draw in `0..n` (the chunker's own `next` is shaped for chunk sizes).
fn below(rng: &mut Chunker, n: usize) -> usize {
    (rng.bits() % n.max(1) as u64) as usize
}

fn err(what: impl Into<String>) -> io::Error {
    io::Error::other(what.into())
}

async fn timed<T>(f: impl std::future::Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout(IO_TIMEOUT, f).await.map_err(|_| err("timed out"))?
}

const REQUEST: &[u8] = b"GET /soak HTTP/1.1\r\nHost: soak\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Connects and completes the opening handshake; returns the stream and any bytes read past
/// the response head.
async fn open(addr: &str) -> io::Result<(TcpStream, Vec<u8>)> {
    let mut tcp = timed(TcpStream::connect(addr)).await?;
    tcp.set_nodelay(true)?;
    timed(tcp.write_all(REQUEST)).await?;
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 1024];
        let n = timed(tcp.read(&mut chunk)).await?;
        if n == 0 {
            return Err(err("EOF during the handshake"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            if !buf.starts_with(b"HTTP/1.1 101") {
                return Err(err(format!("no 101: {:?}", String::from_utf8_lossy(&buf[..end]))));
            }
            return Ok((tcp, buf.split_off(end + 4)));
        }
    }
}

/// Reads one whole frame: (fin, opcode, payload).
async fn read_frame(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<(bool, u8, Vec<u8>)> {
    loop {
        if let Some(h) = parse_header(buf) {
            if h.mask.is_some() || h.rsv != 0 {
                return Err(err("the server sent a masked frame or RSV bits"));
            }
            if buf.len() >= h.header_len + h.len {
                let payload = buf[h.header_len..h.header_len + h.len].to_vec();
                buf.drain(..h.header_len + h.len);
                return Ok((h.fin, h.opcode, payload));
            }
        }
        let mut chunk = vec![0u8; 64 * 1024];
        let n = timed(tcp.read(&mut chunk)).await?;
        if n == 0 {
            return Err(err("EOF while a frame was expected"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn message(rng: &mut Chunker) -> (u8, Vec<u8>) {
    let size = match below(rng, 100) {
        0..=79 => below(rng, 1024),
        80..=94 => 1024 + below(rng, 63 * 1024),
        _ => 64 * 1024 + below(rng, 448 * 1024),
    };
    if rng.coin() {
        (0x1, (0..size).map(|i| b'a' + (i % 26) as u8).collect())
    } else {
        let fill = rng.bits() as u8;
        (0x2, (0..size).map(|i| fill.wrapping_add(i as u8)).collect())
    }
}

/// The frames of one client message: whole, or in two or three fragments.
fn frames(rng: &mut Chunker, opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    let pieces = if payload.len() > 2 && rng.one_in(5) { 2 + below(rng, 2) } else { 1 };
    let step = payload.len().div_ceil(pieces).max(1);
    let chunks: Vec<&[u8]> = if payload.is_empty() { vec![&[][..]] } else { payload.chunks(step).collect() };
    for (i, chunk) in chunks.iter().enumerate() {
        let op = if i == 0 { opcode } else { 0x0 };
        Frame::new(op, chunk).fin(i + 1 == chunks.len()).mask(Some(rng.mask_key())).encode_into(out);
    }
}

async fn close(tcp: &mut TcpStream, buf: &mut Vec<u8>, rng: &mut Chunker) -> io::Result<()> {
    let mut out = Vec::new();
    Frame::new(0x8, &1000u16.to_be_bytes()).mask(Some(rng.mask_key())).encode_into(&mut out);
    timed(tcp.write_all(&out)).await?;
    loop {
        let (_, op, payload) = read_frame(tcp, buf).await?;
        if op == 0x8 {
            if payload.get(..2) != Some(&1000u16.to_be_bytes()[..]) {
                return Err(err(format!("close answered with {payload:?}")));
            }
            break;
        }
    }
    // The server closes the TCP connection after the close handshake.
    let mut rest = [0u8; 256];
    while timed(tcp.read(&mut rest)).await? != 0 {}
    Ok(())
}

async fn session(addr: &str, rng: &mut Chunker, counts: &mut Counts) -> io::Result<()> {
    let (mut tcp, mut buf) = open(addr).await?;
    let rounds = 1 + below(rng, 8);
    for _ in 0..rounds {
        // A pipelined batch: every message written before any echo is read.
        let batch = 1 + below(rng, 16);
        let mut sent = Vec::with_capacity(batch);
        let mut out = Vec::new();
        for _ in 0..batch {
            let (op, payload) = message(rng);
            frames(rng, op, &payload, &mut out);
            sent.push((op, payload));
        }
        let (mut reader, mut writer) = tcp.split();
        let write = async {
            timed(writer.write_all(&out)).await?;
            Ok::<_, io::Error>(())
        };
        let read = async {
            let mut got = Vec::with_capacity(batch);
            for _ in 0..batch {
                got.push(read_message_split(&mut reader, &mut buf).await?);
            }
            Ok::<_, io::Error>(got)
        };
        let ((), got) = futures_util::future::try_join(write, read).await?;
        for ((op, payload), (got_op, got_payload)) in sent.iter().zip(&got) {
            if op != got_op || payload != got_payload {
                return Err(err(format!(
                    "wrong echo: sent {} bytes op {op}, got {} op {got_op}",
                    payload.len(),
                    got_payload.len()
                )));
            }
            counts.messages += 1;
            counts.bytes += payload.len() as u64;
        }
    }
    close(&mut tcp, &mut buf, rng).await?;
    counts.sessions += 1;
    Ok(())
}

/// `read_message` over a split read half.
async fn read_message_split(
    reader: &mut tokio::net::tcp::ReadHalf<'_>,
    buf: &mut Vec<u8>,
) -> io::Result<(u8, Vec<u8>)> {
    let mut opcode = None;
    let mut data = Vec::new();
    loop {
        let (fin, op, payload) = loop {
            if let Some(h) = parse_header(buf) {
                if buf.len() >= h.header_len + h.len {
                    let payload = buf[h.header_len..h.header_len + h.len].to_vec();
                    buf.drain(..h.header_len + h.len);
                    break (h.fin, h.opcode, payload);
                }
            }
            let mut chunk = vec![0u8; 64 * 1024];
            let n = timed(reader.read(&mut chunk)).await?;
            if n == 0 {
                return Err(err("EOF while an echo was expected"));
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        match op {
            0x9 | 0xA => continue,
            0x0 if opcode.is_some() => {}
            0x1 | 0x2 if opcode.is_none() => opcode = Some(op),
            _ => return Err(err(format!("unexpected opcode {op}"))),
        }
        data.extend_from_slice(&payload);
        if fin {
            return Ok((opcode.unwrap_or(0), data));
        }
    }
}

async fn reset_mid_frame(addr: &str, rng: &mut Chunker) -> io::Result<()> {
    let (tcp, _) = open(addr).await?;
    let mut tcp = tcp;
    let (op, payload) = message(rng);
    let mut out = Vec::new();
    frames(rng, op, &payload, &mut out);
    // Stop somewhere inside the frames (the header included), then reset.
    let cut = 1 + below(rng, out.len().max(2) - 1);
    timed(tcp.write_all(&out[..cut])).await?;
    tcp.set_zero_linger()?;
    drop(tcp);
    Ok(())
}

async fn slow_reader(addr: &str, rng: &mut Chunker, counts: &mut Counts) -> io::Result<()> {
    let (mut tcp, mut buf) = open(addr).await?;
    // Enough to exceed the server's write high-water mark while we do not read.
    let count = 64 + below(rng, 64);
    let payload: Vec<u8> = (0..16 * 1024).map(|i| i as u8).collect();
    let mut out = Vec::new();
    for _ in 0..count {
        frames(rng, 0x2, &payload, &mut out);
    }
    let (mut reader, mut writer) = tcp.split();
    let write = async {
        timed(writer.write_all(&out)).await?;
        Ok::<_, io::Error>(())
    };
    let read = async {
        // Let the server's queue fill before reading, then read slowly.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for i in 0..count {
            let (op, got) = read_message_split(&mut reader, &mut buf).await?;
            if op != 0x2 || got != payload {
                return Err(err(format!("slow reader: echo {i} is wrong")));
            }
            if i % 16 == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok::<_, io::Error>(())
    };
    futures_util::future::try_join(write, read).await?;
    counts.messages += count as u64;
    counts.bytes += (count * payload.len()) as u64;
    close(&mut tcp, &mut buf, rng).await
}

async fn abort_handshake(addr: &str, rng: &mut Chunker) -> io::Result<()> {
    let mut tcp = timed(TcpStream::connect(addr)).await?;
    let cut = below(rng, REQUEST.len());
    timed(tcp.write_all(&REQUEST[..cut])).await?;
    if rng.coin() {
        tcp.set_zero_linger()?;
    }
    drop(tcp);
    Ok(())
}
