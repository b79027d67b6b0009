//! cgroup v2 backend: one unified hierarchy.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use super::convert::{v2_writes, Limits, OPTIONAL_FILES};
use super::stats::{self, Stats};
use super::{fsio, CgroupError, CgroupManager, Result};

/// Controllers enabled for container cgroups: memory and pids for limits,
/// stats and OOM events, cpu for the quota (cpu.stat usage is always there).
pub const NEEDED_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];

/// A container cgroup on a unified (v2) host.
#[derive(Debug, Clone)]
pub struct V2Manager {
    root: PathBuf,
    /// The cgroup path below `root`, e.g. "rcorch/web".
    relative: PathBuf,
}

/// Which of `needed` still have to be enabled in a cgroup's
/// cgroup.subtree_control, given its cgroup.controllers (`available`) and
/// current cgroup.subtree_control (`enabled`); Err names one not available.
pub fn controllers_to_enable<'a>(
    available: &str,
    enabled: &str,
    needed: &[&'a str],
) -> std::result::Result<Vec<&'a str>, &'a str> {
    let has = |list: &str, c: &str| {
        list.split_whitespace()
            .any(|w| w.trim_start_matches('+') == c)
    };
    let mut missing = Vec::new();
    for controller in needed {
        if has(enabled, controller) {
            continue;
        }
        if !has(available, controller) {
            return Err(controller);
        }
        missing.push(*controller);
    }
    Ok(missing)
}

impl V2Manager {
    pub fn new(root: &Path, relative: &Path) -> Self {
        V2Manager {
            root: root.to_path_buf(),
            relative: relative.to_path_buf(),
        }
    }

    fn dir(&self) -> PathBuf {
        self.root.join(&self.relative)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// Enables `NEEDED_CONTROLLERS` for the children of `dir`.
    fn enable_for_children(dir: &Path) -> Result<()> {
        let available = fsio::read(&dir.join("cgroup.controllers"))?;
        let subtree = dir.join("cgroup.subtree_control");
        let enabled = fsio::read(&subtree)?;
        let missing = controllers_to_enable(&available, &enabled, &NEEDED_CONTROLLERS).map_err(
            |controller| CgroupError::ControllerUnavailable {
                controller,
                path: dir.to_path_buf(),
            },
        )?;
        if missing.is_empty() {
            return Ok(());
        }
        let value: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
        fsio::write(&subtree, &value.join(" "))
    }

    fn read_keyed(&self, name: &str, key: &str) -> Result<u64> {
        let path = self.file(name);
        let text = fsio::read(&path)?;
        stats::keyed_value(&text, key).ok_or(CgroupError::Parse {
            path,
            content: text,
        })
    }

    fn read_limit(&self, name: &str) -> Result<Option<u64>> {
        let path = self.file(name);
        let text = fsio::read(&path)?;
        stats::parse_limit(&text).ok_or(CgroupError::Parse {
            path,
            content: text,
        })
    }
}

impl CgroupManager for V2Manager {
    fn apply_limits(&self, limits: &Limits) -> Result<()> {
        // Walk down from the root: each ancestor must delegate the controllers
        // to its children before the next level is created. Ancestors hold no
        // processes (no-internal-process rule), so enabling is always allowed.
        let mut current = self.root.clone();
        for component in self.relative.components() {
            Self::enable_for_children(&current)?;
            current.push(component);
            fsio::create_dir_all(&current)?;
        }
        for (name, value) in v2_writes(limits) {
            let path = self.file(name);
            if OPTIONAL_FILES.contains(&name) {
                fsio::write_optional(&path, &value)?;
            } else {
                fsio::write(&path, &value)?;
            }
        }
        Ok(())
    }

    fn procs_files(&self) -> Vec<PathBuf> {
        vec![self.file("cgroup.procs")]
    }

    fn cgroup_dirs(&self) -> Vec<PathBuf> {
        vec![self.dir()]
    }

    fn pids(&self) -> Result<Vec<i32>> {
        fsio::read_pids(&self.file("cgroup.procs"))
    }

    fn stats(&self) -> Result<Stats> {
        let usage = fsio::read_u64(&self.file("memory.current"))?;
        let inactive = self.read_keyed("memory.stat", "inactive_file")?;
        Ok(Stats {
            cpu_usage_ns: self
                .read_keyed("cpu.stat", "usage_usec")?
                .saturating_mul(1000),
            memory_usage: stats::docker_memory_usage(usage, inactive),
            memory_limit: self.read_limit("memory.max")?,
            pids_current: fsio::read_u64(&self.file("pids.current"))?,
            pids_limit: self.read_limit("pids.max")?,
        })
    }

    fn oom_killed(&self) -> Result<bool> {
        Ok(stats::oom_killed(&fsio::read(&self.file("memory.events"))?))
    }

    fn kill_all(&self, signal: Signal) -> Result<()> {
        // cgroup.kill (Linux 5.14+) kills atomically, racing no fork.
        if signal == Signal::SIGKILL && fsio::write_optional(&self.file("cgroup.kill"), "1")? {
            return Ok(());
        }
        super::signal_every_pid(|| self.pids(), signal)
    }

    fn destroy(&self) -> Result<()> {
        fsio::remove_all(&[self.dir()])
    }
}

#[cfg(test)]
#[path = "v2_tests.rs"]
mod tests;
