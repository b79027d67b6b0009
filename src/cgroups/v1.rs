//! cgroup v1 backend: one directory per controller hierarchy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use super::convert::{v1_writes, Limits, OPTIONAL_FILES};
use super::stats::{self, Stats};
use super::tuning::v1_blkio_choices;
use super::usage::{self, Flavor, Usage, UsageFiles};
use super::{fsio, CgroupError, CgroupManager, Controller, Result};

/// A container cgroup on a v1 (legacy or hybrid) host.
#[derive(Debug, Clone)]
pub struct V1Manager {
    /// The cgroup's directory in each controller we use.
    dirs: BTreeMap<Controller, PathBuf>,
    /// The cpuset hierarchy's mount point, where mounted.
    cpuset_mount: Option<PathBuf>,
    relative: PathBuf,
}

impl V1Manager {
    /// `relative` is the cgroup path below each hierarchy's mount point.
    /// The optional controllers (cpuset, blkio) are joined where mounted,
    /// as runc does, so `update` can set them later.
    pub fn new(mounts: &BTreeMap<Controller, PathBuf>, relative: &Path) -> Result<Self> {
        let mut dirs = Controller::ALL
            .into_iter()
            .map(|c| match mounts.get(&c) {
                Some(mount) => Ok((c, mount.join(relative))),
                None => Err(CgroupError::ControllerNotMounted { controller: c }),
            })
            .collect::<Result<BTreeMap<_, _>>>()?;
        for c in Controller::OPTIONAL {
            if let Some(mount) = mounts.get(&c) {
                dirs.insert(c, mount.join(relative));
            }
        }
        Ok(V1Manager {
            dirs,
            cpuset_mount: mounts.get(&Controller::Cpuset).cloned(),
            relative: relative.to_path_buf(),
        })
    }

    fn dir(&self, controller: Controller) -> &Path {
        // `new` fills every controller of Controller::ALL; optional ones
        // are only asked for through `optional_dir`.
        &self.dirs[&controller]
    }

    fn optional_dir(&self, controller: Controller) -> Result<&Path> {
        self.dirs
            .get(&controller)
            .map(PathBuf::as_path)
            .ok_or(CgroupError::ControllerNotMounted { controller })
    }

    fn file(&self, controller: Controller, name: &str) -> PathBuf {
        self.dir(controller).join(name)
    }

    /// A new v1 cpuset cgroup starts with no CPUs and no memory nodes, and
    /// no task may join it: copy each level's empty ones from its parent.
    fn init_cpuset(&self) -> Result<()> {
        let Some(mount) = &self.cpuset_mount else {
            return Ok(());
        };
        let mut current = mount.clone();
        for component in self.relative.components() {
            let parent = current.clone();
            current.push(component);
            fsio::create_dir_all(&current)?;
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let own = fsio::read(&current.join(file))?;
                if own.trim().is_empty() {
                    let inherited = fsio::read(&parent.join(file))?;
                    fsio::write(&current.join(file), inherited.trim())?;
                }
            }
        }
        Ok(())
    }

    fn write_blkio_weight(&self, weight: u16) -> Result<()> {
        let dir = self.optional_dir(Controller::Blkio)?;
        let choices = v1_blkio_choices(weight);
        for (name, value) in &choices {
            if fsio::write_optional(&dir.join(name), value)? {
                return Ok(());
            }
        }
        Err(CgroupError::Unsupported {
            limit: "--blkio-weight",
            files: choices
                .iter()
                .map(|(f, _)| *f)
                .collect::<Vec<_>>()
                .join(" or "),
            dir: dir.to_path_buf(),
            hint: "proportional I/O weights need the BFQ scheduler on the block devices \
                   (echo bfq > /sys/block/DEV/queue/scheduler); drop --blkio-weight otherwise",
        })
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
        self.init_cpuset()?;
        for (controller, name, value) in v1_writes(limits) {
            let path = self.optional_dir(controller)?.join(name);
            if OPTIONAL_FILES.contains(&name) {
                fsio::write_optional(&path, &value)?;
            } else {
                fsio::write(&path, &value)?;
            }
        }
        match limits.blkio_weight {
            Some(weight) => self.write_blkio_weight(weight),
            None => Ok(()),
        }
    }

    fn set_devices(&self, access: &super::devices::DeviceAccess) -> Result<()> {
        // A host without the devices hierarchy restricts nothing, as before.
        let Some(dir) = self.dirs.get(&Controller::Devices) else {
            return Ok(());
        };
        for (file, value) in super::devices::v1_writes(access) {
            fsio::write(&dir.join(file), &value)?;
        }
        Ok(())
    }

    fn lift_pids_limit(&self) -> Result<()> {
        fsio::write_optional(&self.file(Controller::Pids, "pids.max"), "max").map(|_| ())
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
