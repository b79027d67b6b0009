//! Directory-fd based file operations for layer unpacking.
//!
//! Every path is resolved one component at a time with `O_NOFOLLOW`, relative
//! to an fd of the layer root, so a symlink inside the layer can never
//! redirect a write outside it. Open directory fds along the current path are
//! cached (a stack), so consecutive entries in one directory cost one `openat`.

use std::ffi::CString;
use std::ops::Range;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Why a directory along an entry path could not be opened.
#[derive(Debug)]
pub(super) enum WalkError {
    /// Component `depth` is a symlink or not a directory.
    NotDir { depth: usize },
    /// Component `depth` does not exist (only when not creating).
    Missing { depth: usize },
    /// Any other failure while opening or creating a component.
    Sys { errno: Errno },
}

/// Wraps a freshly returned descriptor.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open and is owned by no one else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Opens directory `name` under `parent` without following symlinks,
/// creating it (mode 0755) first when missing and `create` is set.
pub(super) fn open_dir(
    parent: RawFd,
    name: &[u8],
    create: bool,
    depth: usize,
) -> Result<OwnedFd, WalkError> {
    match openat(Some(parent), name, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => return Ok(owned(fd)),
        Err(Errno::ENOENT) if create => {}
        Err(Errno::ENOENT) => return Err(WalkError::Missing { depth }),
        Err(Errno::ELOOP | Errno::ENOTDIR) => return Err(WalkError::NotDir { depth }),
        Err(errno) => return Err(WalkError::Sys { errno }),
    }
    match mkdirat(Some(parent), name, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(errno) => return Err(WalkError::Sys { errno }),
    }
    match openat(Some(parent), name, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => Ok(owned(fd)),
        Err(Errno::ELOOP | Errno::ENOTDIR) => Err(WalkError::NotDir { depth }),
        Err(errno) => Err(WalkError::Sys { errno }),
    }
}

/// The layer root plus a cache of open directories along the last path used.
pub(super) struct Walker {
    root: OwnedFd,
    stack: Vec<(Vec<u8>, OwnedFd)>,
}

impl Walker {
    /// Opens the unpack target (which the caller chose, so it may be reached via symlinks).
    pub(super) fn open(target: &Path) -> Result<Self, Errno> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::open(target, flags, Mode::empty())?;
        Ok(Walker {
            root: owned(fd),
            stack: Vec::new(),
        })
    }

    pub(super) fn root_fd(&self) -> RawFd {
        self.root.as_raw_fd()
    }

    /// Returns an fd for the directory `path[dirs[0]]/path[dirs[1]]/...`,
    /// reusing cached fds for the common prefix with the previous call.
    pub(super) fn dir(
        &mut self,
        path: &[u8],
        dirs: &[Range<usize>],
        create: bool,
    ) -> Result<RawFd, WalkError> {
        let common = self
            .stack
            .iter()
            .zip(dirs)
            .take_while(|((name, _), r)| name.as_slice() == &path[(*r).clone()])
            .count();
        self.stack.truncate(common);
        for (depth, r) in dirs.iter().enumerate().skip(common) {
            let parent = self.top();
            let fd = open_dir(parent, &path[r.clone()], create, depth)?;
            self.stack.push((path[r.clone()].to_vec(), fd));
        }
        Ok(self.top())
    }

    /// Walks `dirs` without touching the cache, for a second directory needed
    /// at the same time (hard-link targets). Never creates anything.
    pub(super) fn dir_uncached(
        &self,
        path: &[u8],
        dirs: &[Range<usize>],
    ) -> Result<Option<OwnedFd>, WalkError> {
        let mut cur: Option<OwnedFd> = None;
        for (depth, r) in dirs.iter().enumerate() {
            let parent = cur.as_ref().map_or(self.root_fd(), |fd| fd.as_raw_fd());
            cur = Some(open_dir(parent, &path[r.clone()], false, depth)?);
        }
        Ok(cur)
    }

    /// Drops cached fds deeper than `depth` directories; must be called
    /// before removing anything in the directory at that depth.
    pub(super) fn forget_below(&mut self, depth: usize) {
        self.stack.truncate(depth);
    }

    fn top(&self) -> RawFd {
        self.stack
            .last()
            .map_or(self.root_fd(), |(_, fd)| fd.as_raw_fd())
    }
}

/// What `lstat` says about a name in a directory.
pub(super) enum Existing {
    None,
    Dir,
    Other,
}

pub(super) fn existing(parent: RawFd, name: &[u8]) -> Result<Existing, Errno> {
    match fstatat(Some(parent), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st)
            if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR =>
        {
            Ok(Existing::Dir)
        }
        Ok(_) => Ok(Existing::Other),
        Err(Errno::ENOENT) => Ok(Existing::None),
        Err(e) => Err(e),
    }
}

/// Removes `name` under `parent`, recursively for directories, never
/// following symlinks (a symlink is unlinked, not its target).
pub(super) fn remove_all_at(parent: RawFd, name: &[u8]) -> Result<(), Errno> {
    match unlinkat(Some(parent), name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(Errno::EISDIR | Errno::EPERM) => {}
        Err(e) => return Err(e),
    }
    let mut dir = Dir::openat(Some(parent), name, DIR_FLAGS, Mode::empty())?;
    // Owner-writable so a read-only directory can be emptied without root.
    let _ = nix::sys::stat::fchmod(dir.as_raw_fd(), Mode::from_bits_truncate(0o700));
    let names: Vec<CString> = dir
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for child in &names {
        remove_all_at(dir.as_raw_fd(), child.as_bytes())?;
    }
    unlinkat(Some(parent), name, UnlinkatFlags::RemoveDir)
}
