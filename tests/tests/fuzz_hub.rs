//! Replays the `hub` fuzz corpus (`fuzz/corpus/hub/*`) and its saved failures
//! (`fuzz/regressions/hub/*`) through the harness libFuzzer runs (`fuzz/hub/`, included
//! here), so CI checks them on the stable toolchain. The harness, its model and its checks
//! live there; the fuzzing itself is `cargo fuzz run hub`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/hub/mod.rs"]
mod hub;

/// Every file under `fuzz/<kind>/hub/`, sorted.
fn files(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz").join(kind).join("hub");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[test]
fn hub_corpus() {
    let corpus = files("corpus");
    assert!(!corpus.is_empty(), "fuzz/corpus/hub/ is empty or missing");
    let mut failed = Vec::new();
    let mut count = 0;
    for path in corpus.iter().chain(&files("regressions")) {
        let data = std::fs::read(path).expect("readable corpus file");
        count += 1;
        if catch_unwind(AssertUnwindSafe(|| hub::hub(&data))).is_err() {
            eprintln!("FAILED: {} ({} bytes)", path.display(), data.len());
            failed.push(path.display().to_string());
        }
    }
    eprintln!("hub: replayed {count} inputs");
    assert!(
        failed.is_empty(),
        "hub: {} of {count} inputs failed (run `cargo fuzz run hub FILE` in fuzz/ to debug):\n{}",
        failed.len(),
        failed.join("\n")
    );
}
