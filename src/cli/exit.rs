//! How a command ends: Docker's exit codes (`exit_code`, the one place
//! they are decided), the failure carried to them, and quiet ends on a
//! closed pipe.

/// `rcorch ps | head -1`: once the reader is gone, end as CLI tools do, by
/// SIGPIPE, silently. Rust ignores SIGPIPE, so a write would fail with
/// EPIPE and `println!` would panic (abort, with the release profile).
/// Not for the long-lived processes that write to sockets and pipes (the
/// supervisor, the resolver), nor the monitor, which ignores it again
/// (`Monitor::run`): a reader going away must not kill a container.
pub(super) fn die_quietly_on_a_closed_pipe() {
    // SAFETY: installs the default disposition; no handler code runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A command line that does not parse, for every verb, as docker's flag errors.
pub const USAGE_ERROR: i32 = 125;

/// Docker's exit codes, for every verb (README, "Exit codes"): the
/// container's command could not be run: 126 (cannot invoke) or 127 (not
/// found), from `run` and `exec`; any other failure of a verb that creates
/// a container (`run`): 125; of any other verb (a missing container,
/// image, network, volume, project, or the verb's own error): 1.
pub fn exit_code(creates_container: bool, start_code: Option<i32>) -> i32 {
    match (start_code, creates_container) {
        (Some(code), _) => code,
        (None, true) => 125,
        (None, false) => 1,
    }
}

/// An error on its way to the user. `start_code`: set when the container's
/// command itself could not be started (126/127).
pub struct Failure {
    pub(super) message: String,
    pub(super) start_code: Option<i32>,
}

impl Failure {
    /// A failure of `run`/`exec`, with the code of a command that could
    /// not be started, if that is what failed.
    pub fn of_start(e: &dyn std::fmt::Display, start_code: Option<i32>) -> Failure {
        Failure {
            message: e.to_string(),
            start_code,
        }
    }
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            message: e.to_string(),
            start_code: None,
        }
    }
}

pub type CliResult = Result<i32, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_dockers_rule() {
        assert_eq!(exit_code(true, None), 125, "run's own error");
        assert_eq!(exit_code(true, Some(127)), 127, "run: command not found");
        assert_eq!(exit_code(true, Some(126)), 126, "run: cannot invoke");
        assert_eq!(exit_code(false, None), 1, "any other verb's error");
        assert_eq!(exit_code(false, Some(127)), 127, "exec: command not found");
    }
}
