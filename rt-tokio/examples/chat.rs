//! Chat room on tokio: `cargo run -p tether-tokio --example chat -- 127.0.0.1:9002`. Every
//! text message a member sends is broadcast to all members through cloned `Sender`s; each
//! connection's `Reader` stays in its own task (it drives that connection).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tether_tokio::{Error, Sender};
use tokio::net::{TcpListener, TcpStream};

type Room = Arc<Mutex<HashMap<u64, Sender>>>;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".into());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on ws://{}", listener.local_addr()?);
        let room = Room::default();
        for id in 0.. {
            let (tcp, _) = listener.accept().await?;
            let room = room.clone();
            tokio::spawn(async move {
                if let Err(e) = member(id, tcp, &room).await {
                    eprintln!("member {id}: {e}");
                }
                room.lock().unwrap().remove(&id);
            });
        }
        Ok(())
    })
}

async fn member(id: u64, tcp: TcpStream, room: &Room) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (mut reader, sender) = tether_tokio::accept(tcp).await?.split();
    room.lock().unwrap().insert(id, sender);
    loop {
        let text = match reader.recv_text().await {
            Ok(text) => text,
            Err(Error::Closed(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let line = format!("{id}: {text}");
        // Clone the senders out so the room's lock is never held across an await.
        let members: Vec<Sender> = room.lock().unwrap().values().cloned().collect();
        for member in members {
            // A member that stopped reading makes this wait once its queue passes the
            // high-water mark (nothing is dropped); a closed one just fails.
            let _ = member.send_text(line.as_str()).await;
        }
    }
}
