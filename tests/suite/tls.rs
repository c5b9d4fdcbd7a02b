//! `wss://` end to end on the runtime's TLS stream (feature `rustls`): a Tether client and
//! a Tether server over TLS echo; a refused certificate (wrong name, expired, unknown CA)
//! is a typed `OpenError::Tls` on the client; the one handshake deadline cuts a TLS
//! handshake that stalls on either side (a ClientHello of 1 byte, a server that never
//! answers); plain HTTP sent to the TLS port is a typed error, not a hang.

use std::net::SocketAddr;
use std::sync::mpsc;

use tether_rt::{CertificateProblem, TlsAcceptor, TlsConnector, TlsError};
use tether_tests::pki::{Ca, Leaf};

use super::*;

/// The plain-or-TLS stream of the runtime under test.
type Tls = <R as tether_rt::Runtime>::MaybeTls;

/// A handshake deadline short enough for the stall tests.
const SHORT: Duration = Duration::from_millis(400);

fn acceptor(leaf: &Leaf) -> TlsAcceptor {
    TlsAcceptor::from_pem(leaf.cert.as_bytes(), leaf.key.as_bytes()).expect("acceptor")
}

fn trusting(ca: &Ca) -> TlsConnector {
    TlsConnector::with_roots_from_pem(ca.pem.as_bytes()).expect("connector")
}

/// A TLS server for one connection: the result of its TLS + upgrade handshake, and (on
/// success) of echoing until the client closes.
async fn tls_server(
    acceptor: TlsAcceptor,
    config: Config,
) -> (SocketAddr, impl Future<Output = Result<Option<tether_rt::Closed>, OpenError>>) {
    let (listener, addr) = rt::listen().await;
    let task = rt::spawn(async move {
        let tcp = rt::accept(&listener).await;
        let ws: Ws<Tls> = Upgrade::<Tls, R>::read_tls_with_config(tcp, &acceptor, config).await?.accept().await?;
        Ok(echo(ws).await)
    });
    (addr, task)
}

/// Connect a Tether client to `wss://{host}:{port}/` trusting `ca`.
async fn connect_to(host: &str, addr: SocketAddr, ca: &Ca) -> Result<Ws<Tls>, OpenError> {
    ClientBuilder::<R>::new(&format!("wss://{host}:{}/echo", addr.port())).tls(trusting(ca)).connect().await
}

#[test]
fn tls_echo_between_tether_client_and_server() {
    run(async {
        let ca = Ca::new("Tether test CA");
        let (addr, server) = tls_server(acceptor(&ca.leaf()), config()).await;
        let mut ws = connect_to("127.0.0.1", addr, &ca).await.expect("wss connect");
        for text in ["hello", "over", "TLS"] {
            ws.send_text(text).await.unwrap();
            assert_eq!(ws.recv_text().await.unwrap(), text);
        }
        let big = vec![0xa5_u8; 300 << 10];
        ws.send_bytes(big.clone()).await.unwrap();
        assert_eq!(ws.recv_bytes().await.unwrap(), big);
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        let closed = server.await.expect("server handshake").expect("server saw the close");
        assert_eq!(closed.code, CloseCode::NORMAL);
        assert_eq!(closed.reason.as_str(), "done");
    })
}

#[test]
fn tls_by_host_name_uses_sni_and_the_name_check() {
    run(async {
        let ca = Ca::new("Tether test CA");
        let (addr, server) = tls_server(acceptor(&ca.leaf()), config()).await;
        let mut ws = connect_to("localhost", addr, &ca).await.expect("wss connect to localhost");
        ws.send_text("named").await.unwrap();
        assert_eq!(ws.recv_text().await.unwrap(), "named");
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        server.await.expect("server handshake");
    })
}

/// Connect to a server presenting `leaf`, trusting `ca`; the client's certificate problem.
async fn refused(leaf: Leaf, ca: &Ca) -> CertificateProblem {
    let (addr, server) = tls_server(acceptor(&leaf), config()).await;
    let error = connect_to("127.0.0.1", addr, ca).await.expect_err("the certificate must be refused");
    let problem = error.certificate_problem().cloned();
    assert!(matches!(error, OpenError::Tls(TlsError::Certificate(_))), "{error:?}");
    // The server hears the client's alert: its handshake fails too, and does not hang.
    assert!(server.await.is_err(), "the server's TLS handshake must fail");
    problem.expect("a certificate problem")
}

