//! Freezing a cgroup (pause/resume): v1's `freezer.state` or v2's
//! `cgroup.freeze`. Where the file is and what its text means are decided
//! by plain functions; [`Freezer`] only reads and writes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::layout::parse_line;
use super::{CgroupError, Layout, Result};

/// One cgroup's freezer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freezer {
    /// The cgroup's directory in the v1 freezer hierarchy.
    V1(PathBuf),
    /// The cgroup's directory in the unified hierarchy.
    V2(PathBuf),
}

/// The freezer of cgroup `path` ("/a/b"): on v1 in the hierarchy that
/// mountinfo shows the freezer mounted at, on v2 under the root.
pub fn locate(layout: &Layout, mountinfo: &str, path: &str) -> Option<Freezer> {
    let relative = path.trim_start_matches('/');
    match layout {
        Layout::V2 { root } => Some(Freezer::V2(root.join(relative))),
        Layout::V1 { .. } => mountinfo
            .lines()
            .filter_map(parse_line)
            .find(|m| m.fstype == "cgroup" && m.super_options.split(',').any(|o| o == "freezer"))
            .map(|m| Freezer::V1(m.mount_point.join(relative))),
    }
}

/// v1 `freezer.state`: FROZEN only once every task is (FREEZING before).
pub fn v1_frozen(state: &str) -> Option<bool> {
    match state.trim() {
        "FROZEN" => Some(true),
        "THAWED" | "FREEZING" => Some(false),
        _ => None,
    }
}

/// v2 `cgroup.events`: the "frozen 1" line.
pub fn v2_frozen(events: &str) -> Option<bool> {
    events
        .lines()
        .find_map(|l| l.strip_prefix("frozen "))
        .map(|v| v.trim() == "1")
}

impl Freezer {
    fn control(&self) -> (PathBuf, &'static str, &'static str) {
        match self {
            Freezer::V1(dir) => (dir.join("freezer.state"), "FROZEN", "THAWED"),
            Freezer::V2(dir) => (dir.join("cgroup.freeze"), "1", "0"),
        }
    }

    /// Whether every process in the cgroup is frozen (false if there is no
    /// such cgroup).
    pub fn is_frozen(&self) -> bool {
        let (path, parse): (PathBuf, fn(&str) -> Option<bool>) = match self {
            Freezer::V1(dir) => (dir.join("freezer.state"), v1_frozen),
            Freezer::V2(dir) => (dir.join("cgroup.events"), v2_frozen),
        };
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| parse(&t))
            .unwrap_or(false)
    }

    /// Freezes the cgroup and waits until the kernel reports it frozen.
    pub fn freeze(&self) -> Result<()> {
        let (path, frozen, _) = self.control();
        write(&path, frozen)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.is_frozen() {
            if Instant::now() > deadline {
                // Leave it running rather than half-frozen.
                let _ = self.thaw();
                return Err(CgroupError::Parse {
                    path,
                    content: "still freezing after 10s".into(),
                });
            }
            if let Freezer::V1(_) = self {
                // v1 retries only when asked again.
                let _ = write(&path, frozen);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    pub fn thaw(&self) -> Result<()> {
        let (path, _, thawed) = self.control();
        write(&path, thawed)
    }
}

fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const MOUNTINFO: &str = "\
35 25 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
40 25 0:35 / /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer
41 25 0:36 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
";

    #[test]
    fn the_freezer_is_found_in_its_hierarchy() {
        let v1 = Layout::V1 {
            mounts: BTreeMap::new(),
        };
        assert_eq!(
            locate(&v1, MOUNTINFO, "/a/b"),
            Some(Freezer::V1("/sys/fs/cgroup/freezer/a/b".into()))
        );
        assert_eq!(locate(&v1, "", "/a"), None);
        let v2 = Layout::V2 {
            root: "/sys/fs/cgroup".into(),
        };
        assert_eq!(
            locate(&v2, MOUNTINFO, "/a"),
            Some(Freezer::V2("/sys/fs/cgroup/a".into()))
        );
    }

    #[test]
    fn frozen_means_every_task_is() {
        assert_eq!(v1_frozen("FROZEN\n"), Some(true));
        assert_eq!(v1_frozen("FREEZING\n"), Some(false));
        assert_eq!(v1_frozen("THAWED\n"), Some(false));
        assert_eq!(v1_frozen("?"), None);
        assert_eq!(v2_frozen("populated 1\nfrozen 1\n"), Some(true));
        assert_eq!(v2_frozen("populated 1\nfrozen 0\n"), Some(false));
        assert_eq!(v2_frozen("populated 1\n"), None);
    }

    #[test]
    fn freeze_and_thaw_write_the_control_files() {
        let dir = tempfile::tempdir().unwrap();
        let v2 = Freezer::V2(dir.path().into());
        std::fs::write(dir.path().join("cgroup.events"), "frozen 1\n").unwrap();
        v2.freeze().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("cgroup.freeze")).unwrap(),
            "1"
        );
        v2.thaw().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("cgroup.freeze")).unwrap(),
            "0"
        );
        let v1 = Freezer::V1(dir.path().into());
        v1.thaw().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("freezer.state")).unwrap(),
            "THAWED"
        );
        assert!(!v1.is_frozen());
    }
}
