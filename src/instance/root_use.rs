//! A command's use of the state root, so a failed first command can give a
//! fresh root back as it found it: absent (with the parents it made) or
//! empty, not holding `containers/`, `images/lock`, `volumes.lock`…
//!
//! Every command holds a shared flock on the root directory itself while it
//! runs (monitors and supervisors for their whole life). Only a command
//! that found the root fresh and failed asks for the exclusive lock, without
//! waiting: if it gets it, no other rcorch process is inside the root, so no
//! lock file it removes is held by anyone. A command that opened the root
//! just before it went checks, once it holds its lock, that the path still
//! names the directory it locked, and starts again if not.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::InstanceError;

/// How often `enter` starts again when the root vanished under it (a
/// concurrent failed command gave it back); each round is a few syscalls.
const ENTER_ROUNDS: usize = 100;

/// The root before the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// Absent: the directories the command makes, the root first, then
    /// each missing parent outwards.
    Missing(Vec<PathBuf>),
    Empty,
    /// Anything else: the command's own undo is all that runs.
    InUse,
}

/// What one entry under the root is, for `give_back_plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    /// An empty `lock` or `*.lock` file: a store's lock, no data.
    EmptyLock,
    /// Data, a link, a device, another filesystem: someone's, keep it.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub kind: Kind,
}

/// Whether `name` is one of the stores' lock files.
pub fn is_lock_name(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name == "lock" || (name.ends_with(".lock") && name.len() > ".lock".len())
}

/// The removals that give a fresh root back, deepest first; `None` when
/// anything but empty directories and empty lock files is there (a
/// concurrent command's work, or what this one keeps by design, such as a
/// pulled image): then nothing is removed, not even a stray directory.
pub fn give_back_plan(mut entries: Vec<Entry>) -> Option<Vec<Entry>> {
    if entries.iter().any(|e| e.kind == Kind::Other) {
        return None;
    }
    // Children before their directory.
    entries.sort_by(|a, b| {
        let depth = |e: &Entry| e.path.components().count();
        depth(b).cmp(&depth(a)).then_with(|| a.path.cmp(&b.path))
    });
    Some(entries)
}

/// The directories `create_dir_all(root)` would make: `root` and its
/// missing parents, inner first. `exists` is the only look at the disk.
pub fn missing_dirs(root: &Path, exists: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    root.ancestors()
        .take_while(|dir| !dir.as_os_str().is_empty() && !exists(dir))
        .map(Path::to_path_buf)
        .collect()
}

/// Held for the whole command: the shared lock on the root directory.
pub struct RootUse {
    root: PathBuf,
    before: Before,
    lock: Flock<File>,
}

impl RootUse {
    /// Observes the root, makes it if absent, and takes the shared lock.
    pub fn enter(root: &Path) -> Result<RootUse, InstanceError> {
        let before = observe(root);
        let failed = |source| InstanceError::Root {
            path: root.to_path_buf(),
            source,
        };
        let mut last = std::io::Error::from(std::io::ErrorKind::NotFound);
        for _ in 0..ENTER_ROUNDS {
            fs::create_dir_all(root).map_err(failed)?;
            let dir = match File::open(root) {
                Ok(dir) => dir,
                // Given back between the two calls: make it again.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    last = e;
                    continue;
                }
                Err(e) => return Err(failed(e)),
            };
            let lock = Flock::lock(dir, FlockArg::LockShared)
                .map_err(|(_, errno)| failed(std::io::Error::from(errno)))?;
            if names_locked_dir(root, &lock) {
                return Ok(RootUse {
                    root: root.to_path_buf(),
                    before,
                    lock,
                });
            }
        }
        Err(failed(last))
    }

    /// After a failed command: a root that was fresh is made fresh again
    /// if nothing but scaffolding is left and no other command is inside.
    pub fn give_back(self) {
        if self.before == Before::InUse {
            return;
        }
        if self.lock.relock(FlockArg::LockExclusiveNonblock).is_err() {
            return;
        }
        // Still ours: a command that removed and remade the root would not
        // have got past its own check while we held the shared lock, but a
        // path that now names another directory is not ours to empty.
        if !names_locked_dir(&self.root, &self.lock) {
            return;
        }
        let Some(entries) = survey(&self.root) else {
            return;
        };
        let Some(plan) = give_back_plan(entries) else {
            return;
        };
        for entry in plan {
            let gone = match entry.kind {
                Kind::Dir => fs::remove_dir(&entry.path),
                _ => fs::remove_file(&entry.path),
            };
            if gone.is_err() {
                return;
            }
        }
        if let Before::Missing(made) = &self.before {
            // Only empty directories go: remove_dir refuses anything else.
            for dir in made {
                if fs::remove_dir(dir).is_err() {
                    return;
                }
            }
        }
    }
}

fn observe(root: &Path) -> Before {
    match fs::read_dir(root) {
        Ok(mut entries) => match entries.next() {
            None => Before::Empty,
            Some(_) => Before::InUse,
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Before::Missing(missing_dirs(root, |dir| dir.symlink_metadata().is_ok()))
        }
        Err(_) => Before::InUse,
    }
}

fn names_locked_dir(root: &Path, lock: &Flock<File>) -> bool {
    match (fs::metadata(root), lock.metadata()) {
        (Ok(path), Ok(held)) => path.dev() == held.dev() && path.ino() == held.ino(),
        _ => false,
    }
}

/// Every entry under `root`, classified; `None` if it cannot be read.
/// Never follows a link or crosses into another filesystem.
fn survey(root: &Path) -> Option<Vec<Entry>> {
    let dev = fs::symlink_metadata(root).ok()?.dev();
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for item in fs::read_dir(&dir).ok()? {
            let item = item.ok()?;
            let path = item.path();
            let meta = fs::symlink_metadata(&path).ok()?;
            let kind = if meta.dev() != dev {
                Kind::Other
            } else if meta.is_dir() {
                dirs.push(path.clone());
                Kind::Dir
            } else if meta.is_file() && meta.len() == 0 && is_lock_name(&item.file_name()) {
                Kind::EmptyLock
            } else {
                Kind::Other
            };
            found.push(Entry { path, kind });
        }
    }
    Some(found)
}

#[cfg(test)]
#[path = "root_use_tests.rs"]
mod tests;
