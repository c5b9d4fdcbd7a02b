//! Replays the corpora of the fuzz targets that drive the async layer and the server layer
//! — `async_layer` (`fuzz/async_layer/`) and `hub` (`fuzz/hub/`), both included here — with
//! their saved failures (`fuzz/corpus/<target>/*`, `fuzz/regressions/<target>/*`), so CI
//! checks them on the stable toolchain. The harnesses and their invariants live in `fuzz/`;
//! the engine's targets are replayed by `proto/tests/fuzz_corpus.rs`; the fuzzing itself is
//! `cargo fuzz run <target>`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/async_layer/mod.rs"]
mod async_layer;

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/hub/mod.rs"]
mod hub;

/// Every file under `fuzz/<kind>/<target>/`, sorted.
fn files(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz").join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Run every corpus and regression file of `target` through `check`; fail naming each
/// file that panics.
fn replay(target: &str, check: fn(&[u8])) {
    let corpus = files("corpus", target);
    assert!(!corpus.is_empty(), "fuzz/corpus/{target}/ is empty or missing");
    let mut failed = Vec::new();
    let mut count = 0;
    for path in corpus.iter().chain(&files("regressions", target)) {
        let data = std::fs::read(path).expect("readable corpus file");
        count += 1;
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            eprintln!("FAILED: {} ({} bytes)", path.display(), data.len());
            failed.push(path.display().to_string());
        }
    }
    eprintln!("{target}: replayed {count} inputs");
    assert!(
        failed.is_empty(),
        "{target}: {} of {count} inputs failed (run `cargo fuzz run {target} FILE` in fuzz/ to debug):\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn async_layer_corpus() {
    replay("async_layer", async_layer::async_layer);
}

#[test]
fn hub_corpus() {
    replay("hub", hub::hub);
}
