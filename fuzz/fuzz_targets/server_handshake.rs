//! libFuzzer entry point for the `server_handshake` target; the checks themselves live in
//! `tether_fuzz::server_handshake` (src/server_handshake.rs), shared with the corpus replay under `cargo test`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tether_fuzz::server_handshake(data));
