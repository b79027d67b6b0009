//! Read-only scans of /proc: which mounts and processes mention a path.

use std::collections::HashSet;
use std::fs;

pub fn pid_alive(pid: i32) -> bool {
    // A zombie still has /proc/<pid>; count it as dead.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn mentions(text: &str, root: &str) -> bool {
    text.match_indices(root).any(|(i, _)| {
        matches!(
            text[i + root.len()..].chars().next(),
            None | Some('/' | ' ' | ',' | '\0' | '\n')
        )
    })
}

fn all_pids() -> Vec<i32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Mountinfo lines mentioning `root`, one scan per mount namespace.
pub fn mounts_mentioning(root: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for pid in all_pids() {
        let Ok(ns) = fs::read_link(format!("/proc/{pid}/ns/mnt")) else {
            continue;
        };
        if !seen.insert(ns.clone()) {
            continue;
        }
        let Ok(info) = fs::read_to_string(format!("/proc/{pid}/mountinfo")) else {
            continue;
        };
        for line in info.lines().filter(|l| mentions(l, root)) {
            found.push(format!("[{} pid {pid}] {line}", ns.display()));
        }
    }
    found
}

/// Mount points under `root` in the test's own mount namespace.
pub fn own_mounts_under(root: &str) -> Vec<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| mentions(mp, root))
        .map(str::to_string)
        .collect()
}

/// Live processes whose command line mentions `root`.
pub fn processes_mentioning(root: &str) -> Vec<String> {
    let me = std::process::id() as i32;
    all_pids()
        .into_iter()
        .filter(|&pid| pid != me && pid_alive(pid))
        .filter_map(|pid| {
            let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
            mentions(&cmd, root).then(|| format!("{pid}: {}", cmd.trim_end()))
        })
        .collect()
}
