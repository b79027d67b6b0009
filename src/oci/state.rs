//! The runtime's own record of a container, one directory per id under
//! `--root`: `state.json` and, until `start`, the exec fifo. The status is
//! derived, never stored: the init's pid (checked against its start time so
//! a reused pid is not mistaken for it) and whether the fifo is still there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::spec_map::HostHooks;
use super::OciError;
use crate::cgroups::systemd::naming::OciScope;
use crate::runtime::sys;

pub const OCI_VERSION: &str = "1.0.2";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub pid: i32,
    pub start_ticks: Option<u64>,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub annotations: BTreeMap<String, String>,
    pub cgroups_path: String,
    /// Directories in the v1 hierarchies beyond rcorch's four (cpuset, devices…).
    #[serde(default)]
    pub extra_cgroups: Vec<PathBuf>,
    pub hooks: HostHooks,
    /// The transient scope systemd made for it (`--systemd-cgroup` where
    /// systemd is PID 1); `cgroups_path` is that scope's cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_scope: Option<OciScope>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// A process that exited but was not reaped yet has stopped too.
fn alive(pid: i32, ticks: Option<u64>) -> bool {
    if pid <= 0 || !sys::same_process_alive(pid, ticks) {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    !matches!(state, Some('Z') | Some('X') | None)
}

pub struct StateDir {
    pub root: PathBuf,
}

impl StateDir {
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }
    pub fn fifo(&self, id: &str) -> PathBuf {
        self.dir(id).join("exec.fifo")
    }

    pub fn load(&self, id: &str) -> Result<Record, OciError> {
        check_id(id)?;
        let path = self.dir(id).join("state.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|_| OciError::NotFound { id: id.to_string() })?;
        serde_json::from_str(&text).map_err(|e| OciError::Corrupt {
            path,
            message: e.to_string(),
        })
    }

    pub fn save(&self, record: &Record) -> Result<(), OciError> {
        let path = self.dir(&record.id).join("state.json");
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_vec(record).expect("records serialize");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| OciError::Io { path, source })
    }

    pub fn status(&self, record: &Record, paused: bool) -> Status {
        if !alive(record.pid, record.start_ticks) {
            Status::Stopped
        } else if self.fifo(&record.id).exists() {
            Status::Created
        } else if paused {
            Status::Paused
        } else {
            Status::Running
        }
    }

    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("state.json").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        ids
    }
}

/// The spec's state document.
pub fn state_json(record: &Record, status: Status) -> serde_json::Value {
    let pid = if status == Status::Stopped {
        0
    } else {
        record.pid
    };
    serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": record.id,
        "status": status.as_str(),
        "pid": pid,
        "bundle": record.bundle,
        "rootfs": record.rootfs,
        "created": record.created,
        "annotations": record.annotations,
    })
}

/// Ids become directory names: no separators, no dot-names.
pub fn check_id(id: &str) -> Result<(), OciError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(OciError::InvalidId { id: id.to_string() })
    }
}

pub fn exists(dir: &Path) -> bool {
    dir.join("state.json").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_escape_the_root_are_refused() {
        assert!(check_id("abc-1.2_x").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a b"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_dead_pid_is_stopped_and_the_fifo_means_created() {
        let dir = tempfile::tempdir().unwrap();
        let states = StateDir {
            root: dir.path().into(),
        };
        let mut record = Record {
            id: "c".into(),
            pid: std::process::id() as i32,
            start_ticks: None,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "now".into(),
            annotations: BTreeMap::new(),
            cgroups_path: "/c".into(),
            extra_cgroups: Vec::new(),
            hooks: HostHooks::default(),
            systemd_scope: None,
        };
        std::fs::create_dir(states.dir("c")).unwrap();
        assert_eq!(states.status(&record, false), Status::Running);
        std::fs::write(states.fifo("c"), "").unwrap();
        assert_eq!(states.status(&record, false), Status::Created);
        record.pid = i32::MAX;
        assert_eq!(states.status(&record, false), Status::Stopped);
        assert_eq!(state_json(&record, Status::Stopped)["pid"], 0);
    }
}
