//! `cluster_fanout`: fan-out through the hub in one process against the same fan-out across
//! three instances on Redis (`RedisCluster`, feature `redis`): one publisher, 3 instances ×
//! SUBS subscribers in one room (each subscriber a task draining its mailbox, as a
//! connection task would). Two runs per mode: a paced one (RATE messages/s for SECS,
//! latency from publish to dequeue, p50/p99 per instance) and a burst (BURST messages as
//! fast as the hub takes them; deliveries per second until the last subscriber has them
//! all). In-process, the "three instances" are one hub with 3 × SUBS members, all on the
//! main current-thread tokio runtime. On Redis, by default everything (the three instances'
//! backends and subscribers, the publisher) shares that one runtime too; with `--threads`,
//! instances 1 and 2 each get their own current-thread runtime on their own OS thread
//! (backend task, redis-rs connection tasks, subscribers), instance 0 and the publisher
//! keep the main one — as three processes would, without leaving the process, so one clock
//! times every hop. Sockets are not involved (that is `fanout_tether`). Run by
//! `benches/cluster.sh`, which starts a redis-server; numbers go to `benches/README.md`.
//!
//! `cluster_fanout --redis redis://127.0.0.1:PORT [--subs 1000] [--rate 1000] [--secs 3] [--burst 2000] [--threads]`

use std::time::{Duration, Instant};

use tether_server::{ClusterConfig, Hub, HubConfig, Mail, Mailbox, RedisCluster, SlowPolicy};
use tether_tokio::{Message, Tokio};
use tokio::runtime::Handle;

type Rooms = Hub<String, String>;

struct Args {
    redis: String,
    subs: usize,
    rate: u64,
    secs: u64,
    burst: usize,
    threads: bool,
}

fn args() -> Args {
    let mut out = Args { redis: String::new(), subs: 1000, rate: 1000, secs: 3, burst: 2000, threads: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--threads" {
            out.threads = true;
            continue;
        }
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--redis" => out.redis = value,
            "--subs" => out.subs = value.parse().expect("--subs N"),
            "--rate" => out.rate = value.parse().expect("--rate N"),
            "--secs" => out.secs = value.parse().expect("--secs N"),
            "--burst" => out.burst = value.parse().expect("--burst N"),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!out.redis.is_empty(), "--redis URL is required");
    out
}

fn hub_config() -> HubConfig {
    HubConfig::default().with_capacity(1 << 16).with_policy(SlowPolicy::DropNewest)
}

/// Subscribers that count `expect` messages each and record publish-to-dequeue latency (µs)
/// of the messages stamped with nanoseconds since `origin`.
fn subscribers(
    runtime: &Handle,
    mailboxes: Vec<Mailbox<String, String>>,
    origin: Instant,
    expect: usize,
) -> Vec<tokio::task::JoinHandle<(Vec<u32>, Instant)>> {
    mailboxes
        .into_iter()
        .map(|mut mailbox| {
            runtime.spawn(async move {
                let mut latencies = Vec::with_capacity(expect);
                let mut last = Instant::now();
                while latencies.len() < expect {
                    match tokio::time::timeout(Duration::from_secs(10), mailbox.recv()).await {
                        Ok(Some(Mail::Message(Message::Binary(data)))) => {
                            let sent = u64::from_le_bytes(data[..8].try_into().expect("stamp"));
                            let now = Instant::now();
                            let at = now.duration_since(origin).as_nanos() as u64;
                            latencies.push((at.saturating_sub(sent) / 1000) as u32);
                            last = now;
                        }
                        _ => break,
                    }
                }
                (latencies, last)
            })
        })
        .collect()
}

