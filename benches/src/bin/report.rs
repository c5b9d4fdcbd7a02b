//! Turns measurements into the markdown tables of the README: `report framing DIR` reads
//! criterion's `estimates.json` files under DIR; `report echo FILE` reads the load
//! generator's `key=value` lines collected by `run.sh` and takes medians over rounds. No
//! measuring here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use tether_benches::stats::{median, range};

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["framing", dir] => framing(Path::new(dir)),
        ["echo", file] => echo(Path::new(file)),
        _ => Err("usage: report framing CRITERION_DIR | report echo RESULTS_FILE".into()),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("report: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Bench {
    id: String,
    median_ns: f64,
    bytes: f64,
}

/// Frames per iteration, from the group name (`…x100k` = 100 000, else 1).
fn frames_of(group: &str) -> f64 {
    if group.contains("x100k") {
        100_000.0
    } else {
        1.0
    }
}

/// Each group's yardstick: the physical reference where there is one, else Tether.
fn baseline_of(group: &str) -> &'static str {
    if group.starts_with("mask/") {
        "plain-xor"
    } else if group.starts_with("utf8/") {
        "simdutf8-basic"
    } else {
        "tether"
    }
}

fn framing(dir: &Path) -> Result<String, Error> {
    let mut groups: BTreeMap<String, Vec<Bench>> = BTreeMap::new();
    for group_dir in std::fs::read_dir(dir)? {
        let group_dir = group_dir?.path();
        if !group_dir.is_dir() {
            continue;
        }
        for bench_dir in std::fs::read_dir(&group_dir)? {
            let bench_dir = bench_dir?.path();
            let (Ok(meta), Ok(est)) = (
                std::fs::read_to_string(bench_dir.join("new/benchmark.json")),
                std::fs::read_to_string(bench_dir.join("new/estimates.json")),
            ) else {
                continue;
            };
            let meta: serde_json::Value = serde_json::from_str(&meta)?;
            let est: serde_json::Value = serde_json::from_str(&est)?;
            let group = meta["group_id"].as_str().ok_or("no group_id")?.to_string();
            let id = meta["function_id"].as_str().or(meta["value_str"].as_str()).unwrap_or("?").to_string();
            let median_ns = est["median"]["point_estimate"].as_f64().ok_or("no median")?;
            let bytes = meta["throughput"]["Bytes"].as_f64().unwrap_or(0.0);
            groups.entry(group).or_default().push(Bench { id, median_ns, bytes });
        }
    }
    if groups.is_empty() {
        return Err(format!("no criterion results under {}", dir.display()).into());
    }
    let order = ["decode/", "decode-text/", "encode/", "mask/", "utf8/"];
    let mut names: Vec<&String> = groups.keys().collect();
    names.sort_by_key(|g| (order.iter().position(|p| g.starts_with(p)).unwrap_or(order.len()), (*g).clone()));
    let mut out = String::new();
    writeln!(
        out,
        "| benchmark | implementation | median time | ns/frame | GB/s (payload) | throughput ÷ yardstick's |"
    )?;
    writeln!(out, "|---|---|---:|---:|---:|---:|")?;
    for group in names {
        let benches = &groups[group];
        let base_name = baseline_of(group);
        let base = benches.iter().find(|b| b.id == base_name).map(|b| b.median_ns);
        let mut sorted: Vec<&Bench> = benches.iter().collect();
        sorted.sort_by(|a, b| a.median_ns.total_cmp(&b.median_ns));
        for b in sorted {
            let frames = frames_of(group);
            let per_frame = if frames > 1.0 { format!("{:.1}", b.median_ns / frames) } else { "–".into() };
            let ratio = base.map_or("–".into(), |base| format!("{:.2}× {base_name}", base / b.median_ns));
            writeln!(
                out,
                "| {group} | {} | {} | {per_frame} | {:.2} | {ratio} |",
                b.id,
                human_time(b.median_ns),
                b.bytes / b.median_ns
            )?;
        }
    }
    Ok(out)
}

