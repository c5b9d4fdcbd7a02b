//! tokio-tungstenite fan-out server, the idiomatic way: one `tokio::sync::broadcast` channel
//! (1024 messages, the same bound as Tether's hub default); the connection on path `/pub`
//! publishes every data message it sends, every other connection subscribes and `forward`s
//! the channel into its sink (feeding while messages are ready, flushing when it would wait;
//! a subscriber that lags past the bound skips what it missed). Single-threaded runtime.
//! Usage: `ADDR`.

use futures_util::{SinkExt as _, StreamExt as _};
use tether_benches::serve::serve;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

fn main() -> std::io::Result<()> {
    let (tx, _) = broadcast::channel::<Message>(1024);
    serve(move |stream| {
        let tx = tx.clone();
        async move {
            let mut path = String::new();
            // The callback's error type is tungstenite's own (an HTTP response), not ours.
            #[allow(clippy::result_large_err)]
            let callback = |req: &Request, resp: Response| {
                path = req.uri().path().to_owned();
                Ok(resp)
            };
            let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else { return };
            let (mut write, mut read) = ws.split();
            if path == "/pub" {
                while let Some(Ok(msg)) = read.next().await {
                    if msg.is_binary() || msg.is_text() {
                        let _ = tx.send(msg);
                    }
                }
                return;
            }
            let messages = futures_util::stream::unfold(tx.subscribe(), |mut rx| async move {
                loop {
                    match rx.recv().await {
                        Ok(msg) => return Some((Ok(msg), rx)),
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            });
            // Subscribers send nothing but control frames; reading keeps pongs and close going.
            let drain = async { while let Some(Ok(_)) = read.next().await {} };
            tokio::select! {
                _ = messages.forward(&mut write) => {}
                () = drain => {}
            }
            let _ = write.close().await;
        }
    })
}
