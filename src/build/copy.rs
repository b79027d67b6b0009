//! COPY/ADD from the context into a step's upper dir. The work runs in a
//! forked child with its own mount namespace: the stage's layers and the
//! step's upper are overlaid, the child chroots into the result (so
//! destination symlinks resolve inside the rootfs, never on the host), and
//! sources are read through a context fd with RESOLVE_IN_ROOT (so no source
//! symlink reaches outside the context). The namespace, and its mount, die
//! with the child whatever happens.

use std::ffi::CString;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

use super::chmod::Chmod;
use super::ignore::Ignore;

mod stage_glob;
mod write;
use write::{make_dir, make_parents, write_file};

/// One source and where it lands (absolute in the rootfs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Context-relative path ("" for the context itself).
    pub source: String,
    pub dest: String,
    /// A file source lands inside `dest` under its own name.
    pub into_dir: bool,
    /// Unpack the source as a tar (ADD of a local archive).
    pub extract: bool,
    /// A directory source, too, lands inside `dest` under its own name
    /// (`--parents`).
    pub dir_keeps_name: bool,
}

/// The copy a step does.
pub struct CopyJob<'a> {
    pub context: &'a Path,
    pub placements: Vec<Placement>,
    /// Files written from heredocs: (absolute path, content).
    pub inline: Vec<(String, String)>,
    /// `ADD URL` downloads: (absolute path, the file); mode 0600 as in Docker.
    pub fetched: Vec<(String, super::fetch::Fetched)>,
    pub owner: (u32, u32),
    pub chmod: Option<Chmod>,
    pub ignore: &'a Ignore,
    /// `--exclude` patterns, matched against paths relative to the copied
    /// directory (and to the context).
    pub exclude: &'a Ignore,
    /// `COPY --from`: the source stage's layers (topmost first), overlaid
    /// read-only at `source_mount` and read instead of the context.
    pub from_layers: Option<&'a [PathBuf]>,
    pub source_mount: &'a Path,
    pub layers: &'a [PathBuf],
    pub upper: &'a Path,
    pub work: &'a Path,
    pub merged: &'a Path,
}

/// Runs the job in a child; an error comes back as its message. `tick`
/// is called every `TICK` while the child works (the live view's clock).
pub fn run(job: &CopyJob, tick: &dyn Fn()) -> Result<(), String> {
    let ctx = open_context(job.context)?;
    let (mut rd, wr) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    let rd_file = {
        // SAFETY: rcorch is single-threaded here; the child only copies files and exits.
        match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
            nix::unistd::ForkResult::Child => {
                drop(rd);
                let result = child(job, ctx.as_raw_fd());
                let mut w = fs::File::from(wr);
                let code = match result {
                    Ok(()) => 0,
                    Err(m) => {
                        let _ = w.write_all(m.as_bytes());
                        1
                    }
                };
                // SAFETY: the child's work is done; skip the parent's destructors.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(wr);
                let message = read_ticking(std::mem::replace(&mut rd, dup_null()), tick);
                let status =
                    nix::sys::wait::waitpid(child, None).map_err(|e| format!("wait: {e}"))?;
                (status, message)
            }
        }
    };
    match rd_file {
        (nix::sys::wait::WaitStatus::Exited(_, 0), _) => Ok(()),
        (_, m) if !m.is_empty() => Err(m),
        (status, _) => Err(format!("the copy process failed: {status:?}")),
    }
}

