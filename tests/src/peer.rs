//! Real-peer process plumbing for the interop and proxy tests: running
//! `scripts/setup-peers.sh` once per test binary, starting a peer program from `tests/peers/`, reading its output without
//! blocking the runtime, and killing it (and anything it started) when the test ends. The
//! peer programs themselves and the interop tests (`suite/interop.rs`) live elsewhere.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tether_rt::Runtime;

/// The Python interpreter of the peers' venv, relative to the workspace root.
pub const PYTHON: &str = "target/peers/venv/bin/python";

/// The workspace root (peer paths and the setup script are relative to it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Run `scripts/setup-peers.sh` (with `--browser` for Chromium) once per test binary; a
/// failure fails every caller with the script's output — interop is never skipped
/// silently. The script takes a lock, so concurrent test binaries are fine.
pub fn ensure_setup(browser: bool) {
    static PLAIN: OnceLock<Result<(), String>> = OnceLock::new();
    static BROWSER: OnceLock<Result<(), String>> = OnceLock::new();
    setup_once(if browser { &BROWSER } else { &PLAIN }, if browser { Some("--browser") } else { None });
}

/// Run `scripts/setup-peers.sh --proxies` once per test binary, which installs the real
/// proxies `tinyproxy` and `microsocks` (Debian packages, needs root when they are missing);
/// as [`ensure_setup`], a failure fails every caller — the proxy tests never pass without
/// their proxies.
pub fn ensure_proxies() {
    static PROXIES: OnceLock<Result<(), String>> = OnceLock::new();
    setup_once(&PROXIES, Some("--proxies"));
}

fn setup_once(cell: &OnceLock<Result<(), String>>, flag: Option<&str>) {
    let result = cell.get_or_init(|| {
        let mut command = Command::new("bash");
        command.arg("scripts/setup-peers.sh").current_dir(root());
        command.args(flag);
        match command.output() {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "scripts/setup-peers.sh{} failed ({}):\n{}{}",
                flag.map(|f| format!(" {f}")).unwrap_or_default(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(e) => Err(format!("could not run scripts/setup-peers.sh: {e}")),
        }
    });
    if let Err(output) = result {
        panic!("{output}");
    }
}

/// A loopback port that was free a moment ago (bind port 0, then release it; another
/// process could take it in between, which is acceptable for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// A running peer program. Its stdout and stderr are collected by two threads; dropping
/// it kills the program's whole process group (a browser driver's Chromium too) and
/// reaps it.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    /// Stdout lines already handed out by [`expect_line`](Self::expect_line).
    seen: usize,
    readers: Vec<JoinHandle<()>>,
}

impl Peer {
    /// Start `program args…` from the workspace root, in its own process group, with
    /// `NODE_PATH` pointing at the installed Node modules.
    pub fn spawn(program: &str, args: &[&str]) -> Peer {
        Peer::spawn_with_env(program, args, &[])
    }

    /// As [`spawn`](Self::spawn), with `env` added to the program's environment.
    pub fn spawn_with_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Peer {
        let root = root();
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(&root)
            .env("NODE_PATH", root.join("target/peers/node/node_modules"))
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {program}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let lines = stdout.clone();
        let text = stderr.clone();
        let readers = vec![
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            }),
            std::thread::spawn(move || {
                let mut buf = String::new();
                let _ = BufReader::new(err).read_to_string(&mut buf);
                text.lock().unwrap().push_str(&buf);
            }),
        ];
        Peer { child, stdout, stderr, seen: 0, readers }
    }

    /// Everything the program printed so far (stdout, then stderr), for failure messages.
    pub fn output(&self) -> String {
        let stdout = self.stdout.lock().unwrap().join("\n");
        let stderr = self.stderr.lock().unwrap().clone();
        format!("--- stdout\n{stdout}\n--- stderr\n{stderr}")
    }

    /// The next stdout line (after those already handed out) starting with `prefix`,
    /// waiting on runtime `R`'s timer; panics with the output after `limit`.
    pub async fn expect_line<R: Runtime>(&mut self, prefix: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            {
                let lines = self.stdout.lock().unwrap();
                while self.seen < lines.len() {
                    self.seen += 1;
                    if lines[self.seen - 1].starts_with(prefix) {
                        return lines[self.seen - 1].clone();
                    }
                }
            }
            if start.elapsed() > limit {
                panic!("no line starting with {prefix:?} within {limit:?}:\n{}", self.output());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader a moment for the last lines, then look once more.
                crate::sleep::<R>(Duration::from_millis(50)).await;
                if self.stdout.lock().unwrap()[self.seen..].iter().all(|l| !l.starts_with(prefix)) {
                    panic!("the peer exited ({status}) without printing {prefix:?}:\n{}", self.output());
                }
                continue;
            }
            crate::sleep::<R>(Duration::from_millis(10)).await;
        }
    }

    /// Wait for the program to exit (on runtime `R`'s timer, so in-process servers keep
    /// running), then for its output to be collected; panics with the output after `limit`.
    pub async fn wait<R: Runtime>(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if start.elapsed() > limit {
                panic!("the peer did not finish within {limit:?}:\n{}", self.output());
            }
            crate::sleep::<R>(Duration::from_millis(20)).await;
        };
        let start = Instant::now();
        while self.readers.iter().any(|r| !r.is_finished()) && start.elapsed() < Duration::from_secs(2) {
            crate::sleep::<R>(Duration::from_millis(10)).await;
        }
        status
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // The child leads its own process group: kill the group (by the child's id), so a
        // browser the driver started dies with it, then reap the child.
        kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIGKILL the process group led by `leader` with kill(1) (no `unsafe` needed), ignoring
/// errors: the group may be gone already.
fn kill_group(leader: u32) {
    let group = format!("-{leader}");
    let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
}
