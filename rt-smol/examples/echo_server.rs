//! Echo server on smol (one thread, a `LocalExecutor`): `cargo run -p tether-smol --example
//! echo_server -- 127.0.0.1:9001`. Prints `listening on ws://ADDR` once bound, then echoes
//! every text and binary message on any number of concurrent connections (messages up to
//! 64 MiB, frames up to 16 MiB).

use smol::net::{TcpListener, TcpStream};
use smol::LocalExecutor;
use tether_smol::Error;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let executor = LocalExecutor::new();
    smol::block_on(executor.run(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on ws://{}", listener.local_addr()?);
        loop {
            let (tcp, _) = listener.accept().await?;
            executor
                .spawn(async move {
                    if let Err(e) = echo(tcp).await {
                        eprintln!("connection failed: {e}");
                    }
                })
                .detach();
        }
    }))
}

async fn echo(tcp: TcpStream) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tcp.set_nodelay(true)?;
    // The client-sized limits (Autobahn 9.* sends up to 16 MiB), not the server defaults.
    let mut ws = tether_smol::Upgrade::read_with_config(tcp, tether_smol::default_config()).await?.accept().await?;
    match echo_messages(&mut ws).await {
        // The peer ending the connection, cleanly or not, is not a failure of the server.
        Err(Error::Closed(_)) => Ok(()),
        other => Ok(other?),
    }
}

async fn echo_messages(ws: &mut tether_smol::WebSocket) -> Result<(), Error> {
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}
