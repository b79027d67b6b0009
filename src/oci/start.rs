//! `start`: releases a created container's init through the exec fifo.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;

use super::cli::Global;
use super::hooks::run_host_hooks;
use super::state::{state_json, Status};
use super::{io_error, sys_error, OciError};
use crate::runtime::sys;

/// runc's refusal (its exact text) of `start` in a state other than created.
pub fn refusal(status: Status) -> Option<String> {
    match status {
        Status::Created => None,
        Status::Stopped => Some("cannot start a container that has stopped".into()),
        Status::Running => Some("cannot start an already running container".into()),
        other => Some(format!(
            "cannot start a container in the {} state",
            other.as_str()
        )),
    }
}

pub fn start(global: &Global, id: &str) -> Result<(), OciError> {
    let record = global.states.load(id)?;
    // The pidfd before anything releases the init: once the fifo is open
    // for reading a short process can run, exit and be reaped by its
    // parent (conmon, a shim) before we look, and the pid would be gone.
    // ESRCH: the init is gone already, so the container is stopped.
    let pidfd = match sys::pidfd_open(record.pid) {
        Ok(fd) => Some(fd),
        Err(nix::errno::Errno::ESRCH) => None,
        Err(e) => return Err(sys_error("pidfd_open")(e)),
    };
    // Checked with the pidfd held: a live process with the recorded start
    // time now was the one the pidfd was opened on.
    let status = match pidfd {
        Some(_) => global.states.status(&record, false),
        None => Status::Stopped,
    };
    if let Some(message) = refusal(status) {
        return Err(OciError::Start(message));
    }
    let pidfd = pidfd.expect("a created container has a pidfd");
    let fifo = global.states.fifo(id);
    // Non-blocking, so a dead init cannot leave us waiting on the open.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(io_error(&fifo))?;
    if !released(&file, &pidfd) {
        return Err(OciError::Start("container process is already dead".into()));
    }
    let _ = std::fs::remove_file(&fifo);
    // Then to the fifo's end: the init holds it open until its exec (or
    // death), so the process runs once start returns, as with runc.
    let mut byte = [0u8; 1];
    while !matches!((&file).read(&mut byte), Ok(0)) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let state = state_json(&record, Status::Running).to_string();
    // The container runs already: a failing poststart hook is a warning.
    run_host_hooks("poststart", &record.hooks.poststart, state.as_bytes())?;
    Ok(())
}

/// Waits for the init's byte on the fifo; false if it died without one.
/// After seeing it exit, reads once more: it may have written the byte,
/// exec'd and exited between our read and our look at the pidfd.
fn released(mut file: &std::fs::File, pidfd: &OwnedFd) -> bool {
    let mut byte = [0u8; 1];
    loop {
        if matches!(file.read(&mut byte), Ok(1)) {
            return true;
        }
        if sys::wait_pidfd(pidfd, 0) {
            return matches!(file.read(&mut byte), Ok(1));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_created_container_starts_and_the_others_get_runcs_text() {
        assert_eq!(refusal(Status::Created), None);
        assert_eq!(
            refusal(Status::Stopped).unwrap(),
            "cannot start a container that has stopped"
        );
        assert_eq!(
            refusal(Status::Running).unwrap(),
            "cannot start an already running container"
        );
        assert_eq!(
            refusal(Status::Paused).unwrap(),
            "cannot start a container in the paused state"
        );
    }
}
