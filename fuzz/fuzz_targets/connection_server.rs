//! libFuzzer entry point for the `connection_server` target; the checks themselves live in
//! `tether_fuzz::connection_server` (src/connection.rs), shared with the corpus replay under `cargo test`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tether_fuzz::connection_server(data));
