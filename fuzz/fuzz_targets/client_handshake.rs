//! libFuzzer entry point for the `client_handshake` target; the checks themselves live in
//! `tether_fuzz::client_handshake` (src/client_handshake.rs), shared with the corpus replay under `cargo test`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tether_fuzz::client_handshake(data));
