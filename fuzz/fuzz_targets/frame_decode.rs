//! libFuzzer entry point for the `frame_decode` target; the checks themselves live in
//! `tether_fuzz::frame_decode` (src/frame_decode.rs), shared with the corpus replay under `cargo test`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tether_fuzz::frame_decode(data));
