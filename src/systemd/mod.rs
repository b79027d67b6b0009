//! systemd integration: the sd_notify protocol (READY=1, WATCHDOG=1) and
//! unit files that run a project's supervisor as a self-healing service.

pub mod unit;

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

/// Where systemd listens, from `$NOTIFY_SOCKET` (a path, or `@name` for the
/// abstract namespace).
pub fn notify_socket() -> Option<PathBuf> {
    std::env::var_os("NOTIFY_SOCKET").map(PathBuf::from)
}

/// Sends one sd_notify message; silently nothing outside systemd.
pub fn notify(message: &str) {
    let Some(path) = notify_socket() else { return };
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    let text = path.to_string_lossy();
    let _ = match text.strip_prefix('@') {
        Some(abstract_name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
                .and_then(|addr| socket.send_to_addr(message.as_bytes(), &addr))
        }
        None => socket.send_to(message.as_bytes(), &path),
    };
}

/// Half of `$WATCHDOG_USEC` (systemd's advice), if a watchdog is set for us.
pub fn watchdog_interval() -> Option<std::time::Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    let for_us = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok());
    if for_us.is_some_and(|pid| pid != std::process::id()) {
        return None;
    }
    Some(std::time::Duration::from_micros(usec / 2))
}
