//! `cp` into and out of a container that is not running (created or
//! exited): out of the merged view of its layers, into its overlay upper
//! directory (not mounted now), creating parent directories there as the
//! layers below have them. A symlink on the way in is refused: resolved on
//! the host it could lead out of the container.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::copy::{unpack, CopyError, Placement};
use super::export::{merged_kind, pack_merged};

const NOT_A_DIR: &str = "is not a directory (a symlink is not followed into a stopped container)";

/// The container's layers for the merged view: upper first.
pub struct Layers {
    pub upper: PathBuf,
    pub image: Vec<PathBuf>,
}

impl Layers {
    fn all(&self) -> Vec<PathBuf> {
        std::iter::once(self.upper.clone())
            .chain(self.image.iter().cloned())
            .collect()
    }
}

fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// The tar of container path `path` (`contents`: of what is inside it;
/// `follow`, `cp -L`: a symlink is packed as what it leads to in the
/// container, under its own name).
pub fn pack_out(
    layers: &Layers,
    path: &Path,
    (contents, follow): (bool, bool),
    out: impl std::io::Write,
) -> Result<(), CopyError> {
    let all = layers.all();
    let rel = relative(path);
    let fail = |e: std::io::Error| CopyError::Inside(format!("{}: {e}", path.display()));
    if !follow {
        return pack_merged(&all, (&rel, None), contents, out).map_err(fail);
    }
    let resolved = resolve_merged(&all, &rel).map_err(fail)?;
    pack_merged(
        &all,
        (&resolved, rel.file_name().map(Path::new)),
        contents,
        out,
    )
    .map_err(fail)
}

/// `rel` with every symlink on its way resolved in the merged view, as the
/// container would see them: absolute targets from its root, `..` never
/// above it.
pub fn resolve_merged(layers: &[PathBuf], rel: &Path) -> std::io::Result<PathBuf> {
    let all: Vec<&Path> = layers.iter().map(PathBuf::as_path).collect();
    let mut todo: Vec<std::ffi::OsString> = parts(rel);
    todo.reverse();
    let mut done = PathBuf::new();
    let mut hops = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            done.pop();
            continue;
        }
        let next = done.join(&part);
        let top = super::export::visible(&all, &next).map(|seen| seen[0].join(&next));
        let link = top.and_then(|p| std::fs::read_link(p).ok());
        let Some(target) = link else {
            done = next;
            continue;
        };
        hops += 1;
        if hops > 40 {
            return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
        }
        if target.is_absolute() {
            done = PathBuf::new();
        }
        todo.extend(parts(&target).into_iter().rev());
    }
    Ok(done)
}

/// The names of `path`, `..` kept (resolved against what came before).
fn parts(path: &Path) -> Vec<std::ffi::OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// Unpacks `input` at container path `dst` as `cp` places it.
pub fn unpack_in(
    layers: &Layers,
    input: impl Read,
    dst: &Path,
    how: Placement,
    from_stdin: bool,
) -> Result<(), CopyError> {
    let all = layers.all();
    let rel = relative(dst);
    let kind = merged_kind(&all, &rel);
    if from_stdin && kind != Some(true) {
        return Err(CopyError::Path {
            path: dst.to_path_buf(),
            problem: "not a directory: a tar from stdin is extracted into a directory",
        });
    }
    let dir = if kind == Some(true) || how.contents {
        rel.clone()
    } else {
        let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        let problem = match merged_kind(&all, &parent) {
            _ if parent.as_os_str().is_empty() => None,
            Some(true) => None,
            Some(false) => Some(NOT_A_DIR),
            None => Some("no such directory"),
        };
        if let Some(problem) = problem {
            return Err(CopyError::Path {
                path: dst.parent().unwrap_or(dst).to_path_buf(),
                problem,
            });
        }
        parent
    };
    make_upper_dirs(layers, &all, &dir)?;
    let target = layers.upper.join(&rel);
    // A file the container deleted comes back: its whiteout goes.
    let whiteout = |m: std::fs::Metadata| m.file_type().is_char_device() && m.rdev() == 0;
    if std::fs::symlink_metadata(&target).is_ok_and(whiteout) {
        std::fs::remove_file(&target)?;
    }
    unpack(input, &target, how)
}

/// `rel` as real directories in the upper directory, each with the mode
/// and owner of the directory below it; a symlink on the way is refused.
fn make_upper_dirs(layers: &Layers, all: &[PathBuf], rel: &Path) -> Result<(), CopyError> {
    let mut prefix = PathBuf::new();
    for part in rel.components() {
        prefix.push(part);
        let here = layers.upper.join(&prefix);
        match std::fs::symlink_metadata(&here) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => {
                return Err(CopyError::Path {
                    path: Path::new("/").join(&prefix),
                    problem: NOT_A_DIR,
                })
            }
            Err(_) => {}
        }
        let below = all[1..]
            .iter()
            .map(|l| l.join(&prefix))
            .find_map(|p| std::fs::symlink_metadata(p).ok());
        if below.as_ref().is_some_and(|m| !m.is_dir()) {
            return Err(CopyError::Path {
                path: Path::new("/").join(&prefix),
                problem: NOT_A_DIR,
            });
        }
        std::fs::create_dir(&here)?;
        if let Some(m) = below {
            std::fs::set_permissions(&here, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
            std::os::unix::fs::lchown(&here, Some(m.uid()), Some(m.gid()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_in_the_merged_view_and_never_above_its_root() {
        let tmp = tempfile::tempdir().unwrap();
        let (upper, image) = (tmp.path().join("upper"), tmp.path().join("image"));
        std::fs::create_dir_all(image.join("etc/conf.d")).unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(image.join("etc/conf.d/app"), "x").unwrap();
        let link = |target: &str, at: &Path| std::os::unix::fs::symlink(target, at).unwrap();
        link("/etc/conf.d/app", &image.join("etc/abs"));
        link("conf.d", &upper.join("etc/rel"));
        link("../../../../etc", &image.join("up"));
        link("loop", &image.join("loop"));
        let layers = [upper, image];
        let resolve = |p: &str| resolve_merged(&layers, Path::new(p));
        assert_eq!(resolve("etc/abs").unwrap(), Path::new("etc/conf.d/app"));
        assert_eq!(resolve("etc/rel/app").unwrap(), Path::new("etc/conf.d/app"));
        assert_eq!(resolve("up/conf.d").unwrap(), Path::new("etc/conf.d"));
        assert_eq!(resolve("etc/conf.d").unwrap(), Path::new("etc/conf.d"));
        assert_eq!(
            resolve("loop").unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
    }
}
