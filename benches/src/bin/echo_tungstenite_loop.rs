//! tokio-tungstenite echo server as a plain receive/send loop (`next().await`, then
//! `send(msg).await`, which flushes every message). Single-threaded runtime. Usage: `ADDR`.

use futures_util::{SinkExt as _, StreamExt as _};
use tether_benches::serve::serve;

fn main() -> std::io::Result<()> {
    serve(|stream| async move {
        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
        while let Some(Ok(msg)) = ws.next().await {
            if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                return;
            }
        }
    })
}
