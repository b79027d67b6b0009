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
    merge_dir(&mut tar, Path::new(""), Path::new(""), &all)?;
    tar.into_inner()?.flush()
}

/// The layers `rel` is seen through (topmost first): the one holding it,
/// then, for a directory, those below whose directory merges into it.
/// None when a whiteout hides it or no layer has it. Symlinks on the way
/// are not followed: an intermediate one makes it unreachable here.
pub fn visible<'l>(layers: &[&'l Path], rel: &Path) -> Option<Vec<&'l Path>> {
    let mut current: Vec<&Path> = layers.to_vec();
    let mut prefix = PathBuf::new();
    for part in rel.components() {
        let std::path::Component::Normal(name) = part else {
            continue;
        };
        let mut hidden_name = std::ffi::OsString::from(".wh.");
        hidden_name.push(name);
        let parent = prefix.clone();
        prefix.push(name);
        let mut next = Vec::new();
        for layer in &current {
            let path = layer.join(&prefix);
            if is_whiteout(&path) || layer.join(&parent).join(&hidden_name).exists() {
                break;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !next.is_empty() && !meta.is_dir() {
                break;
            }
            next.push(*layer);
            if !meta.is_dir() || is_opaque(&path) {
                break;
            }
        }
        if next.is_empty() {
            return None;
        }
        current = next;
    }
    Some(current)
}

/// `cp` out of a stopped container: the tar of `rel` as the merged view
/// shows it (`contents`: what is inside it), named `name` (default: its
/// base name).
pub fn pack_merged(
    layers: &[PathBuf],
    (rel, name): (&Path, Option<&Path>),
    contents: bool,
    out: impl Write,
) -> std::io::Result<()> {
    let all: Vec<&Path> = layers.iter().map(PathBuf::as_path).collect();
    let not_found = || std::io::Error::from(std::io::ErrorKind::NotFound);
    let seen = visible(&all, rel).ok_or_else(not_found)?;
    let path = seen[0].join(rel);
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let name = name
        .or(rel.file_name().map(Path::new))
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let is_dir = std::fs::symlink_metadata(&path)?.is_dir();
    if contents && is_dir {
        merge_dir(&mut tar, rel, Path::new(""), &seen)?;
    } else {
        tar.append_path_with_name(&path, &name)?;
        if is_dir {
            merge_dir(&mut tar, rel, &name, &seen)?;
        }
    }
    tar.into_inner()?.flush()
}

/// `rel` in the merged view, for `cp` into a stopped container: Some(true)
/// for a directory, Some(false) for anything else, None when absent.
pub fn merged_kind(layers: &[PathBuf], rel: &Path) -> Option<bool> {
    let all: Vec<&Path> = layers.iter().map(PathBuf::as_path).collect();
    let seen = visible(&all, rel)?;
    std::fs::symlink_metadata(seen[0].join(rel))
        .ok()
        .map(|m| m.is_dir())
}

/// `rel`: the directory read (in each layer); `named`: what its entries
/// are called in the tar.
fn merge_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    rel: &Path,
    named: &Path,
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
        tar.append_path_with_name(&path, named.join(&name))?;
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
            merge_dir(tar, &inside, &named.join(&name), &below)?;
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

    #[test]
    fn a_path_is_seen_through_its_topmost_layer() {
        let tmp = tempfile::tempdir().unwrap();
        let (upper, lower) = (tmp.path().join("upper"), tmp.path().join("lower"));
        std::fs::create_dir_all(lower.join("etc/sub")).unwrap();
        std::fs::write(lower.join("etc/sub/x"), "x").unwrap();
        std::fs::write(lower.join("etc/gone"), "x").unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/.wh.gone"), "").unwrap();
        std::fs::write(upper.join("etc/y"), "y").unwrap();
        let layers = [upper.clone(), lower.clone()];
        assert_eq!(merged_kind(&layers, Path::new("etc")), Some(true));
        assert_eq!(merged_kind(&layers, Path::new("etc/y")), Some(false));
        assert_eq!(merged_kind(&layers, Path::new("etc/gone")), None);
        assert_eq!(merged_kind(&layers, Path::new("nothing")), None);
        let mut bytes = Vec::new();
        pack_merged(&layers, (Path::new("etc"), None), false, &mut bytes).unwrap();
        let names: Vec<String> = tar::Archive::new(&bytes[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["etc", "etc/sub", "etc/sub/x", "etc/y"]);
    }
}
