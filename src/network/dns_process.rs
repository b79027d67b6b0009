//! The resolver process's lifecycle, seen from `run` and `rm`: one
//! `rcorch dns-serve` per root, which holds `networks/dns.lock` while alive
//! (so at most one runs and "is one running?" is one non-blocking flock),
//! started on demand and stopped with its last container.

use std::fs::OpenOptions;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::store::NetStore;

/// Takes the resolver's lock, or None when a resolver holds it.
pub(super) fn try_lock(root: &Path) -> std::io::Result<Option<Flock<std::fs::File>>> {
    let dir = NetStore::open(root).dir().to_path_buf();
    std::fs::create_dir_all(&dir)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("dns.lock"))?;
    Ok(Flock::lock(file, FlockArg::LockExclusiveNonblock).ok())
}

pub(super) fn pid_file(root: &Path) -> PathBuf {
    NetStore::open(root).dir().join("dns.pid")
}

/// Starts `rcorch dns-serve` for `root` unless one already runs.
pub fn ensure_server(root: &Path) -> std::io::Result<()> {
    match try_lock(root)? {
        None => return Ok(()), // a server holds the lock
        Some(lock) => drop(lock),
    }
    let exe = std::fs::read_link("/proc/self/exe")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--root")
        .arg(root)
        .arg("dns-serve")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // Its own process group keeps a terminal's Ctrl-C off it. Not setsid in
    // a pre_exec hook: any hook forces fork (the run waits ~2-4 ms for the
    // child's exec), without one std uses posix_spawn (vfork-fast).
    cmd.process_group(0);
    cmd.spawn().map(|_| ())
}

/// Stops the resolver of `root` (when its last container is gone) and
/// waits until it released its lock. The caller holds the state lock, so no
/// `run` starts one meanwhile; a resolver still starting sees no container
/// and exits by itself.
pub fn stop_server(root: &Path) {
    for _ in 0..400 {
        if try_lock(root).ok().flatten().is_some() {
            let _ = std::fs::remove_file(pid_file(root));
            super::state_watch::remove_socket(NetStore::open(root).dir());
            return; // none running (any more)
        }
        // The pid file appears right after the lock is taken.
        match server_pidfd(root) {
            Some(pidfd) => kill_and_wait(&pidfd),
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// A pidfd for the resolver, only if that process really is a resolver.
/// Opened before the check, so the pid cannot be reused in between.
fn server_pidfd(root: &Path) -> Option<OwnedFd> {
    let pid: i32 = std::fs::read_to_string(pid_file(root))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if pid <= 1 {
        return None;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just handed us this fd, and nothing else owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let is_server = cmdline.split(|b| *b == 0).any(|arg| arg == b"dns-serve");
    is_server.then_some(pidfd)
}

/// SIGKILL (the resolver keeps nothing worth a graceful exit, and whoever
/// spawned it may have left SIGTERM blocked), then waits for its exit: a
/// pidfd turns readable once the process, and so its lock, is gone.
fn kill_and_wait(pidfd: &OwnedFd) {
    // SAFETY: pidfd_send_signal reads the fd and signal; no siginfo is passed.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        );
    }
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    let _ = poll(&mut fds, PollTimeout::from(1000u16));
}
