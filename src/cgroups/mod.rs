//! Cgroup management: one [`CgroupManager`] trait with cgroup v1 and v2
//! backends writing cgroupfs files directly under a root given as a parameter
//! (so the logic runs unchanged on recorded layouts in temporary directories).

pub mod convert;
pub mod devices;
pub mod devices_bpf;
pub mod freezer;
mod fsio;
pub mod layout;
pub mod stats;
pub mod systemd;
pub mod tuning;
pub mod update_plan;
pub mod usage;
pub mod v1;
pub mod v2;

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

pub use convert::{parse_cpus, parse_memory, parse_pids_limit, ConvertError, CpuQuota, Limits};
pub use layout::{detect, parse_mountinfo, Layout};
pub use stats::Stats;
pub use usage::Usage;

/// Errors of the cgroups layer.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroup v1 controller we need (for limits, stats or killing) is not mounted.
    #[error(
        "cgroup v1 controller {controller} is not mounted (rcorch needs memory, cpu, cpuacct \
         and pids, and cpuset or blkio for the limits that use them)"
    )]
    ControllerNotMounted { controller: Controller },
    /// A cgroup v2 controller a limit needs is not offered by the parent cgroup.
    #[error(
        "cgroup v2 controller {controller} is not available in {} (not listed in its \
         cgroup.controllers): its parent does not delegate it; enable it there with \
         `echo +{controller} > cgroup.subtree_control` or drop the limit that needs it",
        path.display()
    )]
    ControllerUnavailable {
        controller: &'static str,
        path: PathBuf,
    },
    /// cgroup v2 forbids enabling controllers in a non-root cgroup with processes.
    #[error(
        "cannot write {controllers:?} to {}/cgroup.subtree_control: the cgroup holds \
         processes ({}) and cgroup v2 lets only a cgroup without processes delegate \
         controllers; move them into a child cgroup, or pick another --cgroup-parent",
        path.display(), pids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" ")
    )]
    ParentHoldsProcesses {
        path: PathBuf,
        controllers: String,
        pids: Vec<i32>,
    },
    /// A cgroup parent or name would escape its hierarchy or is empty.
    #[error("invalid cgroup path {value:?}: expected relative names without \".\" or \"..\"")]
    InvalidName { value: String },
    #[error("creating cgroup directory {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("writing {value:?} to {}: {source}", path.display())]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },
    #[error("reading {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// A control file holds something other than what the kernel documents.
    #[error("unexpected content {content:?} in {}", path.display())]
    Parse { path: PathBuf, content: String },
    #[error("sending {signal} to pid {pid}: {source}")]
    Signal {
        pid: i32,
        signal: Signal,
        source: nix::Error,
    },
    /// A limit needs a control file this kernel or host does not provide.
    #[error(
        "{limit} is not supported here: none of {files} exists in {} ({hint})",
        dir.display()
    )]
    Unsupported {
        limit: &'static str,
        files: String,
        dir: PathBuf,
        hint: &'static str,
    },
    /// The systemd driver: naming, D-Bus or the scope's job.
    #[error(transparent)]
    Systemd(#[from] systemd::SystemdError),
    /// Some cgroup directories could not be removed (best-effort teardown).
    #[error("removing cgroup directories failed: {}", RemoveFailure::join(.failures))]
    Remove { failures: Vec<RemoveFailure> },
}

/// One directory that [`CgroupManager::destroy`] could not remove.
#[derive(Debug)]
pub struct RemoveFailure {
    pub path: PathBuf,
    pub source: io::Error,
}

impl RemoveFailure {
    fn join(failures: &[RemoveFailure]) -> String {
        let parts: Vec<String> = failures
            .iter()
            .map(|f| format!("{}: {}", f.path.display(), f.source))
            .collect();
        parts.join("; ")
    }
}

pub type Result<T, E = CgroupError> = std::result::Result<T, E>;

/// The cgroup v1 controllers rcorch uses; others are never touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Controller {
    Memory,
    Cpu,
    Cpuacct,
    Pids,
    /// Joined where mounted; needed only for `--cpuset-cpus`/`--cpuset-mems`.
    Cpuset,
    /// Joined where mounted; needed only for `--blkio-weight`.
    Blkio,
    /// Joined where mounted: which device nodes the container may use.
    Devices,
}

impl Controller {
    /// Always joined on v1: memory and cpu for limits, cpuacct for CPU usage,
    /// pids for the limit and for listing (and so killing) every process.
    pub const ALL: [Controller; 4] = [
        Controller::Memory,
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Pids,
    ];