fn stamped(origin: Instant) -> Message {
    let mut payload = vec![0u8; 64];
    payload[..8].copy_from_slice(&(origin.elapsed().as_nanos() as u64).to_le_bytes());
    Message::binary(payload)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs one mode: `hubs[i]` serve instance i's subscribers (with one hub, its three groups
/// of SUBS); subscriber group i runs on `runtimes[i]`; `hubs[0]` publishes.
async fn run(label: &str, hubs: &[Rooms], runtimes: &[Handle], args: &Args) {
    let room = "r".to_owned();
    let per_instance = if hubs.len() == 1 { 3 } else { 1 };
    // Paced run.
    let count = (args.rate * args.secs) as usize;
    let origin = Instant::now();
    let mut groups = Vec::new();
    for (h, hub) in hubs.iter().enumerate() {
        for g in 0..per_instance {
            let mut mailboxes = Vec::new();
            for i in 0..args.subs {
                let (id, mailbox) = hub.register(format!("s{i}"));
                hub.join(room.clone(), id).expect("join");
                mailboxes.push(mailbox);
            }
            groups.push(subscribers(&runtimes[h + g], mailboxes, origin, count));
        }
    }
    // Let presence settle across instances (joins are published).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let period = Duration::from_nanos(1_000_000_000 / args.rate.max(1));
    let start = Instant::now();
    for n in 0..count {
        let due = start + period * n as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        hubs[0].broadcast(&room, stamped(origin));
    }
    for (instance, group) in groups.into_iter().enumerate() {
        let mut all = Vec::new();
        let mut got = 0;
        for handle in group {
            let (latencies, _) = handle.await.expect("subscriber");
            got += latencies.len();
            all.extend(latencies);
        }
        all.sort_unstable();
        println!(
            "{label} paced {} msg/s: instance {instance}: {got}/{} delivered, p50 {} µs, p99 {} µs",
            args.rate,
            count * args.subs,
            percentile(&all, 0.5),
            percentile(&all, 0.99)
        );
    }

    // Burst run.
    let origin = Instant::now();
    let mut handles = Vec::new();
    for (h, hub) in hubs.iter().enumerate() {
        for g in 0..per_instance {
            let mut mailboxes = Vec::new();
            for i in 0..args.subs {
                let (id, mailbox) = hub.register(format!("b{i}"));
                hub.join("burst".to_owned(), id).expect("join");
                mailboxes.push(mailbox);
            }
            handles.extend(subscribers(&runtimes[h + g], mailboxes, origin, args.burst));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = Instant::now();
    for _ in 0..args.burst {
        hubs[0].broadcast(&"burst".to_owned(), stamped(origin));
        tokio::task::yield_now().await;
    }
    let mut delivered = 0;
    let mut end = start;
    for handle in handles {
        let (latencies, last) = handle.await.expect("subscriber");
        delivered += latencies.len();
        end = end.max(last);
    }
    let secs = end.duration_since(start).as_secs_f64();
    println!(
        "{label} burst {}: {delivered}/{} delivered in {secs:.3} s = {:.0} deliveries/s",
        args.burst,
        args.burst * args.subs * 3,
        delivered as f64 / secs
    );
}

/// Runtimes for instances 1 and 2 with `--threads` (each a current-thread runtime on its
/// own OS thread; instance 0 and the publisher stay on the main one), or the main runtime
/// three times.
struct Runtimes {
    handles: Vec<Handle>,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Runtimes {
    fn new(threads: bool) -> Self {
        let mut out = Runtimes { handles: vec![Handle::current()], stops: Vec::new(), threads: Vec::new() };
        for i in 1..3 {
            if !threads {
                out.handles.push(Handle::current());
                continue;
            }
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            out.handles.push(rt.handle().clone());
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            out.stops.push(stop);
            let thread = std::thread::Builder::new().name(format!("instance-{i}")).spawn(move || {
                let _ = rt.block_on(stopped);
            });
            out.threads.push(thread.expect("thread"));
        }
        out
    }

    fn stop(self) {
        drop(self.stops);
        for thread in self.threads {
            thread.join().expect("instance thread");
        }
    }
}

fn main() {
    let args = args();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let runtimes = Runtimes::new(args.threads);
        let local: Rooms = Hub::new(hub_config());
        // The in-process reference stays on the main thread: one instance serving 3 × SUBS.
        let main = vec![Handle::current(); 3];
        run("in-process", &[local], &main, &args).await;

        let mut hubs = Vec::new();
        let mut clusters = Vec::new();
        for runtime in &runtimes.handles {
            let config = ClusterConfig::new(args.redis.clone()).prefix("bench").outbox_capacity(1 << 16);
            // Each instance's backend task runs on its own runtime.
            let started = runtime.spawn(RedisCluster::<String, String>::start::<Tokio>(config, hub_config()));
            let (hub, cluster) = started.await.expect("start task").expect("redis");
            hubs.push(hub);
            clusters.push(cluster);
        }
        run("redis", &hubs, &runtimes.handles, &args).await;
        for (i, cluster) in clusters.iter().enumerate() {
            println!("redis instance {i}: {:?}", cluster.stats());
        }
        drop(hubs);
        runtimes.stop();
    });
}
