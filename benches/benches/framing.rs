//! Criterion framing benchmarks, in memory: decode + unmask and encode + mask of small and
//! 1 MiB frames, 1 MiB unmasking and UTF-8 validation — Tether side by side with
//! tungstenite, fastwebsockets and tokio-websockets, and the physical references (memcpy,
//! plain XOR, simdutf8). The library drivers live in `tether_benches::framing`; the
//! markdown report is made by `src/bin/report.rs`.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tether_benches::frames::{ascii_text, masked_frames, mixed_text};
use tether_benches::framing::{check_decoders, Decoder, Encoder, Lib};
use tether_testkit::{BINARY, TEXT};

/// Small-frame batches: this many frames per iteration.
const SMALL_FRAMES: usize = 100_000;
const MIB: usize = 1 << 20;

fn small_sizes() -> [(usize, &'static str); 2] {
    [(16, "16B"), (128, "128B")]
}

fn decode(c: &mut Criterion) {
    let mut cases: Vec<(String, Bytes, usize, usize)> = small_sizes()
        .into_iter()
        .map(|(len, name)| {
            (
                format!("decode/{name}x100k"),
                Bytes::from(masked_frames(SMALL_FRAMES, BINARY, &vec![0x61; len])),
                SMALL_FRAMES,
                len,
            )
        })
        .collect();
    cases.push(("decode/1MiB".into(), Bytes::from(masked_frames(1, BINARY, &vec![0x61; MIB])), 1, MIB));
    for (group_name, wire, frames, len) in cases {
        check_decoders(&wire, frames, len);
        let mut group = c.benchmark_group(&group_name);
        group.throughput(Throughput::Bytes((frames * len) as u64));
        for lib in Lib::DECODERS {
            let mut decoder = Decoder::new(lib);
            group.bench_function(BenchmarkId::from_parameter(lib.name()), |b| {
                b.iter(|| decoder.decode(black_box(&wire), frames))
            });
        }
        group.finish();
    }
}

fn decode_text(c: &mut Criterion) {
    for (name, text) in [("ascii", ascii_text(MIB)), ("mixed", mixed_text(MIB))] {
        let wire = Bytes::from(masked_frames(1, TEXT, &text));
        check_decoders(&wire, 1, text.len());
        let mut group = c.benchmark_group(format!("decode-text/{name}-1MiB"));
        group.throughput(Throughput::Bytes(text.len() as u64));
        // Raw fastwebsockets frames are not UTF-8 checked; its collector is.
        for lib in Lib::DECODERS.into_iter().filter(|l| *l != Lib::FastWebsockets) {
            let mut decoder = Decoder::new(lib);
            group.bench_function(BenchmarkId::from_parameter(lib.name()), |b| {
                b.iter(|| decoder.decode(black_box(&wire), 1))
            });
        }
        group.finish();
    }
}

fn encode(c: &mut Criterion) {
    let mut cases: Vec<(String, Bytes, usize)> = small_sizes()
        .into_iter()
        .map(|(len, name)| (format!("encode/{name}x100k"), Bytes::from(vec![0x61; len]), SMALL_FRAMES))
        .collect();
    cases.push(("encode/1MiB".into(), Bytes::from(vec![0x61; MIB]), 1));
    for (group_name, payload, frames) in cases {
        let mut group = c.benchmark_group(&group_name);
        group.throughput(Throughput::Bytes((frames * payload.len()) as u64));
        for lib in Lib::ENCODERS {
            let mut encoder = Encoder::new(lib);
            group.bench_function(BenchmarkId::from_parameter(lib.name()), |b| {
                b.iter(|| encoder.encode(black_box(&payload), frames))
            });
        }
        group.finish();
    }
}

/// The plain XOR reference: one byte value over the whole buffer, which the compiler
/// vectorizes fully (for the same target as everything else).
fn plain_xor(buf: &mut [u8], k: u8) {
    for b in buf.iter_mut() {
        *b ^= k;
    }
}

fn mask(c: &mut Criterion) {
    let src = vec![0x61u8; MIB];
    let mut buf = vec![0x61u8; MIB];
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut group = c.benchmark_group("mask/1MiB");
    group.throughput(Throughput::Bytes(MIB as u64));
    group.bench_function("memcpy", |b| b.iter(|| buf.copy_from_slice(black_box(&src))));
    group.bench_function("plain-xor", |b| b.iter(|| plain_xor(black_box(&mut buf), black_box(0x5a))));
    group.bench_function("tether", |b| {
        b.iter(|| tether_proto::internals::apply_mask(black_box(&mut buf), black_box(key), 0))
    });
    group.bench_function("tether-phase1", |b| {
        b.iter(|| tether_proto::internals::apply_mask(black_box(&mut buf[1..]), black_box(key), 1))
    });
    group.bench_function("fastwebsockets", |b| b.iter(|| fastwebsockets::unmask(black_box(&mut buf), black_box(key))));
    group.finish();
}

fn utf8(c: &mut Criterion) {
    for (name, text) in [("ascii", ascii_text(MIB)), ("mixed", mixed_text(MIB))] {
        let mut group = c.benchmark_group(format!("utf8/{name}-1MiB"));
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function("simdutf8-basic", |b| b.iter(|| simdutf8::basic::from_utf8(black_box(&text)).is_ok()));
        group.bench_function("simdutf8-compat", |b| b.iter(|| simdutf8::compat::from_utf8(black_box(&text)).is_ok()));
        group.bench_function("std", |b| b.iter(|| std::str::from_utf8(black_box(&text)).is_ok()));
        group.bench_function("tether", |b| {
            b.iter(|| {
                let mut v = tether_proto::internals::Utf8Validator::new();
                v.feed(black_box(&text)).is_ok() && v.finish().is_ok()
            })
        });
        group.finish();
    }
}

fn config() -> Criterion {
    // Short by default: the machine is shared, so medians over many short runs beat long
    // ones. `run.sh` passes criterion's own flags for longer runs.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args()
}

criterion_group! { name = benches; config = config(); targets = decode, decode_text, encode, mask, utf8 }
criterion_main!(benches);