/// Everything the child writes to `rd` until it closes it, calling `tick`
/// whenever `TICK` passes without a byte.
fn read_ticking(rd: OwnedFd, tick: &dyn Fn()) -> String {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut file = fs::File::from(rd);
    let mut bytes = Vec::new();
    let timeout = PollTimeout::try_from(crate::runtime::echo::TICK).unwrap_or(PollTimeout::NONE);
    loop {
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => {
                tick();
                continue;
            }
            Err(nix::errno::Errno::EINTR) => continue,
            // Readable, closed, or poll failed: read says which.
            _ => {}
        }
        let mut chunk = [0u8; 4096];
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn dup_null() -> OwnedFd {
    fs::File::open("/dev/null").expect("/dev/null").into()
}

fn open_context(context: &Path) -> Result<OwnedFd, String> {
    let f = fs::File::open(context)
        .map_err(|e| format!("cannot open the build context {}: {e}", context.display()))?;
    Ok(f.into())
}

fn child(job: &CopyJob, ctx: RawFd) -> Result<(), String> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare: {e}"))?;
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(|e| format!("mount private: {e}"))?;
    let stage_root;
    let (ctx, placements) = match job.from_layers {
        None => (ctx, job.placements.clone()),
        Some(layers) => {
            stage_root = open_stage(layers, job.source_mount)?;
            let root = stage_root.as_raw_fd();
            (
                root,
                stage_glob::expand(root, &job.placements, job.exclude)?,
            )
        }
    };
    let root = if job.layers.is_empty() {
        job.upper.to_path_buf()
    } else {
        let lower: Vec<String> = job.layers.iter().map(|p| p.display().to_string()).collect();
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            job.upper.display(),
            job.work.display()
        );
        mount(
            Some("overlay"),
            job.merged,
            Some("overlay"),
            MsFlags::empty(),
            Some(opts.as_str()),
        )
        .map_err(|e| format!("mount overlay: {e}"))?;
        job.merged.to_path_buf()
    };
    nix::unistd::chroot(&root).map_err(|e| format!("chroot: {e}"))?;
    std::env::set_current_dir("/").map_err(|e| format!("chdir: {e}"))?;
    // SAFETY: umask only changes this process's file creation mask.
    unsafe { libc::umask(0o022) };
    for p in &placements {
        place(job, ctx, p)?;
    }
    for (path, f) in &job.fetched {
        make_parents(Path::new(path))?;
        let mode = job.mode(0o600, false);
        write_file(Path::new(path), &f.data, mode, job.owner, f.mtime)?;
    }
    for (path, content) in &job.inline {
        make_parents(Path::new(path))?;
        write_file(
            Path::new(path),
            content.as_bytes(),
            job.mode(0o644, false),
            job.owner,
            None,
        )?;
    }
    Ok(())
}

/// Overlays a stage's layers read-only and opens the result.
fn open_stage(layers: &[PathBuf], at: &Path) -> Result<OwnedFd, String> {
    if layers.is_empty() {
        return open_context(at);
    }
    let lower: Vec<String> = layers.iter().map(|p| p.display().to_string()).collect();
    // A single lower needs a second one for a read-only overlay: an empty dir.
    let empty = at.with_extension("empty");
    fs::create_dir_all(&empty).map_err(|e| e.to_string())?;
    let opts = format!("lowerdir={}:{}", lower.join(":"), empty.display());
    mount(
        Some("overlay"),
        at,
        Some("overlay"),
        MsFlags::MS_RDONLY,
        Some(opts.as_str()),
    )
    .map_err(|e| format!("mount the source stage: {e}"))?;
    open_context(at)
}

fn place(job: &CopyJob, ctx: RawFd, p: &Placement) -> Result<(), String> {
    let fd = open_in_root(ctx, &p.source)?;
    let meta = fd_meta(&fd)?;
    let name = Path::new(&p.source)
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let keep_name = if meta.is_dir() {
        p.dir_keeps_name
    } else {
        p.into_dir && !p.extract
    };
    let dest = if keep_name {
        Path::new(&p.dest).join(name)
    } else {
        PathBuf::from(&p.dest)
    };
    if meta.is_dir() {
        make_dir(&dest, None, job.owner)?;
        return copy_dir(job, fd, (&p.source, &p.source), &dest);
    }
    make_parents(&dest)?;
    if p.extract {
        make_dir(&dest, None, job.owner)?;
        let file = fs::File::from(fd);
        let mut archive =
            tar::Archive::new(crate::image::unpack::decompress(file).map_err(|e| e.to_string())?);
        archive.set_preserve_permissions(true);
        archive.set_overwrite(true);
        return archive
            .unpack(&dest)
            .map_err(|e| format!("cannot extract {}: {e}", p.source));
    }
    let mut data = Vec::new();
    fs::File::from(fd)
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot read {}: {e}", p.source))?;
    write_file(
        &dest,
        &data,
        job.mode(meta.mode(), false),
        job.owner,
        Some(meta.mtime()),
    )
}

