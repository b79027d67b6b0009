//! Extended attributes carried in PAX headers (`SCHILY.xattr.NAME`), e.g.
//! `security.capability` for file capabilities. Applied to regular files only,
//! as root, after chown (which clears file capabilities).

use std::ffi::CString;
use std::io::Read;
use std::os::fd::RawFd;

use nix::errno::Errno;

use super::unpack::UnpackError;

const PAX_PREFIX: &[u8] = b"SCHILY.xattr.";

/// Whether a layer may set xattr `name`: overlayfs's own `trusted.overlay.*`
/// attributes (redirects, metacopy, opaque) are reserved for the store.
pub fn xattr_allowed(name: &[u8]) -> bool {
    let known_ns = [&b"user."[..], b"security.", b"trusted."]
        .iter()
        .any(|ns| name.starts_with(ns));
    known_ns && !name.starts_with(b"trusted.overlay.") && !name.contains(&0)
}

/// Sets the allowed PAX xattrs of `entry` on `fd`; returns how many were set.
/// Filesystems without xattr support (ENOTSUP) are tolerated.
pub(super) fn apply_pax_xattrs<R: Read>(
    entry: &mut tar::Entry<R>,
    fd: RawFd,
    path: &[u8],
) -> Result<u64, UnpackError> {
    let Some(exts) = entry
        .pax_extensions()
        .map_err(|source| UnpackError::Corrupt { source })?
    else {
        return Ok(0);
    };
    let mut set = 0;
    for ext in exts {
        let ext = ext.map_err(|source| UnpackError::Corrupt { source })?;
        let Some(name) = ext.key_bytes().strip_prefix(PAX_PREFIX) else {
            continue;
        };
        if !xattr_allowed(name) {
            continue;
        }
        let cname = CString::new(name).expect("no NUL, checked by xattr_allowed");
        let value = ext.value_bytes();
        // SAFETY: `fd` is an open file, `cname` is NUL-terminated and the
        // value pointer/length describe a live slice.
        let rc =
            unsafe { libc::fsetxattr(fd, cname.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
        match Errno::result(rc) {
            Ok(_) => set += 1,
            Err(Errno::ENOTSUP) => {}
            Err(source) => {
                return Err(UnpackError::Fs {
                    op: "setxattr",
                    path: String::from_utf8_lossy(path).into_owned(),
                    source,
                })
            }
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_xattr_names() {
        assert!(xattr_allowed(b"security.capability"));
        assert!(xattr_allowed(b"user.mime_type"));
        assert!(xattr_allowed(b"trusted.foo"));
        assert!(!xattr_allowed(b"trusted.overlay.redirect"));
        assert!(!xattr_allowed(b"trusted.overlay.opaque"));
        assert!(!xattr_allowed(b"system.posix_acl_access"));
        assert!(!xattr_allowed(b"user.a\0b"));
    }
}
