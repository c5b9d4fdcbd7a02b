//! Echo server on smol (one thread, a `LocalExecutor`): `cargo run -p tether-smol --example
//! echo_server -- 127.0.0.1:9001 [--tls CERT.pem KEY.pem]`. Prints `listening on ws://ADDR` (`wss://` with `--tls`, which needs the `rustls`
//! feature) once bound, then echoes
//! every text and binary message on any number of concurrent connections (messages up to
//! 64 MiB, frames up to 16 MiB).
//! Built with the `deflate` feature it accepts permessage-deflate (Autobahn 12.* and 13.*).

use smol::net::{TcpListener, TcpStream};
use smol::LocalExecutor;
use tether_smol::{Error, MaybeTlsStream, OpenError};

fn main() -> std::io::Result<()> {
    let (addr, tls) = args();
    let acceptor = acceptor(tls)?;
    let scheme = if acceptor.is_some() { "wss" } else { "ws" };
    let executor = LocalExecutor::new();
    smol::block_on(executor.run(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on {scheme}://{}", listener.local_addr()?);
        loop {
            let (tcp, _) = listener.accept().await?;
            let acceptor = acceptor.clone();
            executor
                .spawn(async move {
                    if let Err(e) = echo(tcp, acceptor).await {
                        eprintln!("connection failed: {e}");
                    }
                })
                .detach();
        }
    }))
}

async fn echo(tcp: TcpStream, acceptor: Acceptor) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tcp.set_nodelay(true)?;
    // The client-sized limits (Autobahn 9.* sends up to 16 MiB), not the server defaults.
    let mut ws = upgrade(tcp, &acceptor).await?.accept().await?;
    match echo_messages(&mut ws).await {
        // The peer ending the connection, cleanly or not, is not a failure of the server.
        Err(Error::Closed(_)) => Ok(()),
        other => Ok(other?),
    }
}

async fn echo_messages(ws: &mut tether_smol::WebSocket<MaybeTlsStream>) -> Result<(), Error> {
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}

/// `ADDR [--tls CERT.pem KEY.pem]`.
fn args() -> (String, Option<(String, String)>) {
    let (mut addr, mut tls) = ("127.0.0.1:9001".to_owned(), None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--tls" {
            tls = args.next().zip(args.next());
        } else {
            addr = arg;
        }
    }
    (addr, tls)
}

/// The TLS settings, when `--tls` was given.
#[cfg(feature = "rustls")]
type Acceptor = Option<tether_smol::TlsAcceptor>;
/// Without the `rustls` feature there is no TLS.
#[cfg(not(feature = "rustls"))]
type Acceptor = Option<NoTls>;
/// No TLS settings can exist without the `rustls` feature.
#[cfg(not(feature = "rustls"))]
#[derive(Clone)]
enum NoTls {}

fn acceptor(tls: Option<(String, String)>) -> std::io::Result<Acceptor> {
    #[cfg(feature = "rustls")]
    return tls
        .map(|(cert, key)| tether_smol::TlsAcceptor::from_pem_files(cert, key).map_err(std::io::Error::other))
        .transpose();
    #[cfg(not(feature = "rustls"))]
    match tls {
        Some(_) => Err(std::io::Error::other("--tls needs the `rustls` feature")),
        None => Ok(None),
    }
}

/// The TLS handshake (with `--tls`) and the upgrade request, under one handshake deadline.
async fn upgrade(tcp: TcpStream, acceptor: &Acceptor) -> Result<tether_smol::Upgrade<MaybeTlsStream>, OpenError> {
    match acceptor {
        #[cfg(feature = "rustls")]
        Some(acceptor) => tether_smol::Upgrade::read_tls_with_config(tcp, acceptor, config()).await,
        #[cfg(not(feature = "rustls"))]
        Some(never) => match *never {},
        None => tether_smol::Upgrade::read_with_config(MaybeTlsStream::Plain(tcp), config()).await,
    }
}

/// The client-sized limits (Autobahn 9.* sends up to 16 MiB), not the server defaults, with
/// permessage-deflate when the feature is built.
fn config() -> tether_smol::Config {
    let builder = tether_smol::default_config().to_builder();
    #[cfg(feature = "deflate")]
    let builder = builder.deflate(Some(tether_smol::DeflateConfig::default()));
    builder.build().expect("valid config")
}
