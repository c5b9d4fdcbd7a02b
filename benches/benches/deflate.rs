//! Criterion: what permessage-deflate costs in the engine against the same DEFLATE library
//! (zlib-rs) driven directly in a loop — compressing and decompressing 64 KiB messages of
//! JSON-like text at level 6, memory level 8, a 2^15 window and context takeover, sixteen
//! messages (1 MiB) per iteration. The engine's side includes framing, RSV1, the tail and
//! (for text) UTF-8 validation of what it inflates; the reference is the bare compress /
//! inflate calls.
//! Run with `cargo bench -p tether-benches --features deflate --bench deflate`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tether_benches::frames::json_text;
use tether_proto::{Config, Connection, DeflateConfig, DeflateParams, Event, Instant, Role};
use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush};

const MSG: usize = 64 << 10;
const COUNT: usize = 16;
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What a server agrees to for a plain offer: 2^15 windows, context takeover both ways
/// (the same parameters serve the client's side: the windows are equal).
fn params() -> DeflateParams {
    let (params, _) = DeflateConfig::default().negotiate_server([&b"permessage-deflate"[..]]).expect("agreed");
    assert_eq!((params.window_bits, params.peer_window_bits, params.no_context_takeover), (15, 15, false));
    params
}

fn config() -> Config {
    Config::builder().deflate(Some(DeflateConfig::default())).build().expect("valid config")
}

fn reference_deflate() -> Deflate {
    Deflate::new_with_config(zlib_rs::DeflateConfig {
        level: 6,
        window_bits: -15,
        mem_level: 8,
        ..zlib_rs::DeflateConfig::default()
    })
}

/// Everything the engine has to write, taken and dropped; returns its length.
fn drain(conn: &mut Connection) -> usize {
    let mut total = 0;
    loop {
        let mut chunks = [&[][..]; 16];
        let n = conn.poll_transmit(&mut chunks);
        if n == 0 {
            return total;
        }
        let len: usize = chunks[..n].iter().map(|c| c.len()).sum();
        black_box(&chunks[..n]);
        conn.consume_transmit(len);
        total += len;
    }
}

/// One sync-flushed message from `deflate` into `out` (cleared), tail removed.
fn reference_compress(deflate: &mut Deflate, input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.resize(input.len() + 1024, 0);
    let before = deflate.total_out();
    deflate.compress(input, out, DeflateFlush::SyncFlush).expect("compress");
    let produced = (deflate.total_out() - before) as usize;
    out.truncate(produced);
    assert!(out.ends_with(&TAIL), "one call flushes the whole message");
    out.truncate(produced - TAIL.len());
}

fn compress(c: &mut Criterion) {
    let text = String::from_utf8(json_text(MSG)).expect("ASCII");
    let mut group = c.benchmark_group("deflate/compress-64KiBx16");
    group.throughput(Throughput::Bytes((MSG * COUNT) as u64));
    let mut conn = Connection::with_deflate(Role::Server, config(), params());
    group.bench_function(BenchmarkId::from_parameter("tether"), |b| {
        b.iter(|| {
            for _ in 0..COUNT {
                conn.send_text(black_box(&text)).expect("send");
                black_box(drain(&mut conn));
            }
        })
    });
    let mut deflate = reference_deflate();
    let mut out = Vec::new();
    group.bench_function(BenchmarkId::from_parameter("zlib-rs"), |b| {
        b.iter(|| {
            for _ in 0..COUNT {
                reference_compress(&mut deflate, black_box(text.as_bytes()), &mut out);
                black_box(&out);
            }
        })
    });
    group.finish();
}

/// COUNT compressed messages on one context, as a server sends them (text or binary).
fn server_wire(text: &str, as_text: bool) -> Vec<u8> {
    let mut server = Connection::with_deflate(Role::Server, config(), params());
    let mut wire = Vec::new();
    for _ in 0..COUNT {
        if as_text {
            server.send_text(text).expect("send");
        } else {
            server.send_bytes(text.as_bytes()).expect("send");
        }
        loop {
            let mut chunks = [&[][..]; 16];
            let n = server.poll_transmit(&mut chunks);
            if n == 0 {
                break;
            }
            let len: usize = chunks[..n].iter().map(|c| c.len()).sum();
            for chunk in &chunks[..n] {
                wire.extend_from_slice(chunk);
            }
            server.consume_transmit(len);
        }
    }
    wire
}

fn decompress(c: &mut Criterion) {
    let text = String::from_utf8(json_text(MSG)).expect("ASCII");
    // The same payloads for the reference, tail put back as a receiver does.
    let mut deflate = reference_deflate();
    let mut payloads = Vec::new();
    let mut out = Vec::new();
    for _ in 0..COUNT {
        reference_compress(&mut deflate, text.as_bytes(), &mut out);
        let mut payload = out.clone();
        payload.extend_from_slice(&TAIL);
        payloads.push(payload);
    }

    let mut group = c.benchmark_group("deflate/decompress-64KiBx16");
    group.throughput(Throughput::Bytes((MSG * COUNT) as u64));
    // Binary: the codec and framing alone; text adds the UTF-8 check of what is inflated.
    for (name, as_text) in [("tether-binary", false), ("tether-text", true)] {
        let wire = server_wire(&text, as_text);
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let mut client = Connection::with_deflate(Role::Client, config(), params());
                client.receive(Instant::ZERO, black_box(&wire));
                let mut messages = 0;
                while let Some(event) = client.poll_event() {
                    if let Event::Message(message) = event {
                        black_box(&message);
                        messages += 1;
                    }
                }
                assert_eq!(messages, COUNT);
            })
        });
    }
    let mut inflated = vec![0u8; MSG + 1024];
    group.bench_function(BenchmarkId::from_parameter("zlib-rs"), |b| {
        b.iter(|| {
            let mut inflate = Inflate::new(false, 15);
            for payload in &payloads {
                let before = inflate.total_out();
                inflate.decompress(black_box(payload), &mut inflated, InflateFlush::SyncFlush).expect("inflate");
                assert_eq!((inflate.total_out() - before) as usize, MSG);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, compress, decompress);
criterion_main!(benches);
