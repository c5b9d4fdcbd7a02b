//! libFuzzer entry point for the `hub` target; the harness, its model and its checks live
//! in `fuzz/hub/` (included here with `#[path]`), shared with the corpus replay in
//! `tests/tests/fuzz_replay.rs`.
#![no_main]

#[allow(dead_code, unreachable_pub)]
#[path = "../hub/mod.rs"]
mod hub;

libfuzzer_sys::fuzz_target!(|data: &[u8]| hub::hub(data));
