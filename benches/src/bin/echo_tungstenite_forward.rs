//! tokio-tungstenite echo server in its `forward` style (its own example's shape): split,
//! filter data messages, `forward` the stream into the sink — which feeds while input is
//! ready and flushes when it would wait. Single-threaded runtime. Usage: `ADDR`.

use futures_util::{future, StreamExt as _, TryStreamExt as _};
use tokio::net::TcpListener;

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
                let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
                let (write, read) = ws.split();
                let _ = read.try_filter(|msg| future::ready(msg.is_text() || msg.is_binary())).forward(write).await;
            });
        }
    })
}
