//! `pause`, `resume` and `update`: changes to a live container's cgroups.
//! Freezing is the cgroups layer's [`Freezer`]; update applies the same
//! resources document create does, through the same writers.

use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::cli::Global;
use super::resources::limits_of;
use super::spec_map::invalid;
use super::state::{Record, Status};
use super::{io_error, OciError};
use crate::cgroups::freezer::{self, Freezer};
use crate::cgroups::Layout;

fn mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()
}

fn freezer_of(record: &Record) -> Result<Freezer, OciError> {
    let layout = crate::cgroups::detect(Path::new("/proc/self/mountinfo"))?;
    freezer::locate(&layout, &mountinfo(), &record.cgroups_path).ok_or_else(|| {
        invalid("this host has no freezer cgroup hierarchy: pause needs one mounted")
    })
}

/// Whether the container's cgroup is frozen (what `state` calls paused).
pub fn is_paused(record: &Record) -> bool {
    freezer_of(record).is_ok_and(|f| f.is_frozen())
}

/// Lets a frozen container go (before killing it), ignoring a missing freezer.
pub fn thaw_quietly(record: &Record) {
    if let Ok(freezer) = freezer_of(record) {
        if freezer.is_frozen() {
            let _ = freezer.thaw();
        }
    }
}

pub fn pause(global: &Global, id: &str) -> Result<(), OciError> {
    let record = global.states.load(id)?;
    let status = global.states.status(&record, is_paused(&record));
    if status != Status::Running {
        return Err(OciError::WrongState {
            id: id.into(),
            status: status.as_str(),
            wanted: "only a running container can be paused",
        });
    }
    Ok(freezer_of(&record)?.freeze()?)
}

pub fn resume(global: &Global, id: &str) -> Result<(), OciError> {
    let record = global.states.load(id)?;
    let status = global.states.status(&record, is_paused(&record));
    if status != Status::Paused {
        return Err(OciError::WrongState {
            id: id.into(),
            status: status.as_str(),
            wanted: "only a paused container can be resumed",
        });
    }
    Ok(freezer_of(&record)?.thaw()?)
}

/// runc's update flags; each one overrides the same field of --resources.
#[derive(clap::Args, Default)]
pub struct UpdateArgs {
    /// A linux.resources JSON document ("-" for stdin).
    #[arg(long, short = 'r')]
    pub resources: Option<PathBuf>,
    #[arg(long, allow_negative_numbers = true)]
    pub memory: Option<String>,
    #[arg(long)]
    pub memory_reservation: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub memory_swap: Option<String>,
    #[arg(long)]
    pub kernel_memory: Option<String>,
    #[arg(long)]
    pub cpu_period: Option<u64>,
    #[arg(long, allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long)]
    pub cpu_share: Option<u64>,
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    pub id: String,
}

pub fn update(global: &Global, args: &UpdateArgs) -> Result<(), OciError> {
    let record = global.states.load(&args.id)?;
    if global.states.status(&record, false) == Status::Stopped {
        return Err(OciError::WrongState {
            id: args.id.clone(),
            status: "stopped",
            wanted: "only a live container can be updated",
        });
    }
    let base = match &args.resources {
        Some(path) => read_resources(path)?,
        None => serde_json::json!({}),
    };
    let resources = merge_flags(base, args)?;
    let layout = crate::cgroups::detect(Path::new("/proc/self/mountinfo"))?;
    let limits = limits_of(&resources);
    let cgroup = super::ops::cgroup(&record)?;
    if let (Layout::V1 { .. }, Some(_)) = (&layout, limits.memory) {
        // memory.limit_in_bytes may not exceed memsw: lift memsw first so a
        // raised limit is accepted; apply_limits then sets both.
        let memsw = cgroup
            .cgroup_dirs()
            .into_iter()
            .map(|d| d.join("memory.memsw.limit_in_bytes"))
            .find(|p| p.exists());
        if let Some(path) = memsw {
            let _ = std::fs::write(path, "-1");
        }
    }
    cgroup.apply_limits(&limits)?;
    // A -1 is "back to unlimited", which the limits above cannot say.
    let v2 = !matches!(layout, Layout::V1 { .. });
    for (file, value) in unlimited_writes(&resources, v2) {
        let dirs = cgroup.cgroup_dirs();
        let Some(path) = dirs.iter().map(|d| d.join(file)).find(|p| p.exists()) else {
            eprintln!("rcorch-runtime: warning: this host has no {file}; {value} not applied");
            continue;
        };
        std::fs::write(&path, &value).map_err(io_error(&path))?;
    }
    if let Layout::V1 { .. } = layout {
        let mounts = super::cgroup_extra::v1_mounts(&mountinfo());
        // The devices cgroup is set once by create; update leaves it.
        let writes: Vec<_> = super::cgroup_extra::plan_writes(&resources, &[])
            .into_iter()
            .filter(|w| w.controller != "devices")
            .collect();
        super::cgroup_extra::apply(&mounts, &record.cgroups_path, &writes)?;
    }
    update_v2(&layout, &record.cgroups_path, &resources)
}

