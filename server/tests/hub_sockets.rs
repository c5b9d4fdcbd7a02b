//! The hub over real sockets on tokio: members are Tether connections whose mailboxes are
//! forwarded into their senders; a broadcast reaches exactly its audience, and a member that
//! stops reading is evicted (1013) while the others keep receiving everything in order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tether_server::{Forwarded, Hub, HubConfig, SlowPolicy};
use tether_tokio::{CloseCode, Config, Message};
use tokio::net::TcpListener;

fn run<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), f).await.expect("test timed out") })
}

/// Accepts `n` members into `room`: each connection's mailbox is forwarded into its sender,
/// and each text it sends is broadcast to the others. Returns the listener's address.
static EVICTED_FORWARDS: AtomicUsize = AtomicUsize::new(0);

async fn serve(hub: Hub<&'static str, u32>, config: Config, n: usize) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for i in 0..n {
            let (tcp, _) = listener.accept().await.unwrap();
            let hub = hub.clone();
            let config = config.clone();
            tokio::spawn(async move {
                let ws = tether_tokio::Upgrade::read_with_config(tcp, config).await.unwrap().accept().await.unwrap();
                let (mut reader, sender) = ws.split();
                let (id, mut mailbox) = hub.register(i as u32);
                hub.join("room", id).unwrap();
                // The receive loop and the forwarding loop run side by side; when either ends
                // (the peer left, or the hub evicted the member), the other is dropped, and
                // with it the mailbox: the member leaves the room at once.
                let receive = async {
                    while let Ok(Some(message)) = reader.recv().await {
                        hub.broadcast_except(&"room", id, message);
                    }
                };
                let evicted = tokio::select! {
                    () = receive => false,
                    ended = mailbox.forward(&sender) => matches!(ended, Ok(Forwarded::Evicted(_))),
                };
                if evicted {
                    EVICTED_FORWARDS.fetch_add(1, Ordering::SeqCst);
                    // Drive the close handshake to its end (bounded by the close timeout).
                    while let Ok(Some(_)) = reader.recv().await {}
                }
            });
        }
    });
    addr
}

#[test]
fn a_broadcast_reaches_every_other_member_once() {
    run(async {
        let hub: Hub<&str, u32> = Hub::new(HubConfig::default());
        let addr = serve(hub.clone(), tether_tokio::default_config(), 3).await;
        let url = format!("ws://{addr}/");
        let mut a = tether_tokio::connect(&url).await.unwrap();
        let mut b = tether_tokio::connect(&url).await.unwrap();
        let mut c = tether_tokio::connect(&url).await.unwrap();
        while hub.room_len(&"room") < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        a.send_text("from a").await.unwrap();
        assert_eq!(b.recv_text().await.unwrap(), "from a");
        assert_eq!(c.recv_text().await.unwrap(), "from a");
        b.send_text("from b").await.unwrap();
        assert_eq!(a.recv_text().await.unwrap(), "from b", "a got only b's message, not its own");
        assert_eq!(c.recv_text().await.unwrap(), "from b");
        c.close(CloseCode::NORMAL, "bye").await.unwrap();
        while hub.room_len(&"room") > 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(hub.presence(&"room").len(), 2, "a closed connection leaves the room");
    })
}

#[test]
fn a_member_that_stops_reading_is_evicted_and_holds_nobody_back() {
    run(async {
        let hub: Hub<&str, u32> = Hub::new(
            HubConfig::default().with_capacity(8).with_policy(SlowPolicy::Disconnect(CloseCode::TRY_AGAIN_LATER)),
        );
        let small = tether_tokio::default_config().to_builder().write_high_water_mark(16 * 1024).build().unwrap();
        let addr = serve(hub.clone(), small, 2).await;
        let url = format!("ws://{addr}/");
        let mut fast = tether_tokio::connect(&url).await.unwrap();
        let slow = tether_tokio::connect(&url).await.unwrap(); // never reads
        while hub.room_len(&"room") < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let payload = vec![7u8; 64 * 1024];
        let total = 400;
        for i in 0..total {
            let mut message = payload.clone();
            message[..4].copy_from_slice(&(i as u32).to_be_bytes());
            hub.broadcast(&"room", Message::binary(message));
            // The fast member reads each message before the next is published.
            let got = fast.recv_bytes().await.unwrap();
            assert_eq!(u32::from_be_bytes(got[..4].try_into().unwrap()), i as u32, "in order, nothing lost");
        }
        let stats = hub.stats();
        assert_eq!(stats.evicted, 1, "{stats:?}");
        assert_eq!(hub.room_len(&"room"), 1, "only the fast member is left");
        // The slow member's forwarding loop was blocked in a send to a peer that reads
        // nothing; the eviction still ends it (and closes the connection) without waiting
        // for that peer.
        for _ in 0..500 {
            if EVICTED_FORWARDS.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(EVICTED_FORWARDS.load(Ordering::SeqCst), 1, "the blocked forwarding loop learned of the eviction");
        // When the slow peer finally reads, the data already accepted comes first, then 1013.
        let mut slow = slow;
        while let Ok(Some(_)) = slow.recv().await {}
        assert_eq!(slow.closed().map(|c| c.code), Some(CloseCode::TRY_AGAIN_LATER));
    })
}
