//! process.rlimits and linux.resources → what the runtime core applies:
//! the init's setrlimit calls and the limits of rcorch's cgroup managers
//! (the other resources are `cgroup_extra`'s).

use super::OciError;
use crate::cgroups::{CpuQuota, Limits};
use crate::runtime::init::Rlimit;

pub fn rlimits(process: &oci_spec::runtime::Process) -> Result<Vec<Rlimit>, OciError> {
    let mut out = Vec::new();
    for r in process.rlimits().iter().flatten() {
        let name = serde_json::to_value(r.typ())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let resource = rlimit_resource(&name).ok_or_else(|| OciError::InvalidConfig {
            message: format!("unknown rlimit {name}: use one of RLIMIT_NOFILE, RLIMIT_NPROC, …"),
        })?;
        out.push(Rlimit {
            resource,
            soft: r.soft(),
            hard: r.hard(),
        });
    }
    Ok(out)
}

pub fn rlimit_resource(name: &str) -> Option<libc::c_int> {
    let table: &[(&str, libc::__rlimit_resource_t)] = &[
        ("RLIMIT_CPU", libc::RLIMIT_CPU),
        ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
        ("RLIMIT_DATA", libc::RLIMIT_DATA),
        ("RLIMIT_STACK", libc::RLIMIT_STACK),
        ("RLIMIT_CORE", libc::RLIMIT_CORE),
        ("RLIMIT_RSS", libc::RLIMIT_RSS),
        ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
        ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
        ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
        ("RLIMIT_AS", libc::RLIMIT_AS),
        ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
        ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
        ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
        ("RLIMIT_NICE", libc::RLIMIT_NICE),
        ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
        ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
    ];
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r as libc::c_int)
}

pub(super) fn limits(linux: &oci_spec::runtime::Linux) -> Limits {
    linux
        .resources()
        .as_ref()
        .map(limits_of)
        .unwrap_or_default()
}

/// The limits rcorch's cgroup managers apply (the rest is cgroup_extra's).
pub(super) fn limits_of(resources: &oci_spec::runtime::LinuxResources) -> Limits {
    let memory = resources
        .memory()
        .as_ref()
        .and_then(|m| m.limit())
        .filter(|l| *l > 0)
        .map(|l| l as u64);
    let cpu = resources.cpu().as_ref().and_then(|c| {
        let quota = c.quota().filter(|q| *q > 0)?;
        Some(CpuQuota {
            period_us: c.period().unwrap_or(100_000),
            quota_us: quota as u64,
        })
    });
    let pids = resources
        .pids()
        .as_ref()
        .map(|p| p.limit())
        .filter(|l| *l > 0)
        .map(|l| l as u64);
    Limits {
        memory,
        cpu,
        pids,
        ..Limits::default()
    }
}
