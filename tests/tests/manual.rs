//! The manual's chapters name the tests that cover each claim (`module::tests::name` for the
//! engine's unit tests, `module::name` for the cross-runtime suite): every name must be a
//! test that exists, so a renamed or deleted test cannot leave the manual pointing at nothing.
//! What does not live here: the tests themselves.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// Every `fn NAME` declared in the workspace's sources (tests, property tests, helpers).
fn declared_functions(root: &Path) -> HashSet<String> {
    let mut files = Vec::new();
    for dir in ["proto", "rt-common", "rt-tokio", "rt-async-std", "rt-smol", "server", "tests", "fuzz"] {
        if root.join(dir).is_dir() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    let mut names = HashSet::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for (i, _) in text.match_indices("fn ") {
            let rest = &text[i + 3..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// Test references in a chapter: backticked paths of lower-case segments whose last segment
/// is a test-like name (it has an underscore), e.g. `connection::tests::idle_timeout_closes`
/// or `flow::cancelled_recv_loses_nothing`. Paths into other crates (`core::str::from_utf8`)
/// are not test references.
fn test_references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in text.split('`').skip(1).step_by(2) {
        let segments: Vec<&str> = piece.split("::").collect();
        let path_like = segments.len() >= 2
            && segments
                .iter()
                .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        if path_like && !matches!(segments[0], "core" | "std" | "alloc" | "tether_proto" | "tether_rt") {
            let last = segments[segments.len() - 1];
            if last.contains('_') {
                out.push(piece.to_owned());
            }
        }
    }
    out
}

#[test]
fn every_test_the_manual_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let declared = declared_functions(root);
    let mut chapters = Vec::new();
    rust_files(&root.join("proto/src/manual"), &mut chapters);
    let mut checked = 0;
    let mut missing = Vec::new();
    for chapter in chapters {
        let text = fs::read_to_string(&chapter).unwrap();
        for reference in test_references(&text) {
            let name = reference.rsplit("::").next().unwrap();
            checked += 1;
            if !declared.contains(name) {
                missing.push(format!("{}: `{reference}`", chapter.file_name().unwrap().to_string_lossy()));
            }
        }
    }
    assert!(checked > 100, "the manual names {checked} tests; the parser lost them");
    assert!(missing.is_empty(), "the manual names tests that do not exist:\n{}", missing.join("\n"));
}

#[test]
fn the_reference_parser_finds_paths_and_skips_the_rest() {
    let text = "see `connection::tests::idle_timeout_closes`, `flow::cancelled_recv`, `core::str::from_utf8`, `Config::max`, `x`";
    assert_eq!(test_references(text), ["connection::tests::idle_timeout_closes", "flow::cancelled_recv"]);
}
