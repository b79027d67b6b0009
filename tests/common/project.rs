//! Compose projects in a TestEnv: a guard that always runs `down`, and
//! helpers to read replicas and supervisor events.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{pid_alive, processes_mentioning, wait_for, Output, TestEnv};

/// SIGKILLs every supervisor of the instance at `root` (pid files and any
/// `supervise` process mentioning the root), and waits until they are gone.
pub fn kill_supervisors(root: &Path) {
    let mut pids: Vec<i32> = Vec::new();
    if let Ok(rd) = fs::read_dir(root.join("projects")) {
        for e in rd.flatten() {
            let pid = fs::read_to_string(e.path().join("supervisor.pid")).unwrap_or_default();
            pids.extend(pid.trim().parse::<i32>().ok());
        }
    }
    let root_s = root.to_string_lossy().into_owned();
    for p in processes_mentioning(&root_s) {
        let (pid, cmd) = p.split_once(": ").unwrap_or(("", ""));
        if cmd.split_whitespace().any(|w| w == "supervise") {
            pids.extend(pid.parse::<i32>().ok());
        }
    }
    for &pid in &pids {
        // Only kill what is still an rcorch process of this root.
        let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(root_s.as_str()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    wait_for(Duration::from_secs(5), || {
        pids.iter().all(|&p| !pid_alive(p))
    });
}

/// One replica as seen by `ps -a --format json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub name: String,
    pub id: String,
    pub running: bool,
}

/// A compose project written into the env's scratch dir. Dropping it runs
/// `down` (the TestEnv drop then sweeps anything left).
pub struct Project<'a> {
    pub env: &'a TestEnv,
    pub name: String,
    pub file: PathBuf,
}

impl<'a> Project<'a> {
    /// Writes `yaml` as `<scratch>/<name>/compose.yaml`; `name` is passed
    /// with `-p` to every command.
    pub fn new(env: &'a TestEnv, name: &str, yaml: &str) -> Project<'a> {
        let dir = env.scratch.join(name);
        fs::create_dir_all(&dir).expect("create project dir");
        let file = dir.join("compose.yaml");
        fs::write(&file, yaml).expect("write compose file");
        Project {
            env,
            name: name.to_string(),
            file,
        }
    }

    pub fn file_str(&self) -> &str {
        self.file.to_str().expect("utf-8 path")
    }

    /// Runs `rcorch CMD -f FILE -p NAME ARGS...`.
    pub fn cmd(&self, cmd: &str, args: &[&str]) -> Output {
        let mut v = vec![cmd, "-f", self.file_str(), "-p", &self.name];
        v.extend_from_slice(args);
        self.env.rcorch(&v)
    }

    /// `up -d`, asserting success.
    #[track_caller]
    pub fn up(&self) -> Output {
        // Generous: a TCG guest (scripts/v2-guest.sh) under load is slow; a
        // project that is up returns at once anyway.
        let out = self.cmd("up", &["-d", "--wait-timeout", "120"]);
        assert_eq!(out.code, 0, "up -d failed: {out:#?}");
        out
    }

    pub fn down(&self) -> Output {
        self.env.rcorch_timeout(
            &["down", "-f", self.file_str(), "-p", &self.name],
            Duration::from_secs(60),
        )
    }

    /// The event lines of the project (may be empty).
    pub fn events(&self) -> Vec<String> {
        // The whole kept log, then stop (events streams by default).
        let args = ["events", "-p", &self.name, "--since", "0", "--until", "0s"];
        let out = self.env.rcorch(&args);
        out.stdout.lines().map(str::to_string).collect()
    }

    /// Events of replica `service-slot` with `action` (the word after it).
    pub fn events_of(&self, replica: &str, action: &str) -> Vec<String> {
        self.events()
            .into_iter()
            .filter(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.get(1) == Some(&replica) && w.get(2) == Some(&action)
            })
            .collect()
    }

    /// All containers of `service` (named PROJECT-SERVICE-N), any state.
    pub fn replicas(&self, service: &str) -> Vec<Replica> {
        let out = self.env.rcorch(&["ps", "-a", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| {
            panic!("ps json: {e}: {out:#?}");
        });
        let prefix = format!("{}-{service}-", self.name);
        let mut found: Vec<Replica> = v
            .as_array()
            .expect("ps json array")
            .iter()
            .filter_map(|c| {
                let name = c["Names"].as_str()?.to_string();
                let slot = name.strip_prefix(&prefix)?;
                slot.parse::<u32>().ok()?;
                Some(Replica {
                    name,
                    id: c["Id"].as_str()?.to_string(),
                    running: c["State"].as_str() == Some("running"),
                })
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }

    /// Running containers of `service`.
    pub fn running(&self, service: &str) -> Vec<Replica> {
        self.replicas(service)
            .into_iter()
            .filter(|r| r.running)
            .collect()
    }

    /// Polls until `service` has exactly `n` running replicas.
    pub fn wait_running(&self, service: &str, n: usize, timeout: Duration) -> bool {
        wait_for(timeout, || self.running(service).len() == n)
    }

    pub fn dir(&self) -> PathBuf {
        self.env.root.join("projects").join(&self.name)
    }

    /// The supervisor's pid from its pid file.
    pub fn supervisor_pid(&self) -> Option<i32> {
        fs::read_to_string(self.dir().join("supervisor.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Project<'_> {
    fn drop(&mut self) {
        let out = self.down();
        if out.code != 0 {
            eprintln!("down {} in guard: {out:?}", self.name);
        }
    }
}
