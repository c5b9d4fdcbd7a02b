//! Hubs spanning instances on a real `redis-server` (Debian's package, installed by
//! `scripts/setup-peers.sh --redis`; each test starts its own on a free loopback port with
//! no persistence and kills it at the end): broadcast in order without echo, one member
//! list, direct sends across instances, an instance that dies without a goodbye expiring
//! from the others' presence, and a broker restart survived; a room's bounded history
//! (off by default, in stream order, paged after an id, malformed entries skipped). Three instances are three
//! `RedisCluster` hubs in this process, each with its own connections to Redis. A stream
//! of small publishes keeps its order while several pipelines are in flight. Without
//! `redis-server` the tests say so and pass, unless `TETHER_REQUIRE_PEERS` is set.

use std::collections::HashMap;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tether_server::{ClusterConfig, ClusterError, ClusterEvent, Hub, HubConfig, Mail, Mailbox, MemberId, RedisCluster};
use tether_tokio::{Message, Tokio};

type Rooms = Hub<String, String>;
type Cluster = RedisCluster<String, String>;

/// A `redis-server` child on a loopback port; killed (and reaped) on drop.
struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// `None` (after saying why) when the binary is missing and peers are not required.
    fn start() -> Option<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let mut server = RedisServer { port, child: None };
        match server.spawn() {
            Ok(()) => Some(server),
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

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen on {} within 10 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
        let alive = self.child.as_mut().map(|child| matches!(child.try_wait(), Ok(None)));
        assert_eq!(alive, Some(true), "redis-server exited: port {} was taken", self.port);
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(90), f).await.expect("test timed out") })
}

/// Short heartbeat and TTL, so that expiry is seen within seconds.
fn config(redis: &RedisServer) -> ClusterConfig {
    ClusterConfig::new(redis.url())
        .heartbeat(Duration::from_millis(200))
        .ttl(Duration::from_secs(2))
        .max_backoff(Duration::from_millis(500))
}

async fn instances(redis: &RedisServer, n: usize) -> Vec<(Rooms, Cluster)> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(Cluster::start::<Tokio>(config(redis), HubConfig::default()).await.expect("start an instance"));
    }
    let nodes: Vec<u32> = out.iter().map(|(_, c)| c.node()).collect();
    for (i, node) in nodes.iter().enumerate() {
        assert!(!nodes[..i].contains(node), "node numbers are unique: {nodes:?}");
    }
    for (_, cluster) in &out {
        wait_until("every instance connected", Duration::from_secs(10), || cluster.stats().connected).await;
    }
    out
}

/// Polls `check` every 20 ms until it holds; fails the test after `limit`.
async fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next text in `mailbox`, within `limit`.
async fn next_text(mailbox: &mut Mailbox<String, String>, limit: Duration) -> String {
    match tokio::time::timeout(limit, mailbox.recv()).await {
        Ok(Some(Mail::Message(Message::Text(text)))) => text.as_str().to_owned(),
        other => panic!("expected a text within {limit:?}, got {other:?}"),
    }
}

fn names(hub: &Rooms, room: &str) -> Vec<(MemberId, String)> {
    hub.presence(&room.to_owned())
}

