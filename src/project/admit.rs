//! The shell around `supervisor::admission` and `::placement`: this host's
//! capacity and node description, the reservations running containers hold
//! (labels on the replicas), and `up`'s checks before anything starts.
//!
//! Capacity is the host's (CPUs, MemTotal, kernel.pid_max); the environment
//! variable `RCORCH_HOST_CAPACITY="cpus=2,memory=1g,pids=1000"` overrides any
//! of them. Node labels come from `ROOT/node-labels` (KEY=VALUE lines).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::cgroups::parse_memory;
use crate::compose::model::Project;
use crate::container::labels::{LABEL_RESERVE_CPUS, LABEL_RESERVE_MEMORY, LABEL_RESERVE_PIDS};
use crate::container::store::Record;
use crate::container::Status;
use crate::instance::Instance;
use crate::runtime::control::observed_status;
use crate::supervisor::admission::{self, Capacity, Reservation, ReservationError};
use crate::supervisor::placement::{self, Node, PlacementError};

pub const CAPACITY_ENV: &str = "RCORCH_HOST_CAPACITY";
pub const NODE_LABELS_FILE: &str = "node-labels";

#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    #[error("services.{service}.deploy.placement.{key}[{index}]: {source}")]
    Placement {
        service: String,
        key: &'static str,
        index: usize,
        source: PlacementError,
    },
    #[error(transparent)]
    Reservation(#[from] ReservationError),
    #[error("services.{service}.{reason}")]
    CpuPlacement { service: String, reason: String },
    #[error("{}: {reason}", path.display())]
    NodeLabels { path: PathBuf, reason: String },
    #[error(
        "invalid {CAPACITY_ENV} {value:?}: expected comma-separated cpus=N, memory=SIZE, pids=N"
    )]
    Capacity { value: String },
}

pub fn reservation_labels(r: &Reservation) -> Vec<String> {
    let mut labels = Vec::new();
    if let Some(c) = r.cpus {
        labels.push(format!("{LABEL_RESERVE_CPUS}={c}"));
    }
    if let Some(m) = r.memory {
        labels.push(format!("{LABEL_RESERVE_MEMORY}={m}"));
    }
    if let Some(p) = r.pids {
        labels.push(format!("{LABEL_RESERVE_PIDS}={p}"));
    }
    labels
}

/// What a container reserves, read back from its labels.
pub fn reservation_of(record: &Record) -> Reservation {
    let labels = &record.config.labels;
    Reservation {
        cpus: labels.get(LABEL_RESERVE_CPUS).and_then(|v| v.parse().ok()),
        memory: labels
            .get(LABEL_RESERVE_MEMORY)
            .and_then(|v| v.parse().ok()),
        pids: labels.get(LABEL_RESERVE_PIDS).and_then(|v| v.parse().ok()),
    }
}

/// `base` with the `cpus=..,memory=..,pids=..` overrides of `text`. Pure.
pub fn parse_capacity(text: &str, base: Capacity) -> Result<Capacity, AdmitError> {
    let bad = || AdmitError::Capacity {
        value: text.to_string(),
    };
    let mut c = base;
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(bad)?;
        match key.trim() {
            "cpus" => c.cpus = value.trim().parse().map_err(|_| bad())?,
            "memory" => c.memory = parse_memory(value).map_err(|_| bad())?,
            "pids" => c.pids = value.trim().parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        }
    }
    Ok(c)
}

/// This host's capacity, with the environment's overrides.
pub fn host_capacity() -> Result<Capacity, AdmitError> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(32768);
    let base = Capacity {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
        memory: mem_kib * 1024,
        pids: pid_max,
    };
    match std::env::var(CAPACITY_ENV) {
        Ok(text) => parse_capacity(&text, base),
        Err(_) => Ok(base),
    }
}

/// This host as a Swarm node: its own manager, labels from the root's file.
pub fn this_node(root: &Path) -> Result<Node, AdmitError> {
    let path = root.join(NODE_LABELS_FILE);
    let labels = match std::fs::read_to_string(&path) {
        Ok(text) => placement::parse_labels(&text)
            .map_err(|reason| AdmitError::NodeLabels { path, reason })?,
        Err(_) => Default::default(),
    };
    let uts = nix::sys::utsname::uname().ok();
    let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        uts.as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let hostname = field(|u| u.nodename());
    Ok(Node {
        id: hostname.clone(),
        hostname,
        role: "manager".into(),
        arch: field(|u| u.machine()),
        os: "linux".into(),
        labels,
    })
}

