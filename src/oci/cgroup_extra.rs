//! The `linux.resources` that rcorch's own cgroup manager does not cover
//! (it knows memory, cpu quota and pids): cpu shares and realtime, cpuset,
//! memory reservation/swap/swappiness, blkio, net_cls/net_prio and the
//! devices cgroup. Planned as (controller, file, value) writes by a pure
//! function, then applied to the v1 hierarchies the host mounts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

use super::{io_error, OciError};
use crate::cgroups::devices::DEFAULT_OPENABLE;

/// One control-file write, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub controller: &'static str,
    pub file: String,
    pub value: String,
}

fn w(controller: &'static str, file: &str, value: impl ToString) -> Write {
    Write {
        controller,
        file: file.to_string(),
        value: value.to_string(),
    }
}

fn device_rule(rule: &LinuxDeviceCgroup) -> (bool, String) {
    let kind = rule
        .typ()
        .map(|t| t.as_str().to_string())
        .unwrap_or_else(|| "a".into());
    let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
    let access = rule.access().clone().unwrap_or_else(|| "rwm".into());
    let text = if kind == "a" {
        "a".to_string()
    } else {
        format!(
            "{kind} {}:{} {access}",
            num(rule.major()),
            num(rule.minor())
        )
    };
    (rule.allow(), text)
}

fn opt(out: &mut Vec<Write>, controller: &'static str, file: &str, value: Option<impl ToString>) {
    if let Some(value) = value {
        out.push(w(controller, file, value));
    }
}

/// `devices`: the config's linux.devices, which the container may use.
pub fn plan_writes(res: &LinuxResources, devices: &[oci_spec::runtime::LinuxDevice]) -> Vec<Write> {
    let mut out = Vec::new();
    if let Some(cpu) = res.cpu() {
        opt(&mut out, "cpu", "cpu.shares", cpu.shares());
        opt(&mut out, "cpu", "cpu.rt_period_us", cpu.realtime_period());
        opt(&mut out, "cpu", "cpu.rt_runtime_us", cpu.realtime_runtime());
        if let Some(cpus) = cpu.cpus().as_ref().filter(|c| !c.is_empty()) {
            out.push(w("cpuset", "cpuset.cpus", cpus));
        }
        if let Some(mems) = cpu.mems().as_ref().filter(|m| !m.is_empty()) {
            out.push(w("cpuset", "cpuset.mems", mems));
        }
    }
    if let Some(memory) = res.memory() {
        opt(
            &mut out,
            "memory",
            "memory.soft_limit_in_bytes",
            memory.reservation(),
        );
        opt(
            &mut out,
            "memory",
            "memory.memsw.limit_in_bytes",
            memory.swap(),
        );
        opt(&mut out, "memory", "memory.swappiness", memory.swappiness());
        if memory.disable_oom_killer() == Some(true) {
            out.push(w("memory", "memory.oom_control", 1));
        }
    }
    if let Some(blkio) = res.block_io() {
        opt(&mut out, "blkio", "blkio.weight", blkio.weight());
        opt(&mut out, "blkio", "blkio.leaf_weight", blkio.leaf_weight());
        for d in blkio.weight_device().iter().flatten() {
            if let Some(weight) = d.weight() {
                let value = format!("{}:{} {weight}", d.major(), d.minor());
                out.push(w("blkio", "blkio.weight_device", value));
            }
        }
        let throttles = [
            (
                "blkio.throttle.read_bps_device",
                blkio.throttle_read_bps_device(),
            ),
            (
                "blkio.throttle.write_bps_device",
                blkio.throttle_write_bps_device(),
            ),
            (
                "blkio.throttle.read_iops_device",
                blkio.throttle_read_iops_device(),
            ),
            (
                "blkio.throttle.write_iops_device",
                blkio.throttle_write_iops_device(),
            ),
        ];
        for (file, devices) in throttles {
            for d in devices.iter().flatten() {
                let value = format!("{}:{} {}", d.major(), d.minor(), d.rate());
                out.push(w("blkio", file, value));
            }
        }
    }
    if let Some(network) = res.network() {
        opt(&mut out, "net_cls", "net_cls.classid", network.class_id());
        for p in network.priorities().iter().flatten() {
            let value = format!("{} {}", p.name(), p.priority());
            out.push(w("net_prio", "net_prio.ifpriomap", value));
        }
    }
    for limit in res.hugepage_limits().iter().flatten() {
        let file = format!("hugetlb.{}.limit_in_bytes", limit.page_size());
        out.push(w("hugetlb", &file, limit.limit()));
    }
    for (allow, rule) in device_rules(res, devices) {
        let file = if allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        out.push(w("devices", file, rule));
    }
    out
}

