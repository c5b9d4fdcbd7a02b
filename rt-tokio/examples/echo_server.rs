//! Echo server on tokio (current-thread runtime): `cargo run -p tether-tokio --example
//! echo_server -- 127.0.0.1:9001`. Prints `listening on ws://ADDR` once bound, then echoes
//! every text and binary message on any number of concurrent connections. Used by the
//! benchmarks and the Autobahn server run; messages up to 64 MiB (frames up to 16 MiB).
//! Built with the `deflate` feature it accepts permessage-deflate (Autobahn 12.* and 13.*).

use tether_tokio::Error;
use tokio::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on ws://{}", listener.local_addr()?);
        loop {
            let (tcp, _) = listener.accept().await?;
            tokio::spawn(async move {
                if let Err(e) = echo(tcp).await {
                    eprintln!("connection failed: {e}");
                }
            });
        }
    })
}

async fn echo(tcp: TcpStream) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tcp.set_nodelay(true)?;
    let mut ws = tether_tokio::Upgrade::read_with_config(tcp, config()).await?.accept().await?;
    match echo_messages(&mut ws).await {
        // The peer ending the connection, cleanly or not, is not a failure of the server.
        Err(Error::Closed(_)) => Ok(()),
        other => Ok(other?),
    }
}

async fn echo_messages(ws: &mut tether_tokio::WebSocket) -> Result<(), Error> {
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}

/// The adapter's defaults, with permessage-deflate when the feature is built.
fn config() -> tether_tokio::Config {
    let builder = tether_tokio::default_config().to_builder();
    #[cfg(feature = "deflate")]
    let builder = builder.deflate(Some(tether_tokio::proto::DeflateConfig::default()));
    builder.build().expect("valid config")
}
