//! Turns measurements into the markdown tables of benches/README.md: `report framing DIR` reads
//! criterion's `estimates.json` files under DIR; `report echo FILE` reads the load
//! generator's `key=value` lines collected by `run.sh` and takes medians over rounds;
//! `report chart FILE` draws the README's headline chart (SVG) from the same lines. No
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
        ["chart", file] => chart(Path::new(file)),
        _ => Err("usage: report framing CRITERION_DIR | report echo RESULTS_FILE | report chart RESULTS_FILE".into()),
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
/// The load generator's results, grouped: (scenario, server) -> samples.
#[derive(Default)]
struct Results {
    tput: BTreeMap<(String, String), Vec<f64>>,
    cpu: BTreeMap<(String, String), Vec<f64>>,
    gen_cpu: BTreeMap<(String, String), Vec<f64>>,
    p50: BTreeMap<String, Vec<f64>>,
    p99: BTreeMap<String, Vec<f64>>,
    mem: BTreeMap<String, Vec<f64>>,
    servers: Vec<String>,
    scenarios: Vec<String>,
}

fn parse_results(text: &str) -> Results {
    let mut r = Results::default();
    for line in text.lines() {
        let kv: BTreeMap<&str, &str> = line.split_whitespace().filter_map(|w| w.split_once('=')).collect();
        let (Some(server), Some(mode)) = (kv.get("server"), kv.get("mode")) else { continue };
        let server = server.to_string();
        if !r.servers.contains(&server) {
            r.servers.push(server.clone());
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
                if !r.scenarios.contains(&scenario) {
                    r.scenarios.push(scenario.clone());
                }
                if let Some(v) = num("gen_cpu_pct") {
                    r.gen_cpu.entry((scenario.clone(), server.clone())).or_default().push(v);
                }
                if let Some(v) = num("server_cpu_pct") {
                    r.cpu.entry((scenario.clone(), server.clone())).or_default().push(v);
                }
                if let Some(v) = num("msgs_per_sec") {
                    r.tput.entry((scenario, server)).or_default().push(v);
                }
            }
            "latency" => {
                if let (Some(a), Some(b)) = (num("p50_us"), num("p99_us")) {
                    r.p50.entry(server.clone()).or_default().push(a);
                    r.p99.entry(server).or_default().push(b);
                }
            }
            "idle" => {
                if let Some(v) = num("bytes_per_conn") {
                    r.mem.entry(server).or_default().push(v);
                }
            }
            _ => {}
        }
    }
    r
}

fn med(v: Option<&Vec<f64>>) -> Option<f64> {
    v.map(|v| median(&mut v.clone()))
}

fn echo(file: &Path) -> Result<String, Error> {
    let Results { tput, cpu, gen_cpu, p50, p99, mem, servers, scenarios } =
        parse_results(&std::fs::read_to_string(file)?);
    let reference = servers.iter().find(|s| s.contains("tungstenite-forward")).cloned();
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

/// The libraries the headline chart compares, in order, with their labels.
const CHART_SERVERS: &[(&str, &str)] = &[
    ("tether-tokio", "Tether (tokio)"),
    ("tether-smol", "Tether (smol)"),
    ("tether-async-std", "Tether (async-std)"),
    ("tungstenite-forward", "tokio-tungstenite (forward)"),
    ("tokio-websockets", "tokio-websockets"),
    ("fastwebsockets", "fastwebsockets"),
    ("tungstenite-loop", "tokio-tungstenite (loop)"),
];

/// A chart panel: its title, its bars (label, value) and how a value is printed.
type Panel = (String, Vec<(String, f64)>, fn(f64) -> String);

/// The README's headline chart: one panel of horizontal bars per small-message echo scenario
/// (messages/s, medians) and one of idle memory per connection, for the servers in
/// [`CHART_SERVERS`] that the results have. Plain SVG, no script, readable on GitHub.
fn chart(file: &Path) -> Result<String, Error> {
    let r = parse_results(&std::fs::read_to_string(file)?);
    let present: Vec<(&str, &str)> =
        CHART_SERVERS.iter().copied().filter(|(s, _)| r.servers.iter().any(|x| x == s)).collect();
    if present.is_empty() {
        return Err("no server of the chart in the results".into());
    }
    let mut panels: Vec<Panel> = Vec::new();
    for scenario in r.scenarios.iter().filter(|s| s.ends_with("@ 16 B") || s.ends_with("@ 1 KiB")) {
        let bars = present
            .iter()
            .filter_map(|(s, label)| {
                med(r.tput.get(&(scenario.clone(), s.to_string()))).map(|v| (label.to_string(), v))
            })
            .collect();
        panels.push((format!("Echo, {scenario} — messages/s (higher is better)"), bars, |v| thousands(v)));
    }
    let mem_bars: Vec<(String, f64)> =
        present.iter().filter_map(|(s, label)| med(r.mem.get(*s)).map(|v| (label.to_string(), v))).collect();
    if !mem_bars.is_empty() {
        panels.push(("Memory per idle connection — bytes (lower is better)".into(), mem_bars, |v| {
            format!("{} B", thousands(v))
        }));
    }
    let (width, label_w, bar_w, row_h, title_h, gap) = (760.0, 210.0, 420.0, 22.0, 28.0, 18.0);
    let height: f64 = panels.iter().map(|(_, bars, _)| title_h + row_h * bars.len() as f64 + gap).sum::<f64>() + 30.0;
    let mut out = String::new();
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0}" viewBox="0 0 {width} {height:.0}" font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="13">"#
    )?;
    writeln!(out, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##)?;
    let mut y = 10.0;
    for (title, bars, fmt) in &panels {
        writeln!(out, r##"<text x="0" y="{:.0}" font-weight="bold" fill="#222">{}</text>"##, y + 16.0, escape(title))?;
        y += title_h;
        let max = bars.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0);
        for (label, value) in bars {
            let w = (value / max * bar_w).max(1.0);
            let tether = label.starts_with("Tether");
            let fill = if tether { "#2b6cb0" } else { "#a0aec0" };
            writeln!(
                out,
                r##"<text x="{:.0}" y="{:.0}" text-anchor="end" fill="#222">{}</text><rect x="{label_w}" y="{:.0}" width="{w:.1}" height="{:.0}" fill="{fill}"/><text x="{:.1}" y="{:.0}" fill="#222">{}</text>"##,
                label_w - 8.0,
                y + 15.0,
                escape(label),
                y + 3.0,
                row_h - 6.0,
                label_w + w + 6.0,
                y + 15.0,
                escape(&fmt(*value))
            )?;
            y += row_h;
        }
        y += gap;
    }
    writeln!(
        out,
        r##"<text x="0" y="{:.0}" font-size="11" fill="#555">N×M: N connections, M messages in flight on each; loopback, each server on one core. Method and every number: benches/README.md</text>"##,
        y + 4.0
    )?;
    writeln!(out, "</svg>")?;
    Ok(out)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
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
