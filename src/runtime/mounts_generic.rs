//! The mounts and device nodes an OCI bundle describes: any filesystem or
//! bind with its flags and propagation, and device nodes with their owner.
//! Targets are resolved inside the new root, as for rcorch's own mounts.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sys::stat::{Mode, SFlag};

use super::mounts::{ensure_in_root, remount_read_only, step, GenericMount, Result};
use super::sys::fd_path;

pub(super) fn apply_generic(root: &OwnedFd, m: &GenericMount) -> Result<()> {
    let none: Option<&str> = None;
    // A bind of a file needs a file to mount on.
    let file = m.bind && !m.source.is_dir();
    let target_fd = ensure_in_root(root, &m.target, file)?;
    let at = fd_path(&target_fd);
    if m.bind {
        let mut flags = MsFlags::MS_BIND;
        if m.recursive {
            flags |= MsFlags::MS_REC;
        }
        mount(Some(&m.source), at.as_str(), none, flags, none)
            .map_err(step("bind mount", &m.source))?;
        // Bind flags only take effect on a remount of the new mount.
        let extra = m.flags & !MsFlags::MS_REMOUNT;
        if !extra.is_empty() {
            let fd = ensure_in_root(root, &m.target, file)?;
            let mounted = fd_path(&fd);
            if extra == MsFlags::MS_RDONLY {
                remount_read_only(Path::new(&mounted))?;
            } else {
                let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra;
                mount(none, mounted.as_str(), none, flags, none)
                    .map_err(step("remount", &m.target))?;
            }
        }
    } else {
        let data = (!m.data.is_empty()).then_some(m.data.as_str());
        let source = if m.source.as_os_str().is_empty() {
            Path::new(&m.fstype)
        } else {
            m.source.as_path()
        };
        mount(
            Some(source),
            at.as_str(),
            Some(m.fstype.as_str()),
            m.flags,
            data,
        )
        .map_err(step("mount", &m.target))?;
    }
    if !m.propagation.is_empty() {
        // The fd must stay open while its /proc/self/fd path is in use.
        let fd = ensure_in_root(root, &m.target, file)?;
        let mounted = fd_path(&fd);
        mount(none, mounted.as_str(), none, m.propagation, none)
            .map_err(step("set propagation of", &m.target))?;
    }
    Ok(())
}

/// Creates one device node (replacing a file already there, as runc does)
/// and gives it its owner.
pub(super) fn make_device(
    root: &OwnedFd,
    path: &Path,
    (kind, dev): (SFlag, libc::dev_t),
    mode: u32,
    (uid, gid): (u32, u32),
) -> Result<()> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let dir = ensure_in_root(root, parent, false)?;
    let dir = nix::fcntl::open(
        Path::new(&fd_path(&dir)),
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(step("open", parent))?;
    // SAFETY: open just returned this fd and nothing else owns it.
    let dir: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(dir) };
    let name = path.file_name().unwrap_or_default();
    let _ = nix::unistd::unlinkat(
        Some(dir.as_raw_fd()),
        name,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    let perm = Mode::from_bits_truncate(mode & 0o7777);
    match nix::sys::stat::mknodat(Some(dir.as_raw_fd()), name, kind, perm, dev) {
        Ok(()) => {}
        // In a user namespace mknod is refused: bind the host's node instead.
        Err(nix::errno::Errno::EPERM) => return bind_host_device(root, path),
        Err(e) => return Err(step("mknod", path)(e)),
    }
    nix::unistd::fchownat(
        Some(dir.as_raw_fd()),
        name,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(step("chown", path))
}

fn bind_host_device(root: &OwnedFd, path: &Path) -> Result<()> {
    let none: Option<&str> = None;
    let at = ensure_in_root(root, path, true)?;
    mount(
        Some(path),
        fd_path(&at).as_str(),
        none,
        MsFlags::MS_BIND,
        none,
    )
    .map_err(step("bind device", path))
}
