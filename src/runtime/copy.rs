//! `cp` between the host and a running container, as tar streams: the
//! container's side runs in a child that joined the container's mount
//! namespace (so its paths, symlinks and volumes are the container's own);
//! the host's side unpacks with every entry checked to stay under its
//! destination.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::ForkResult;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CopyError {
    #[error("cannot enter container {name}: {source}")]
    Enter {
        name: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Sys(#[from] nix::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// What went wrong on the container's side, as that side said it.
    #[error("{0}")]
    Inside(String),
    #[error("{path}: {problem}")]
    Path {
        path: PathBuf,
        problem: &'static str,
    },
}

/// The tar of `path` (`contents`: of what is inside it, for `SRC/.`),
/// entries named from its base name, symlinks kept as links. `follow`
/// (`cp -L`): a symlink `path` is packed as what it leads to, under the
/// link's name (links inside a directory stay links, as in Docker).
pub fn pack(path: &Path, contents: bool, follow: bool, out: impl Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let name = path
        .file_name()
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let source = match follow {
        true => std::fs::canonicalize(path)?,
        false => path.to_path_buf(),
    };
    let meta = std::fs::symlink_metadata(&source)?;
    if contents {
        tar.append_dir_all(".", &source)?;
    } else if meta.is_dir() {
        tar.append_dir_all(&name, &source)?;
    } else {
        tar.append_path_with_name(&source, &name)?;
    }
    tar.into_inner()?.flush()
}

/// How `unpack` places and owns what it writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Placement {
    /// `SRC/.`: the source's contents go into `dst` (created if missing).
    pub contents: bool,
    /// `cp -a`: keep the archive's uid/gid (else the copier's, root).
    pub keep_owner: bool,
}

/// Docker's placement: into `dst` when it is a directory (or for
/// `contents`), else as `dst` itself, renamed from the source's name.
pub fn unpack(input: impl Read, dst: &Path, how: Placement) -> Result<(), CopyError> {
    let contents = how.contents;
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_ownerships(how.keep_owner);
    let into_dir = contents || dst.is_dir();
    if contents {
        std::fs::create_dir_all(dst)?;
    }
    let (dir, rename) = if into_dir {
        (dst.to_path_buf(), None)
    } else {
        let parent = dst
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(CopyError::Path {
                path: parent.to_path_buf(),
                problem: "no such directory",
            });
        }
        (parent.to_path_buf(), dst.file_name().map(PathBuf::from))
    };
    let root = dir.canonicalize()?;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let relative = placed(&entry.path()?, rename.as_deref())?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        if rename.is_some()
            && relative.components().count() == 1
            && entry.header().entry_type().is_dir()
            && dst.is_file()
        {
            return Err(CopyError::Path {
                path: dst.to_path_buf(),
                problem: "cannot copy a directory onto a file",
            });
        }
        let target = root.join(&relative);
        let parent = target.parent().unwrap_or(&root);
        std::fs::create_dir_all(parent)?;
        // A symlink unpacked earlier must not lead the next entry out.
        if !parent.canonicalize()?.starts_with(&root) {
            return Err(CopyError::Path {
                path: relative,
                problem: "leads outside the destination through a symlink",
            });
        }
        entry.unpack(&target)?;
    }
    Ok(())
}

/// An entry's path under the destination: plain components only, the
/// first replaced by `rename`.
fn placed(path: &Path, rename: Option<&Path>) -> Result<PathBuf, CopyError> {
    let mut out = PathBuf::new();
    for (i, c) in path.components().enumerate() {
        match c {
            Component::Normal(part) if i == 0 && rename.is_some() => {
                out.push(rename.unwrap_or(Path::new(part)))
            }
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => {
                return Err(CopyError::Path {
                    path: path.to_path_buf(),
                    problem: "archive entry leaves its directory",
                })
            }
        }
    }
    Ok(out)
}

