//! Entry metadata: ownership, permission bits and mtimes, including the
//! deferred pass that fixes directory modes and mtimes after all entries.

use std::collections::HashSet;
use std::os::fd::AsRawFd;

use nix::fcntl::AtFlags;
use nix::sys::stat::{fchmod, fchmodat, futimens, utimensat, FchmodatFlags, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, Gid, Uid};

use super::fsat::{open_dir, WalkError};
use super::unpack::{normalize_path, UnpackError};
use super::unpack_entry::{fs_err, Ctx, Slot};

/// Ownership, permission bits and mtime of an entry.
#[derive(Clone, Copy)]
pub(super) struct Meta {
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mtime: i64,
}

/// A directory whose mode and mtime are applied after all entries, so that
/// writing children neither bumps its mtime nor is blocked by a read-only mode.
pub(super) struct DeferredDir {
    pub(super) path: Vec<u8>,
    pub(super) meta: Meta,
}

pub(super) fn read_meta(header: &tar::Header) -> Result<Meta, UnpackError> {
    let corrupt = |source| UnpackError::Corrupt { source };
    Ok(Meta {
        mode: header.mode().map_err(corrupt)? & 0o7777,
        uid: u32::try_from(header.uid().map_err(corrupt)?).unwrap_or(u32::MAX),
        gid: u32::try_from(header.gid().map_err(corrupt)?).unwrap_or(u32::MAX),
        mtime: i64::try_from(header.mtime().map_err(corrupt)?).unwrap_or(i64::MAX),
    })
}

pub(super) fn timespec(meta: &Meta) -> TimeSpec {
    TimeSpec::new(meta.mtime, 0)
}

/// Owner, mode (unless a symlink) and mtime for a non-regular entry.
pub(super) fn apply_meta_at(
    ctx: &Ctx,
    at: &Slot,
    meta: &Meta,
    chmod: bool,
) -> Result<(), UnpackError> {
    if ctx.root {
        let (uid, gid) = (Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid)));
        fchownat(
            Some(at.parent),
            at.name,
            uid,
            gid,
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(fs_err("lchown", at.path))?;
    }
    if chmod {
        // The entry was just created by us and is not a symlink.
        let mode = Mode::from_bits_truncate(meta.mode);
        fchmodat(Some(at.parent), at.name, mode, FchmodatFlags::FollowSymlink)
            .map_err(fs_err("chmod", at.path))?;
    }
    let ts = timespec(meta);
    utimensat(
        Some(at.parent),
        at.name,
        &ts,
        &ts,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(fs_err("utimensat", at.path))
}

/// Applies deferred directory modes and mtimes, deepest (latest) first;
/// a later entry for the same directory wins, replaced directories are skipped.
pub(super) fn finish_dirs(ctx: &mut Ctx) -> Result<(), UnpackError> {
    let dirs = std::mem::take(&mut ctx.dirs);
    let mut seen = HashSet::new();
    for d in dirs.iter().rev() {
        if !seen.insert(d.path.as_slice()) {
            continue;
        }
        let _ = normalize_path(&d.path, &mut ctx.ranges);
        let owned_fd;
        let fd = match ctx.ranges.split_last() {
            None => ctx.walker.root_fd(),
            Some((last, parents)) => {
                let Ok(parent) = ctx.walker.dir(&d.path, parents, false) else {
                    continue;
                };
                owned_fd = match open_dir(parent, &d.path[last.clone()], false, parents.len()) {
                    Ok(fd) => fd,
                    Err(WalkError::Sys { errno }) => {
                        return Err(fs_err("open directory", &d.path)(errno))
                    }
                    Err(_) => continue,
                };
                owned_fd.as_raw_fd()
            }
        };
        fchmod(fd, Mode::from_bits_truncate(d.meta.mode)).map_err(fs_err("chmod", &d.path))?;
        let ts = timespec(&d.meta);
        futimens(fd, &ts, &ts).map_err(fs_err("futimens", &d.path))?;
    }
    Ok(())
}
