//! The dashboard example's app (`server/examples/dashboard_app/`, included here as it is)
//! over real sockets: subscribers of a topic receive the publisher's periodic JSON updates
//! for that topic only, in order, with the topic's subscriber count; an unknown topic is
//! 404; every subscriber gets 1001 at shutdown.

use std::net::SocketAddr;

use serde_json::Value;
use tether_rt::Shutdown;

use super::*;

#[path = "../../server/examples/dashboard_app/app.rs"]
mod app;

async fn subscribe(addr: SocketAddr, topic: &str) -> ClientWs {
    ClientBuilder::<R>::new(&format!("ws://{addr}/live/{topic}")).connect().await.expect("subscribe")
}

async fn update(ws: &mut ClientWs) -> Value {
    let text = ws.recv_text().await.expect("an update");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn subscribers_receive_periodic_updates_of_their_topic_only() {
    run(async {
        let (listener, addr) = rt::listen().await;
        let shutdown = Shutdown::new();
        let signal = shutdown.triggered();
        let served = rt::spawn(async move { app::run::<R>(listener, Duration::from_millis(20), signal).await });

        let err = ClientBuilder::<R>::new(&format!("ws://{addr}/live/nope")).connect().await.unwrap_err();
        assert_eq!(err.http_status(), Some(404), "{err}");

        let mut cpu = subscribe(addr, "cpu").await;
        let mut orders = subscribe(addr, "orders").await;
        for (ws, topic) in [(&mut cpu, "cpu"), (&mut orders, "orders")] {
            let mut last = 0;
            for _ in 0..3 {
                let u = update(ws).await;
                assert_eq!(u["topic"], topic, "{u}");
                let seq = u["seq"].as_u64().expect("seq");
                assert!(seq > last, "in order: {u} after {last}");
                last = seq;
                assert!(u["value"].as_u64().is_some_and(|v| v < 100), "{u}");
                assert_eq!(u["subscribers"], 1, "{u}");
            }
        }

        // A second cpu subscriber: both get the cpu updates, now counting two.
        let mut cpu2 = subscribe(addr, "cpu").await;
        let first = update(&mut cpu2).await;
        assert_eq!((&first["topic"], &first["subscribers"]), (&Value::from("cpu"), &Value::from(2)), "{first}");
        let seen = loop {
            let u = update(&mut cpu).await;
            assert_eq!(u["topic"], "cpu", "{u}");
            if u["seq"] == first["seq"] {
                break u;
            }
        };
        assert_eq!(seen, first, "both subscribers get the same update");

        shutdown.trigger();
        for mut ws in [cpu, orders, cpu2] {
            // Updates may still be queued ahead of the close.
            loop {
                match ws.recv().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(e) => panic!("not a clean close: {e}"),
                }
            }
            assert_eq!(ws.closed().expect("closed").code, CloseCode::GOING_AWAY);
        }
        let served = served.await;
        assert_eq!(served.abandoned, 0, "{served:?}");
    })
}
