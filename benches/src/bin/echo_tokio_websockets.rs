//! tokio-websockets echo server, the shape of its own example: `ServerBuilder::accept`, then
//! `next().await` / `send(msg).await`. Single-threaded runtime. Usage: `ADDR`.

use futures_util::{SinkExt as _, StreamExt as _};
use tether_benches::serve::serve;
use tokio_websockets::ServerBuilder;

fn main() -> std::io::Result<()> {
    serve(|stream| async move {
        let Ok((_request, mut ws)) = ServerBuilder::new().accept(stream).await else { return };
        while let Some(Ok(msg)) = ws.next().await {
            if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                return;
            }
        }
    })
}
