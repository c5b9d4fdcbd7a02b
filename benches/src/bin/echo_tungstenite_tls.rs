//! tokio-tungstenite echo server over TLS (tokio-rustls, the aws-lc-rs provider and the
//! certificate the Tether server gets), in either of the shapes the plain benchmark runs:
//! `loop` (receive, then `send`, which flushes every message) or `forward` (its own
//! example's shape: split and `forward`, which flushes only when input would wait).
//! Single-threaded runtime. Usage: `ADDR CERT.pem KEY.pem loop|forward`.

use futures_util::{future, SinkExt as _, StreamExt as _, TryStreamExt as _};
use tether_benches::serve::serve;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(2);
    let (cert, key) = (args.next().expect("CERT.pem"), args.next().expect("KEY.pem"));
    let forward = args.next().as_deref() == Some("forward");
    let config = tether_benches::tls::server_config(cert.as_ref(), key.as_ref())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    serve(move |stream| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(tls) = acceptor.accept(stream).await else { return };
            let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else { return };
            if forward {
                let (write, read) = ws.split();
                let _ = read.try_filter(|msg| future::ready(msg.is_text() || msg.is_binary())).forward(write).await;
                return;
            }
            while let Some(Ok(msg)) = ws.next().await {
                if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                    return;
                }
            }
        }
    })
}
