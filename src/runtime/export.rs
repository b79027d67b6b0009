//! `export`: a container's filesystem as one tar — the image's layers with
//! the container's changes on top, merged as overlayfs merges them
//! (whiteouts hide, opaque directories hide what is below). Volumes and
//! other mounts are not part of it, as in Docker.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What the topmost layer holding a name says about it.
enum Top {
    Hidden,
    /// Found in layer `usize`.
    In(usize),
}

fn is_whiteout(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0)
}

/// overlayfs marks a directory that hides everything below it with this xattr.
fn is_opaque(dir: &Path) -> bool {
    if dir.join(".wh..wh..opq").exists() {
        return true;
    }
    let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut value = [0u8; 1];
    // SAFETY: both strings are NUL-terminated; the buffer's size is passed.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n == 1 && value[0] == b'y'
}

/// Writes the merged tree of `layers` (topmost first: the container's
/// upper directory, then the image's layers) as a tar.
pub fn export(layers: &[PathBuf], out: impl Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let all: Vec<&Path> = layers.iter().map(PathBuf::as_path).collect();
    merge_dir(&mut tar, Path::new(""), &all)?;
    tar.into_inner()?.flush()
}

fn merge_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    rel: &Path,
    layers: &[&Path],
) -> std::io::Result<()> {
    let mut tops: BTreeMap<std::ffi::OsString, Top> = BTreeMap::new();
    for (i, layer) in layers.iter().enumerate() {
        let dir = layer.join(rel);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let bytes = name.as_bytes();
            if bytes == b".wh..wh..opq" {
                continue;
            }
            if let Some(hidden) = bytes.strip_prefix(b".wh.") {
                let hidden = std::ffi::OsStr::from_bytes(hidden).to_os_string();
                tops.entry(hidden).or_insert(Top::Hidden);
                continue;
            }
            let top = if is_whiteout(&entry.path()) {
                Top::Hidden
            } else {
                Top::In(i)
            };
            tops.entry(name).or_insert(top);
        }
        if is_opaque(&dir) {
            break;
        }
    }
    for (name, top) in tops {
        let Top::In(i) = top else { continue };
        let path = layers[i].join(rel).join(&name);
        let inside = rel.join(&name);
        tar.append_path_with_name(&path, &inside)?;
        if std::fs::symlink_metadata(&path)?.is_dir() {
            // Below the top, only layers where it is a directory too count,
            // down to the first that is not (a file there would be hidden).
            let below: Vec<&Path> = layers[i..]
                .iter()
                .copied()
                .take_while(|l| {
                    std::fs::symlink_metadata(l.join(&inside)).map_or(true, |m| m.is_dir())
                })
                .collect();
            merge_dir(tar, &inside, &below)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_wins_and_whiteouts_hide() {
        let tmp = tempfile::tempdir().unwrap();
        let (upper, lower) = (tmp.path().join("upper"), tmp.path().join("lower"));
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::write(lower.join("etc/a"), "old").unwrap();
        std::fs::write(lower.join("etc/gone"), "x").unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/a"), "new").unwrap();
        std::fs::write(upper.join("etc/.wh.gone"), "").unwrap();
        std::fs::write(upper.join("added"), "+").unwrap();
        let mut bytes = Vec::new();
        export(&[upper, lower], &mut bytes).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut seen = BTreeMap::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut e, &mut text).unwrap();
            seen.insert(e.path().unwrap().display().to_string(), text);
        }
        let names: Vec<&str> = seen.keys().map(String::as_str).collect();
        assert_eq!(names, ["added", "etc", "etc/a"]);
        assert_eq!(seen["etc/a"], "new");
    }
}
