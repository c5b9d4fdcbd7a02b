//! libFuzzer entry point for the `roundtrip` target; the checks themselves live in
//! `tether_fuzz::roundtrip` (src/roundtrip.rs), shared with the corpus replay under `cargo test`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tether_fuzz::roundtrip(data));
