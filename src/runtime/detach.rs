//! The detached monitor of `run -d` and `start`: forked into its own
//! session, it reports through a pipe once the container started (or why
//! it did not), then supervises it alone.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use super::init::InitPlan;
use super::monitor::{Monitor, StartFailure};
use super::run::RunError;
use super::stdio::{detach_standard_streams, ContainerStdio, StdioRequest};

/// Forks the monitor into its own session and waits until it reports the
/// container started (or why it did not).
pub(super) fn spawn_detached_monitor(
    monitor: &Monitor,
    plan: &mut InitPlan,
    stdio: &StdioRequest,
    after_exit: &dyn Fn(),
) -> Result<(), RunError> {
    let (ready_read, ready_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(RunError::Fork)?;
    // SAFETY: rcorch is single-threaded; the child runs the monitor and exits.
    match unsafe { nix::unistd::fork() }.map_err(RunError::Fork)? {
        nix::unistd::ForkResult::Child => {
            drop(ready_read);
            super::sys::close_fds_except(ready_write.as_raw_fd());
            let _ = nix::unistd::setsid();
            detach_standard_streams();
            let _ = std::env::set_current_dir("/");
            run_monitor_and_exit(monitor, plan, stdio, ready_write, after_exit)
        }
        nix::unistd::ForkResult::Parent { .. } => {
            drop(ready_write);
            let mut report = String::new();
            let _ = std::fs::File::from(ready_read).read_to_string(&mut report);
            parse_ready_report(&report)
        }
    }
}

fn run_monitor_and_exit(
    monitor: &Monitor,
    plan: &mut InitPlan,
    stdio: &StdioRequest,
    ready: OwnedFd,
    after_exit: &dyn Fn(),
) -> ! {
    let mut ready = Some(std::fs::File::from(ready));
    let report = |result: Result<(), &StartFailure>, ready: &mut Option<std::fs::File>| {
        if let Some(mut pipe) = ready.take() {
            let _ = match result {
                Ok(()) => pipe.write_all(b"OK"),
                Err(f) => pipe.write_all(format!("E{}\n{}", f.exit_code, f.message).as_bytes()),
            };
        }
    };
    match ContainerStdio::open(stdio) {
        Ok(stdio) => {
            monitor.run(plan, stdio, |result| report(result, &mut ready));
        }
        Err(e) => report(
            Err(&StartFailure {
                exit_code: 125,
                message: format!("stdio: {e}"),
            }),
            &mut ready,
        ),
    }
    after_exit();
    // SAFETY: the monitor's work is done; skip destructors shared with the parent.
    unsafe { libc::_exit(0) }
}

fn parse_ready_report(report: &str) -> Result<(), RunError> {
    if report == "OK" {
        return Ok(());
    }
    let Some(rest) = report.strip_prefix('E') else {
        return Err(RunError::Start {
            exit_code: 125,
            message: "the monitor exited before starting the container".into(),
        });
    };
    let (code, message) = rest.split_once('\n').unwrap_or((rest, ""));
    Err(RunError::Start {
        exit_code: code.parse().unwrap_or(125),
        message: message.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_reports_parse() {
        assert!(parse_ready_report("OK").is_ok());
        match parse_ready_report("E127\nexec: \"nope\": not found") {
            Err(RunError::Start { exit_code, message }) => {
                assert_eq!(exit_code, 127);
                assert!(message.contains("nope"));
            }
            _ => panic!("expected a start error"),
        }
        assert!(matches!(
            parse_ready_report(""),
            Err(RunError::Start { exit_code: 125, .. })
        ));
    }
}
