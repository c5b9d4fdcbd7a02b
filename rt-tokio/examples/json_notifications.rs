//! JSON over WebSockets on tokio (feature `json`): `cargo run -p tether-tokio --features
//! json --example json_notifications`. A server and a client in one process: the client
//! subscribes with `send_json`, the server pushes notifications, the client reads them with
//! `recv_json` until the server closes (a typed `Error::Closed`).

use serde::{Deserialize, Serialize};
use tether_tokio::{CloseCode, Error};
use tokio::net::TcpListener;

#[derive(Debug, Serialize, Deserialize)]
struct Subscribe {
    topic: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Notification {
    topic: String,
    seq: u32,
    text: String,
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            let mut ws = tether_tokio::accept(tcp).await?;
            let Subscribe { topic } = ws.recv_json().await?;
            for seq in 1..=3 {
                let text = format!("update {seq} on {topic}");
                ws.send_json(&Notification { topic: topic.clone(), seq, text }).await?;
            }
            ws.close(CloseCode::NORMAL, "done").await?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        });

        let mut ws = tether_tokio::connect(&format!("ws://{addr}/notifications")).await?;
        ws.send_json(&Subscribe { topic: "builds".into() }).await?;
        loop {
            match ws.recv_json::<Notification>().await {
                Ok(n) => println!("#{} [{}] {}", n.seq, n.topic, n.text),
                Err(Error::Closed(closed)) => {
                    println!("server closed: {} {}", closed.code, closed.reason);
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        server.await?
    })
}
