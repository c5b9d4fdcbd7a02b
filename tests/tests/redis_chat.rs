//! Three `chat_node` processes (the chat_server examples' app, `tests/src/bin/chat_node.rs`)
//! on one real `redis-server` (Debian's package, from `scripts/setup-peers.sh --redis`,
//! started here on a free loopback port without persistence and killed at the end) behave
//! as one chat: one member list in the presence events, messages in order across instances,
//! a direct message to a member of another instance, `kill -9` of an instance → its member
//! leaves the others' presence (within 30 s, the default TTL being 15 s), and Redis stopped
//! and restarted → the local room keeps working, and traffic crosses instances again.
//! A second test runs one `RedisCluster` hub on smol and one on async-std (redis-rs on
//! smol's executor there) with one on tokio's: the backend, and a room's history read
//! back, work on every runtime.
//! Without `redis-server` the tests say so and pass, unless `TETHER_REQUIRE_PEERS` is set.

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tether_rt::ClientBuilder;
use tether_tokio::Tokio;

type Ws = tether_rt::WebSocket<<Tokio as tether_rt::Runtime>::MaybeTls, Tokio>;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// A child process killed (SIGKILL) and reaped on drop.
struct Proc(Option<Child>);

impl Proc {
    fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port} within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `redis-server` on `port`; `None` (after saying why) if it is not installed and peers
/// are not required.
fn redis_server(port: u16) -> Option<Proc> {
    let spawned = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(child) => {
            let mut server = Proc(Some(child));
            wait_listening(port, "redis-server");
            let alive = server.0.as_mut().map(|child| matches!(child.try_wait(), Ok(None)));
            assert_eq!(alive, Some(true), "redis-server exited: port {port} was taken");
            Some(server)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var_os("TETHER_REQUIRE_PEERS").is_none(),
                "redis-server is missing and TETHER_REQUIRE_PEERS is set: run scripts/setup-peers.sh --redis"
            );
            eprintln!("SKIPPED: redis-server is not installed (scripts/setup-peers.sh --redis installs it)");
            None
        }
        Err(e) => panic!("could not start redis-server: {e}"),
    }
}

fn chat_node(port: u16, redis: u16) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_chat_node"))
        .args([format!("127.0.0.1:{port}"), "--redis".into(), format!("redis://127.0.0.1:{redis}")])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start chat_node");
    let node = Proc(Some(child));
    wait_listening(port, "chat_node");
    node
}

async fn join(port: u16, name: &str) -> Ws {
    ClientBuilder::<Tokio>::new(&format!("ws://127.0.0.1:{port}/ws/lobby?name={name}")).connect().await.expect("join")
}

/// The next JSON frame within `limit`.
async fn next(ws: &mut Ws, limit: Duration) -> Value {
    let text = tokio::time::timeout(limit, ws.recv_text()).await.expect("a frame in time").expect("a frame");
    serde_json::from_str(&text).expect("JSON")
}

/// Frames until one satisfies `want` (others are skipped), within `limit` in all.
async fn until(ws: &mut Ws, limit: Duration, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no matching frame within {limit:?}");
        let frame = next(ws, left).await;
        if want(&frame) {
            return frame;
        }
    }
}