/// One test at a time: a test that restarts redis-server on its port must not find that
/// port taken by another test's server meanwhile.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn three_instances_are_one_room_in_order_without_echo_with_direct_sends() {
    let _serial = serial();
    let Some(redis) = RedisServer::start() else { return };
    run(async {
        let nodes = instances(&redis, 3).await;
        let lobby = "lobby".to_owned();
        let mut members = Vec::new();
        for (i, (hub, _)) in nodes.iter().enumerate() {
            let (id, mailbox) = hub.register(format!("user{i}"));
            hub.join(lobby.clone(), id).unwrap();
            members.push((id, mailbox));
        }
        // One member list, the same on every instance.
        for (hub, _) in &nodes {
            wait_until("three members in every presence list", Duration::from_secs(10), || {
                names(hub, "lobby").len() == 3
            })
            .await;
        }
        let expected: Vec<(MemberId, String)> =
            members.iter().enumerate().map(|(i, (id, _))| (*id, format!("user{i}"))).collect();
        for (hub, _) in &nodes {
            assert_eq!(names(hub, "lobby"), expected);
        }

        // Instances 0 and 1 broadcast 100 messages each, interleaved.
        const N: usize = 100;
        for i in 0..N {
            nodes[0].0.broadcast(&lobby, Message::text(format!("a{i}")));
            nodes[1].0.broadcast(&lobby, Message::text(format!("b{i}")));
        }
        for (id, mailbox) in &mut members {
            let mut got: HashMap<char, Vec<usize>> = HashMap::new();
            for _ in 0..2 * N {
                let text = next_text(mailbox, Duration::from_secs(5)).await;
                let (who, i) = text.split_at(1);
                got.entry(who.chars().next().unwrap()).or_default().push(i.parse().unwrap());
            }
            let in_order: Vec<usize> = (0..N).collect();
            assert_eq!(got.get(&'a'), Some(&in_order), "member {id:?}: a's messages once each, in order");
            assert_eq!(got.get(&'b'), Some(&in_order), "member {id:?}: b's messages once each, in order");
        }

        // A direct send crosses instances, binary too; an id nobody holds is refused.
        let target = members[2].0;
        assert_eq!(target.node(), nodes[2].1.node());
        nodes[0].0.send_to(target, Message::text("direct from 0")).expect("a member of instance 2");
        assert_eq!(next_text(&mut members[2].1, Duration::from_secs(5)).await, "direct from 0");
        nodes[1].0.send_to(target, Message::binary(vec![1u8, 2, 3])).unwrap();
        match tokio::time::timeout(Duration::from_secs(5), members[2].1.recv()).await {
            Ok(Some(Mail::Message(Message::Binary(data)))) => assert_eq!(&data[..], [1, 2, 3]),
            other => panic!("{other:?}"),
        }
        let nobody = MemberId::clone(&target);
        drop(members.pop());
        for (hub, _) in &nodes[..2] {
            wait_until("the member that left is gone everywhere", Duration::from_secs(10), || {
                names(hub, "lobby").len() == 2
            })
            .await;
        }
        assert!(nodes[0].0.send_to(nobody, Message::text("x")).is_err());

        // Nothing was delivered twice: the senders' own echoes were skipped.
        nodes[2].0.broadcast(&lobby, Message::text("last"));
        for (_, mailbox) in &mut members {
            assert_eq!(next_text(mailbox, Duration::from_secs(5)).await, "last");
            assert_eq!(mailbox.try_recv(), None);
        }
        for (_, cluster) in &nodes {
            assert_eq!(cluster.stats().undecodable, 0);
            assert_eq!(cluster.stats().dropped, 0);
        }
    });
}

#[test]
fn a_stream_of_small_publishes_keeps_its_order_across_overlapping_pipelines() {
    let _serial = serial();
    let Some(redis) = RedisServer::start() else { return };
    run(async {
        // Many small batches, each sent before the previous one is answered: their order on
        // the other instance is the order they were broadcast in.
        const N: usize = 3000;
        let hub_config = HubConfig::default().with_capacity(N);
        let (sender, sender_cluster) = Cluster::start::<Tokio>(config(&redis), hub_config).await.expect("instance 0");
        let (receiver, receiver_cluster) =
            Cluster::start::<Tokio>(config(&redis), hub_config).await.expect("instance 1");
        let room = "stream".to_owned();
        let (id, mut mailbox) = receiver.register("reader".to_owned());
        receiver.join(room.clone(), id).unwrap();
        wait_until("the reader known to the sender", Duration::from_secs(10), || names(&sender, "stream").len() == 1)
            .await;
        let reader = tokio::spawn(async move {
            let mut got = Vec::with_capacity(N);
            while got.len() < N {
                got.push(next_text(&mut mailbox, Duration::from_secs(10)).await.parse::<usize>().unwrap());
            }
            got
        });
        for i in 0..N {
            sender.broadcast(&room, Message::text(i.to_string()));
            if i % 3 == 0 {
                tokio::task::yield_now().await;
            }
        }
        let got = reader.await.unwrap();
        assert_eq!(got, (0..N).collect::<Vec<_>>(), "every message once, in order");
        for cluster in [&sender_cluster, &receiver_cluster] {
            assert_eq!(cluster.stats().dropped, 0);
            assert_eq!(cluster.stats().undecodable, 0);
        }
    });
}

