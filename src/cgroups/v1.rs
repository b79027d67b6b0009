//! cgroup v1 backend: one directory per controller hierarchy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use super::convert::{v1_writes, Limits, OPTIONAL_FILES};
use super::stats::{self, Stats};
use super::usage::{self, Flavor, Usage, UsageFiles};
use super::{fsio, CgroupError, CgroupManager, Controller, Result};

/// A container cgroup on a v1 (legacy or hybrid) host.
#[derive(Debug, Clone)]
pub struct V1Manager {
    /// The cgroup's directory in each controller we use.
    dirs: BTreeMap<Controller, PathBuf>,
}

impl V1Manager {
    /// `relative` is the cgroup path below each hierarchy's mount point.
    pub fn new(mounts: &BTreeMap<Controller, PathBuf>, relative: &Path) -> Result<Self> {
        let dirs = Controller::ALL
            .into_iter()
            .map(|c| match mounts.get(&c) {
                Some(mount) => Ok((c, mount.join(relative))),
                None => Err(CgroupError::ControllerNotMounted { controller: c }),
            })
            .collect::<Result<_>>()?;
        Ok(V1Manager { dirs })
    }

    fn dir(&self, controller: Controller) -> &Path {
        // `new` fills every controller of Controller::ALL.
        &self.dirs[&controller]
    }

    fn file(&self, controller: Controller, name: &str) -> PathBuf {
        self.dir(controller).join(name)
    }

    /// Distinct directories: combined mounts ("cpu,cpuacct") share one.
    fn unique_dirs(&self) -> Vec<PathBuf> {
        fsio::unique(self.dirs.values().cloned())
    }

    fn read_stat(&self, controller: Controller, name: &str, key: &str) -> Result<u64> {
        let path = self.file(controller, name);
        let text = fsio::read(&path)?;
        stats::keyed_value(&text, key).ok_or(CgroupError::Parse {
            path,
            content: text,
        })
    }

    fn read_limit(&self, controller: Controller, name: &str) -> Result<Option<u64>> {
        let path = self.file(controller, name);
        let text = fsio::read(&path)?;
        stats::parse_limit(&text).ok_or(CgroupError::Parse {
            path,
            content: text,
        })
    }
}

impl CgroupManager for V1Manager {
    fn apply_limits(&self, limits: &Limits) -> Result<()> {
        for dir in self.unique_dirs() {
            fsio::create_dir_all(&dir)?;
        }
        for (controller, name, value) in v1_writes(limits) {
            let path = self.file(controller, name);
            if OPTIONAL_FILES.contains(&name) {
                fsio::write_optional(&path, &value)?;
            } else {
                fsio::write(&path, &value)?;
            }
        }
        Ok(())
    }

    fn procs_files(&self) -> Vec<PathBuf> {
        self.unique_dirs()
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    fn cgroup_dirs(&self) -> Vec<PathBuf> {
        self.unique_dirs()
    }

    fn pids(&self) -> Result<Vec<i32>> {
        fsio::read_pids(&self.file(Controller::Pids, "cgroup.procs"))
    }

    fn stats(&self) -> Result<Stats> {
        let usage = fsio::read_u64(&self.file(Controller::Memory, "memory.usage_in_bytes"))?;
        let inactive = self.read_stat(Controller::Memory, "memory.stat", "total_inactive_file")?;
        Ok(Stats {
            cpu_usage_ns: fsio::read_u64(&self.file(Controller::Cpuacct, "cpuacct.usage"))?,
            memory_usage: stats::docker_memory_usage(usage, inactive),
            memory_limit: self.read_limit(Controller::Memory, "memory.limit_in_bytes")?,
            pids_current: fsio::read_u64(&self.file(Controller::Pids, "pids.current"))?,
            pids_limit: self.read_limit(Controller::Pids, "pids.max")?,
        })
    }

    fn oom_killed(&self) -> Result<bool> {
        let text = fsio::read(&self.file(Controller::Memory, "memory.oom_control"))?;
        Ok(stats::oom_killed(&text))
    }

    fn usage(&self) -> Result<Usage> {
        let optional = |c: Controller, name: &str| fsio::read(&self.file(c, name)).ok();
        let files = UsageFiles {
            // Required: without it the cgroup is gone.
            cpuacct_usage: Some(fsio::read(
                &self.file(Controller::Cpuacct, "cpuacct.usage"),
            )?),
            cpu_stat: optional(Controller::Cpu, "cpu.stat"),
            memory_current: optional(Controller::Memory, "memory.usage_in_bytes"),
            memory_stat: optional(Controller::Memory, "memory.stat"),
            memory_limit: optional(Controller::Memory, "memory.limit_in_bytes"),
            memory_peak: optional(Controller::Memory, "memory.max_usage_in_bytes"),
            memory_failcnt: optional(Controller::Memory, "memory.failcnt"),
            memory_events: optional(Controller::Memory, "memory.oom_control"),
            pids_current: optional(Controller::Pids, "pids.current"),
            io_stat: None,
        };
        Ok(usage::parse_usage(Flavor::V1, &files))
    }

    fn kill_all(&self, signal: Signal) -> Result<()> {
        super::signal_every_pid(|| self.pids(), signal)
    }

    fn destroy(&self) -> Result<()> {
        fsio::remove_all(&self.unique_dirs())
    }
}

#[cfg(test)]
#[path = "v1_tests.rs"]
mod tests;
