//! The full usage sample Prometheus metrics need (cAdvisor's figures): the
//! cgroupfs files are read as text by the backends, parsed here.

use serde::{Deserialize, Serialize};

use super::stats::{keyed_value, parse_limit};

/// Which cgroup version the files come from: names and units differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    V1,
    V2,
}

/// The text of each file one sample reads; `None` where the file is absent
/// (a controller not enabled, a kernel too old for `memory.peak`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageFiles {
    /// v1 `cpuacct.usage` (ns); v2 has usage in `cpu.stat`.
    pub cpuacct_usage: Option<String>,
    /// `cpu.stat`: periods and throttling (v1 ns, v2 µs), v2 usage too.
    pub cpu_stat: Option<String>,
    /// v1 `memory.usage_in_bytes`, v2 `memory.current`.
    pub memory_current: Option<String>,
    pub memory_stat: Option<String>,
    /// v1 `memory.limit_in_bytes`, v2 `memory.max`.
    pub memory_limit: Option<String>,
    /// v1 `memory.max_usage_in_bytes`, v2 `memory.peak`.
    pub memory_peak: Option<String>,
    /// v1 `memory.failcnt`; v2's equivalent is `max` in memory.events.
    pub memory_failcnt: Option<String>,
    /// v1 `memory.oom_control`, v2 `memory.events`.
    pub memory_events: Option<String>,
    pub pids_current: Option<String>,
    /// v2 `io.stat` (v1 rcorch does not join blkio: see `proc_io`).
    pub io_stat: Option<String>,
}

/// Bytes moved on one block device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceIo {
    pub major: u32,
    pub minor: u32,
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// One sample in cAdvisor's terms; nanoseconds and bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub cpu_usage_ns: u64,
    pub cpu_periods: u64,
    pub cpu_throttled_periods: u64,
    pub cpu_throttled_ns: u64,
    /// Everything charged, page cache included (cAdvisor's usage).
    pub memory_usage: u64,
    /// Usage minus inactive file pages (what the OOM killer weighs).
    pub memory_working_set: u64,
    pub memory_rss: u64,
    pub memory_cache: u64,
    pub memory_limit: Option<u64>,
    pub memory_max_usage: Option<u64>,
    pub memory_failcnt: u64,
    pub oom_kills: u64,
    pub pids: u64,
    pub io: Vec<DeviceIo>,
}

fn number(text: &Option<String>) -> u64 {
    text.as_deref()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

fn key(text: &Option<String>, name: &str) -> u64 {
    text.as_deref()
        .and_then(|t| keyed_value(t, name))
        .unwrap_or(0)
}

/// Parses one sample; absent or garbled files count as zero (a metric
/// must not vanish because one controller is off).
pub fn parse_usage(flavor: Flavor, f: &UsageFiles) -> Usage {
    let memory_usage = number(&f.memory_current);
    let (cpu_usage_ns, throttled_ns, inactive, rss, cache, failcnt) = match flavor {
        Flavor::V1 => (
            number(&f.cpuacct_usage),
            key(&f.cpu_stat, "throttled_time"),
            key(&f.memory_stat, "total_inactive_file"),
            key(&f.memory_stat, "total_rss"),
            key(&f.memory_stat, "total_cache"),
            number(&f.memory_failcnt),
        ),
        Flavor::V2 => (
            key(&f.cpu_stat, "usage_usec") * 1000,
            key(&f.cpu_stat, "throttled_usec") * 1000,
            key(&f.memory_stat, "inactive_file"),
            key(&f.memory_stat, "anon"),
            key(&f.memory_stat, "file"),
            key(&f.memory_events, "max"),
        ),
    };
    Usage {
        cpu_usage_ns,
        cpu_periods: key(&f.cpu_stat, "nr_periods"),
        cpu_throttled_periods: key(&f.cpu_stat, "nr_throttled"),
        cpu_throttled_ns: throttled_ns,
        memory_usage,
        memory_working_set: memory_usage.saturating_sub(inactive),
        memory_rss: rss,
        memory_cache: cache,
        memory_limit: f.memory_limit.as_deref().and_then(parse_limit).flatten(),
        memory_max_usage: f.memory_peak.as_deref().and_then(|t| t.trim().parse().ok()),
        memory_failcnt: failcnt,
        oom_kills: f.memory_events.as_deref().map(oom_kills).unwrap_or(0),
        pids: number(&f.pids_current),
        io: f.io_stat.as_deref().map(parse_io_stat).unwrap_or_default(),
    }
}

/// OOM kills recorded in v2 `memory.events` or v1 `memory.oom_control`.
/// Kernels before 4.13 have no v1 `oom_kill` counter: `under_oom 1` (the
/// cgroup is in OOM right now) then counts as one.
pub fn oom_kills(text: &str) -> u64 {
    keyed_value(text, "oom_kill")
        .unwrap_or_else(|| keyed_value(text, "under_oom").unwrap_or(0).min(1))
}

/// Parses v2 `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N ...` per line.
pub fn parse_io_stat(text: &str) -> Vec<DeviceIo> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (major, minor) = words.next()?.split_once(':')?;
            let mut io = DeviceIo {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                read_bytes: 0,
                write_bytes: 0,
            };
            for word in words {
                match word.split_once('=') {
                    Some(("rbytes", n)) => io.read_bytes = n.parse().unwrap_or(0),
                    Some(("wbytes", n)) => io.write_bytes = n.parse().unwrap_or(0),
                    _ => {}
                }
            }
            Some(io)
        })
        .collect()
}

/// `read_bytes`/`write_bytes` of a `/proc/PID/io` file: block I/O of the
/// process and of the children it reaped, for layouts without io.stat.
pub fn parse_proc_io(text: &str) -> (u64, u64) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("read_bytes"), field("write_bytes"))
}

#[cfg(test)]
#[path = "usage_tests.rs"]
pub(crate) mod tests;