/// The devices cgroup's rules in order, (allow, v1 text): deny everything,
/// then the config's rules, then what every container gets whatever the
/// rules said (runc too), and the config's linux.devices. v1 writes them
/// to devices.allow/deny; v2 compiles them into an eBPF program.
pub fn device_rules(
    res: &LinuxResources,
    devices: &[oci_spec::runtime::LinuxDevice],
) -> Vec<(bool, String)> {
    let mut out = vec![(false, "a".to_string())];
    out.extend(res.devices().iter().flatten().map(device_rule));
    out.extend(DEFAULT_OPENABLE.iter().map(|r| (true, r.to_string())));
    for d in devices {
        let kind = match d.typ() {
            oci_spec::runtime::LinuxDeviceType::B => "b",
            _ => "c",
        };
        out.push((true, format!("{kind} {}:{} rwm", d.major(), d.minor())));
    }
    out
}

/// Mount points of the v1 hierarchies, by controller name.
pub fn v1_mounts(mountinfo: &str) -> BTreeMap<String, PathBuf> {
    let mut mounts = BTreeMap::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut right = right.split_whitespace();
        if right.next() != Some("cgroup") {
            continue;
        }
        let options = right.nth(1).unwrap_or_default();
        let Some(point) = left.split_whitespace().nth(4) else {
            continue;
        };
        for option in options.split(',') {
            mounts
                .entry(option.to_string())
                .or_insert_with(|| PathBuf::from(point));
        }
    }
    mounts
}

/// The hierarchies an OCI container always joins beyond rcorch's four:
/// every one mounted, named "systemd" too, as runc joins them.
const JOINED: &[&str] = &[
    "cpuset",
    "devices",
    "blkio",
    "net_cls",
    "net_prio",
    "freezer",
    "perf_event",
    "hugetlb",
    "rdma",
    "misc",
    "name=systemd",
];

/// Creates the cgroup in the extra hierarchies, writes the plan, and
/// returns the directories made (their cgroup.procs for the init to join).
pub fn apply(
    mounts: &BTreeMap<String, PathBuf>,
    path: &str,
    writes: &[Write],
) -> Result<Vec<PathBuf>, OciError> {
    let relative = path.trim_start_matches('/');
    let mut dirs: BTreeMap<&str, PathBuf> = BTreeMap::new();
    let wanted = JOINED
        .iter()
        .copied()
        .chain(writes.iter().map(|w| w.controller));
    for controller in wanted {
        let Some(point) = mounts.get(controller) else {
            continue;
        };
        let dir = point.join(relative);
        if !dirs.values().any(|d| d == &dir) {
            std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
            if controller == "cpuset" {
                inherit_cpuset(point, &dir)?;
            }
        }
        dirs.insert(controller, dir);
    }
    for write in writes {
        let Some(dir) = dirs.get(write.controller) else {
            continue; // not on v1 here: rcorch's manager or nothing covers it
        };
        let mut file = dir.join(&write.file);
        if let Some(bfq) = bfq_name(&write.file).filter(|_| !file.exists()) {
            file = dir.join(bfq);
        }
        if !file.exists() {
            // This kernel has no such knob (blkio weights without CFQ or BFQ, kmem…).
            eprintln!(
                "rcorch-runtime: warning: {} does not exist here; {} not applied",
                file.display(),
                write.value
            );
            continue;
        }
        std::fs::write(&file, &write.value)
            .map_err(|e| super::cgroup_v2::write_failure(&write.value, &file, &e))?;
    }
    let mut unique: Vec<PathBuf> = dirs.into_values().collect();
    unique.sort();
    unique.dedup();
    Ok(unique)
}

/// Where CFQ's blkio weight files are absent, BFQ's take the same values.
fn bfq_name(file: &str) -> Option<&'static str> {
    match file {
        "blkio.weight" => Some("blkio.bfq.weight"),
        "blkio.weight_device" => Some("blkio.bfq.weight_device"),
        _ => None,
    }
}

