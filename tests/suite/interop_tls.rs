//! Interop over TLS (`wss://`) with real peers nobody here wrote: our TLS server against
//! Python `websockets` and Node `ws` clients trusting the test CA, and against headless
//! Chromium pinning the server key (and refusing a certificate whose key it was not told
//! about); our TLS client against Python's TLS echo server. Certificates are made at test
//! time (`tether_tests::pki`); the peer programs read them from files named in their
//! environment. Plain-TCP interop lives in `interop.rs`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use tether_rt::{TlsAcceptor, TlsConnector};
use tether_tests::peer::{self, Peer};
use tether_tests::pki::{Ca, Leaf};

use super::*;

/// Every test here is bounded by this (starting a browser, 16 MiB through TLS in a debug
/// build).
const LIMIT: Duration = Duration::from_secs(90);

/// The plain-or-TLS stream of the runtime under test.
type Tls = <R as tether_rt::Runtime>::MaybeTls;

/// A PEM written to a file of its own for a peer program; removed when dropped.
struct PemFile(PathBuf);

impl PemFile {
    fn new(contents: &str) -> PemFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("tether-tls-{}-{n}.pem", std::process::id()));
        std::fs::write(&path, contents).expect("write a PEM file");
        PemFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for PemFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Our TLS echo server for one connection (client-sized limits: the peers send 16 MiB):
/// the URL, and the task that yields how the connection ended on our side.
async fn tls_echo_server(leaf: &Leaf) -> (String, impl Future<Output = Option<tether_rt::Closed>>) {
    let acceptor = TlsAcceptor::from_pem(leaf.cert.as_bytes(), leaf.key.as_bytes()).expect("acceptor");
    let (listener, addr) = rt::listen().await;
    let task = rt::spawn(async move {
        let tcp = rt::accept(&listener).await;
        let upgrade = Upgrade::<Tls, R>::read_tls_with_config(tcp, &acceptor, config()).await.expect("TLS + upgrade");
        echo(upgrade.accept().await.expect("accept")).await
    });
    (format!("wss://127.0.0.1:{}/interop", addr.port()), task)
}

/// A peer client against our TLS echo server (serving `leaf`), with `env` naming what it
/// trusts: it must exit 0, and our side must have seen its close (4001, `bye from
/// {peer_name}`).
fn our_tls_server_with(browser: bool, program: &[&str], peer_name: &str, leaf: &Leaf, env: &[(&str, &str)]) {
    run_for(LIMIT, async {
        peer::ensure_setup(browser);
        let (url, server) = tls_echo_server(leaf).await;
        let mut args: Vec<&str> = program[1..].to_vec();
        args.push(&url);
        let mut client = Peer::spawn_with_env(program[0], &args, env);
        let status = client.wait::<R>(LIMIT - Duration::from_secs(10)).await;
        let output = client.output();
        assert!(status.success(), "{peer_name} client over TLS failed ({status}):\n{output}");
        if browser {
            assert!(output.contains(r#""mismatches": []"#), "{output}");
            assert!(output.contains(r#""clean": true"#), "{output}");
        } else {
            let line = output.lines().find(|l| l.starts_with("closed ")).unwrap_or_default();
            assert_eq!(line.trim_end(), "closed 4001", "{output}");
        }
        let ours = server.await.expect("our server saw the ending");
        assert_eq!(ours.code.as_u16(), 4001, "{ours:?}");
        assert_eq!(ours.reason, format!("bye from {peer_name}"));
        assert_eq!(ours.cause, CloseCause::PeerInitiated);
    })
}

#[test]
fn our_tls_server_with_python_client() {
    let ca = Ca::new("Tether interop CA");
    let ca_file = PemFile::new(&ca.pem);
    let program = [peer::PYTHON, "tests/peers/py_client.py"];
    our_tls_server_with(false, &program, "python", &ca.leaf(), &[("TETHER_CA", ca_file.path())]);
}

#[test]
fn our_tls_server_with_node_client() {
    let ca = Ca::new("Tether interop CA");
    let ca_file = PemFile::new(&ca.pem);
    our_tls_server_with(
        false,
        &["node", "tests/peers/node_client.js"],
        "node",
        &ca.leaf(),
        &[("TETHER_CA", ca_file.path())],
    );
}

#[test]
fn our_tls_server_with_chromium() {
    let leaf = Ca::new("Tether interop CA").leaf();
    let pin = hex(&leaf.spki_der);
    let program = [peer::PYTHON, "tests/peers/browser_check.py"];
    our_tls_server_with(true, &program, "chromium", &leaf, &[("TETHER_SPKI_DER_HEX", &pin)]);
}

/// The Chromium test can fail: a browser told to accept another key refuses our
/// certificate (signed by a CA it does not know), and the page sees no connection.
#[test]
fn chromium_refuses_a_certificate_it_was_not_told_to_accept() {
    run_for(LIMIT, async {
        peer::ensure_setup(true);
        let ca = Ca::new("Tether interop CA");
        let (url, server) = tls_echo_server(&ca.leaf()).await;
        let other = ca.leaf();
        let env = [("TETHER_SPKI_DER_HEX", hex(&other.spki_der))];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut client = Peer::spawn_with_env(peer::PYTHON, &["tests/peers/browser_check.py", &url], &env);
        let status = client.wait::<R>(LIMIT - Duration::from_secs(10)).await;
        let output = client.output();
        assert!(!status.success(), "Chromium accepted a certificate it should refuse:\n{output}");
        assert!(output.contains("connection failed"), "{output}");
        drop(server); // its TLS handshake failed: nothing to wait for
    })
}

#[test]
fn our_tls_client_with_python_server() {
    run_for(LIMIT, async {
        peer::ensure_setup(false);
        let ca = Ca::new("Tether interop CA");
        let leaf = ca.leaf();
        let (cert, key) = (PemFile::new(&leaf.cert), PemFile::new(&leaf.key));
        let port = peer::free_port();
        let port_arg = port.to_string();
        let mut server = Peer::spawn_with_env(
            peer::PYTHON,
            &["tests/peers/py_server.py", &port_arg],
            &[("TETHER_CERT", cert.path()), ("TETHER_KEY", key.path())],
        );
        server.expect_line::<R>("listening", Duration::from_secs(20)).await;
        let url = format!("wss://127.0.0.1:{port}/interop");
        let connector = TlsConnector::with_roots_from_pem(ca.pem.as_bytes()).expect("connector");
        let mut ws =
            ClientBuilder::<R>::new(&url).config(config()).tls(connector).connect().await.expect("wss connect");
        let big: Vec<u8> = (0..1u32 << 20).map(|i| (i * 31 + 7) as u8).collect();
        for message in [Message::text("hello over TLS"), Message::text("héllo ✓"), Message::binary(big)] {
            ws.send(message.clone()).await.expect("send");
            assert!(ws.recv().await.expect("recv").expect("a message") == message, "echo mismatch");
        }
        ws.close(CloseCode::new(4003).unwrap(), "client bye").await.expect("close");
        let line = server.expect_line::<R>("closed ", Duration::from_secs(10)).await;
        assert_eq!(line, "closed 4003 client bye");
        let ours = ws.closed().expect("ended");
        assert_eq!(ours.code.as_u16(), 4003, "{ours:?}");
        assert_eq!(ours.cause, CloseCause::LocallyInitiated);
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
