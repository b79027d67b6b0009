//! Thin file-system edge for cgroupfs: reads, writes and removals.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use super::{CgroupError, RemoveFailure, Result};

/// How long `rmdir` keeps retrying EBUSY while just-killed tasks finish exiting.
const RMDIR_ATTEMPTS: u32 = 50;
const RMDIR_BACKOFF: Duration = Duration::from_millis(10);

/// Writes `value` to an existing control file. Never creates the file:
/// cgroupfs files exist only if the kernel provides them.
pub fn write(path: &Path, value: &str) -> Result<()> {
    write_raw(path, value).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })
}

/// Like [`write`], but a missing file is skipped; returns whether it was written.
pub fn write_optional(path: &Path, value: &str) -> Result<bool> {
    match write_raw(path, value) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(CgroupError::Write {
            path: path.to_path_buf(),
            value: value.to_string(),
            source,
        }),
    }
}

fn write_raw(path: &Path, value: &str) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).truncate(true).open(path)?;
    // One write call: cgroupfs parses each write on its own.
    file.write_all(value.as_bytes())
}

pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a single-number control file such as pids.current.
pub fn read_u64(path: &Path) -> Result<u64> {
    let text = read(path)?;
    text.trim().parse().map_err(|_| CgroupError::Parse {
        path: path.to_path_buf(),
        content: text,
    })
}

/// Reads a cgroup.procs file into pids.
pub fn read_pids(path: &Path) -> Result<Vec<i32>> {
    let text = read(path)?;
    super::stats::parse_pids(&text).ok_or_else(|| CgroupError::Parse {
        path: path.to_path_buf(),
        content: text,
    })
}

pub fn create_dir_all(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|source| CgroupError::CreateDir {
        path: path.to_path_buf(),
        source,
    })
}

/// Removes a cgroup directory, retrying while the kernel still reports it
/// busy; a directory that is already gone counts as removed.
pub fn remove_cgroup_dir(path: &Path) -> io::Result<()> {
    let mut attempt = 1;
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < RMDIR_ATTEMPTS => {
                attempt += 1;
                sleep(RMDIR_BACKOFF);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Removes every directory in `dirs`, continuing past failures.
pub fn remove_all(dirs: &[PathBuf]) -> Result<()> {
    let failures = dirs
        .iter()
        .filter_map(|path| {
            remove_cgroup_dir(path).err().map(|source| RemoveFailure {
                path: path.clone(),
                source,
            })
        })
        .collect();
    collect_failures(failures)
}

pub fn collect_failures(failures: Vec<RemoveFailure>) -> Result<()> {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CgroupError::Remove { failures })
    }
}

/// EBUSY/ENOTEMPTY: the directory still holds processes or child cgroups.
pub fn is_in_use(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::ENOTEMPTY))
}

/// Distinct paths in first-seen order (v1 controllers may share a mount).
pub fn unique(paths: impl IntoIterator<Item = PathBuf>) -> Vec<PathBuf> {
    let mut seen = BTreeSet::new();
    paths
        .into_iter()
        .filter(|p| seen.insert(p.clone()))
        .collect()
}