/// A new cpuset cgroup starts with no CPUs and no memory nodes, and takes
/// no tasks until both are set: copy its parent's, level by level.
fn inherit_cpuset(root: &Path, dir: &Path) -> Result<(), OciError> {
    let Ok(relative) = dir.strip_prefix(root) else {
        return Ok(());
    };
    let mut current = root.to_path_buf();
    for component in relative.components() {
        let parent = current.clone();
        current.push(component);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mine = std::fs::read_to_string(current.join(file)).unwrap_or_default();
            if mine.trim().is_empty() {
                let theirs = std::fs::read_to_string(parent.join(file))
                    .map_err(io_error(parent.join(file)))?;
                std::fs::write(current.join(file), theirs.trim())
                    .map_err(io_error(current.join(file)))?;
            }
        }
    }
    Ok(())
}

/// Removes what [`apply`] made, deepest first (best effort).
pub fn remove(dirs: &[PathBuf]) {
    for dir in dirs {
        let _ = std::fs::remove_dir(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_become_ordered_control_file_writes() {
        let res: LinuxResources = serde_json::from_value(serde_json::json!({
            "cpu": {"shares": 512, "cpus": "0", "mems": "0"},
            "memory": {"swappiness": 10},
            "blockIO": {"weight": 300, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}]},
            "network": {"classID": 42, "priorities": [{"name": "eth0", "priority": 5}]},
            "devices": [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                        {"allow": false, "access": "rwm"}]
        }))
        .unwrap();
        let all = plan_writes(&res, &[]);
        assert_eq!(all.len() - DEFAULT_OPENABLE.len(), 11);
        let writes: Vec<String> = all[..11]
            .iter()
            .map(|w| format!("{}/{}={}", w.controller, w.file, w.value))
            .collect();
        assert_eq!(
            writes,
            [
                "cpu/cpu.shares=512",
                "cpuset/cpuset.cpus=0",
                "cpuset/cpuset.mems=0",
                "memory/memory.swappiness=10",
                "blkio/blkio.weight=300",
                "blkio/blkio.throttle.read_bps_device=8:0 1000",
                "net_cls/net_cls.classid=42",
                "net_prio/net_prio.ifpriomap=eth0 5",
                "devices/devices.deny=a",
                "devices/devices.allow=c 1:3 rwm",
                "devices/devices.deny=a",
            ]
        );
    }

    #[test]
    fn blkio_weights_go_to_bfq_files_where_cfq_has_none() {
        let root = tempfile::tempdir().unwrap();
        let blkio = root.path().join("blkio");
        std::fs::create_dir_all(blkio.join("c")).unwrap();
        std::fs::write(blkio.join("c/blkio.bfq.weight"), "100").unwrap();
        let mounts = BTreeMap::from([("blkio".to_string(), blkio.clone())]);
        apply(&mounts, "/c", &[w("blkio", "blkio.weight", 300)]).unwrap();
        let weight = std::fs::read_to_string(blkio.join("c/blkio.bfq.weight")).unwrap();
        assert_eq!(weight, "300");
        assert!(!blkio.join("c/blkio.weight").exists());
    }

    #[test]
    fn v1_mount_points_by_controller() {
        let text = "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                    31 25 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let mounts = v1_mounts(text);
        assert_eq!(
            mounts["cpuacct"],
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert!(!mounts.contains_key("hugetlb"));
    }

    #[test]
    fn apply_writes_into_a_recorded_tree() {
        let root = tempfile::tempdir().unwrap();
        let cpuset = root.path().join("cpuset");
        std::fs::create_dir_all(&cpuset).unwrap();
        std::fs::write(cpuset.join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(cpuset.join("cpuset.mems"), "0\n").unwrap();
        let mounts = BTreeMap::from([("cpuset".to_string(), cpuset.clone())]);
        let dirs = apply(&mounts, "/a/b", &[w("cpuset", "cpuset.cpus", "1")]).unwrap();
        assert_eq!(dirs, vec![cpuset.join("a/b")]);
        assert_eq!(
            std::fs::read_to_string(cpuset.join("a/cpuset.cpus")).unwrap(),
            "0-1"
        );
        assert_eq!(
            std::fs::read_to_string(cpuset.join("a/b/cpuset.cpus")).unwrap(),
            "1"
        );
        assert_eq!(
            std::fs::read_to_string(cpuset.join("a/b/cpuset.mems")).unwrap(),
            "0"
        );
    }
}
