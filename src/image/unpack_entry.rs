//! Per-entry work of [`super::unpack::unpack_layer`]: one function per tar entry type.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, futimens, mkdirat, utimensat, FchmodatFlags, Mode, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, mkfifoat, symlinkat, Gid, Uid};
use tar::EntryType;

use super::fsat::{existing, open_dir, remove_all_at, Existing, WalkError, Walker};
use super::unpack::{normalize_path, walk_error, UnpackError, UnpackStats};
use super::whiteout::{classify_whiteout, opaque, whiteout, Whiteout};

/// Ownership, permission bits and mtime of an entry.
#[derive(Clone, Copy)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

/// A directory whose mode and mtime are applied after all entries, so that
/// writing children neither bumps its mtime nor is blocked by a read-only mode.
struct DeferredDir {
    path: Vec<u8>,
    meta: Meta,
}

/// Mutable state shared by all entries of one unpack.
pub(super) struct Ctx {
    walker: Walker,
    pub(super) root: bool,
    buf: Vec<u8>,
    ranges: Vec<Range<usize>>,
    link_ranges: Vec<Range<usize>>,
    dirs: Vec<DeferredDir>,
    pub(super) stats: UnpackStats,
}

impl Ctx {
    pub(super) fn new(walker: Walker, root: bool, buf_size: usize) -> Self {
        Ctx {
            walker,
            root,
            buf: vec![0; buf_size],
            ranges: Vec::new(),
            link_ranges: Vec::new(),
            dirs: Vec::new(),
            stats: UnpackStats::default(),
        }
    }
}

fn lossy(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

pub(super) fn fs_err<'a>(
    op: &'static str,
    path: &'a [u8],
) -> impl FnOnce(Errno) -> UnpackError + 'a {
    move |source| UnpackError::Fs {
        op,
        path: lossy(path),
        source,
    }
}

fn read_meta(header: &tar::Header) -> Result<Meta, UnpackError> {
    let corrupt = |source| UnpackError::Corrupt { source };
    Ok(Meta {
        mode: header.mode().map_err(corrupt)? & 0o7777,
        uid: u32::try_from(header.uid().map_err(corrupt)?).unwrap_or(u32::MAX),
        gid: u32::try_from(header.gid().map_err(corrupt)?).unwrap_or(u32::MAX),
        mtime: i64::try_from(header.mtime().map_err(corrupt)?).unwrap_or(i64::MAX),
    })
}

/// Unpacks one archive entry below the walker's root.
pub(super) fn unpack_entry<R: Read>(
    ctx: &mut Ctx,
    entry: &mut tar::Entry<R>,
) -> Result<(), UnpackError> {
    let path = entry.path_bytes().into_owned();
    let kind = entry.header().entry_type();
    let meta = read_meta(entry.header())?;
    if normalize_path(&path, &mut ctx.ranges).is_err() {
        return Err(UnpackError::Escape { path: lossy(&path) });
    }
    let Some(last) = ctx.ranges.last().cloned() else {
        // The layer root itself ("./"): only its metadata matters.
        if kind.is_dir() {
            if ctx.root {
                let (uid, gid) = (Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid)));
                fchown(ctx.walker.root_fd(), uid, gid).map_err(fs_err("chown", &path))?;
            }
            ctx.stats.dirs += 1;
            ctx.dirs.push(DeferredDir {
                path: Vec::new(),
                meta,
            });
        } else {
            ctx.stats.other_skipped += 1;
        }
        return Ok(());
    };
    let depth = ctx.ranges.len() - 1;
    let parent = ctx
        .walker
        .dir(&path, &ctx.ranges[..depth], true)
        .map_err(|e| walk_error(&path, &ctx.ranges, e))?;
    let name = &path[last];
    let at = Slot {
        parent,
        depth,
        name,
        path: &path,
    };
    match classify_whiteout(name) {
        Whiteout::No => {}
        Whiteout::Opaque => return opaque(ctx, &at),
        Whiteout::Delete(real) => return whiteout(ctx, &Slot { name: real, ..at }),
        Whiteout::Meta => {
            ctx.stats.other_skipped += 1;
            return Ok(());
        }
        Whiteout::Invalid => return Err(UnpackError::BadWhiteout { path: lossy(&path) }),
    }
    match kind {
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
            regular(ctx, entry, &at, meta)
        }
        EntryType::Directory => directory(ctx, &at, meta),
        EntryType::Symlink => symlink(ctx, entry, &at, meta),
        EntryType::Link => hardlink(ctx, entry, &at),
        EntryType::Fifo => fifo(ctx, &at, meta),
        EntryType::Char | EntryType::Block => {
            ctx.stats.devices_skipped += 1;
            Ok(())
        }
        _ => {
            ctx.stats.other_skipped += 1;
            Ok(())
        }
    }
}

/// Where an entry goes: `name` in the directory fd `parent`, `depth` levels down.
#[derive(Clone, Copy)]
pub(super) struct Slot<'a> {
    pub(super) parent: RawFd,
    pub(super) depth: usize,
    pub(super) name: &'a [u8],
    pub(super) path: &'a [u8],
}

/// Makes room for a new entry: removes whatever is there (recursively, never
/// following symlinks) unless both old and new are directories. Returns
/// whether an existing directory was kept.
pub(super) fn clear_slot(ctx: &mut Ctx, at: &Slot, keep_dir: bool) -> Result<bool, UnpackError> {
    match existing(at.parent, at.name).map_err(fs_err("lstat", at.path))? {
        Existing::None => Ok(false),
        Existing::Dir if keep_dir => Ok(true),
        Existing::Dir | Existing::Other => {
            ctx.walker.forget_below(at.depth);
            remove_all_at(at.parent, at.name).map_err(fs_err("remove existing entry", at.path))?;
            Ok(false)
        }
    }
}

