//! Resource usage figures and pure parsers of cgroupfs key/value files.

use serde::{Deserialize, Serialize};

/// A container's resource usage and limits; `None` limit means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Total CPU time consumed, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Memory in use, counted like `docker stats` (page cache that can be
    /// dropped, i.e. inactive file pages, excluded).
    pub memory_usage: u64,
    pub memory_limit: Option<u64>,
    pub pids_current: u64,
    pub pids_limit: Option<u64>,
}

/// v1 reports "no limit" as a huge page-aligned number (about i64::MAX);
/// anything from 2^62 bytes on is treated as unlimited.
const V1_UNLIMITED_FROM: u64 = 1 << 62;

/// Looks up `key` in a flat-keyed file ("key value" per line), e.g.
/// memory.stat, memory.events, memory.oom_control or cpu.stat.
pub fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        if parts.next()? != key {
            return None;
        }
        parts.next()?.parse().ok()
    })
}

/// Parses a limit file: "max" (v2) or a v1 "unlimited" sentinel → `None`.
pub fn parse_limit(text: &str) -> Option<Option<u64>> {
    let text = text.trim();
    if text == "max" {
        return Some(None);
    }
    let value: u64 = text.parse().ok()?;
    Some((value < V1_UNLIMITED_FROM).then_some(value))
}

/// Docker's memory usage: total usage minus inactive file cache, never negative.
pub fn docker_memory_usage(usage: u64, inactive_file: u64) -> u64 {
    usage.saturating_sub(inactive_file)
}

/// Whether an oom_control (v1) or memory.events (v2) text records an OOM kill.
pub fn oom_killed(text: &str) -> bool {
    super::usage::oom_kills(text) > 0
}

/// Parses cgroup.procs: one pid per line; `None` if any line is not a pid.
pub fn parse_pids(text: &str) -> Option<Vec<i32>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_OOM_CONTROL: &str = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
    const V2_MEMORY_EVENTS: &str = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\noom_group_kill 0\n";

    #[test]
    fn keyed_values_match_whole_keys_only() {
        let stat = "inactive_file 100\ntotal_inactive_file 4096\nrss 7\n";
        assert_eq!(keyed_value(stat, "inactive_file"), Some(100));
        assert_eq!(keyed_value(stat, "total_inactive_file"), Some(4096));
        assert_eq!(keyed_value(stat, "file"), None);
        assert_eq!(keyed_value("usage_usec abc\n", "usage_usec"), None);
    }

    #[test]
    fn oom_kill_counter_decides() {
        assert!(oom_killed(V1_OOM_CONTROL));
        // "oom 1" alone (allocation failure without a kill) is not a kill.
        assert!(!oom_killed(V2_MEMORY_EVENTS));
        assert!(!oom_killed("oom_kill_disable 0\nunder_oom 0\n"));
    }

    #[test]
    fn limits_recognise_unlimited_sentinels() {
        assert_eq!(parse_limit("max\n"), Some(None));
        assert_eq!(parse_limit("9223372036854771712\n"), Some(None));
        assert_eq!(parse_limit("67108864\n"), Some(Some(67108864)));
        assert_eq!(parse_limit("lots"), None);
    }

    #[test]
    fn memory_usage_excludes_inactive_file_cache() {
        assert_eq!(docker_memory_usage(10_000, 4_000), 6_000);
        assert_eq!(docker_memory_usage(1_000, 4_000), 0);
    }

    #[test]
    fn pids_parse_one_per_line() {
        assert_eq!(parse_pids("12\n345\n"), Some(vec![12, 345]));
        assert_eq!(parse_pids(""), Some(vec![]));
        assert_eq!(parse_pids("12\nx\n"), None);
    }
}