#[test]
fn an_instance_that_dies_without_a_goodbye_expires_from_the_others() {
    let _serial = serial();
    let Some(redis) = RedisServer::start() else { return };
    run(async {
        let mut nodes = instances(&redis, 3).await;
        let room = "r".to_owned();
        let mut mailboxes = Vec::new();
        for (i, (hub, _)) in nodes.iter().enumerate() {
            let (id, mailbox) = hub.register(format!("m{i}"));
            hub.join(room.clone(), id).unwrap();
            mailboxes.push(mailbox);
        }
        for (hub, _) in &nodes {
            wait_until("three members everywhere", Duration::from_secs(10), || names(hub, "r").len() == 3).await;
        }
        let (dead_hub, dead) = nodes.pop().unwrap();
        let dead_node = dead.node();
        let dead_member = mailboxes.pop().unwrap();
        dead.halt();
        // The backend task ends without a word: its event stream ends.
        while tokio::time::timeout(Duration::from_secs(5), dead.next_event()).await.expect("the task ends").is_some() {}
        drop(dead_member);
        drop(dead_hub);

        for (hub, cluster) in &nodes {
            // A Left event with `expired: true` for the dead instance's member.
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, cluster.next_event()).await.expect("a leave within 30 s") {
                    Some(ClusterEvent::Left { member, data, expired, .. }) if member.node() == dead_node => {
                        assert!(expired, "no goodbye was said: the member expired");
                        assert_eq!(data, "m2");
                        break;
                    }
                    Some(_) => {}
                    None => panic!("the backend ended"),
                }
            }
            assert_eq!(names(hub, "r").len(), 2);
            assert!(cluster.stats().expired_nodes >= 1);
        }

        // A graceful end (every hub clone dropped, its member still connected) says
        // goodbye: a Left without expiry, before any TTL could pass.
        let (gone_hub, gone) = nodes.pop().unwrap();
        let gone_node = gone.node();
        drop(gone_hub);
        let (hub, cluster) = &nodes[0];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), cluster.next_event()).await.expect("a leave") {
                Some(ClusterEvent::Left { member, expired, .. }) if member.node() == gone_node => {
                    assert!(!expired, "the instance said goodbye");
                    break;
                }
                Some(_) => {}
                None => panic!("the backend ended"),
            }
        }
        assert_eq!(names(hub, "r").len(), 1);
        drop(mailboxes);
    });
}

#[test]
fn a_redis_restart_is_survived_and_traffic_flows_again() {
    let _serial = serial();
    let Some(mut redis) = RedisServer::start() else { return };
    run(async {
        let nodes = instances(&redis, 3).await;
        let room = "r".to_owned();
        let mut mailboxes = Vec::new();
        for (hub, _) in &nodes {
            let (id, mailbox) = hub.register("x".into());
            hub.join(room.clone(), id).unwrap();
            mailboxes.push(mailbox);
        }
        // A second member on instance 0, for local traffic during the outage.
        let (local, mut local_mail) = nodes[0].0.register("local".into());
        nodes[0].0.join(room.clone(), local).unwrap();
        for (hub, _) in &nodes {
            wait_until("four members everywhere", Duration::from_secs(10), || names(hub, "r").len() == 4).await;
        }

        redis.stop();
        for (_, cluster) in &nodes {
            wait_until("every instance saw the outage", Duration::from_secs(10), || !cluster.stats().connected).await;
        }
        // The local room keeps working; what would cross instances is dropped and counted.
        let delivery = nodes[0].0.broadcast(&room, Message::text("during the outage"));
        assert_eq!(delivery.queued, 2);
        assert_eq!(next_text(&mut local_mail, Duration::from_secs(5)).await, "during the outage");
        assert_eq!(next_text(&mut mailboxes[0], Duration::from_secs(5)).await, "during the outage");
        assert!(nodes[0].1.stats().dropped >= 1);

        redis.spawn().expect("restart redis-server on the same port");
        for (_, cluster) in &nodes {
            wait_until("every instance reconnected", Duration::from_secs(10), || {
                let stats = cluster.stats();
                stats.connected && stats.reconnects >= 1
            })
            .await;
        }
        // The gap was reported as events.
        let mut saw = (false, false);
        while let Some(event) = nodes[1].1.try_event() {
            match event {
                ClusterEvent::Disconnected => saw.0 = true,
                ClusterEvent::Reconnected { .. } => saw.1 = true,
                _ => {}
            }
        }
        assert_eq!(saw, (true, true), "Disconnected then Reconnected");

        nodes[1].0.broadcast(&room, Message::text("after the restart"));
        for mailbox in mailboxes.iter_mut().chain([&mut local_mail]) {
            assert_eq!(next_text(mailbox, Duration::from_secs(5)).await, "after the restart");
        }
        // The instances found each other again (their heartbeats).
        for (hub, _) in &nodes {
            wait_until("four members everywhere again", Duration::from_secs(10), || names(hub, "r").len() == 4).await;
        }
    });
}