fn human_time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Lines look like `server=NAME mode=throughput conns=64 … msgs_per_sec=123`.
fn echo(file: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(file)?;
    // (scenario, server) -> samples of the scenario's headline number(s).
    let mut tput: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    let mut cpu: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    let mut gen_cpu: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    let mut p50: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut p99: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut mem: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut servers: Vec<String> = Vec::new();
    let mut scenarios: Vec<String> = Vec::new();
    for line in text.lines() {
        let kv: BTreeMap<&str, &str> = line.split_whitespace().filter_map(|w| w.split_once('=')).collect();
        let (Some(server), Some(mode)) = (kv.get("server"), kv.get("mode")) else { continue };
        let server = server.to_string();
        if !servers.contains(&server) {
            servers.push(server.clone());
        }
        let num = |k: &str| kv.get(k).and_then(|v| v.parse::<f64>().ok());
        match *mode {
            "throughput" => {
                let scenario = format!(
                    "{}×{} @ {}",
                    kv.get("conns").unwrap_or(&"?"),
                    kv.get("inflight").unwrap_or(&"?"),
                    size_name(kv.get("size").unwrap_or(&"?"))
                );
                if !scenarios.contains(&scenario) {
                    scenarios.push(scenario.clone());
                }
                if let Some(v) = num("gen_cpu_pct") {
                    gen_cpu.entry((scenario.clone(), server.clone())).or_default().push(v);
                }
                if let Some(v) = num("server_cpu_pct") {
                    cpu.entry((scenario.clone(), server.clone())).or_default().push(v);
                }
                if let Some(v) = num("msgs_per_sec") {
                    tput.entry((scenario, server)).or_default().push(v);
                }
            }
            "latency" => {
                if let (Some(a), Some(b)) = (num("p50_us"), num("p99_us")) {
                    p50.entry(server.clone()).or_default().push(a);
                    p99.entry(server).or_default().push(b);
                }
            }
            "idle" => {
                if let Some(v) = num("bytes_per_conn") {
                    mem.entry(server).or_default().push(v);
                }
            }
            _ => {}
        }
    }
    let reference = servers.iter().find(|s| s.contains("tungstenite-forward")).cloned();
    let med = |v: Option<&Vec<f64>>| v.map(|v| median(&mut v.clone()));
    let mut out = String::new();
    write!(out, "| server |")?;
    for s in &scenarios {
        write!(out, " {s} msg/s (× tt-fwd) |")?;
    }
    writeln!(out, " ping-pong p50 (range over rounds) / p99 µs | idle RSS B/conn |")?;
    write!(out, "|---|")?;
    for _ in &scenarios {
        write!(out, "---:|")?;
    }
    writeln!(out, "---:|---:|")?;
    for server in &servers {
        write!(out, "| {server} |")?;
        for s in &scenarios {
            let v = med(tput.get(&(s.clone(), server.clone())));
            let r = reference.as_ref().and_then(|r| med(tput.get(&(s.clone(), r.clone()))));
            match (v, r) {
                (Some(v), Some(r)) => write!(out, " {} ({:.2}×) |", thousands(v), v / r)?,
                (Some(v), None) => write!(out, " {} |", thousands(v))?,
                _ => write!(out, " – |")?,
            }
        }
        match (p50.get(server), med(p99.get(server))) {
            (Some(samples), Some(b)) => {
                let (lo, hi) = range(samples);
                write!(out, " {:.1} ({lo:.1}–{hi:.1}) / {b:.1} |", median(&mut samples.clone()))?;
            }
            _ => write!(out, " – |")?,
        }
        match med(mem.get(server)) {
            Some(m) => writeln!(out, " {m:.0} |")?,
            None => writeln!(out, " – |")?,
        }
    }
    let raws = ["raw", "raw-owned"];
    if servers.iter().any(|s| s == raws[0]) {
        writeln!(out)?;
        writeln!(
            out,
            "Against the raw references (throughput ÷ raw's / ÷ raw-owned's; raw-owned is raw plus one owned payload allocation per message):"
        )?;
        writeln!(out)?;
        scenario_header(&mut out, &scenarios)?;
        for server in servers.iter().filter(|s| !raws.contains(&s.as_str())) {
            write!(out, "| {server} |")?;
            for s in &scenarios {
                let of = |name: &str| med(tput.get(&(s.clone(), name.to_string())));
                let ratio = |base: Option<f64>| match (of(server), base) {
                    (Some(v), Some(b)) => format!("{:.2}×", v / b),
                    _ => "–".into(),
                };
                write!(out, " {} / {} |", ratio(of(raws[0])), ratio(of(raws[1])))?;
            }
            writeln!(out)?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Spread over rounds (lowest – highest msg/s, and the number of rounds) — how far one median can be trusted:"
    )?;
    writeln!(out)?;
    scenario_header(&mut out, &scenarios)?;
    for server in &servers {
        write!(out, "| {server} |")?;
        for s in &scenarios {
            match tput.get(&(s.clone(), server.clone())) {
                Some(v) if !v.is_empty() => {
                    let (lo, hi) = range(v);
                    write!(out, " {} – {} ({}) |", thousands(lo), thousands(hi), v.len())?;
                }
                _ => write!(out, " – |")?,
            }
        }
        writeln!(out)?;
    }
    writeln!(out)?;
    writeln!(out, "CPU busy, server % / generator % of their one core (medians; server over the whole run, generator over the measured window) — who was saturated:")?;
    writeln!(out)?;
    scenario_header(&mut out, &scenarios)?;
    for server in &servers {
        write!(out, "| {server} |")?;
        for s in &scenarios {
            let key = (s.clone(), server.clone());
            match (med(cpu.get(&key)), med(gen_cpu.get(&key))) {
                (Some(a), Some(b)) => write!(out, " {a:.0} / {b:.0} |")?,
                (Some(a), None) => write!(out, " {a:.0} / – |")?,
                _ => write!(out, " – |")?,
            }
        }
        writeln!(out)?;
    }
    Ok(out)
}

/// The header of a table with one column per scenario after the server's name.
fn scenario_header(out: &mut String, scenarios: &[String]) -> std::fmt::Result {
    write!(out, "| server |")?;
    for s in scenarios {
        write!(out, " {s} |")?;
    }
    writeln!(out)?;
    write!(out, "|---|")?;
    for _ in scenarios {
        write!(out, "---:|")?;
    }
    writeln!(out)
}

fn size_name(size: &str) -> String {
    match size.parse::<usize>() {
        Ok(n) if n >= 1024 && n % 1024 == 0 => format!("{} KiB", n / 1024),
        Ok(n) => format!("{n} B"),
        Err(_) => size.to_string(),
    }
}

fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}
