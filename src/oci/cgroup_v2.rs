//! `linux.resources` on a cgroup2 hierarchy beyond rcorch's manager
//! (memory limit, cpu quota, pids): cpu weight, cpuset, memory low/swap,
//! io weight and throttles, hugetlb and `unified`. On a unified host all
//! of them; on a hybrid host those whose controller v1 does not mount
//! (hugetlb here), in the unified hierarchy at the same cgroupsPath.
//! Planned by pure functions, applied by [`prepare`] and [`write`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::{io_error, OciError};
use crate::cgroups::layout::Layout;
use crate::cgroups::tuning::{shares_to_weight, v2_blkio_choices};
use crate::cgroups::v2::controllers_to_enable;

/// One v2 write: the first of `choices` (file, value) whose file exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Write {
    /// The controller the file belongs to; None for core `cgroup.*` files.
    pub controller: Option<&'static str>,
    pub choices: Vec<(String, String)>,
}

fn one(controller: &'static str, file: &str, value: impl ToString) -> V2Write {
    V2Write {
        controller: Some(controller),
        choices: vec![(file.to_string(), value.to_string())],
    }
}

const CONTROLLERS: &[&str] = &[
    "cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma", "misc",
];

/// The kernel's name of a huge page size from its size in KiB (hugetlb.2MB.max).
pub fn page_size_name(kib: u64) -> String {
    match kib {
        k if k >= 1 << 20 && k % (1 << 20) == 0 => format!("{}GB", k >> 20),
        k if k >= 1 << 10 && k % (1 << 10) == 0 => format!("{}MB", k >> 10),
        k => format!("{k}KB"),
    }
}

/// The host's huge page sizes, as named in /sys/kernel/mm/hugepages.
pub fn host_page_sizes() -> Vec<String> {
    let entries = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .into_iter()
        .flatten();
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let kib = name.strip_prefix("hugepages-")?.strip_suffix("kB")?;
            Some(page_size_name(kib.parse().ok()?))
        })
        .collect()
}

/// A page size the host does not have is refused (the kernel has no file
/// for it), on v1 as on v2.
pub fn check_page_sizes(res: &LinuxResources, host: &[String]) -> Result<(), OciError> {
    for limit in res.hugepage_limits().iter().flatten() {
        if !host.contains(limit.page_size()) {
            return Err(OciError::InvalidConfig {
                message: format!(
                    "linux.resources.hugepageLimits: page size {:?} is not one of this host's ({}): \
                     use one of them",
                    limit.page_size(),
                    host.join(", ")
                ),
            });
        }
    }
    Ok(())
}

fn unified_controller(key: &str) -> Result<Option<&'static str>, OciError> {
    let prefix = key.split('.').next().unwrap_or_default();
    if prefix == "cgroup" {
        return Ok(None);
    }
    CONTROLLERS
        .iter()
        .find(|c| **c == prefix)
        .map(|c| Some(*c))
        .ok_or_else(|| OciError::InvalidConfig {
            message: format!(
                "linux.resources.unified {key:?}: not a cgroup v2 control file \
                 (CONTROLLER.FILE, e.g. \"memory.high\")"
            ),
        })
}