/// Runs `redis-cli` against `redis` (an XADD by hand, an XLEN): its output, trimmed.
fn redis_cli(redis: &RedisServer, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &redis.port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (installed with redis-server)");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn text_of(message: &Message) -> String {
    match message {
        Message::Text(text) => text.as_str().to_owned(),
        other => panic!("expected a text, got {other:?}"),
    }
}

/// `MS-SEQ` as a pair, to compare ids in stream order.
fn id_key(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').expect("MS-SEQ");
    (ms.parse().unwrap(), seq.parse().unwrap())
}

#[test]
fn a_rooms_history_holds_both_instances_broadcasts_in_stream_order_and_pages_after_an_id() {
    let _serial = serial();
    let Some(redis) = RedisServer::start() else { return };
    run(async {
        let mut nodes = Vec::new();
        for _ in 0..2 {
            let config = config(&redis).history(100);
            nodes.push(Cluster::start::<Tokio>(config, HubConfig::default()).await.expect("start an instance"));
        }
        let room = "lobby".to_owned();
        const N: usize = 20;
        for i in 0..N {
            nodes[0].0.broadcast(&room, Message::text(format!("a{i}")));
            nodes[1].0.broadcast(&room, Message::text(format!("b{i}")));
        }
        // Another room's broadcasts stay in its own history.
        nodes[0].0.broadcast(&"other".to_owned(), Message::text("elsewhere"));
        let cluster = &nodes[1].1;
        let deadline = Instant::now() + Duration::from_secs(10);
        let all = loop {
            let all = cluster.history::<Tokio>(&room, None, 1000).await.expect("read the history");
            if all.len() == 2 * N {
                break all;
            }
            assert!(Instant::now() < deadline, "not within 10 s: {} of {} in the history", all.len(), 2 * N);
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // Stream order: ids rising, each instance's broadcasts in the order it made them.
        assert!(all.windows(2).all(|w| id_key(&w[0].0) < id_key(&w[1].0)), "ids rise: {all:?}");
        let texts: Vec<String> = all.iter().map(|(_, m)| text_of(m)).collect();
        for who in ['a', 'b'] {
            let mine: Vec<String> = texts.iter().filter(|t| t.starts_with(who)).cloned().collect();
            assert_eq!(mine, (0..N).map(|i| format!("{who}{i}")).collect::<Vec<_>>());
        }
        // Both instances read the same history.
        assert_eq!(nodes[0].1.history::<Tokio>(&room, None, 1000).await.unwrap(), all);

        // After an id: exactly the later ones, bounded by the limit; the latest without one.
        let after = cluster.history::<Tokio>(&room, Some(&all[9].0), 1000).await.unwrap();
        assert_eq!(after, all[10..]);
        let page = cluster.history::<Tokio>(&room, Some(&all[9].0), 5).await.unwrap();
        assert_eq!(page, all[10..15]);
        assert_eq!(cluster.history::<Tokio>(&room, Some(&all[2 * N - 1].0), 10).await.unwrap(), []);
        assert_eq!(cluster.history::<Tokio>(&room, None, 5).await.unwrap(), all[2 * N - 5..]);
        assert_eq!(cluster.history::<Tokio>(&room, None, 0).await.unwrap(), []);
        let other = cluster.history::<Tokio>(&"other".to_owned(), None, 10).await.unwrap();
        assert_eq!(other.iter().map(|(_, m)| text_of(m)).collect::<Vec<_>>(), ["elsewhere"]);
        for bad in ["", "x", "1-", "-1", "1-2-3", "1-x", "99999999999999999999"] {
            assert!(
                matches!(cluster.history::<Tokio>(&room, Some(bad), 10).await, Err(ClusterError::InvalidId)),
                "{bad:?} is not an id"
            );
        }
        assert_eq!(cluster.stats().history_skipped, 0);
    });
}

#[test]
fn history_is_off_by_default_bounded_by_its_length_and_skips_malformed_entries() {
    let _serial = serial();
    let Some(redis) = RedisServer::start() else { return };
    run(async {
        // Off: nothing but the node counter is stored.
        let (hub, cluster) = Cluster::start::<Tokio>(config(&redis), HubConfig::default()).await.unwrap();
        let room = "room".to_owned();
        for i in 0..10 {
            hub.broadcast(&room, Message::text(i.to_string()));
        }
        wait_until("ten publishes sent", Duration::from_secs(10), || cluster.stats().published >= 10).await;
        // A PING on a fresh connection is answered after the publishes already sent.
        assert_eq!(redis_cli(&redis, &["PING"]), "PONG");
        assert_eq!(redis_cli(&redis, &["XLEN", "tether:h:room"]), "0");
        assert_eq!(redis_cli(&redis, &["KEYS", "*"]), "tether:nodes");
        assert!(matches!(cluster.history::<Tokio>(&room, None, 10).await, Err(ClusterError::HistoryOff)));

        // On, with 20 per room: 1000 broadcasts leave about 20 (trimming is approximate:
        // whole stream nodes of 100 entries), and a read returns 20 at most, the latest.
        const MAX: usize = 20;
        let config = config(&redis).prefix("hist").history(MAX);
        let (hub, cluster) = Cluster::start::<Tokio>(config, HubConfig::default()).await.unwrap();
        for i in 0..1000 {
            hub.broadcast(&room, Message::text(i.to_string()));
            if i % 100 == 0 {
                tokio::task::yield_now().await;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let latest = loop {
            let latest = cluster.history::<Tokio>(&room, None, 1000).await.unwrap();
            if latest.last().is_some_and(|(_, m)| text_of(m) == "999") {
                break latest;
            }
            assert!(Instant::now() < deadline, "not within 10 s: the last broadcast in the history");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let texts: Vec<String> = latest.iter().map(|(_, m)| text_of(m)).collect();
        assert_eq!(texts, (1000 - MAX..1000).map(|i| i.to_string()).collect::<Vec<_>>());
        let len: usize = redis_cli(&redis, &["XLEN", "hist:h:room"]).parse().unwrap();
        assert!((MAX..=MAX + 100).contains(&len), "the stream is trimmed: {len} entries");
        assert_eq!(cluster.stats().dropped, 0);

        // Entries written by hand are skipped and counted; the good ones around them stay.
        let garbage = redis_cli(&redis, &["XADD", "hist:h:room", "*", "m", "garbage"]);
        let other_field = redis_cli(&redis, &["XADD", "hist:h:room", "*", "x", "y"]);
        let short = redis_cli(&redis, &["XADD", "hist:h:room", "*", "m", "M"]);
        assert!(valid(&garbage) && valid(&other_field) && valid(&short));
        hub.broadcast(&room, Message::text("after"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let after = cluster.history::<Tokio>(&room, Some(&latest[MAX - 1].0), 10).await.unwrap();
            if !after.is_empty() {
                assert_eq!(after.iter().map(|(_, m)| text_of(m)).collect::<Vec<_>>(), ["after"]);
                break;
            }
            assert!(Instant::now() < deadline, "not within 10 s: the broadcast after the bad entries");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(cluster.stats().history_skipped >= 3, "{:?}", cluster.stats());
        assert_eq!(cluster.stats().undecodable, 0);

        // A key of another type where a room's stream would be: that room's history is
        // not kept, and the rest goes on (no reconnect, the next broadcast still stored).
        assert_eq!(redis_cli(&redis, &["SET", "hist:h:taken", "x"]), "OK");
        hub.broadcast(&"taken".to_owned(), Message::text("lost"));
        hub.broadcast(&room, Message::text("still"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cluster.history::<Tokio>(&room, None, 1).await.is_ok_and(|last| text_of(&last[0].1) == "still") {
            assert!(Instant::now() < deadline, "not within 10 s: the broadcast after the taken key");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(cluster.history::<Tokio>(&"taken".to_owned(), None, 1).await.is_err());
        assert_eq!(cluster.stats().reconnects, 0, "{:?}", cluster.stats());
        assert_eq!(cluster.stats().history_failed, 1, "{:?}", cluster.stats());

        // Halted: no connection to read on.
        cluster.halt();
        assert!(matches!(cluster.history::<Tokio>(&room, None, 1).await, Err(ClusterError::Disconnected)));
    });
}

fn valid(id: &str) -> bool {
    id.split_once('-').is_some_and(|(ms, seq)| ms.parse::<u64>().is_ok() && seq.parse::<u64>().is_ok())
}
