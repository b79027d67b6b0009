//! Noticing at once that the network state changed: an inotify watch on
//! the state directory. Every save renames `state.json.tmp` over
//! `state.json`, and the kernel queues that event inside the writer's
//! `rename`; so a reader that drains the queue before answering has seen
//! every change that completed before its question arrived (no polling lag).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The file every save replaces (see `store`).
const STATE_FILE: &[u8] = b"state.json";
/// `struct inotify_event` without its name: wd, mask, cookie, len.
const HEADER: usize = 16;

/// An inotify watch on one state directory (non-blocking).
pub struct StateWatch {
    fd: OwnedFd,
}

impl StateWatch {
    pub fn new(dir: &Path) -> io::Result<StateWatch> {
        // SAFETY: inotify_init1 takes flags and returns a new fd or -1.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just handed us this fd, and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut path = dir.as_os_str().as_bytes().to_vec();
        path.push(0);
        let mask = libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE | libc::IN_DELETE;
        // SAFETY: `path` is NUL-terminated and outlives the call.
        let wd = unsafe { libc::inotify_add_watch(raw, path.as_ptr().cast(), mask) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(StateWatch { fd })
    }

    /// Drains the queued events: true when one of them was the state file
    /// (or the queue overflowed, which may have hidden one).
    pub fn changed(&self) -> io::Result<bool> {
        let mut buf = [0u8; 4096];
        let mut changed = false;
        loop {
            // SAFETY: read writes at most buf.len() bytes into buf.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(changed),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(e),
                };
            }
            changed |= state_changed(&buf[..n as usize]);
        }
    }
}

impl StateWatch {
    /// Another fd on the same watch, for an event loop to wait on.
    pub fn try_clone_fd(&self) -> io::Result<OwnedFd> {
        self.fd.try_clone()
    }
}

/// Whether a buffer of `struct inotify_event`s touches the state file.
pub fn state_changed(mut buf: &[u8]) -> bool {
    let mut changed = false;
    while buf.len() >= HEADER {
        let word = |at: usize| u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes"));
        let (mask, len) = (word(4), word(12) as usize);
        let end = (HEADER + len).min(buf.len());
        // The name is NUL-padded to the event's length.
        let name = buf[HEADER..end].split(|b| *b == 0).next().unwrap_or(&[]);
        changed |= name == STATE_FILE || mask & libc::IN_Q_OVERFLOW != 0;
        buf = &buf[end..];
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(mask: u32, name: &str) -> Vec<u8> {
        let padded = (name.len() + 1).div_ceil(16) * 16;
        let len = if name.is_empty() { 0 } else { padded };
        let mut out = Vec::new();
        for word in [1u32, mask, 0, len as u32] {
            out.extend_from_slice(&word.to_ne_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.resize(HEADER + len, 0);
        out
    }

    #[test]
    fn only_the_state_file_or_an_overflow_counts() {
        let tmp = event(libc::IN_CLOSE_WRITE, "state.json.tmp");
        let lock = event(libc::IN_CLOSE_WRITE, "dns.pid");
        assert!(!state_changed(&[tmp.clone(), lock.clone()].concat()));
        let saved = event(libc::IN_MOVED_TO, "state.json");
        assert!(state_changed(&[tmp, saved, lock].concat()));
        assert!(state_changed(&event(libc::IN_Q_OVERFLOW, "")));
        assert!(!state_changed(&[]));
    }

    #[test]
    fn a_save_is_seen_at_once_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let watch = StateWatch::new(dir.path()).unwrap();
        assert!(!watch.changed().unwrap());
        std::fs::write(dir.path().join("state.json.tmp"), "{}").unwrap();
        std::fs::rename(dir.path().join("state.json.tmp"), dir.path().join("state.json")).unwrap();
        assert!(watch.changed().unwrap());
        assert!(!watch.changed().unwrap());
        std::fs::write(dir.path().join("other"), "x").unwrap();
        assert!(!watch.changed().unwrap());
    }
}
