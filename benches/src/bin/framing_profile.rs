//! A driver for profiling the framing work under callgrind or perf: one library, one
//! operation, a fixed number of frames, repeated REPS times. Instructions per frame come
//! from two runs that differ only in REPS (see `run.sh`), which cancels setup. No timing.
//!
//! ```text
//! framing_profile decode|decode-ascii|decode-mixed|encode LIB PAYLOAD_BYTES FRAMES REPS
//! ```

use std::hint::black_box;
use std::process::ExitCode;

use bytes::Bytes;
use tether_benches::frames::{ascii_text, masked_frames, mixed_text};
use tether_benches::framing::{Decoder, Encoder, Lib};
use tether_testkit::{BINARY, TEXT};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [op, lib, len, frames, reps] = args.as_slice() else {
        eprintln!("usage: framing_profile decode|decode-ascii|decode-mixed|encode LIB PAYLOAD_BYTES FRAMES REPS");
        return ExitCode::from(2);
    };
    let Some(lib) = Lib::from_name(lib) else {
        eprintln!("unknown library {lib}");
        return ExitCode::from(2);
    };
    let (Ok(len), Ok(frames), Ok(reps)) = (len.parse::<usize>(), frames.parse::<usize>(), reps.parse::<usize>()) else {
        eprintln!("PAYLOAD_BYTES, FRAMES and REPS are numbers");
        return ExitCode::from(2);
    };
    let payload = vec![0x61u8; len];
    let mut total = 0;
    match op.as_str() {
        "decode" | "decode-ascii" | "decode-mixed" => {
            let wire = match op.as_str() {
                "decode-ascii" => Bytes::from(masked_frames(frames, TEXT, &ascii_text(len))),
                "decode-mixed" => Bytes::from(masked_frames(frames, TEXT, &mixed_text(len))),
                _ => Bytes::from(masked_frames(frames, BINARY, &payload)),
            };
            let mut d = Decoder::new(lib);
            // One untimed round so buffers reach their steady size in both runs.
            total += d.decode(&wire, frames);
            for _ in 0..reps {
                total += d.decode(black_box(&wire), frames);
            }
        }
        "encode" => {
            let payload = Bytes::from(payload);
            let mut e = Encoder::new(lib);
            total += e.encode(&payload, frames);
            for _ in 0..reps {
                total += e.encode(black_box(&payload), frames);
            }
        }
        other => {
            eprintln!("unknown operation {other}");
            return ExitCode::from(2);
        }
    }
    println!("{total}");
    ExitCode::SUCCESS
}
