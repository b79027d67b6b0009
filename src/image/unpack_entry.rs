//! Per-entry work of [`super::unpack::unpack_layer`]: one function per tar entry type.

use std::fs::File;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, futimens, mkdirat, Mode};
use nix::unistd::{fchown, fchownat, linkat, mkfifoat, symlinkat, Gid, Uid};
use tar::EntryType;

use super::fsat::{existing, remove_all_at, Existing, WalkError, Walker};
use super::unpack::{normalize_path, walk_error, UnpackError, UnpackStats};
use super::unpack_meta::{apply_meta_at, read_meta, timespec, DeferredDir, Meta};
use super::whiteout::{classify_whiteout, opaque, whiteout, Whiteout};
use super::xattr::apply_pax_xattrs;

/// Mutable state shared by all entries of one unpack.
pub(super) struct Ctx {
    pub(super) walker: Walker,
    pub(super) root: bool,
    buf: Vec<u8>,
    pub(super) ranges: Vec<Range<usize>>,
    link_ranges: Vec<Range<usize>>,
    pub(super) dirs: Vec<DeferredDir>,
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

/// Copies the entry's data into `file`, checking it is all there.
fn copy_data<R: Read>(
    buf: &mut [u8],
    entry: &mut tar::Entry<R>,
    file: &mut File,
    path: &[u8],
) -> Result<u64, UnpackError> {
    let mut written = 0u64;
    loop {
        let n = match entry.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(UnpackError::Corrupt { source }),
        };
        file.write_all(&buf[..n])
            .map_err(|source| UnpackError::Write {
                path: lossy(path),
                source,
            })?;
        written += n as u64;
    }
    if written != entry.size() {
        let msg = format!(
            "{}: data ends after {written} of {} bytes",
            lossy(path),
            entry.size()
        );
        let source = io::Error::new(io::ErrorKind::UnexpectedEof, msg);
        return Err(UnpackError::Corrupt { source });
    }
    Ok(written)
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
    let written = copy_data(&mut ctx.buf, entry, &mut file, at.path)?;
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
    if ctx.root {
        ctx.stats.xattrs += apply_pax_xattrs(entry, fd, at.path)?;
    }
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