/// The cgroup2 share of the update, into the cgroup create made (a hybrid
/// container made without one cannot get it now: its init is not in it).
fn update_v2(layout: &Layout, path: &str, resources: &LinuxResources) -> Result<(), OciError> {
    let pages = super::cgroup_v2::host_page_sizes();
    super::cgroup_v2::check_page_sizes(resources, &pages)?;
    let Some((root, writes)) = super::cgroup_v2::share(layout, resources)? else {
        return Ok(());
    };
    let dir = root.join(path.trim_start_matches('/'));
    if !dir.exists() {
        return Err(OciError::InvalidConfig {
            message: format!(
                "{} needs the container's cgroup in {}, which create did not make: \
                 recreate the container with it",
                writes[0].choices[0].0,
                root.display()
            ),
        });
    }
    super::cgroup_v2::prepare(&root, path, &writes)?;
    super::cgroup_v2::write(&dir, &writes)
}

/// The cgroup files (and values) that lift a limit given as -1, in the
/// order the kernel accepts them (v1's memsw before the limit under it).
fn unlimited_writes(resources: &LinuxResources, v2: bool) -> Vec<(&'static str, String)> {
    let memory = resources.memory().as_ref();
    let minus_one = |v: Option<i64>| v == Some(-1);
    let mut out = Vec::new();
    let swap = memory.is_some_and(|m| minus_one(m.swap()));
    let limit = memory.is_some_and(|m| minus_one(m.limit()));
    let unlimited = if v2 { "max" } else { "-1" };
    if swap || (limit && !v2) {
        let file = if v2 {
            "memory.swap.max"
        } else {
            "memory.memsw.limit_in_bytes"
        };
        out.push((file, unlimited.to_string()));
    }
    if limit {
        let file = if v2 {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        out.push((file, unlimited.to_string()));
    }
    if let Some(cpu) = resources.cpu().as_ref().filter(|c| minus_one(c.quota())) {
        if v2 {
            let period = cpu.period().unwrap_or(100_000);
            out.push(("cpu.max", format!("max {period}")));
        } else {
            out.push(("cpu.cfs_quota_us", "-1".to_string()));
        }
    }
    if resources.pids().as_ref().is_some_and(|p| p.limit() == -1) {
        out.push(("pids.max", "max".to_string()));
    }
    out
}

fn read_resources(path: &Path) -> Result<serde_json::Value, OciError> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(io_error("stdin"))?;
    } else {
        text = std::fs::read_to_string(path).map_err(io_error(path))?;
    }
    serde_json::from_str(&text).map_err(|e| OciError::InvalidConfig {
        message: format!("--resources {}: {e}", path.display()),
    })
}

