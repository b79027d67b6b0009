//! cgroup v2 backend: one unified hierarchy.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use super::convert::{v2_writes, Limits, OPTIONAL_FILES};
use super::stats::{self, Stats};
use super::tuning::v2_blkio_choices;
use super::usage::{self, Flavor, Usage, UsageFiles};
use super::{fsio, CgroupError, CgroupManager, Result};

/// Controllers rcorch delegates to container cgroups where the parent offers
/// them: memory and pids for limits, stats and OOM events, cpu for the quota
/// (cpu.stat usage is always there). Only those a container's limits need
/// are required (see [`required_controllers`]); the others are best effort.
pub const WANTED_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];

/// The leaf that the processes of a cgroup-namespace root are moved into so
/// the root may delegate controllers (as docker-in-docker's "init" cgroup).
pub const EVACUATION_LEAF: &str = "init";

/// A container cgroup on a unified (v2) host.
#[derive(Debug, Clone)]
pub struct V2Manager {
    root: PathBuf,
    /// The cgroup path below `root`, e.g. "rcorch/web".
    relative: PathBuf,
}

/// The controllers `limits` cannot be enforced without.
pub fn required_controllers(limits: &Limits) -> Vec<&'static str> {
    let mut needed = Vec::new();
    if limits.memory.is_some() || limits.memory_reservation.is_some() {
        needed.push("memory");
    }
    if limits.cpu.is_some() || limits.cpu_shares.is_some() {
        needed.push("cpu");
    }
    if limits.cpuset_cpus.is_some() || limits.cpuset_mems.is_some() {
        needed.push("cpuset");
    }
    if limits.blkio_weight.is_some() {
        needed.push("io");
    }
    if limits.pids.is_some() {
        needed.push("pids");
    }
    needed
}