/// Opens a context path with every symlink resolved inside the context.
fn open_in_root(ctx: RawFd, rel: &str) -> Result<OwnedFd, String> {
    let path = CString::new(if rel.is_empty() { "." } else { rel })
        .map_err(|_| format!("bad path {rel:?}"))?;
    // SAFETY: open_how is plain integers; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `how` and `path` outlive the call; the size is the struct's.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            ctx,
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(format!(
            "{rel}: not found in the build context ({})",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: openat2 just returned this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn fd_meta(fd: &OwnedFd) -> Result<fs::Metadata, String> {
    let f = fs::File::from(fd.try_clone().map_err(|e| e.to_string())?);
    f.metadata().map_err(|e| e.to_string())
}

impl CopyJob<'_> {
    /// A copied file's mode: `--chmod` applied to its own.
    fn mode(&self, own: u32, is_dir: bool) -> u32 {
        self.chmod
            .as_ref()
            .map_or(own & 0o7777, |c| c.apply(own, is_dir))
    }

    /// `--exclude`d: `sub` is context-relative, `top` the copied source.
    fn excluded(&self, top: &str, sub: &str) -> bool {
        let within = sub.strip_prefix(top).unwrap_or(sub).trim_start_matches('/');
        self.exclude.excluded(within) || self.exclude.excluded(sub)
    }
}

/// Copies a context directory's content (never following its symlinks);
/// `top` is the source the copy started from.
fn copy_dir(
    job: &CopyJob,
    dir: OwnedFd,
    (top, rel): (&str, &str),
    dest: &Path,
) -> Result<(), String> {
    let d = nix::dir::Dir::from_fd(dir.as_raw_fd()).map_err(|e| format!("{rel}: {e}"))?;
    std::mem::forget(dir); // Dir owns the fd now
    let mut names: Vec<String> = Vec::new();
    let mut d = d;
    for e in d.iter() {
        let e = e.map_err(|e| format!("{rel}: {e}"))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    names.sort();
    let dfd = d.as_raw_fd();
    for name in names {
        let sub = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if job.ignore.excluded(&sub) && !job.ignore.has_exceptions() {
            continue;
        }
        if job.excluded(top, &sub) && !job.exclude.has_exceptions() {
            continue;
        }
        let st = nix::sys::stat::fstatat(
            Some(dfd),
            name.as_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| format!("{sub}: {e}"))?;
        let target = dest.join(&name);
        let kind = st.st_mode & libc::S_IFMT;
        if kind == libc::S_IFDIR {
            let fd = nix::fcntl::openat(
                Some(dfd),
                name.as_str(),
                nix::fcntl::OFlag::O_RDONLY
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_NOFOLLOW,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| format!("{sub}: {e}"))?;
            // SAFETY: openat just returned this descriptor.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            make_dir(&target, Some(job.mode(st.st_mode, true)), job.owner)?;
            copy_dir(job, fd, (top, &sub), &target)?;
            continue;
        }
        if job.ignore.excluded(&sub) || job.excluded(top, &sub) {
            continue;
        }
        if kind == libc::S_IFLNK {
            let link = nix::fcntl::readlinkat(Some(dfd), name.as_str())
                .map_err(|e| format!("{sub}: {e}"))?;
            let _ = fs::remove_file(&target);
            symlink(&link, &target).map_err(|e| format!("{}: {e}", target.display()))?;
            let _ = nix::unistd::fchownat(
                None,
                &target,
                Some(job.owner.0.into()),
                Some(job.owner.1.into()),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            );
        } else if kind == libc::S_IFREG {
            let fd = nix::fcntl::openat(
                Some(dfd),
                name.as_str(),
                nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NOFOLLOW,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| format!("{sub}: {e}"))?;
            // SAFETY: openat just returned this descriptor.
            let mut f = unsafe { fs::File::from_raw_fd(fd) };
            let mut data = Vec::new();
            f.read_to_end(&mut data)
                .map_err(|e| format!("{sub}: {e}"))?;
            write_file(
                &target,
                &data,
                job.mode(st.st_mode, false),
                job.owner,
                Some(st.st_mtime),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_for_a_silent_child_ticks_and_still_reads_all_it_says() {
        let (rd, wr) = nix::unistd::pipe().unwrap();
        // Silent for three ticks, then a message and the end.
        let writer = std::thread::spawn(move || {
            std::thread::sleep(crate::runtime::echo::TICK * 3);
            fs::File::from(wr).write_all(b"copy failed").unwrap();
        });
        let ticks = std::cell::Cell::new(0);
        let message = read_ticking(rd, &|| ticks.set(ticks.get() + 1));
        writer.join().unwrap();
        assert_eq!(message, "copy failed");
        assert!(ticks.get() >= 1, "{} ticks", ticks.get());
    }
}
