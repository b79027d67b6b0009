//! OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) and their overlayfs form.
//!
//! Each layer is unpacked into its own directory and stacked as an overlay
//! lower dir, so whiteouts must become what overlayfs understands: a 0:0
//! character device named NAME, and the `trusted.overlay.opaque=y` xattr.
//! Both need root; without it they are counted and skipped.

use nix::errno::Errno;
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};

use super::unpack::UnpackError;
use super::unpack_entry::{clear_slot, fs_err, Ctx, Slot};

/// What a final path component means for overlay whiteouts.
#[derive(Debug, PartialEq, Eq)]
pub enum Whiteout<'a> {
    /// A normal entry.
    No,
    /// `.wh..wh..opq`: the parent directory is opaque.
    Opaque,
    /// `.wh.NAME`: NAME is deleted.
    Delete(&'a [u8]),
    /// Other `.wh..wh.` AUFS metadata, ignored.
    Meta,
    /// `.wh.` with an empty, `.` or `..` name.
    Invalid,
}

pub fn classify_whiteout(name: &[u8]) -> Whiteout<'_> {
    if name == b".wh..wh..opq" {
        return Whiteout::Opaque;
    }
    if name.starts_with(b".wh..wh.") {
        return Whiteout::Meta;
    }
    match name.strip_prefix(b".wh.") {
        None => Whiteout::No,
        Some(b"" | b"." | b"..") => Whiteout::Invalid,
        Some(real) => Whiteout::Delete(real),
    }
}

/// `.wh.NAME`: an overlay whiteout (char device 0:0) named NAME.
pub(super) fn whiteout(ctx: &mut Ctx, at: &Slot) -> Result<(), UnpackError> {
    clear_slot(ctx, at, false)?;
    ctx.stats.whiteouts += 1;
    if !ctx.root {
        ctx.stats.unprivileged_skipped += 1;
        return Ok(());
    }
    mknodat(
        Some(at.parent),
        at.name,
        SFlag::S_IFCHR,
        Mode::empty(),
        makedev(0, 0),
    )
    .map_err(fs_err("mknod whiteout", at.path))
}

/// `.wh..wh..opq`: mark the parent directory opaque for overlayfs.
pub(super) fn opaque(ctx: &mut Ctx, at: &Slot) -> Result<(), UnpackError> {
    ctx.stats.opaque_dirs += 1;
    if !ctx.root {
        ctx.stats.unprivileged_skipped += 1;
        return Ok(());
    }
    const NAME: &[u8] = b"trusted.overlay.opaque\0";
    // SAFETY: `at.parent` is an open directory fd; NAME is NUL-terminated and
    // the value pointer/length describe a live 1-byte buffer.
    let rc =
        unsafe { libc::fsetxattr(at.parent, NAME.as_ptr().cast(), b"y".as_ptr().cast(), 1, 0) };
    Errno::result(rc)
        .map(drop)
        .map_err(fs_err("set opaque xattr", at.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_whiteouts() {
        assert_eq!(classify_whiteout(b"file"), Whiteout::No);
        assert_eq!(classify_whiteout(b".wh..wh..opq"), Whiteout::Opaque);
        assert_eq!(classify_whiteout(b".wh.foo"), Whiteout::Delete(b"foo"));
        assert_eq!(classify_whiteout(b".wh..wh.plnk"), Whiteout::Meta);
        assert_eq!(classify_whiteout(b".wh."), Whiteout::Invalid);
        assert_eq!(classify_whiteout(b".wh.."), Whiteout::Invalid);
    }
}
