//! The frame every load generator's `main` shares: a single-threaded tokio runtime with a
//! `LocalSet`, a hard cap on the whole run, one result line on stdout or one error on
//! stderr. What is measured lives in each binary.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

/// What a generator's run returns: its one `key=value` line, or why it failed.
pub type RunResult = Result<String, Box<dyn std::error::Error>>;

/// Runs `run(args)` on a current-thread runtime inside a `LocalSet`, stopped after `cap`
/// whatever the arguments; prints the line, or `NAME: error` and exits with failure.
pub fn main_bounded<F, Fut>(name: &str, cap: Duration, run: F) -> ExitCode
where
    F: FnOnce(Vec<String>) -> Fut,
    Fut: Future<Output = RunResult>,
{
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let local = tokio::task::LocalSet::new();
    let result = local.block_on(&rt, async {
        match tokio::time::timeout(cap, run(args)).await {
            Ok(r) => r,
            Err(_) => Err("run exceeded its time cap".into()),
        }
    });
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