fn timespec(meta: &Meta) -> TimeSpec {
    TimeSpec::new(meta.mtime, 0)
}

/// Owner, mode (unless a symlink) and mtime for a non-regular entry.
fn apply_meta_at(ctx: &Ctx, at: &Slot, meta: &Meta, chmod: bool) -> Result<(), UnpackError> {
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

fn regular<R: Read>(
    ctx: &mut Ctx,
    entry: &mut tar::Entry<R>,
    at: &Slot,
    meta: Meta,
) -> Result<(), UnpackError> {
    clear_slot(ctx, at, false)?;
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(
        Some(at.parent),
        at.name,
        flags,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(fs_err("create file", at.path))?;
    // SAFETY: `fd` was just returned by openat and is owned by nothing else.
    let mut file = unsafe { File::from_raw_fd(fd) };
    let mut written = 0u64;
    loop {
        let n = match entry.read(&mut ctx.buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(UnpackError::Corrupt { source }),
        };
        file.write_all(&ctx.buf[..n])
            .map_err(|source| UnpackError::Write {
                path: lossy(at.path),
                source,
            })?;
        written += n as u64;
    }
    if written != entry.size() {
        let msg = format!(
            "{}: data ends after {written} of {} bytes",
            lossy(at.path),
            entry.size()
        );
        let source = io::Error::new(io::ErrorKind::UnexpectedEof, msg);
        return Err(UnpackError::Corrupt { source });
    }
    let fd = file.as_raw_fd();
    if ctx.root {
        fchown(
            fd,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
        )
        .map_err(fs_err("chown", at.path))?;
    }
    // After chown, which clears setuid/setgid.
    fchmod(fd, Mode::from_bits_truncate(meta.mode)).map_err(fs_err("chmod", at.path))?;
    let ts = timespec(&meta);
    futimens(fd, &ts, &ts).map_err(fs_err("futimens", at.path))?;
    ctx.stats.files += 1;
    ctx.stats.bytes += written;
    Ok(())
}

fn directory(ctx: &mut Ctx, at: &Slot, meta: Meta) -> Result<(), UnpackError> {
    if !clear_slot(ctx, at, true)? {
        mkdirat(Some(at.parent), at.name, Mode::from_bits_truncate(0o700))
            .map_err(fs_err("mkdir", at.path))?;
    }
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
    let path = ctx
        .ranges
        .iter()
        .map(|r| &at.path[r.clone()])
        .collect::<Vec<_>>()
        .join(&b'/');
    ctx.dirs.push(DeferredDir { path, meta });
    ctx.stats.dirs += 1;
    Ok(())
}

fn symlink<R: Read>(
    ctx: &mut Ctx,
    entry: &tar::Entry<R>,
    at: &Slot,
    meta: Meta,
) -> Result<(), UnpackError> {
    let target = entry
        .link_name_bytes()
        .ok_or_else(|| UnpackError::MissingLinkName {
            path: lossy(at.path),
        })?;
    clear_slot(ctx, at, false)?;
    // The link is created verbatim; it is never followed by the unpacker.
    symlinkat(&*target, Some(at.parent), at.name).map_err(fs_err("symlink", at.path))?;
    apply_meta_at(ctx, at, &meta, false)?;
    ctx.stats.symlinks += 1;
    Ok(())
}

fn hardlink<R: Read>(ctx: &mut Ctx, entry: &tar::Entry<R>, at: &Slot) -> Result<(), UnpackError> {
    let target = entry
        .link_name_bytes()
        .ok_or_else(|| UnpackError::MissingLinkName {
            path: lossy(at.path),
        })?;
    let bad = || UnpackError::BadHardlink {
        path: lossy(at.path),
        target: lossy(&target),
    };
    // Same clamping as entry paths: the target is an earlier member of this layer.
    normalize_path(&target, &mut ctx.link_ranges).map_err(|_| bad())?;
    let Some(last) = ctx.link_ranges.last().cloned() else {
        return Err(bad());
    };
    let same = ctx.link_ranges.len() == ctx.ranges.len()
        && ctx
            .link_ranges
            .iter()
            .zip(&ctx.ranges)
            .all(|(a, b)| target[a.clone()] == at.path[b.clone()]);
    if same {
        ctx.stats.other_skipped += 1;
        return Ok(());
    }
    let tdir = ctx
        .walker
        .dir_uncached(&target, &ctx.link_ranges[..ctx.link_ranges.len() - 1])
        .map_err(|_: WalkError| bad())?;
    let tparent = tdir
        .as_ref()
        .map_or(ctx.walker.root_fd(), |fd| fd.as_raw_fd());
    let tname = &target[last];
    match existing(tparent, tname).map_err(fs_err("lstat", at.path))? {
        Existing::Other => {}
        Existing::None | Existing::Dir => return Err(bad()),
    }
    clear_slot(ctx, at, false)?;
    // Flags empty: link the entry itself, even if it is a symlink.
    linkat(
        Some(tparent),
        tname,
        Some(at.parent),
        at.name,
        AtFlags::empty(),
    )
    .map_err(fs_err("link", at.path))?;
    ctx.stats.hardlinks += 1;
    Ok(())
}

fn fifo(ctx: &mut Ctx, at: &Slot, meta: Meta) -> Result<(), UnpackError> {
    clear_slot(ctx, at, false)?;
    mkfifoat(Some(at.parent), at.name, Mode::from_bits_truncate(0o600))
        .map_err(fs_err("mkfifo", at.path))?;
    apply_meta_at(ctx, at, &meta, true)?;
    ctx.stats.fifos += 1;
    Ok(())
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
