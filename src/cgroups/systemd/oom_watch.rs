//! Watches a scope's `memory.events` while its container runs, as conmon
//! and containerd do: systemd removes a scope's cgroup as soon as its last
//! process dies, so after an OOM kill the file is often gone by the time
//! the monitor has reaped PID 1. The kernel notifies inotify (IN_MODIFY)
//! when the file's counters change; each notification is read at once.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cgroups::stats;

#[derive(Debug)]
pub struct OomWatch {
    fd: OwnedFd,
    file: PathBuf,
    seen: AtomicBool,
}

impl OomWatch {
    /// A watch on `file` (a cgroup v2 memory.events); None where inotify or
    /// the file is missing (v1 memory, no memory controller).
    pub fn new(file: &Path) -> Option<OomWatch> {
        // SAFETY: plain syscalls; the fd is owned at once.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return None;
        }
        // SAFETY: raw is a new fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let path = CString::new(file.as_os_str().as_bytes()).ok()?;
        // SAFETY: path is a valid C string for the call's duration.
        let wd = unsafe { libc::inotify_add_watch(raw, path.as_ptr(), libc::IN_MODIFY) };
        if wd < 0 {
            return None;
        }
        let watch = OomWatch {
            fd,
            file: file.to_path_buf(),
            seen: AtomicBool::new(false),
        };
        watch.read();
        Some(watch)
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Drains the notifications and reads the counters while the file is
    /// still there; an oom_kill once seen stays seen.
    pub fn read(&self) {
        let mut buf = [0u8; 1024];
        // SAFETY: reads into a buffer we own; non-blocking.
        while unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        if let Ok(text) = std::fs::read_to_string(&self.file) {
            if stats::oom_killed(&text) {
                self.seen.store(true, Ordering::Relaxed);
            }
        }
    }

    pub fn seen(&self) -> bool {
        self.seen.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own, no wait.
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }

    #[test]
    fn a_kill_seen_while_the_file_exists_stays_seen_after_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("memory.events");
        std::fs::write(&file, "low 0\nhigh 0\nmax 3\noom 0\noom_kill 0\n").unwrap();
        let watch = OomWatch::new(&file).unwrap();
        assert!(!watch.seen() && !readable(watch.fd()));
        std::fs::write(&file, "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n").unwrap();
        assert!(readable(watch.fd()), "no IN_MODIFY");
        watch.read();
        assert!(watch.seen() && !readable(watch.fd()), "not drained");
        std::fs::remove_file(&file).unwrap();
        watch.read();
        assert!(watch.seen());
    }

    #[test]
    fn no_watch_without_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(OomWatch::new(&dir.path().join("memory.events")).is_none());
    }
}
