//! What the load generators read about processes from `/proc`: their own CPU time and a
//! server's resident memory. Linux only, like the benchmarks.

/// CPU time (user + system) this process has used, from `/proc/self/stat`, in seconds;
/// 0 if unavailable (then the reported share is meaningless, not wrong silently: it is 0).
pub fn own_cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    // USER_HZ is 100 on every Linux configuration this runs on.
    ticks / 100.0
}

/// A process's resident set size in KiB (`VmRSS` of `/proc/PID/status`).
///
/// # Errors
/// When the process is gone or the field is missing.
pub fn vm_rss_kib(pid: usize) -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).ok_or("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).ok_or("bad VmRSS")?.parse()?)
}