/// The flags laid over the resources document, as linux.resources JSON.
fn merge_flags(mut doc: serde_json::Value, args: &UpdateArgs) -> Result<LinuxResources, OciError> {
    let bytes = |flag: &str, value: &Option<String>| -> Result<Option<i64>, OciError> {
        value
            .as_deref()
            .map(|v| match v.trim() {
                "-1" => Ok(-1),
                v => crate::cgroups::parse_memory(v)
                    .map(|b| b as i64)
                    .map_err(|e| invalid(&format!("--{flag} {v}: {e}"))),
            })
            .transpose()
    };
    let mut set = |section: &str, key: &str, value: Option<serde_json::Value>| {
        if let Some(value) = value {
            doc[section][key] = value;
        }
    };
    let json = |v: Option<i64>| v.map(serde_json::Value::from);
    set("memory", "limit", json(bytes("memory", &args.memory)?));
    let reservation = bytes("memory-reservation", &args.memory_reservation)?;
    set("memory", "reservation", json(reservation));
    set(
        "memory",
        "swap",
        json(bytes("memory-swap", &args.memory_swap)?),
    );
    set("cpu", "period", args.cpu_period.map(Into::into));
    set("cpu", "quota", args.cpu_quota.map(Into::into));
    set("cpu", "shares", args.cpu_share.map(Into::into));
    set("cpu", "realtimePeriod", args.cpu_rt_period.map(Into::into));
    set(
        "cpu",
        "realtimeRuntime",
        args.cpu_rt_runtime.map(Into::into),
    );
    set("cpu", "cpus", args.cpuset_cpus.clone().map(Into::into));
    set("cpu", "mems", args.cpuset_mems.clone().map(Into::into));
    set("pids", "limit", args.pids_limit.map(Into::into));
    set("blockIO", "weight", args.blkio_weight.map(Into::into));
    serde_json::from_value(doc).map_err(|e| OciError::InvalidConfig {
        message: format!("update resources: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_resources_document() {
        let doc = serde_json::json!({"memory": {"limit": 1000}, "pids": {"limit": 5}});
        let args = UpdateArgs {
            memory: Some("64m".into()),
            cpu_quota: Some(50000),
            cpu_period: Some(100000),
            ..UpdateArgs::default()
        };
        let r = merge_flags(doc, &args).unwrap();
        let limits = limits_of(&r);
        assert_eq!(limits.memory, Some(64 << 20));
        assert_eq!(limits.pids, Some(5));
        let cpu = limits.cpu.unwrap();
        assert_eq!((cpu.quota_us, cpu.period_us), (50000, 100000));
    }

    #[test]
    fn minus_one_lifts_each_limit_in_the_order_the_kernel_takes() {
        let args = UpdateArgs {
            memory: Some("-1".into()),
            cpu_quota: Some(-1),
            pids_limit: Some(-1),
            ..UpdateArgs::default()
        };
        let r = merge_flags(serde_json::json!({}), &args).unwrap();
        let v1: Vec<_> = unlimited_writes(&r, false);
        assert_eq!(
            v1,
            [
                ("memory.memsw.limit_in_bytes", "-1".to_string()),
                ("memory.limit_in_bytes", "-1".to_string()),
                ("cpu.cfs_quota_us", "-1".to_string()),
                ("pids.max", "max".to_string()),
            ]
        );
        let v2: Vec<_> = unlimited_writes(&r, true);
        assert_eq!(v2[0], ("memory.max", "max".to_string()));
        assert_eq!(v2[1], ("cpu.max", "max 100000".to_string()));
        assert!(limits_of(&r).memory.is_none(), "no limit is set instead");
        let none = merge_flags(
            serde_json::json!({"memory": {"limit": 1000}}),
            &UpdateArgs::default(),
        );
        assert!(unlimited_writes(&none.unwrap(), false).is_empty());
    }

    #[test]
    fn a_bad_memory_value_names_the_flag() {
        let args = UpdateArgs {
            memory: Some("lots".into()),
            ..UpdateArgs::default()
        };
        let e = merge_flags(serde_json::json!({}), &args).unwrap_err();
        assert!(e.to_string().contains("--memory lots"), "{e}");
    }
}