/// Which controllers to enable in a cgroup's cgroup.subtree_control, given
/// its cgroup.controllers (`available`) and current cgroup.subtree_control
/// (`enabled`): every wanted or `required` one (cpuset and io are enabled
/// only when a limit needs them) that is available and not yet enabled.
/// Err names a `required` one not available.
pub fn controllers_to_enable(
    available: &str,
    enabled: &str,
    required: &[&'static str],
) -> std::result::Result<Vec<&'static str>, &'static str> {
    let has = |list: &str, c: &str| {
        list.split_whitespace()
            .any(|w| w.trim_start_matches('+') == c)
    };
    if let Some(missing) = required.iter().find(|c| !has(available, c)) {
        return Err(missing);
    }
    let extra = required
        .iter()
        .copied()
        .filter(|c| !WANTED_CONTROLLERS.contains(c));
    Ok(WANTED_CONTROLLERS
        .into_iter()
        .chain(extra)
        .filter(|c| has(available, c) && !has(enabled, c))
        .collect())
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

    /// Enables the wanted controllers for the children of `dir`; `required`
    /// ones must be there. `dir` may be the hierarchy's root only when
    /// `is_root`: there, processes in the way are moved to a leaf.
    fn enable_for_children(dir: &Path, required: &[&'static str], is_root: bool) -> Result<()> {
        let available = fsio::read(&dir.join("cgroup.controllers"))?;
        let subtree = dir.join("cgroup.subtree_control");
        let enabled = fsio::read(&subtree)?;
        let missing =
            controllers_to_enable(&available, &enabled, required).map_err(|controller| {
                CgroupError::ControllerUnavailable {
                    controller,
                    path: dir.to_path_buf(),
                }
            })?;
        if missing.is_empty() {
            return Ok(());
        }
        let value: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
        let value = value.join(" ");
        match fsio::write(&subtree, &value) {
            // cgroup v2's no-internal-process rule: a cgroup with processes
            // cannot delegate. The real root is exempt, but the root of a
            // cgroup namespace (rcorch in a container or a CI runner) is not.
            Err(CgroupError::Write { source, .. })
                if source.raw_os_error() == Some(libc::EBUSY) =>
            {
                let pids = fsio::read_pids(&dir.join("cgroup.procs"))?;
                if pids.is_empty() {
                    return fsio::write(&subtree, &value);
                }
                if !is_root {
                    // Best-effort controllers are not worth failing for.
                    if !missing.iter().any(|c| required.contains(c)) {
                        return Ok(());
                    }
                    return Err(CgroupError::ParentHoldsProcesses {
                        path: dir.to_path_buf(),
                        controllers: value,
                        pids,
                    });
                }
                evacuate_to_leaf(dir)?;
                fsio::write(&subtree, &value)
            }
            other => other,
        }
    }

    /// io.bfq.weight where BFQ runs, else io.weight (the iocost controller).
    fn write_io_weight(&self, weight: u16) -> Result<()> {
        let choices = v2_blkio_choices(weight);
        for (name, value) in &choices {
            if fsio::write_optional(&self.file(name), value)? {
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
            dir: self.dir(),
            hint: "this kernel has neither BFQ nor the iocost controller for the io \
                   cgroup; drop --blkio-weight",
        })
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
        // to its children before the next level is created.
        let required = required_controllers(limits);
        let mut current = self.root.clone();
        for component in self.relative.components() {
            Self::enable_for_children(&current, &required, current == self.root)?;
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
        match limits.blkio_weight {
            Some(weight) => self.write_io_weight(weight),
            None => Ok(()),
        }
    }

    fn set_devices(&self, access: &super::devices::DeviceAccess) -> Result<()> {
        use super::devices_bpf::{attach_rules, parse_rule};
        if access.all {
            return Ok(()); // no program: every device
        }
        let rules: Vec<_> = super::devices::allowed_rules(access)
            .iter()
            .filter_map(|r| parse_rule(r))
            .collect();
        attach_rules(&self.dir(), &rules)
    }

    fn lift_pids_limit(&self) -> Result<()> {
        fsio::write_optional(&self.file("pids.max"), "max").map(|_| ())
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
        // memory and pids files exist only where those controllers are
        // delegated (they are best effort, see WANTED_CONTROLLERS).
        let memory_usage = match absent_as_none(fsio::read_u64(&self.file("memory.current")))? {
            Some(usage) => {
                let inactive = self.read_keyed("memory.stat", "inactive_file")?;
                stats::docker_memory_usage(usage, inactive)
            }
            None => 0,
        };
        let memory_limit = absent_as_none(self.read_limit("memory.max"))?.flatten();
        let pids_current = absent_as_none(fsio::read_u64(&self.file("pids.current")))?;
        Ok(Stats {
            cpu_usage_ns: self
                .read_keyed("cpu.stat", "usage_usec")?
                .saturating_mul(1000),
            memory_usage,
            memory_limit,
            pids_current: pids_current.unwrap_or(0),
            pids_limit: absent_as_none(self.read_limit("pids.max"))?.flatten(),
        })
    }

    fn oom_killed(&self) -> Result<bool> {
        let events = absent_as_none(fsio::read(&self.file("memory.events")))?;
        Ok(events.is_some_and(|text| stats::oom_killed(&text)))
    }

    fn usage(&self) -> Result<Usage> {
        let optional = |name: &str| fsio::read(&self.file(name)).ok();
        let files = UsageFiles {
            cpuacct_usage: None,
            // Always there (cpu.stat is a core file): without it the cgroup is gone.
            cpu_stat: Some(fsio::read(&self.file("cpu.stat"))?),
            memory_current: optional("memory.current"),
            memory_stat: optional("memory.stat"),
            memory_limit: optional("memory.max"),
            memory_peak: optional("memory.peak"),
            memory_failcnt: None,
            memory_events: optional("memory.events"),
            pids_current: optional("pids.current"),
            io_stat: optional("io.stat"),
        };
        Ok(usage::parse_usage(Flavor::V2, &files))
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

/// A control file that does not exist (its controller is not delegated)
/// reads as None.
fn absent_as_none<T>(read: Result<T>) -> Result<Option<T>> {
    match read {
        Ok(value) => Ok(Some(value)),
        Err(CgroupError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Moves every process of `dir` into its leaf [`EVACUATION_LEAF`], a few
/// rounds so that processes forked meanwhile follow. A process that exited
/// on the way is skipped.
fn evacuate_to_leaf(dir: &Path) -> Result<()> {
    let leaf = dir.join(EVACUATION_LEAF);
    fsio::create_dir_all(&leaf)?;
    let procs = leaf.join("cgroup.procs");
    for _ in 0..10 {
        let pids = fsio::read_pids(&dir.join("cgroup.procs"))?;
        if pids.is_empty() {
            return Ok(());
        }
        for pid in pids {
            match fsio::write(&procs, &pid.to_string()) {
                Err(CgroupError::Write { source, .. })
                    if source.raw_os_error() == Some(libc::ESRCH) => {}
                other => other?,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "v2_tests.rs"]
mod tests;
