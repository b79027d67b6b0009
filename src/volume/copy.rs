//! First use of an empty volume: copy what the image has at the mount point
//! into it before mounting (Docker's copy-up). Runs in the container's mount
//! namespace with the image's root as a directory fd: the mount point is
//! resolved with `RESOLVE_IN_ROOT` and everything below it with `O_NOFOLLOW`
//! relative to directory fds, so no symlink in the image reaches the host.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, FlockArg, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, FileStat,
    Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, symlinkat, Gid, Uid};

use super::{Result, VolumeError};
use crate::runtime::sys::open_in_root;

/// What to do with one entry of the image's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyAction {
    /// Make the directory, fill it, then give it the source's metadata.
    Dir,
    File,
    Symlink,
    /// FIFOs and device nodes: `mknod` with the same type and number.
    Node(SFlag),
    /// Sockets: they mean nothing outside the process that bound them.
    Skip,
}

/// Pure: the action for a `st_mode`.
pub fn action_for(mode: u32) -> CopyAction {
    let kind = SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits());
    match kind {
        SFlag::S_IFDIR => CopyAction::Dir,
        SFlag::S_IFREG => CopyAction::File,
        SFlag::S_IFLNK => CopyAction::Symlink,
        SFlag::S_IFIFO | SFlag::S_IFCHR | SFlag::S_IFBLK => CopyAction::Node(kind),
        _ => CopyAction::Skip,
    }
}

/// Pure: Docker copies only into an empty volume, only when the image has a
/// directory there, and never with `nocopy`.
pub fn should_copy(nocopy: bool, volume_empty: bool, source_is_dir: bool) -> bool {
    !nocopy && volume_empty && source_is_dir
}

/// The path below the root a container path names (`/a/../b` stays inside).
pub fn relative_in_root(target: &Path) -> PathBuf {
    target
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

fn copy_err(path: &Path) -> impl Fn(Errno) -> VolumeError + '_ {
    move |source| VolumeError::Copy {
        path: path.to_path_buf(),
        source,
    }
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open and has no other owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Copies what `root` has at container path `target` into the volume
/// directory `data` if the volume is empty. Holds a flock on `data` while
/// checking and copying, so two containers starting at once copy once.
/// Returns whether it copied.
pub fn copy_up(root: &OwnedFd, target: &Path, data: &Path) -> Result<bool> {
    let err = copy_err(data);
    let dst = nix::fcntl::open(data, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())
        .map_err(&err)?;
    let dst = File::from(owned(dst));
    let dst = nix::fcntl::Flock::lock(dst, FlockArg::LockExclusive).map_err(|(_, e)| err(e))?;
    let empty = std::fs::read_dir(data)
        .map_err(|e| err(io_errno(&e)))?
        .next()
        .is_none();
    let source = match open_in_root(
        root,
        &relative_in_root(target),
        libc::O_RDONLY | libc::O_DIRECTORY,
    ) {
        Ok(fd) => Some(fd),
        Err(Errno::ENOENT | Errno::ENOTDIR) => None,
        Err(e) => return Err(copy_err(target)(e)),
    };
    if !should_copy(false, empty, source.is_some()) {
        return Ok(false);
    }
    let source = source.expect("checked by should_copy");
    copy_dir(source.as_raw_fd(), dst.as_raw_fd(), target)?;
    let st = nix::sys::stat::fstat(source.as_raw_fd()).map_err(copy_err(target))?;
    set_meta_fd(dst.as_raw_fd(), &st).map_err(copy_err(target))?;
    Ok(true)
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Copies every entry of directory `src` into directory `dst`; `at` is the
/// container path of `src`, for error messages.
fn copy_dir(src: RawFd, dst: RawFd, at: &Path) -> Result<()> {
    let mut dir = Dir::openat(Some(src), ".", DIR_FLAGS, Mode::empty()).map_err(copy_err(at))?;
    let names: Vec<CString> = dir
        .iter()
        .filter_map(std::result::Result::ok)
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in &names {
        let path = at.join(OsStr::from_bytes(name.as_bytes()));
        copy_entry(src, dst, name, &path)?;
    }
    Ok(())
}

fn copy_entry(src: RawFd, dst: RawFd, name: &CString, path: &Path) -> Result<()> {
    let sys = |r: nix::Result<()>| r.map_err(copy_err(path));
    let st = fstatat(Some(src), name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(copy_err(path))?;
    match action_for(st.st_mode) {
        CopyAction::Dir => {
            sys(mkdirat(
                Some(dst),
                name.as_c_str(),
                Mode::from_bits_truncate(0o700),
            ))?;
            let from = owned(
                openat(Some(src), name.as_c_str(), DIR_FLAGS, Mode::empty())
                    .map_err(copy_err(path))?,
            );
            let to = owned(
                openat(Some(dst), name.as_c_str(), DIR_FLAGS, Mode::empty())
                    .map_err(copy_err(path))?,
            );
            copy_dir(from.as_raw_fd(), to.as_raw_fd(), path)?;
            sys(set_meta_fd(to.as_raw_fd(), &st))
        }
        CopyAction::File => {
            let read = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let from = owned(
                openat(Some(src), name.as_c_str(), read, Mode::empty()).map_err(copy_err(path))?,
            );
            let write = OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC;
            let to = owned(
                openat(
                    Some(dst),
                    name.as_c_str(),
                    write,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(copy_err(path))?,
            );
            let (mut from, mut to) = (File::from(from), File::from(to));
            std::io::copy(&mut from, &mut to).map_err(|e| copy_err(path)(io_errno(&e)))?;
            sys(set_meta_fd(to.as_raw_fd(), &st))
        }
        CopyAction::Symlink => {
            let target =
                nix::fcntl::readlinkat(Some(src), name.as_c_str()).map_err(copy_err(path))?;
            sys(symlinkat(target.as_os_str(), Some(dst), name.as_c_str()))?;
            sys(set_meta_at(dst, name, &st, false))
        }
        CopyAction::Node(kind) => {
            let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
            sys(mknodat(Some(dst), name.as_c_str(), kind, perm, st.st_rdev))?;
            sys(set_meta_at(dst, name, &st, true))
        }
        CopyAction::Skip => Ok(()),
    }
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(st.st_atime, st.st_atime_nsec),
        TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    )
}

/// Owner first: chown clears set-id bits, which the chmod then restores.
fn set_meta_fd(fd: RawFd, st: &FileStat) -> nix::Result<()> {
    fchown(
        fd,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )?;
    fchmod(fd, Mode::from_bits_truncate(st.st_mode & 0o7777))?;
    let (atime, mtime) = times(st);
    futimens(fd, &atime, &mtime)
}

/// For entries that cannot be opened (symlinks, nodes), by name.
fn set_meta_at(dir: RawFd, name: &CString, st: &FileStat, chmod: bool) -> nix::Result<()> {
    let (uid, gid) = (Uid::from_raw(st.st_uid), Gid::from_raw(st.st_gid));
    fchownat(
        Some(dir),
        name.as_c_str(),
        Some(uid),
        Some(gid),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    if chmod {
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        fchmodat(
            Some(dir),
            name.as_c_str(),
            mode,
            FchmodatFlags::FollowSymlink,
        )?;
    }
    let (atime, mtime) = times(st);
    utimensat(
        Some(dir),
        name.as_c_str(),
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
}