    /// Joined where the host mounts them, required only by their limits.
    pub const OPTIONAL: [Controller; 3] =
        [Controller::Cpuset, Controller::Blkio, Controller::Devices];

    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Pids => "pids",
            Controller::Cpuset => "cpuset",
            Controller::Blkio => "blkio",
            Controller::Devices => "devices",
        }
    }

    pub fn from_name(name: &str) -> Option<Controller> {
        Controller::ALL
            .into_iter()
            .chain(Controller::OPTIONAL)
            .find(|c| c.name() == name)
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Lifecycle of one container's cgroup.
pub trait CgroupManager: fmt::Debug + Send + Sync {
    /// Creates the cgroup (and its parents) in the controllers we need, then
    /// writes `limits`. Idempotent: an existing cgroup is reused.
    fn apply_limits(&self, limits: &Limits) -> Result<()>;
    /// Whether the cgroup is made around the container's process, which
    /// then waits for [`enter`](CgroupManager::enter) before its setup.
    fn needs_pid(&self) -> bool {
        false
    }
    /// Puts `pid` (the container's process, not yet set up) into the
    /// cgroup: systemd creates a scope around it. cgroupfs: nothing to do,
    /// the process joins by itself through [`procs_files`](CgroupManager::procs_files).
    fn enter(&self, _pid: i32) -> Result<()> {
        Ok(())
    }
    /// Sets which devices the container may use, once, before it starts
    /// (v1: the devices controller; v2: an eBPF program on the cgroup).
    fn set_devices(&self, access: &devices::DeviceAccess) -> Result<()>;
    /// Puts pids.max back to "max" (`update --pids-limit -1`).
    fn lift_pids_limit(&self) -> Result<()>;
    /// The cgroup.procs files the container init writes "0" into to join
    /// (writing "0" moves the writing process itself).
    fn procs_files(&self) -> Vec<PathBuf>;
    /// Every directory that makes up this cgroup (one per hierarchy).
    fn cgroup_dirs(&self) -> Vec<PathBuf>;
    /// Every process in the cgroup.
    fn pids(&self) -> Result<Vec<i32>>;
    /// Resource usage, with memory counted like `docker stats`.
    fn stats(&self) -> Result<Stats>;
    /// Whether the kernel OOM killer killed a process in this cgroup.
    fn oom_killed(&self) -> Result<bool>;
    /// An fd the monitor polls while the container runs, readable when the
    /// cgroup's memory events change: then (and when PID 1 exits) it calls
    /// [`note_events`](CgroupManager::note_events). None: nothing to watch.
    fn events_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
    /// Reads the cgroup's events while it still exists (systemd removes a
    /// scope's cgroup when its last process dies).
    fn note_events(&self) {}
    /// The full sample Prometheus metrics show (absent controllers read as 0);
    /// an error only when the cgroup itself is gone.
    fn usage(&self) -> Result<Usage>;
    /// Sends `signal` to every process in the cgroup.
    fn kill_all(&self, signal: Signal) -> Result<()>;
    /// Removes the cgroup from every hierarchy (best effort, errors collected).
    fn destroy(&self) -> Result<()>;
}

/// The manager of cgroup `parent/name` for `layout`.
///
/// `parent` is relative to each hierarchy's root ("rcorch", or a test's own
/// "rcorch-test-123"); `name` is a single path component.
pub fn manager_for(layout: &Layout, parent: &str, name: &str) -> Result<Box<dyn CgroupManager>> {
    let relative = relative_path(parent, name)?;
    Ok(match layout {
        Layout::V1 { mounts } => Box::new(v1::V1Manager::new(mounts, &relative)?),
        Layout::V2 { root } => Box::new(v2::V2Manager::new(root, &relative)),
    })
}

/// The cgroup of container `id` made by `driver`: `parent/id` with
/// cgroupfs; with systemd, the scope `rcorch-<id>.scope` in the slice
/// `parent` names (see [`systemd::naming::slice_for_parent`]).
pub fn container_manager(
    layout: &Layout,
    driver: systemd::Driver,
    parent: &str,
    id: &str,
) -> Result<Box<dyn CgroupManager>> {
    match driver {
        systemd::Driver::Cgroupfs => manager_for(layout, parent, id),
        systemd::Driver::Systemd => Ok(Box::new(systemd::SystemdManager::new(layout, parent, id)?)),
    }
}

/// The path of container `id`'s cgroup below each hierarchy's root, as
/// `/proc/PID/cgroup` shows it ("/rcorch/<id>", "/rcorch.slice/rcorch-<id>.scope").
pub fn container_path(driver: systemd::Driver, parent: &str, id: &str) -> String {
    match driver {
        systemd::Driver::Cgroupfs => format!("/{}/{id}", parent.trim_matches('/')),
        systemd::Driver::Systemd => match systemd::naming::scope_path(parent, id) {
            Ok(path) => format!("/{path}"),
            Err(_) => format!("/{}/{}", parent, systemd::naming::scope_unit(id)),
        },
    }
}

/// The manager of the cgroup at `path` ("/a/b/c", relative to each
/// hierarchy's root), as an OCI config's cgroupsPath names it.
pub fn manager_at(layout: &Layout, path: &str) -> Result<Box<dyn CgroupManager>> {
    let trimmed = path.trim_matches('/');
    match trimmed.rsplit_once('/') {
        Some((parent, name)) => manager_for(layout, parent, name),
        None => manager_for(layout, trimmed, ""),
    }
}

/// Best-effort removal of `parent` (and its own empty ancestors) once no
/// container cgroup is left in it; a parent still in use is left alone.
pub fn parent_cleanup(layout: &Layout, parent: &str) -> Result<()> {
    let relative = relative_path(parent, "")?;
    let roots: Vec<PathBuf> = match layout {
        Layout::V1 { mounts } => fsio::unique(mounts.values().cloned()),
        Layout::V2 { root } => vec![root.clone()],
    };
    let mut failures = Vec::new();
    for root in roots {
        for ancestor in relative.ancestors().filter(|a| !a.as_os_str().is_empty()) {
            let path = root.join(ancestor);
            match std::fs::remove_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                // Other containers still live here, and so in its ancestors.
                Err(e) if fsio::is_in_use(&e) => break,
                Err(source) => {
                    failures.push(RemoveFailure { path, source });
                    break;
                }
            }
        }
    }
    fsio::collect_failures(failures)
}