fn members(frame: &Value) -> BTreeSet<String> {
    frame["members"].as_array().expect("members").iter().map(|m| m.as_str().unwrap_or_default().to_owned()).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// One test at a time: a test that restarts redis-server on its port must not find that
/// port taken by another test's server meanwhile.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn three_chat_servers_on_redis_are_one_chat_and_survive_failures() {
    let _serial = serial();
    let redis_port = free_port();
    let Some(mut redis) = redis_server(redis_port) else { return };
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    // One after the other: node numbers in this order (and so member lists too).
    let mut nodes: Vec<Proc> = ports.iter().map(|port| chat_node(*port, redis_port)).collect();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), async {
            let wait = Duration::from_secs(5);
            let mut ada = join(ports[0], "ada").await;
            until(&mut ada, wait, |f| f["type"] == "join" && f["name"] == "ada").await;
            let mut bob = join(ports[1], "bob").await;
            until(&mut ada, wait, |f| f["type"] == "join" && f["name"] == "bob").await;
            // Instance 2 learns the others' members a moment after it subscribed: a probe
            // member rejoins until its own join lists them (bounded), so that carol's does.
            // Each probe is gone (ada saw it leave) before the next one or carol joins.
            let deadline = Instant::now() + Duration::from_secs(10);
            for n in 0.. {
                assert!(Instant::now() < deadline, "instance 2 did not learn ada and bob within 10 s");
                let name = format!("probe{n}");
                let mut probe = join(ports[2], &name).await;
                let joined = until(&mut probe, wait, |f| f["type"] == "join" && f["name"] == name.as_str()).await;
                drop(probe);
                until(&mut ada, wait, |f| f["type"] == "leave" && f["name"] == name.as_str()).await;
                if members(&joined) == set(&["ada", "bob", &name]) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let mut carol = join(ports[2], "carol").await;
            // One member list, from all three instances, in carol's join as every member sees it.
            for ws in [&mut ada, &mut bob, &mut carol] {
                let joined = until(ws, wait, |f| f["type"] == "join" && f["name"] == "carol").await;
                assert_eq!(members(&joined), set(&["ada", "bob", "carol"]), "{joined}");
            }

            // Messages from two instances, interleaved, arrive everywhere in each sender's order.
            for i in 0..20 {
                ada.send_text(json!({"text": format!("a{i}")}).to_string()).await.unwrap();
                bob.send_text(json!({"text": format!("b{i}")}).to_string()).await.unwrap();
            }
            for ws in [&mut ada, &mut bob, &mut carol] {
                let (mut from_ada, mut from_bob) = (Vec::new(), Vec::new());
                while from_ada.len() + from_bob.len() < 40 {
                    let frame = until(ws, wait, |f| f["type"] == "message").await;
                    let text = frame["text"].as_str().unwrap().to_owned();
                    match frame["from"].as_str() {
                        Some("ada") => from_ada.push(text),
                        Some("bob") => from_bob.push(text),
                        other => panic!("from {other:?}"),
                    }
                }
                assert_eq!(from_ada, (0..20).map(|i| format!("a{i}")).collect::<Vec<_>>());
                assert_eq!(from_bob, (0..20).map(|i| format!("b{i}")).collect::<Vec<_>>());
            }

            // A direct message from instance 0 to carol on instance 2.
            ada.send_text(json!({"to": "carol", "text": "psst"}).to_string()).await.unwrap();
            let direct = until(&mut carol, wait, |f| f["type"] == "direct").await;
            assert_eq!((direct["from"].as_str(), direct["text"].as_str()), (Some("ada"), Some("psst")));

            // kill -9 of carol's instance: no goodbye; its member expires from the others.
            nodes[2].kill();
            drop(carol);
            for ws in [&mut ada, &mut bob] {
                let left = until(ws, Duration::from_secs(30), |f| f["type"] == "leave" && f["name"] == "carol").await;
                assert_eq!(members(&left), set(&["ada", "bob"]), "{left}");
            }

            // Redis stops: the local room keeps working.
            let mut dave = join(ports[0], "dave").await;
            until(&mut ada, wait, |f| f["type"] == "join" && f["name"] == "dave").await;
            redis.kill();
            ada.send_text(json!({"text": "during the outage"}).to_string()).await.unwrap();
            let got = until(&mut dave, wait, |f| f["type"] == "message").await;
            assert_eq!(got["text"], "during the outage");

            // Redis returns on the same port: traffic crosses instances again without a
            // restart (probes until the instances have reconnected; nothing is replayed).
            redis = redis_server(redis_port).expect("redis-server starts again");
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut probe = 0;
            loop {
                assert!(Instant::now() < deadline, "no cross-instance traffic within 15 s of Redis' return");
                probe += 1;
                ada.send_text(json!({"text": format!("probe{probe}")}).to_string()).await.unwrap();
                match tokio::time::timeout(Duration::from_millis(300), bob.recv_text()).await {
                    Ok(Ok(text)) if text.contains("probe") => break,
                    Ok(Ok(_)) | Err(_) => {}
                    Ok(Err(e)) => panic!("bob's connection failed: {e}"),
                }
            }
            // Once reconnected, a message arrives everywhere within 5 s.
            bob.send_text(json!({"text": "after the restart"}).to_string()).await.unwrap();
            for ws in [&mut ada, &mut dave, &mut bob] {
                until(ws, wait, |f| f["type"] == "message" && f["text"] == "after the restart").await;
            }
        })
        .await
        .expect("test timed out");
    });
    drop(nodes);
    drop(redis);
}

