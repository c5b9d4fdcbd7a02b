//! libFuzzer entry point for the `async_layer` target; the harness and its checks live in
//! `fuzz/async_layer/` (included here with `#[path]`), shared with the corpus replay in
//! `tests/tests/fuzz_replay.rs`.
#![no_main]

#[allow(dead_code, unreachable_pub)]
#[path = "../async_layer/mod.rs"]
mod async_layer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| async_layer::async_layer(data));
