//! tokio-websockets echo server, the shape of its own example: `ServerBuilder::accept`, then
//! `next().await` / `send(msg).await`. Single-threaded runtime. Usage: `ADDR`.

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpListener;
use tokio_websockets::ServerBuilder;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on ws://{addr}");
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok((_request, mut ws)) = ServerBuilder::new().accept(stream).await else { return };
                while let Some(Ok(msg)) = ws.next().await {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    })
}
