//! Health probes in flight: each is an `rcorch exec` child process running
//! the service's check in the replica, with a deadline. The loop reaps them
//! on SIGCHLD and kills the ones that outlive their timeout.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::supervisor::health::ProbeResult;
use crate::supervisor::Time;

#[derive(Debug)]
pub struct Probe {
    pub container: String,
    pub deadline: Time,
}

#[derive(Debug, Default)]
pub struct Probes {
    running: BTreeMap<i32, Probe>,
}

/// How to reach the same rcorch instance from a child process.
pub struct ExecContext<'a> {
    pub exe: &'a Path,
    pub root: &'a Path,
    pub cgroup_parent: &'a str,
}

impl Probes {
    pub fn in_flight(&self, container: &str) -> bool {
        self.running.values().any(|p| p.container == container)
    }

    pub fn start(
        &mut self,
        ctx: &ExecContext,
        container: &str,
        argv: &[String],
        deadline: Time,
    ) -> bool {
        let spawned = Command::new(ctx.exe)
            .arg("--root")
            .arg(ctx.root)
            .arg("--cgroup-parent")
            .arg(ctx.cgroup_parent)
            .arg("exec")
            .arg(container)
            .args(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            // The child is reaped by the loop's waitpid, not by `Child`.
            Ok(child) => {
                self.running.insert(
                    child.id() as i32,
                    Probe {
                        container: container.to_string(),
                        deadline,
                    },
                );
                true
            }
            Err(_) => false,
        }
    }

    /// A reaped child: its probe's result, if it was one of ours.
    pub fn finished(&mut self, pid: i32, exit_code: i32) -> Option<(String, ProbeResult)> {
        let probe = self.running.remove(&pid)?;
        let result = if exit_code == 0 {
            ProbeResult::Success
        } else {
            ProbeResult::Failure
        };
        Some((probe.container, result))
    }

    /// Kills probes past their deadline; their results are timeouts.
    pub fn expire(&mut self, now: Time) -> Vec<(String, ProbeResult)> {
        let late: Vec<i32> = self
            .running
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(pid, _)| *pid)
            .collect();
        late.into_iter()
            .filter_map(|pid| {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                self.running
                    .remove(&pid)
                    .map(|p| (p.container, ProbeResult::Timeout))
            })
            .collect()
    }

    pub fn next_deadline(&self) -> Option<Time> {
        self.running.values().map(|p| p.deadline).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_follow_exit_codes_and_deadlines() {
        let mut probes = Probes::default();
        probes.running.insert(
            10,
            Probe {
                container: "a".into(),
                deadline: Time::from_secs(5),
            },
        );
        probes.running.insert(
            i32::MAX - 7,
            Probe {
                container: "b".into(),
                deadline: Time::from_secs(1),
            },
        );
        assert!(probes.in_flight("a"));
        assert_eq!(probes.next_deadline(), Some(Time::from_secs(1)));
        assert_eq!(
            probes.expire(Time::from_secs(2)),
            [("b".to_string(), ProbeResult::Timeout)]
        );
        assert_eq!(
            probes.finished(10, 0),
            Some(("a".to_string(), ProbeResult::Success))
        );
        assert_eq!(probes.finished(10, 1), None);
        assert!(!probes.in_flight("a"));
    }
}
