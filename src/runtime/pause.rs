//! `pause` and `unpause`: freezing a running container's processes. On
//! cgroup v2 its own cgroup freezes; on v1 rcorch joins no freezer at
//! start, so pause moves the processes into a freezer cgroup of their own
//! (same path as the container's other cgroups) and unpause moves them
//! back out and removes it — nothing is left once the container runs again.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::control::{observed_status, ControlError};
use crate::cgroups::freezer::{self, Freezer};
use crate::cgroups::{CgroupError, Layout};
use crate::container::store::Record;
use crate::container::Status;
use crate::instance::Instance;

#[derive(Debug, Error)]
pub enum PauseError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("container {name} is not running")]
    NotRunning { name: String },
    #[error("container {name} is already paused")]
    AlreadyPaused { name: String },
    #[error("container {name} is not paused")]
    NotPaused { name: String },
    #[error("this host has no freezer cgroup hierarchy: pause needs one mounted")]
    NoFreezer,
    #[error("cannot move the processes of {name} ({path}): {source}")]
    Move {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// The container's freezer (it may not exist yet on v1).
fn freezer_of(layout: &Layout, record: &Record) -> Result<Freezer, PauseError> {
    let mountinfo = std::fs::read_to_string(MOUNTINFO).unwrap_or_default();
    let c = &record.config;
    let path = crate::cgroups::container_path(c.cgroup_manager, &c.cgroup_parent, &c.id);
    freezer::locate(layout, &mountinfo, &path).ok_or(PauseError::NoFreezer)
}

fn load(instance: &Instance, reference: &str) -> Result<Record, PauseError> {
    let id = instance
        .containers
        .resolve(reference)
        .map_err(ControlError::from)?;
    Ok(instance.containers.load(&id).map_err(ControlError::from)?)
}

/// Whether the container's processes are frozen (Docker's "paused").
pub fn is_paused(instance: &Instance, record: &Record) -> bool {
    let Ok(layout) = instance.cgroup_layout() else {
        return false;
    };
    freezer_of(&layout, record).is_ok_and(|f| f.is_frozen())
}

pub fn pause(instance: &Instance, reference: &str) -> Result<Record, PauseError> {
    let record = load(instance, reference)?;
    let name = record.config.name.clone();
    if observed_status(&record.state) != Status::Running {
        return Err(PauseError::NotRunning { name });
    }
    let layout = instance.cgroup_layout().map_err(ControlError::from)?;
    let freezer = freezer_of(&layout, &record)?;
    if freezer.is_frozen() {
        return Err(PauseError::AlreadyPaused { name });
    }
    if let Freezer::V1(dir) = &freezer {
        join_v1(instance, &record, dir)?;
    }
    if let Err(e) = freezer.freeze() {
        if let Freezer::V1(dir) = &freezer {
            let _ = leave_v1(dir);
        }
        return Err(e.into());
    }
    // A process forked while the others were moved joins now (frozen).
    if let Freezer::V1(dir) = &freezer {
        join_v1(instance, &record, dir)?;
    }
    Ok(record)
}

pub fn unpause(instance: &Instance, reference: &str) -> Result<Record, PauseError> {
    let record = load(instance, reference)?;
    let layout = instance.cgroup_layout().map_err(ControlError::from)?;
    let freezer = freezer_of(&layout, &record)?;
    if !freezer.is_frozen() {
        return Err(PauseError::NotPaused {
            name: record.config.name.clone(),
        });
    }
    thaw(&freezer, &record)?;
    Ok(record)
}

/// Lets a frozen container go before it is signalled (stop, kill, rm -f):
/// a frozen process never sees its SIGKILL. Does nothing otherwise.
pub fn thaw_quietly(instance: &Instance, record: &Record) {
    let Ok(layout) = instance.cgroup_layout() else {
        return;
    };
    if let Ok(freezer) = freezer_of(&layout, record) {
        if freezer.is_frozen() {
            let _ = thaw(&freezer, record);
        }
    }
}

fn thaw(freezer: &Freezer, record: &Record) -> Result<(), PauseError> {
    if let Freezer::V1(dir) = freezer {
        // Moved out while still frozen, each process thaws as it lands in
        // the root: none can fork a child back into `dir` meanwhile.
        leave_v1(dir).map_err(|source| PauseError::Move {
            name: record.config.name.clone(),
            path: dir.clone(),
            source,
        })?;
        if !dir.exists() {
            return Ok(());
        }
    }
    freezer.thaw()?;
    Ok(())
}

/// Moves every process of the container into freezer cgroup `dir`.
fn join_v1(instance: &Instance, record: &Record, dir: &Path) -> Result<(), PauseError> {
    let moving = |source| PauseError::Move {
        name: record.config.name.clone(),
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(moving)?;
    let cgroup = instance
        .container_cgroup(&record.config)
        .map_err(ControlError::from)?;
    for pid in cgroup.pids()? {
        // A process that exited meanwhile is fine (ESRCH).
        match std::fs::write(dir.join("cgroup.procs"), pid.to_string()) {
            Err(e) if e.raw_os_error() != Some(libc::ESRCH) => return Err(moving(e)),
            _ => {}
        }
    }
    Ok(())
}

/// Moves the processes of freezer cgroup `dir` back to the hierarchy's
/// root, then removes `dir` and its parents that are left empty.
fn leave_v1(dir: &Path) -> std::io::Result<()> {
    let Some(root) = v1_root(dir) else {
        return Ok(());
    };
    // A few rounds: a process that was not frozen may fork meanwhile.
    for _ in 0..20 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        if procs.trim().is_empty() {
            break;
        }
        for pid in procs.lines() {
            match std::fs::write(root.join("cgroup.procs"), pid) {
                Err(e) if e.raw_os_error() != Some(libc::ESRCH) => return Err(e),
                _ => {}
            }
        }
    }
    let mut current = Some(dir);
    while let Some(d) = current.filter(|d| *d != root) {
        if std::fs::remove_dir(d).is_err() {
            break; // still used (another container of the parent)
        }
        current = d.parent();
    }
    Ok(())
}

/// The freezer hierarchy's root above `dir`: the root cgroup is the one
/// without a `freezer.state` (it cannot be frozen).
fn v1_root(dir: &Path) -> Option<&Path> {
    dir.ancestors()
        .skip(1)
        .find(|a| a.join("cgroup.procs").exists() && !a.join("freezer.state").exists())
}
