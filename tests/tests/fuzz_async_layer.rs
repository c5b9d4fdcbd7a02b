//! Replays the `async_layer` fuzz corpus (`fuzz/corpus/async_layer/*`) and its saved
//! failures (`fuzz/regressions/async_layer/*`) through the harness libFuzzer runs
//! (`fuzz/async_layer/`, included here), so CI checks them on the stable toolchain. The
//! harness and its invariants live there; the fuzzing itself is `cargo fuzz run async_layer`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/async_layer/mod.rs"]
mod async_layer;

/// Every file under `fuzz/<kind>/async_layer/`, sorted.
fn files(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz").join(kind).join("async_layer");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[test]
fn async_layer_corpus() {
    let corpus = files("corpus");
    assert!(!corpus.is_empty(), "fuzz/corpus/async_layer/ is empty or missing");
    let mut failed = Vec::new();
    let mut count = 0;
    for path in corpus.iter().chain(&files("regressions")) {
        let data = std::fs::read(path).expect("readable corpus file");
        count += 1;
        if catch_unwind(AssertUnwindSafe(|| async_layer::async_layer(&data))).is_err() {
            eprintln!("FAILED: {} ({} bytes)", path.display(), data.len());
            failed.push(path.display().to_string());
        }
    }
    eprintln!("async_layer: replayed {count} inputs");
    assert!(
        failed.is_empty(),
        "async_layer: {} of {count} inputs failed (run `cargo fuzz run async_layer FILE` in fuzz/ to debug):\n{}",
        failed.len(),
        failed.join("\n")
    );
}