/// Validates `parent` and `name` and joins them; neither may climb out of the
/// hierarchy. An empty `name` yields just the parent.
fn relative_path(parent: &str, name: &str) -> Result<PathBuf> {
    let invalid = |value: &str| CgroupError::InvalidName {
        value: value.to_string(),
    };
    let parent_parts: Vec<&str> = parent.split('/').filter(|p| !p.is_empty()).collect();
    let bad = |p: &&str| *p == "." || *p == "..";
    if parent_parts.is_empty() || parent_parts.iter().any(bad) {
        return Err(invalid(parent));
    }
    if name.contains('/') || name == "." || name == ".." {
        return Err(invalid(name));
    }
    let mut path: PathBuf = parent_parts.iter().collect();
    if !name.is_empty() {
        path.push(name);
    }
    Ok(path)
}

/// Sends `signal` to every pid `list` returns. For SIGKILL the list is read
/// again (a few rounds) so that children forked meanwhile are caught too.
fn signal_every_pid(list: impl Fn() -> Result<Vec<i32>>, signal: Signal) -> Result<()> {
    let rounds = if signal == Signal::SIGKILL { 10 } else { 1 };
    let mut signalled = BTreeSet::new();
    for _ in 0..rounds {
        // cgroup.procs shows 0 for processes outside our pid namespace, and
        // kill(0) would hit our own process group: only positive pids.
        let fresh: Vec<i32> = list()?
            .into_iter()
            .filter(|pid| *pid > 0 && !signalled.contains(pid))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for pid in fresh {
            match kill(Pid::from_raw(pid), signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(source) => {
                    return Err(CgroupError::Signal {
                        pid,
                        signal,
                        source,
                    })
                }
            }
            signalled.insert(pid);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn relative_paths_stay_inside_the_hierarchy() {
        assert_eq!(
            relative_path("rcorch", "web").unwrap(),
            Path::new("rcorch/web")
        );
        assert_eq!(relative_path("/a/b/", "c").unwrap(), Path::new("a/b/c"));
        assert_eq!(relative_path("rcorch", "").unwrap(), Path::new("rcorch"));
        for (parent, name) in [
            ("", "x"),
            ("..", "x"),
            ("a/../b", "x"),
            ("a", "b/c"),
            ("a", ".."),
        ] {
            assert!(relative_path(parent, name).is_err(), "{parent:?} {name:?}");
        }
    }

    #[test]
    fn controller_names_round_trip() {
        for c in Controller::ALL.into_iter().chain(Controller::OPTIONAL) {
            assert_eq!(Controller::from_name(c.name()), Some(c));
        }
        assert_eq!(Controller::from_name("name=systemd"), None);
    }

    #[test]
    fn remove_errors_list_every_failure() {
        let err = CgroupError::Remove {
            failures: vec![
                RemoveFailure {
                    path: "/a".into(),
                    source: io::Error::from_raw_os_error(libc::EBUSY),
                },
                RemoveFailure {
                    path: "/b".into(),
                    source: io::Error::from_raw_os_error(libc::EACCES),
                },
            ],
        };
        let msg = err.to_string();
        assert!(msg.contains("/a") && msg.contains("/b"), "{msg}");
    }
}