#[test]
fn hubs_on_tokio_smol_and_async_std_are_one_cluster() {
    let _serial = serial();
    use tether_server::{ClusterConfig, HubConfig, Mail, RedisCluster};
    use tether_tokio::Message;
    type Cluster = RedisCluster<String, String>;

    let redis_port = free_port();
    let Some(_redis) = redis_server(redis_port) else { return };
    let url = format!("redis://127.0.0.1:{redis_port}");
    let config = || {
        ClusterConfig::new(url.clone()).heartbeat(Duration::from_millis(200)).ttl(Duration::from_secs(2)).history(10)
    };

    // The tokio instance lives on a runtime thread of its own until the test ends.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let tokio_thread = {
        let (stop, config) = (stop.clone(), config());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (hub, cluster) =
                    Cluster::start::<Tokio>(config, HubConfig::default()).await.expect("tokio instance");
                tx.send(hub).unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                drop(cluster);
            });
        })
    };
    let tokio_hub = rx.recv_timeout(Duration::from_secs(10)).expect("the tokio instance started");
    let (on_tokio, mut tokio_mail) = tokio_hub.register("tokio".into());
    tokio_hub.join("r".into(), on_tokio).unwrap();

    smol::block_on(async {
        let (smol_hub, smol_cluster) =
            Cluster::start::<tether_smol::Smol>(config(), HubConfig::default()).await.expect("smol instance");
        let (async_std_hub, async_std_cluster) =
            Cluster::start::<tether_async_std::AsyncStd>(config(), HubConfig::default())
                .await
                .expect("async-std instance");
        let (on_smol, mut smol_mail) = smol_hub.register("smol".into());
        smol_hub.join("r".into(), on_smol).unwrap();
        let (on_async_std, mut async_std_mail) = async_std_hub.register("async-std".into());
        async_std_hub.join("r".into(), on_async_std).unwrap();

        let deadline = Instant::now() + Duration::from_secs(10);
        for hub in [&tokio_hub, &smol_hub, &async_std_hub] {
            while hub.presence(&"r".to_owned()).len() < 3 {
                assert!(Instant::now() < deadline, "three members everywhere within 10 s");
                smol::Timer::after(Duration::from_millis(20)).await;
            }
        }
        smol_hub.broadcast(&"r".to_owned(), Message::text("from smol"));
        async_std_hub.send_to(on_tokio, Message::text("async-std to tokio")).expect("a member on tokio");
        tokio_hub.broadcast(&"r".to_owned(), Message::text("from tokio"));
        let recv = |mail: &mut tether_server::Mailbox<String, String>| {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match mail.try_recv() {
                    Some(Mail::Message(Message::Text(text))) => return text.as_str().to_owned(),
                    Some(other) => panic!("{other:?}"),
                    None => {
                        assert!(Instant::now() < deadline, "no message within 5 s");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        };
        let mut tokio_got = vec![recv(&mut tokio_mail), recv(&mut tokio_mail), recv(&mut tokio_mail)];
        tokio_got.sort();
        assert_eq!(tokio_got, ["async-std to tokio", "from smol", "from tokio"]);
        let mut smol_got = vec![recv(&mut smol_mail), recv(&mut smol_mail)];
        smol_got.sort();
        assert_eq!(smol_got, ["from smol", "from tokio"]);
        let mut async_std_got = vec![recv(&mut async_std_mail), recv(&mut async_std_mail)];
        async_std_got.sort();
        assert_eq!(async_std_got, ["from smol", "from tokio"]);
        // The room's history reads back on either runtime (stored before published, so
        // both broadcasts are there once received).
        let texts = |history: Vec<(String, Message)>| {
            let mut texts: Vec<String> = history
                .into_iter()
                .map(|(_, message)| match message {
                    Message::Text(text) => text.as_str().to_owned(),
                    other => panic!("{other:?}"),
                })
                .collect();
            texts.sort();
            texts
        };
        let on_smol = smol_cluster.history::<tether_smol::Smol>(&"r".to_owned(), None, 10).await.expect("on smol");
        assert_eq!(texts(on_smol), ["from smol", "from tokio"]);
        let on_async_std = async_std_cluster
            .history::<tether_async_std::AsyncStd>(&"r".to_owned(), None, 10)
            .await
            .expect("on async-std");
        assert_eq!(texts(on_async_std), ["from smol", "from tokio"]);
    });
    drop(tokio_hub);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    tokio_thread.join().unwrap();
}