#[test]
fn wrong_host_name_is_a_typed_certificate_error() {
    run(async {
        let ca = Ca::new("Tether test CA");
        let leaf = ca.leaf_for(&["other.example"], 2020, 2100);
        assert_eq!(refused(leaf, &ca).await, CertificateProblem::NotValidForName);
    })
}

#[test]
fn expired_certificate_is_a_typed_certificate_error() {
    run(async {
        let ca = Ca::new("Tether test CA");
        let leaf = ca.leaf_for(&["127.0.0.1"], 2020, 2021);
        assert_eq!(refused(leaf, &ca).await, CertificateProblem::Expired);
    })
}

#[test]
fn unknown_ca_is_a_typed_certificate_error() {
    run(async {
        let (ca, other) = (Ca::new("Tether test CA"), Ca::new("Somebody else's CA"));
        assert_eq!(refused(other.leaf(), &ca).await, CertificateProblem::UnknownIssuer);
    })
}

/// Run `peer` (blocking, on a thread) against a TLS server with a short handshake
/// deadline; the server's handshake result.
async fn server_against(peer: impl FnOnce(SocketAddr, mpsc::Receiver<()>) + Send + 'static) -> Result<(), OpenError> {
    let ca = Ca::new("Tether test CA");
    let (addr, server) = tls_server(acceptor(&ca.leaf()), short(|b| b.handshake_timeout(SHORT))).await;
    let (done_tx, done_rx) = mpsc::channel();
    let peer = std::thread::spawn(move || peer(addr, done_rx));
    let result = server.await.map(drop);
    let _ = done_tx.send(()); // the peer may have finished already

    peer.join().unwrap();
    result
}

// Hostile peers (slowloris on the TLS handshake): one byte of a ClientHello, then nothing.
#[test]
fn a_stalled_client_hello_is_cut_at_the_handshake_deadline() {
    run_for(Duration::from_secs(10), async {
        let result = server_against(|addr, done| {
            use std::io::Write;
            let mut s = raw::connect(addr);
            s.write_all(&[0x16]).unwrap(); // a TLS handshake record's first byte
            let _ = done.recv_timeout(Duration::from_secs(8));
        })
        .await;
        match result {
            Err(e) => assert!(e.is_timeout(), "expected the handshake timeout, got {e:?}"),
            Ok(()) => panic!("a 1-byte ClientHello must not complete a handshake"),
        }
    })
}

#[test]
fn plain_http_to_the_tls_port_is_a_typed_error() {
    run_for(Duration::from_secs(10), async {
        let result = server_against(|addr, _done| {
            use std::io::Write;
            let mut s = raw::connect(addr);
            s.write_all(raw::request("/").as_bytes()).unwrap();
            // The server ends the connection (perhaps with an alert): never a 101.
            let answer = raw::read_to_end(&mut s);
            assert!(!answer.starts_with(b"HTTP/1.1 101"), "{answer:?}");
        })
        .await;
        match result {
            Err(OpenError::Tls(TlsError::Protocol(_))) => {}
            other => panic!("expected OpenError::Tls(Protocol), got {other:?}"),
        }
    })
}

#[test]
fn a_server_that_never_answers_the_client_hello_is_cut_at_the_connect_deadline() {
    run_for(Duration::from_secs(10), async {
        let (listener, addr) = rt::listen().await;
        let holder = rt::spawn(async move {
            let tcp = rt::accept(&listener).await;
            sleep::<R>(Duration::from_secs(3)).await;
            drop(tcp);
        });
        let ca = Ca::new("Tether test CA");
        let result = ClientBuilder::<R>::new(&format!("wss://127.0.0.1:{}/", addr.port()))
            .tls(trusting(&ca))
            .config(short(|b| b.handshake_timeout(SHORT)))
            .connect()
            .await;
        match result {
            Err(e) => assert!(e.is_timeout(), "expected the handshake timeout, got {e:?}"),
            Ok(_) => panic!("no TLS server answered"),
        }
        holder.await;
    })
}
