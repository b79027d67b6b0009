//! The shell around the metric families: reads the container store, each
//! running container's cgroup and its `/proc` files, once per scrape.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::container::{self, ContainerSample, DeviceBytes};
use super::Family;
use crate::cgroups::{self, usage, CgroupManager, Layout};
use crate::container::store::Record;
use crate::container::Status;
use crate::instance::Instance;
use crate::runtime::control::observed_status;
use crate::util::time::parse_rfc3339;

fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The container families for every running container `wanted` accepts.
pub fn container_families(instance: &Instance, wanted: impl Fn(&Record) -> bool) -> Vec<Family> {
    let records = instance.containers.list().unwrap_or_default();
    let layout = instance.cgroup_layout().ok();
    let root_device = device_name_of(&instance.root);
    let samples: Vec<ContainerSample> = records
        .iter()
        .filter(|r| observed_status(&r.state) == Status::Running && wanted(r))
        .filter_map(|r| sample(layout.as_ref()?, r, &root_device))
        .collect();
    container::families(&samples, epoch_seconds(SystemTime::now()))
}

/// One container's sample; `None` if its cgroup is gone (it just exited).
fn sample(layout: &Layout, r: &Record, root_device: &str) -> Option<ContainerSample> {
    let c = &r.config;
    let cgroup =
        cgroups::container_manager(layout, c.cgroup_manager, &c.cgroup_parent, &c.id).ok()?;
    let usage = cgroup.usage().ok()?;
    let disk = disk_bytes(&usage, cgroup.as_ref(), root_device);
    Some(ContainerSample {
        id: c.id.clone(),
        name: c.name.clone(),
        image: c.image.clone(),
        cgroup: cgroups::container_path(c.cgroup_manager, &c.cgroup_parent, &c.id),
        labels: c.labels.clone(),
        started_at: r
            .state
            .started_at
            .as_deref()
            .and_then(parse_rfc3339)
            .map(epoch_seconds),
        network: r.state.pid.map(network_of).unwrap_or_default(),
        disk,
        usage,
    })
}

/// The interfaces of `pid`'s network namespace; none when it shares ours
/// (`--network host`: those are the host's, not the container's).
fn network_of(pid: i32) -> Vec<container::InterfaceIo> {
    let inode = |p: &str| std::fs::metadata(p).map(|m| m.ino()).ok();
    let theirs = inode(&format!("/proc/{pid}/ns/net"));
    if theirs.is_none() || theirs == inode("/proc/self/ns/net") {
        return Vec::new();
    }
    std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .map(|text| container::parse_net_dev(&text))
        .unwrap_or_default()
}

/// v2 io.stat per device; elsewhere (v1: rcorch does not join blkio) the
/// sum of the processes' `/proc/PID/io`, shown on the device holding the
/// containers' upper layers (the state root).
fn disk_bytes(u: &usage::Usage, cgroup: &dyn CgroupManager, root_device: &str) -> Vec<DeviceBytes> {
    if !u.io.is_empty() {
        return u
            .io
            .iter()
            .map(|d| DeviceBytes {
                device: device_name(d.major, d.minor),
                read: d.read_bytes,
                write: d.write_bytes,
            })
            .collect();
    }
    let (mut read, mut write) = (0, 0);
    for pid in cgroup
        .pids()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| *p > 0)
    {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/io")) {
            let (r, w) = usage::parse_proc_io(&text);
            read += r;
            write += w;
        }
    }
    vec![DeviceBytes {
        device: root_device.to_string(),
        read,
        write,
    }]
}

/// Bytes read and written by a container's cgroup, summed over devices
/// (`stats`' BLOCK I/O); v1 without blkio falls back to `/proc/PID/io`.
pub fn block_io(u: &usage::Usage, cgroup: &dyn CgroupManager) -> (u64, u64) {
    disk_bytes(u, cgroup, "")
        .iter()
        .fold((0, 0), |(r, w), d| (r + d.read, w + d.write))
}

/// `/dev/NAME` of a block device number, else "MAJ:MIN".
fn device_name(major: u32, minor: u32) -> String {
    std::fs::read_link(format!("/sys/dev/block/{major}:{minor}"))
        .ok()
        .and_then(|p| Some(format!("/dev/{}", p.file_name()?.to_str()?)))
        .unwrap_or_else(|| format!("{major}:{minor}"))
}

fn device_name_of(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) => {
            let dev = m.dev();
            device_name(libc::major(dev), libc::minor(dev))
        }
        Err(_) => String::new(),
    }
}
