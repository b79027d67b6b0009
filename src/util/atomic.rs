//! The one way rcorch replaces a record on disk: write a temporary sibling,
//! flush its data to the device, rename it over the record. A crash or a full disk at any
//! instant leaves the previous content or the next one, never a torn file:
//! the rename is the only step that changes what the record's name holds,
//! and it happens only once every byte is written and flushed.
//!
//! The steps go through `AtomicFs`, so the tests can fail each of them (and
//! each byte of the write) and check what the record holds afterwards.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The filesystem calls an atomic write makes, in order.
pub trait AtomicFs {
    type File: Write;
    /// Creates (or truncates) the temporary file.
    fn create(&self, path: &Path) -> io::Result<Self::File>;
    /// Flushes the file's data to the device.
    fn sync(&self, file: &mut Self::File) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove(&self, path: &Path) -> io::Result<()>;
}

/// The real filesystem.
pub struct RealFs;

impl AtomicFs for RealFs {
    type File = File;
    fn create(&self, path: &Path) -> io::Result<File> {
        File::create(path)
    }
    fn sync(&self, file: &mut File) -> io::Result<()> {
        // The data must be on the device before the rename can be: the
        // blocks are allocated and written (ext4's delayed allocation
        // otherwise leaves a renamed, empty file after a power cut), and
        // the journal commit that carries the rename flushes the device
        // cache behind them (data=ordered). sync_file_range with both waits
        // does that in ~0.1 ms; fdatasync also flushes the device cache at
        // once, ~3 ms here, several times per `run`. Not the directory: that
        // would make the new state durable sooner, not the write atomic.
        let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        // SAFETY: sync_file_range only reads the fd, which `file` keeps open.
        if unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, flags) } == 0 {
            return Ok(());
        }
        match io::Error::last_os_error() {
            // A filesystem without it: the portable, slower call.
            e if e.raw_os_error() == Some(libc::EINVAL) => file.sync_data(),
            e => Err(e),
        }
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
}

/// The temporary sibling of `path` this process writes: unique per
/// process, so two writers never share one, and recognisable (`.tmp`) so
/// listings skip it.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp{}", std::process::id()))
}

/// Replaces `path`'s content with `bytes` atomically. On failure the
/// temporary file is removed and `path` is as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(&RealFs, path, bytes)
}

/// `write_atomic` through `fs`.
pub fn write_atomic_with<F: AtomicFs>(fs: &F, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    let result = fs.create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.flush()?;
        fs.sync(&mut file)?;
        drop(file);
        fs.rename(&tmp, path)
    });
    if result.is_err() {
        let _ = fs.remove(&tmp);
    }
    result
}

/// The writer's pid if `name` is a temporary `temp_path` makes.
pub fn temp_writer(name: &str) -> Option<u32> {
    let (base, pid) = name.strip_prefix('.')?.rsplit_once(".tmp")?;
    if base.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// The temporaries among `names` whose writer is not `alive`: writes
/// killed between their create and their rename.
pub fn dead_temps<'a>(names: &[&'a str], alive: impl Fn(u32) -> bool) -> Vec<&'a str> {
    names
        .iter()
        .copied()
        .filter(|name| temp_writer(name).is_some_and(|pid| !alive(pid)))
        .collect()
}

/// Removes the temporaries in `dir` that killed writers left. A pid taken
/// again by a live process keeps its file until a later sweep.
pub fn sweep_dead_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    // A zombie writes no more: it counts as gone.
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
    };
    for name in dead_temps(&names, alive) {
        let _ = std::fs::remove_file(dir.join(name));
    }
}

#[cfg(test)]
#[path = "atomic_tests.rs"]
mod tests;
