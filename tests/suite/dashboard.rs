//! The dashboard example's app (`server/examples/dashboard_app/`, included here as it is)
//! over real sockets: subscribers of a topic receive the publisher's periodic JSON updates
//! for that topic only, in order, with the topic's subscriber count; an unknown topic is
//! 404; every subscriber gets 1001 at shutdown; the `server` topic carries the server's
//! counters (close causes by kind, traffic each way).

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

/// The latest update of the `server` topic satisfying `ok` (bounded by the test's timeout).
async fn stats_update_until(ws: &mut ClientWs, ok: impl Fn(&Value) -> bool) -> Value {
    loop {
        let u = update(ws).await;
        assert_eq!(u["topic"], app::STATS_TOPIC, "{u}");
        if ok(&u) {
            return u;
        }
    }
}

#[test]
fn the_server_topic_shows_close_causes_and_traffic_each_way() {
    run(async {
        let (listener, addr) = rt::listen().await;
        let shutdown = Shutdown::new();
        let signal = shutdown.triggered();
        let served = rt::spawn(async move { app::run::<R>(listener, Duration::from_millis(20), signal).await });

        // A cpu subscriber takes two updates and leaves (a peer close); it sent nothing.
        let mut cpu = subscribe(addr, "cpu").await;
        let mut cpu_bytes = 0;
        for _ in 0..2 {
            cpu_bytes += cpu.recv_text().await.expect("an update").len() as u64;
        }
        cpu.close(CloseCode::NORMAL, "").await.unwrap();

        let mut stats = subscribe(addr, app::STATS_TOPIC).await;
        // The cpu subscriber's end is counted when it ends, its handler's a moment later.
        let u = stats_update_until(&mut stats, |u| {
            u["closes"]["peer_closed"] == 1 && u["connections"]["websockets_open"] == 1
        })
        .await;
        let closes = u["closes"].as_object().expect("closes by kind");
        assert_eq!(closes.len(), tether_rt::CloseKind::COUNT, "every kind is listed: {u}");
        assert!(closes.iter().all(|(kind, n)| kind == "peer_closed" || *n == 0), "{u}");
        assert_eq!(u["connections"]["websockets_opened"], 2, "{u}");
        // Nobody sends anything; out: the cpu updates (at least the two read) and the
        // stats updates before this one.
        let traffic = &u["traffic"];
        assert_eq!((&traffic["messages_in"], &traffic["bytes_in"]), (&Value::from(0), &Value::from(0)), "{u}");
        assert!(traffic["messages_out"].as_u64().is_some_and(|n| n >= 2), "{u}");
        assert!(traffic["bytes_out"].as_u64().is_some_and(|n| n >= cpu_bytes), "{u}");

        shutdown.trigger();
        loop {
            match stats.recv().await {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => panic!("not a clean close: {e}"),
            }
        }
        let served = served.await;
        assert_eq!(served.abandoned, 0, "{served:?}");
    })
}

/// The dashboard page in headless Chromium (`tests/peers/browser_dashboard.py`): after a
/// subscriber came and went (a peer close), the page's `server` card shows its four
/// WebSockets open, messages sent out and none in, and that close under its cause; the cpu
/// card shows a reading. Like the other Chromium tests, it fails (never skips) when
/// `scripts/setup-peers.sh --browser` cannot install the browser.
#[test]
fn dashboard_page_shows_the_server_counters_in_headless_chromium() {
    use tether_tests::peer::{self, Peer};
    const LIMIT: Duration = Duration::from_secs(120);
    run_for(LIMIT, async {
        peer::ensure_setup(true);
        let (listener, addr) = rt::listen().await;
        let shutdown = Shutdown::new();
        let signal = shutdown.triggered();
        let served = rt::spawn(async move { app::run::<R>(listener, Duration::from_millis(50), signal).await });

        let mut gone = subscribe(addr, "orders").await;
        update(&mut gone).await;
        gone.close(CloseCode::NORMAL, "").await.unwrap();

        let base = format!("http://{addr}/");
        let mut browser = Peer::spawn(peer::PYTHON, &["tests/peers/browser_dashboard.py", &base]);
        let status = browser.wait::<R>(LIMIT - Duration::from_secs(10)).await;
        let output = browser.output();
        assert!(status.success(), "browser_dashboard.py failed ({status}):\n{output}");
        let line = output.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no outcome:\n{output}"));
        let page: Value = serde_json::from_str(line).expect("JSON outcome");
        let rows: Vec<(String, String)> = serde_json::from_value(page["server"].clone()).expect("rows");
        let row = |label: &str| rows.iter().find(|(k, _)| k == label).map(|(_, v)| v.as_str());
        assert_eq!(row("websockets open"), Some("4 (of 5 opened)"), "{page}");
        assert_eq!(row("closed: peer closed"), Some("1"), "{page}");
        let traffic = row("messages in / out").expect("traffic");
        let (inbound, outbound) = traffic.split_once(" / ").expect("in / out");
        assert_eq!(inbound, "0", "{page}");
        assert!(outbound.parse::<u64>().is_ok_and(|n| n > 0), "{page}");
        assert!(page["cpu"].as_str().is_some_and(|v| v.parse::<u64>().is_ok()), "{page}");

        shutdown.trigger();
        let served = served.await;
        assert_eq!(served.abandoned, 0, "{served:?}");
    })
}