/// The writes for `res`, in order. The memory limit, cpu quota and pids
/// are the cgroup manager's; `unified` entries come last (they win).
pub fn plan(res: &LinuxResources) -> Result<Vec<V2Write>, OciError> {
    let mut out = Vec::new();
    if let Some(cpu) = res.cpu() {
        if let Some(shares) = cpu.shares().filter(|s| *s > 0) {
            out.push(one("cpu", "cpu.weight", shares_to_weight(shares)));
        }
        if let Some(cpus) = cpu.cpus().as_ref().filter(|c| !c.is_empty()) {
            out.push(one("cpuset", "cpuset.cpus", cpus));
        }
        if let Some(mems) = cpu.mems().as_ref().filter(|m| !m.is_empty()) {
            out.push(one("cpuset", "cpuset.mems", mems));
        }
    }
    if let Some(memory) = res.memory() {
        if let Some(low) = memory.reservation().filter(|r| *r > 0) {
            out.push(one("memory", "memory.low", low));
        }
        // v1's swap counts memory plus swap; v2's memory.swap.max swap alone.
        match (memory.limit().filter(|l| *l > 0), memory.swap()) {
            (_, Some(-1)) => out.push(one("memory", "memory.swap.max", "max")),
            (Some(limit), Some(swap)) if swap >= limit => {
                out.push(one("memory", "memory.swap.max", swap - limit))
            }
            _ => {}
        }
    }
    if let Some(blkio) = res.block_io() {
        if let Some(weight) = blkio.weight() {
            let choices = v2_blkio_choices(weight);
            out.push(V2Write {
                controller: Some("io"),
                choices: choices
                    .into_iter()
                    .map(|(f, v)| (f.to_string(), v))
                    .collect(),
            });
        }
        for d in blkio.weight_device().iter().flatten() {
            if let Some(weight) = d.weight() {
                let device = format!("{}:{}", d.major(), d.minor());
                out.push(V2Write {
                    controller: Some("io"),
                    choices: vec![
                        ("io.bfq.weight".into(), format!("{device} {weight}")),
                        ("io.weight".into(), format!("{device} {weight}")),
                    ],
                });
            }
        }
        let throttles = [
            ("rbps", blkio.throttle_read_bps_device()),
            ("wbps", blkio.throttle_write_bps_device()),
            ("riops", blkio.throttle_read_iops_device()),
            ("wiops", blkio.throttle_write_iops_device()),
        ];
        for (key, devices) in throttles {
            for d in devices.iter().flatten() {
                let value = format!("{}:{} {key}={}", d.major(), d.minor(), d.rate());
                out.push(one("io", "io.max", value));
            }
        }
    }
    for limit in res.hugepage_limits().iter().flatten() {
        let file = format!("hugetlb.{}.max", limit.page_size());
        out.push(one("hugetlb", &file, limit.limit()));
    }
    for (key, value) in res.unified().iter().flatten() {
        out.push(V2Write {
            controller: unified_controller(key)?,
            choices: vec![(key.clone(), value.clone())],
        });
    }
    Ok(out)
}

/// On a hybrid host: the writes whose controller v1 does not mount (they
/// go to the unified hierarchy); a `unified` entry for a v1 controller is
/// refused, since v2 cannot have it.
pub fn hybrid_share(
    writes: Vec<V2Write>,
    on_v1: &BTreeSet<String>,
    res: &LinuxResources,
) -> Result<Vec<V2Write>, OciError> {
    let unified: BTreeSet<&String> = res.unified().iter().flatten().map(|(k, _)| k).collect();
    let mut out = Vec::new();
    for w in writes {
        let controller = w.controller.unwrap_or("cgroup");
        // v2's io controller is v1's blkio.
        let v1_name = if controller == "io" {
            "blkio"
        } else {
            controller
        };
        if !on_v1.contains(v1_name) {
            out.push(w);
        } else if let Some(key) = w.choices.iter().map(|c| &c.0).find(|k| unified.contains(k)) {
            return Err(OciError::InvalidConfig {
                message: format!(
                    "linux.resources.unified {key:?}: the {controller} controller is on \
                     cgroup v1 on this host; use the linux.resources field for it"
                ),
            });
        }
    }
    Ok(out)
}

/// Where and what to write on cgroup2 for this host: the unified root and
/// every write on a v2 host; on a hybrid one its cgroup2 mount and the
/// writes v1 cannot take; None when nothing is left.
pub fn share(
    layout: &Layout,
    res: &LinuxResources,
) -> Result<Option<(PathBuf, Vec<V2Write>)>, OciError> {
    let writes = plan(res)?;
    let (root, writes) = match layout {
        Layout::V2 { root } => (root.clone(), writes),
        Layout::V1 { .. } => {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            let on_v1 = super::cgroup_extra::v1_mounts(&mountinfo)
                .into_keys()
                .collect();
            let writes = hybrid_share(writes, &on_v1, res)?;
            match unified_mount(&mountinfo) {
                Some(root) => (root, writes),
                None if writes.is_empty() => return Ok(None),
                None => {
                    return Err(OciError::InvalidConfig {
                        message: format!(
                            "linux.resources: {} needs cgroup v2, which this host does not mount",
                            writes[0].choices[0].0
                        ),
                    })
                }
            }
        }
    };
    Ok((!writes.is_empty()).then_some((root, writes)))
}

