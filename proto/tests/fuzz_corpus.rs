//! Replays every fuzz corpus file (`fuzz/corpus/<target>/*`) and every saved crash
//! (`fuzz/regressions/<target>/*`) through the same check functions libFuzzer runs
//! (`fuzz/src/lib.rs` and its modules, included here), so CI checks them on the stable
//! toolchain. The checks themselves do not live here; neither does the fuzzing
//! (`cargo fuzz run`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[allow(dead_code, unreachable_pub, unused_imports, missing_docs)]
#[path = "../../fuzz/src/lib.rs"]
mod checks;

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

/// Run every corpus and regression file of `target`; fail naming each file that panics.
fn replay(target: &str) {
    let check = checks::TARGETS.iter().find(|(name, _)| *name == target).map(|(_, f)| *f).expect("a known target");
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
fn every_target_has_a_corpus_and_a_test() {
    let names: Vec<&str> = checks::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["frame_decode", "server_handshake", "client_handshake", "connection_server", "connection_client", "roundtrip"]
    );
}

#[test]
fn frame_decode_corpus() {
    replay("frame_decode");
}

#[test]
fn server_handshake_corpus() {
    replay("server_handshake");
}

#[test]
fn client_handshake_corpus() {
    replay("client_handshake");
}

#[test]
fn connection_server_corpus() {
    replay("connection_server");
}

#[test]
fn connection_client_corpus() {
    replay("connection_client");
}

#[test]
fn roundtrip_corpus() {
    replay("roundtrip");
}
