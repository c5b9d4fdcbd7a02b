//! tokio-tungstenite echo server in its `forward` style (its own example's shape): split,
//! filter data messages, `forward` the stream into the sink — which feeds while input is
//! ready and flushes when it would wait. Single-threaded runtime. Usage: `ADDR`.

use futures_util::{future, StreamExt as _, TryStreamExt as _};
use tether_benches::serve::serve;

fn main() -> std::io::Result<()> {
    serve(|stream| async move {
        let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
        let (write, read) = ws.split();
        let _ = read.try_filter(|msg| future::ready(msg.is_text() || msg.is_binary())).forward(write).await;
    })
}