/// `up`'s checks, before anything is recorded or started: constraints and
/// preferences parse, reservations fit the host at all, limits cover them.
pub fn precheck(
    root: &Path,
    project: &Project,
    selected: &BTreeSet<String>,
) -> Result<(), AdmitError> {
    let capacity = host_capacity()?;
    this_node(root)?;
    for name in selected {
        let Some(svc) = project.services.get(name) else {
            continue;
        };
        let placement = &svc.deploy.placement;
        let err = |key, index, source| AdmitError::Placement {
            service: name.clone(),
            key,
            index,
            source,
        };
        for (i, c) in placement.constraints.iter().enumerate() {
            placement::parse_constraint(c).map_err(|e| err("constraints", i, e))?;
        }
        for (i, p) in placement.preferences.iter().enumerate() {
            placement::parse_preference(p).map_err(|e| err("preferences", i, e))?;
        }
        super::translate::cpu_placement_of(svc).map_err(|reason| AdmitError::CpuPlacement {
            service: name.clone(),
            reason,
        })?;
        let r = &svc.deploy.resources.reservations;
        let request = Reservation {
            cpus: r.cpus,
            memory: r.memory,
            pids: r.pids,
        };
        let limit = svc.deploy.resources.limits.memory;
        admission::validate(name, &request, limit, &capacity)?;
    }
    Ok(())
}

/// Why a replica of `template` cannot start now, if it cannot: a placement
/// constraint this host does not meet, or not enough unreserved room.
pub fn refusal(
    instance: &Instance,
    reservation: &Reservation,
    constraints: &[String],
) -> Option<String> {
    let node = match this_node(&instance.root) {
        Ok(node) => node,
        Err(e) => return Some(e.to_string()),
    };
    let parsed: Vec<_> = constraints
        .iter()
        .filter_map(|c| placement::parse_constraint(c).ok())
        .collect();
    if let Some(reason) = placement::unmet(&parsed, &node) {
        return Some(reason);
    }
    if reservation.is_empty() {
        return None;
    }
    let capacity = match host_capacity() {
        Ok(c) => c,
        Err(e) => return Some(e.to_string()),
    };
    let running: Vec<Reservation> = instance
        .containers
        .list()
        .unwrap_or_default()
        .iter()
        .filter(|r| observed_status(&r.state) != Status::Exited)
        .map(reservation_of)
        .collect();
    admission::admit(&capacity, &running, reservation)
        .err()
        .map(|s| s.to_string())
}

/// The cpuset for a new replica pinned to `want` whole CPUs
/// (`x-rcorch-cpu-placement: spread`): of the CPUs this process may use,
/// where the fewest live containers are pinned (see `cpu_placement`).
pub fn place_cpus(instance: &Instance, want: usize) -> Result<String, String> {
    use crate::supervisor::cpu_placement::{self, Cpu};
    let affinity = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map_err(|e| format!("x-rcorch-cpu-placement: reading this process's CPUs: {e}"))?;
    let sys = Path::new("/sys/devices/system/cpu");
    let number = |path: PathBuf| -> u32 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.trim().parse().unwrap_or(0)
    };
    let allowed: Vec<Cpu> = (0..nix::sched::CpuSet::count())
        .filter(|&id| affinity.is_set(id).unwrap_or(false))
        .map(|id| {
            let dir = sys.join(format!("cpu{id}"));
            let node = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .find_map(|e| e.file_name().to_str()?.strip_prefix("node")?.parse().ok())
                .unwrap_or(0);
            let package = number(dir.join("topology/physical_package_id"));
            let core = number(dir.join("topology/core_id"));
            Cpu {
                id: id as u32,
                core: (package, core),
                node,
            }
        })
        .collect();
    let in_use: Vec<_> = instance
        .containers
        .list()
        .unwrap_or_default()
        .iter()
        .filter(|r| observed_status(&r.state) != Status::Exited)
        .filter_map(|r| r.config.limits.cpuset_cpus.as_deref())
        .map(cpu_placement::parse_list)
        .collect();
    let chosen = cpu_placement::place(&allowed, &in_use, want).map_err(|e| e.to_string())?;
    Ok(cpu_placement::format_list(&chosen))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_overrides_replace_only_what_they_name() {
        let base = Capacity {
            cpus: 8.0,
            memory: 1 << 34,
            pids: 4_000_000,
        };
        let c = parse_capacity("memory=1g, pids=500", base).unwrap();
        assert_eq!((c.cpus, c.memory, c.pids), (8.0, 1 << 30, 500));
        let e = parse_capacity("disk=1g", base).unwrap_err().to_string();
        assert!(e.contains(CAPACITY_ENV), "{e}");
    }

    #[test]
    fn reservations_round_trip_through_labels() {
        let r = Reservation {
            cpus: Some(0.5),
            memory: Some(512 << 20),
            pids: None,
        };
        let labels = reservation_labels(&r);
        assert_eq!(
            labels,
            ["rcorch.reserve.cpus=0.5", "rcorch.reserve.memory=536870912"]
        );
    }
}
