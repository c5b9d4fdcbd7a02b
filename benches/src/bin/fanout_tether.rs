//! Tether's fan-out server: every connection on a path other than `/pub` joins one room of a
//! `tether_server::Hub` (1024 messages per member, then the oldest is dropped — the same
//! bound and the same drop-and-continue behaviour as the broadcast channel of the
//! tokio-tungstenite server), and its mailbox is forwarded into its sender; every data
//! message from `/pub` is broadcast once, its payload shared by every member's queue.
//! Single-threaded runtime. Usage: `ADDR`.

use tether_benches::serve::serve;
use tether_server::{Hub, HubConfig, SlowPolicy};

fn main() -> std::io::Result<()> {
    let hub: Hub<(), ()> = Hub::new(HubConfig::default().with_capacity(1024).with_policy(SlowPolicy::DropOldest));
    serve(move |stream| {
        let hub = hub.clone();
        async move {
            let Ok(upgrade) = tether_tokio::Upgrade::read(stream).await else { return };
            let publisher = upgrade.path() == "/pub";
            let Ok(ws) = upgrade.accept().await else { return };
            let (mut reader, sender) = ws.split();
            if publisher {
                while let Ok(Some(message)) = reader.recv().await {
                    hub.broadcast(&(), message);
                }
                return;
            }
            let (id, mut mailbox) = hub.register(());
            let _ = hub.join((), id);
            // Subscribers send nothing but control frames; reading drives pongs and close.
            let receive = async { while let Ok(Some(_)) = reader.recv().await {} };
            tokio::select! {
                () = receive => {}
                _ = mailbox.forward(&sender) => {}
            }
        }
    })
}
