//! Writing inside the chrooted rootfs: parents, directories and files with
//! the owner, mode and mtime a copy gives them.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub(super) fn make_parents(dest: &Path) -> Result<(), String> {
    if let Some(parent) = dest.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    Ok(())
}

pub(super) fn make_dir(dir: &Path, mode: Option<u32>, owner: (u32, u32)) -> Result<(), String> {
    let existed = dir.is_dir();
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    if !existed {
        if let Some(m) = mode {
            fs::set_permissions(dir, fs::Permissions::from_mode(m)).map_err(|e| e.to_string())?;
        }
        std::os::unix::fs::chown(dir, Some(owner.0), Some(owner.1)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

pub(super) fn write_file(
    dest: &Path,
    data: &[u8],
    mode: u32,
    owner: (u32, u32),
    mtime: Option<i64>,
) -> Result<(), String> {
    let err = |e: std::io::Error| format!("cannot write {}: {e}", dest.display());
    if dest.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
        fs::remove_file(dest).map_err(err)?;
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(err)?;
    f.write_all(data).map_err(err)?;
    std::os::unix::fs::fchown(&f, Some(owner.0), Some(owner.1)).map_err(err)?;
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(err)?;
    if let Some(t) = mtime {
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64);
        f.set_modified(when).map_err(err)?;
    }
    Ok(())
}
