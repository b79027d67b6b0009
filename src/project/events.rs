//! The project's event stream: what the supervisor did and why, one JSON
//! object per line, read by `rcorch events`. Kept bounded as the runtime's
//! log is: past `LIMIT` the file moves to `events.log.1` (replacing the
//! previous one), so at most two files, ~2 MiB, are kept for `--since`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::util::time::now_rfc3339;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub time: String,
    pub service: String,
    pub slot: u32,
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The replica's container name when it was known (a surge replica's
    /// carries its `-rREV` suffix); empty in older logs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// A failed start's exit code as `run` gives it (126: cannot execute,
    /// 127: not found, 125: setup) and the revision it tried: what `up`
    /// needs to tell a command that can never run from a passing failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
}

impl Event {
    pub fn new(service: &str, slot: u32, action: &str, container: &str, detail: String) -> Event {
        Event {
            time: now_rfc3339(),
            service: service.to_string(),
            slot,
            action: action.to_string(),
            container: container.to_string(),
            detail,
            name: String::new(),
            code: None,
            revision: None,
        }
    }

    /// Slot 0 marks a service-wide event (no replica): shown as the service.
    pub fn line(&self) -> String {
        let name = match self.slot {
            0 => self.service.clone(),
            slot => format!("{}-{slot}", self.service),
        };
        let container = if self.container.is_empty() {
            String::new()
        } else {
            format!(" {}", &self.container)
        };
        format!(
            "{} {name} {}{container} {}",
            self.time, self.action, self.detail
        )
        .trim_end()
        .to_string()
    }
}

/// The size past which the log is rotated.
pub const LIMIT: u64 = 1 << 20;

/// Whether a log of `size` bytes is rotated before a line of `line` bytes
/// is appended: when the line would take it past `limit`. An empty file
/// takes any line, so one longer than the limit is still kept.
pub fn should_rotate(size: u64, line: u64, limit: u64) -> bool {
    let room = limit.saturating_sub(size);
    size > 0 && line > room
}

/// Where the log at `path` is rotated to.
pub fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// Appends one event; failures to log never stop the supervisor.
pub fn append(path: &Path, event: &Event) {
    append_bounded(path, event, LIMIT);
}

/// `append`, rotating past `limit`. Only the project's supervisor writes
/// (it holds the supervisor lock), so the rename needs no lock of its own;
/// a reader following the file sees its inode change and reopens it.
pub fn append_bounded(path: &Path, event: &Event, limit: u64) {
    let mut line = serde_json::to_vec(event).expect("plain data serialises");
    line.push(b'\n');
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if should_rotate(size, line.len() as u64, limit) {
        let _ = std::fs::rename(path, rotated(path));
    }
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // One write per line, so a reader never sees half of one.
        let _ = file.write_all(&line);
    }
}

/// Every kept event, oldest first (the rotated file, then the current one).
pub fn read(path: &Path) -> Vec<Event> {
    [rotated(path), path.to_path_buf()]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect::<Vec<_>>()
        .iter()
        .flat_map(|text| text.lines())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_only_when_the_line_would_pass_the_limit() {
        assert!(!should_rotate(0, 10, 100), "nothing to rotate");
        assert!(!should_rotate(0, 500, 100), "an empty file takes any line");
        assert!(!should_rotate(90, 10, 100), "exactly at the limit");
        assert!(should_rotate(91, 10, 100));
        assert!(should_rotate(100, 1, 100));
        assert!(!should_rotate(u64::MAX - 1, 0, u64::MAX));
        assert!(should_rotate(u64::MAX, 1, u64::MAX), "no overflow");
    }

    #[test]
    fn the_log_stays_bounded_and_reads_oldest_first_across_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        // A fixed time: every line is as long as the others.
        let event = |n: u32| Event {
            time: "2026-01-01T00:00:00Z".into(),
            ..Event::new("web", n, "start", "", format!("n{n:03}"))
        };
        let one = serde_json::to_vec(&event(0)).unwrap().len() as u64 + 1;
        // Three lines per file: 10 appends rotate three times.
        for n in 0..10 {
            append_bounded(&path, &event(n), 3 * one);
        }
        assert_eq!(rotated(&path), dir.path().join("events.log.1"));
        for p in [&path, &rotated(&path)] {
            assert!(std::fs::metadata(p).unwrap().len() <= 3 * one);
        }
        let kept: Vec<String> = read(&path).into_iter().map(|e| e.detail).collect();
        // The two oldest files' lines are gone; the rest in order.
        assert_eq!(kept, ["n006", "n007", "n008", "n009"]);
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 2, "the current file and one rotated");
    }
}