/// Runs `work` in a child inside the mount namespace of `pid` (so `/` is
/// the container's root) with one end of a pipe; the parent gets the other
/// end in `relay`. Errors on the container's side come back as text.
pub fn in_container(
    pid: i32,
    name: &str,
    work: impl FnOnce(File) -> Result<(), CopyError>,
    child_reads: bool,
    relay: impl FnOnce(File) -> Result<(), CopyError>,
) -> Result<(), CopyError> {
    let ns = File::open(format!("/proc/{pid}/ns/mnt")).map_err(|source| CopyError::Enter {
        name: name.into(),
        source,
    })?;
    let (data_r, data_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (mine, theirs): (OwnedFd, OwnedFd) = if child_reads {
        (data_w, data_r)
    } else {
        (data_r, data_w)
    };
    // SAFETY: rcorch is single-threaded; the child joins, copies and _exits.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => {
            drop((mine, err_r));
            let result = nix::sched::setns(&ns, CloneFlags::CLONE_NEWNS)
                .map_err(CopyError::from)
                .and_then(|_| nix::unistd::chdir("/").map_err(CopyError::from))
                .and_then(|_| work(File::from(theirs)));
            let code = match result {
                Ok(()) => 0,
                Err(e) => {
                    let _ = File::from(err_w).write_all(e.to_string().as_bytes());
                    1
                }
            };
            // SAFETY: leaving the forked child without the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop((theirs, err_w));
            // A side that gave up shows as EPIPE here, and its own error
            // then comes through the report: not as a silent SIGPIPE death.
            // SAFETY: only changes the disposition; no handler code runs.
            let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
            let relayed = relay(File::from(mine));
            // SAFETY: as above, restoring what was there.
            unsafe { libc::signal(libc::SIGPIPE, previous) };
            let mut report = String::new();
            let _ = File::from(err_r).read_to_string(&mut report);
            let status = waitpid(child, None)?;
            if !report.is_empty() {
                return Err(CopyError::Inside(report));
            }
            relayed?;
            match status {
                WaitStatus::Exited(_, 0) => Ok(()),
                other => Err(CopyError::Inside(format!("copy process ended: {other:?}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dir: &Path) {
        std::fs::create_dir_all(dir.join("src/sub")).unwrap();
        std::fs::write(dir.join("src/a"), "A").unwrap();
        std::fs::write(dir.join("src/sub/b"), "B").unwrap();
    }

    fn copy(src: &Path, contents: bool, dst: &Path) -> Result<(), CopyError> {
        let mut tar = Vec::new();
        pack(src, contents, false, &mut tar).unwrap();
        let how = Placement {
            contents,
            keep_owner: false,
        };
        unpack(&tar[..], dst, how)
    }

    #[test]
    fn placement_follows_docker() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        tree(t);
        std::fs::create_dir(t.join("into")).unwrap();
        copy(&t.join("src"), false, &t.join("into")).unwrap();
        assert_eq!(
            std::fs::read_to_string(t.join("into/src/sub/b")).unwrap(),
            "B"
        );
        copy(&t.join("src"), false, &t.join("renamed")).unwrap();
        assert_eq!(std::fs::read_to_string(t.join("renamed/a")).unwrap(), "A");
        copy(&t.join("src"), true, &t.join("flat")).unwrap();
        assert_eq!(std::fs::read_to_string(t.join("flat/sub/b")).unwrap(), "B");
        copy(&t.join("src/a"), false, &t.join("file-copy")).unwrap();
        assert_eq!(std::fs::read_to_string(t.join("file-copy")).unwrap(), "A");
        let e = copy(&t.join("src"), false, &t.join("nodir/x")).unwrap_err();
        assert!(e.to_string().contains("no such directory"), "{e}");
        let e = copy(&t.join("src"), false, &t.join("file-copy")).unwrap_err();
        assert!(e.to_string().contains("onto a file"), "{e}");
    }

    #[test]
    fn follow_copies_what_a_link_leads_to_under_the_links_name() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        tree(t);
        std::os::unix::fs::symlink(t.join("src/a"), t.join("to-a")).unwrap();
        std::os::unix::fs::symlink("src", t.join("to-src")).unwrap();
        std::os::unix::fs::symlink("a", t.join("src/inner")).unwrap();
        let unpack_to = |src: &str, follow: bool, dst: &str| {
            let mut tar = Vec::new();
            pack(&t.join(src), false, follow, &mut tar).unwrap();
            unpack(&tar[..], &t.join(dst), Placement::default()).unwrap();
        };
        unpack_to("to-a", true, "file");
        let meta = std::fs::symlink_metadata(t.join("file")).unwrap();
        assert!(meta.is_file(), "a file, not a link");
        assert_eq!(std::fs::read_to_string(t.join("file")).unwrap(), "A");
        unpack_to("to-a", false, "link");
        assert!(std::fs::symlink_metadata(t.join("link"))
            .unwrap()
            .is_symlink());
        std::fs::create_dir(t.join("into")).unwrap();
        unpack_to("to-src", true, "into");
        assert_eq!(
            std::fs::read_to_string(t.join("into/to-src/sub/b")).unwrap(),
            "B"
        );
        let inner = std::fs::symlink_metadata(t.join("into/to-src/inner")).unwrap();
        assert!(inner.is_symlink(), "links inside stay links");
    }

    #[test]
    fn entries_cannot_leave_the_destination() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        tar.append_link(&mut link, "top/escape", &outside).unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_size(1);
        file.set_mode(0o644);
        tar.append_data(&mut file, "top/escape/pwned", &b"x"[..])
            .unwrap();
        let bytes = tar.into_inner().unwrap();
        let dst = tmp.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        let e = unpack(&bytes[..], &dst, Placement::default()).unwrap_err();
        assert!(e.to_string().contains("outside the destination"), "{e}");
        assert!(!outside.join("pwned").exists());
    }
}
