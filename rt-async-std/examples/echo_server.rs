//! Echo server on async-std: `cargo run -p tether-async-std --example echo_server --
//! 127.0.0.1:9001`. Prints `listening on ws://ADDR` once bound, then echoes every text and
//! binary message on any number of concurrent connections (messages up to 64 MiB, frames up
//! to 16 MiB). async-std has no stable current-thread executor, so tasks run on its global
//! one.

use async_std::net::{TcpListener, TcpStream};
use tether_async_std::Error;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    async_std::task::block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on ws://{}", listener.local_addr()?);
        loop {
            let (tcp, _) = listener.accept().await?;
            async_std::task::spawn(async move {
                if let Err(e) = echo(tcp).await {
                    eprintln!("connection failed: {e}");
                }
            });
        }
    })
}

async fn echo(tcp: TcpStream) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tcp.set_nodelay(true)?;
    // The client-sized limits (Autobahn 9.* sends up to 16 MiB), not the server defaults.
    let mut ws =
        tether_async_std::Upgrade::read_with_config(tcp, tether_async_std::default_config()).await?.accept().await?;
    match echo_messages(&mut ws).await {
        // The peer ending the connection, cleanly or not, is not a failure of the server.
        Err(Error::Closed(_)) => Ok(()),
        other => Ok(other?),
    }
}

async fn echo_messages(ws: &mut tether_async_std::WebSocket) -> Result<(), Error> {
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}
