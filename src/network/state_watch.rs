//! Telling the resolver at once that the network state changed: every save
//! sends a one-byte datagram to `networks/dns.sock`, where the resolver
//! listens. The datagram is queued before the writer's `save` returns, so a
//! resolver that drains its queue before answering has seen every change
//! that completed before the question arrived (no polling lag).
//!
//! Not inotify: closing an inotify instance waits for an SRCU grace period,
//! which made stopping the resolver with its last container ~10 ms slower.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

const SOCKET: &str = "dns.sock";

fn socket_path(dir: &Path) -> PathBuf {
    dir.join(SOCKET)
}

/// Best-effort wakeup after a save in `dir`: with no resolver listening
/// there is no one to tell (it reads the state when it starts).
pub fn notify(dir: &Path) {
    if let Ok(socket) = UnixDatagram::unbound() {
        let _ = socket.set_nonblocking(true);
        let _ = socket.send_to(b"r", socket_path(dir));
    }
}

/// Removes the socket of a resolver that is gone (saves then skip the send).
pub fn remove_socket(dir: &Path) {
    let _ = std::fs::remove_file(socket_path(dir));
}

/// The resolver's end: wakeups queued since the last look.
pub struct StateWatch {
    socket: UnixDatagram,
}

impl StateWatch {
    /// Listens in `dir`, replacing the socket a killed resolver left behind
    /// (the caller holds the resolver lock, so no live one owns it).
    pub fn new(dir: &Path) -> io::Result<StateWatch> {
        let path = socket_path(dir);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let socket = UnixDatagram::bind(&path)?;
        socket.set_nonblocking(true)?;
        Ok(StateWatch { socket })
    }

    /// Drains the queue: true when a save happened since the last call.
    pub fn changed(&self) -> io::Result<bool> {
        let mut buf = [0u8; 16];
        let mut changed = false;
        loop {
            match self.socket.recv(&mut buf) {
                Ok(_) => changed = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(changed),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Another fd on the same socket, for an event loop to wait on.
    pub fn try_clone_fd(&self) -> io::Result<OwnedFd> {
        self.socket.as_fd().try_clone_to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_save_is_seen_at_once_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        notify(dir.path()); // nobody listens yet: harmless
        let watch = StateWatch::new(dir.path()).unwrap();
        assert!(!watch.changed().unwrap());
        notify(dir.path());
        notify(dir.path());
        assert!(watch.changed().unwrap());
        assert!(!watch.changed().unwrap());
    }

    #[test]
    fn a_stale_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        drop(StateWatch::new(dir.path()).unwrap());
        let watch = StateWatch::new(dir.path()).unwrap();
        notify(dir.path());
        assert!(watch.changed().unwrap());
    }
}
