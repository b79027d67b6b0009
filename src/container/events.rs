//! The runtime's event log: what happened to each container (create,
//! start, die, kill, oom, destroy, exec_create, exec_start, health_status),
//! one Docker event message per line under `ROOT/events/`. Every writer
//! (a monitor, `rm`, `kill`, `exec`) appends one line with O_APPEND; the
//! log is rotated once past a size limit, so it stays bounded: the current
//! file and one rotated file are kept.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use serde_json::{json, Value};

use super::ContainerConfig;

/// Past this size the current file is rotated (two files are kept).
pub const DEFAULT_LIMIT: u64 = 1 << 20;

#[derive(Debug, Clone)]
pub struct EventLog {
    dir: PathBuf,
    limit: u64,
}

impl EventLog {
    pub fn open(root: &Path) -> EventLog {
        EventLog::with_limit(root, DEFAULT_LIMIT)
    }

    pub fn with_limit(root: &Path, limit: u64) -> EventLog {
        EventLog {
            dir: root.join("events"),
            limit,
        }
    }

    /// The file being written.
    pub fn current(&self) -> PathBuf {
        self.dir.join("events.jsonl")
    }

    /// The older file, replaced at each rotation.
    pub fn rotated(&self) -> PathBuf {
        self.dir.join("events.jsonl.1")
    }

    /// Appends `message`; a failure to log never fails the operation logged.
    pub fn record(&self, message: &Value) {
        let _ = std::fs::create_dir_all(&self.dir);
        self.rotate_if_full();
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        if let Ok(mut file) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.current())
        {
            // One write per line: concurrent appenders never interleave.
            let _ = file.write_all(&line);
        }
    }

    /// Under a lock, so two writers past the limit rotate once, not twice
    /// (the second rename would drop the first's file).
    fn rotate_if_full(&self) {
        let full = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.len() >= self.limit);
        if !full(&self.current()) {
            return;
        }
        let Ok(file) = File::create(self.dir.join("events.lock")) else {
            return;
        };
        let Ok(_lock) = Flock::lock(file, FlockArg::LockExclusive) else {
            return;
        };
        if full(&self.current()) {
            let _ = std::fs::rename(self.current(), self.rotated());
        }
    }

    /// Every kept message, oldest first.
    pub fn read_all(&self) -> Vec<Value> {
        [self.rotated(), self.current()]
            .iter()
            .flat_map(|p| parse_lines(&std::fs::read_to_string(p).unwrap_or_default()))
            .collect()
    }
}

pub fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Docker's event message for `action` on container `c` at `now`: the
/// actor's attributes are its image, name and labels, plus `extra`
/// (`exitCode`, `signal`, `execID`).
pub fn message(
    c: &ContainerConfig,
    action: &str,
    extra: &[(&str, String)],
    now: SystemTime,
) -> Value {
    let mut attributes: BTreeMap<String, String> = c.labels.clone();
    attributes.insert("image".into(), c.image.clone());
    attributes.insert("name".into(), c.name.clone());
    for (k, v) in extra {
        attributes.insert(k.to_string(), v.clone());
    }
    let nanos = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    json!({
        "status": action,
        "id": c.id,
        "from": c.image,
        "Type": "container",
        "Action": action,
        "Actor": {"ID": c.id, "Attributes": attributes},
        "scope": "local",
        "time": nanos.as_secs(),
        "timeNano": nanos.as_nanos() as u64,
    })
}

/// Records `action` on `c` now, in the log under `root`.
pub fn emit(root: &Path, c: &ContainerConfig, action: &str, extra: &[(&str, String)]) {
    EventLog::open(root).record(&message(c, action, extra, SystemTime::now()));
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
