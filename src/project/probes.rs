//! Health probes in flight: each is an `rcorch exec` child process running
//! the service's check in the replica, with a deadline. The loop reaps them
//! on SIGCHLD and kills the ones that outlive their timeout. Its output goes
//! to a file (a pipe could fill and stall it), read back for `State.Health`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::supervisor::health::ProbeResult;
use crate::supervisor::health_log::{probe_output, timeout_output, ProbeLog, MAX_OUTPUT};
use crate::supervisor::Time;
use crate::util::time::format_rfc3339;

#[derive(Debug)]
pub struct Probe {
    pub container: String,
    pub deadline: Time,
    pub timeout: Duration,
    pub started: SystemTime,
    /// Where its stdout and stderr go; removed once read.
    pub output: PathBuf,
}

/// A finished probe: whose, how it ended, and its `State.Health.Log` entry.
#[derive(Debug, PartialEq, Eq)]
pub struct Finished {
    pub container: String,
    pub result: ProbeResult,
    pub log: ProbeLog,
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
    /// A directory for the probes' output files.
    pub output_dir: &'a Path,
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
        now: Time,
        timeout: Duration,
    ) -> bool {
        let output = ctx.output_dir.join(format!("probe-{container}.out"));
        let Ok(file) = std::fs::File::create(&output) else {
            return false;
        };
        let Ok(stderr) = file.try_clone() else {
            return false;
        };
        let spawned = Command::new(ctx.exe)
            .arg("--root")
            .arg(ctx.root)
            .arg("--cgroup-parent")
            .arg(ctx.cgroup_parent)
            .arg("exec")
            .arg(container)
            .args(argv)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(stderr)
            .spawn();
        match spawned {
            // The child is reaped by the loop's waitpid, not by `Child`.
            Ok(child) => {
                self.running.insert(
                    child.id() as i32,
                    Probe {
                        container: container.to_string(),
                        deadline: now + timeout,
                        timeout,
                        started: SystemTime::now(),
                        output,
                    },
                );
                true
            }
            Err(_) => {
                let _ = std::fs::remove_file(&output);
                false
            }
        }
    }

    /// A reaped child: its probe's result, if it was one of ours.
    pub fn finished(&mut self, pid: i32, exit_code: i32) -> Option<Finished> {
        let probe = self.running.remove(&pid)?;
        let result = if exit_code == 0 {
            ProbeResult::Success
        } else {
            ProbeResult::Failure
        };
        let output = probe_output(&read_output(&probe.output));
        Some(finish(probe, result, exit_code, output))
    }

    /// Kills probes past their deadline; their results are timeouts.
    pub fn expire(&mut self, now: Time) -> Vec<Finished> {
        let late: Vec<i32> = self
            .running
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(pid, _)| *pid)
            .collect();
        late.into_iter()
            .filter_map(|pid| {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                self.running.remove(&pid).map(|p| {
                    let _ = std::fs::remove_file(&p.output);
                    let output = timeout_output(p.timeout);
                    finish(p, ProbeResult::Timeout, -1, output)
                })
            })
            .collect()
    }

    pub fn next_deadline(&self) -> Option<Time> {
        self.running.values().map(|p| p.deadline).min()
    }
}

/// Up to `MAX_OUTPUT` bytes of a probe's output file, which it then removes.
fn read_output(path: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(MAX_OUTPUT as u64).read_to_end(&mut bytes);
    }
    let _ = std::fs::remove_file(path);
    bytes
}

fn finish(probe: Probe, result: ProbeResult, exit_code: i32, output: String) -> Finished {
    Finished {
        log: ProbeLog {
            start: format_rfc3339(probe.started),
            end: format_rfc3339(SystemTime::now()),
            exit_code,
            output,
        },
        container: probe.container,
        result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(dir: &Path, container: &str, deadline: u64) -> Probe {
        Probe {
            container: container.into(),
            deadline: Time::from_secs(deadline),
            timeout: Duration::from_secs(2),
            started: SystemTime::now(),
            output: dir.join(format!("probe-{container}.out")),
        }
    }

    #[test]
    fn results_follow_exit_codes_and_deadlines() {
        let dir = std::env::temp_dir().join(format!("rcorch-probes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut probes = Probes::default();
        let a = probe(&dir, "a", 5);
        std::fs::write(&a.output, "up and serving\n").unwrap();
        let a_output = a.output.clone();
        probes.running.insert(10, a);
        probes.running.insert(i32::MAX - 7, probe(&dir, "b", 1));
        assert!(probes.in_flight("a"));
        assert_eq!(probes.next_deadline(), Some(Time::from_secs(1)));
        let late = probes.expire(Time::from_secs(2));
        assert_eq!(late.len(), 1);
        assert_eq!(
            (late[0].container.as_str(), late[0].result),
            ("b", ProbeResult::Timeout)
        );
        assert_eq!(late[0].log.exit_code, -1);
        assert_eq!(late[0].log.output, "Health check exceeded timeout (2s)");

        let done = probes.finished(10, 3).expect("probe a");
        assert_eq!(
            (done.container.as_str(), done.result),
            ("a", ProbeResult::Failure)
        );
        assert_eq!(done.log.exit_code, 3);
        assert_eq!(done.log.output, "up and serving\n");
        assert!(done.log.start <= done.log.end);
        assert!(!a_output.exists(), "the output file is removed once read");
        assert_eq!(probes.finished(10, 1), None);
        assert!(!probes.in_flight("a"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