/// The first cgroup2 mount point in mountinfo text.
pub fn unified_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        (right.split_whitespace().next() == Some("cgroup2"))
            .then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
    })
}

fn read(path: &Path) -> Result<String, OciError> {
    std::fs::read_to_string(path).map_err(io_error(path))
}

/// Walks from `root` down to `relative`, enabling the controllers `writes`
/// need in each level's subtree_control and making the missing levels.
/// Returns the directories it made, deepest first (for [`remove`]).
pub fn prepare(root: &Path, relative: &str, writes: &[V2Write]) -> Result<Vec<PathBuf>, OciError> {
    let mut required: Vec<&'static str> = writes.iter().filter_map(|w| w.controller).collect();
    required.sort();
    required.dedup();
    let mut made = Vec::new();
    let mut current = root.to_path_buf();
    let levels: Vec<&str> = relative.split('/').filter(|p| !p.is_empty()).collect();
    for level in levels {
        let available = read(&current.join("cgroup.controllers"))?;
        let subtree = current.join("cgroup.subtree_control");
        let enabled = read(&subtree)?;
        let missing = controllers_to_enable(&available, &enabled, &required).map_err(|c| {
            OciError::InvalidConfig {
                message: format!(
                    "linux.resources needs the {c} controller, which {} does not offer: \
                     drop that resource or enable the controller",
                    current.display()
                ),
            }
        })?;
        let wanted: Vec<String> = missing
            .iter()
            .filter(|c| required.contains(c))
            .map(|c| format!("+{c}"))
            .collect();
        if !wanted.is_empty() {
            std::fs::write(&subtree, wanted.join(" ")).map_err(io_error(&subtree))?;
        }
        current.push(level);
        if !current.exists() {
            std::fs::create_dir(&current).map_err(io_error(&current))?;
            made.push(current.clone());
        }
    }
    made.reverse();
    Ok(made)
}

/// Writes the plan into `dir`; a write with no existing file is an error
/// naming the files tried.
pub fn write(dir: &Path, writes: &[V2Write]) -> Result<(), OciError> {
    for w in writes {
        let chosen = w.choices.iter().find(|(file, _)| dir.join(file).exists());
        let Some((file, value)) = chosen else {
            let files: Vec<&str> = w.choices.iter().map(|c| c.0.as_str()).collect();
            return Err(OciError::InvalidConfig {
                message: format!(
                    "linux.resources: {} does not exist in {}: this kernel cannot apply it",
                    files.join(" or "),
                    dir.display()
                ),
            });
        };
        let path = dir.join(file);
        std::fs::write(&path, value).map_err(|e| write_failure(value, &path, &e))?;
    }
    Ok(())
}

/// A refused control-file write; ENODEV (a MAJOR:MINOR with no block
/// device behind it) says so.
/// `linux.resources.devices` on cgroup v2: the rules v1 would be written
/// (one list, `cgroup_extra::device_rules`) as an eBPF program on `dir`.
pub fn devices(
    dir: &Path,
    res: &LinuxResources,
    devices: &[oci_spec::runtime::LinuxDevice],
) -> Result<(), OciError> {
    use crate::cgroups::devices_bpf::{attach_rules, ordered_rules};
    let rules = super::cgroup_extra::device_rules(res, devices);
    let rules = ordered_rules(rules.iter().map(|(allow, text)| (*allow, text.as_str()))).map_err(
        |bad| OciError::InvalidConfig {
            message: format!("linux.resources.devices: bad rule {bad:?} (access is of r, w, m)"),
        },
    )?;
    Ok(attach_rules(dir, &rules)?)
}

pub fn write_failure(value: &str, path: &Path, e: &std::io::Error) -> OciError {
    let hint = match e.raw_os_error() {
        Some(libc::ENODEV) => ": no block device has that MAJOR:MINOR here (see /sys/block/*/dev)",
        _ => "",
    };
    OciError::InvalidConfig {
        message: format!(
            "linux.resources: writing {value:?} to {}: {e}{hint}",
            path.display()
        ),
    }
}

#[cfg(test)]
#[path = "cgroup_v2_tests.rs"]
mod tests;
