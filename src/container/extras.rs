//! `run`'s host-facing options: `--add-host`, `--group-add`, `--sysctl`,
//! `--security-opt`, `--oom-score-adj`, `--shm-size`. Parsed and checked
//! here, as plain data; the runtime applies them.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What the user typed.
#[derive(Debug, Clone, Default)]
pub struct ExtrasRequest {
    pub add_host: Vec<String>,
    pub group_add: Vec<String>,
    pub sysctl: Vec<String>,
    /// no-new-privileges and seccomp only: apparmor/label are settled by the CLI.
    pub security_opt: Vec<String>,
    pub oom_score_adj: Option<i32>,
    pub shm_size: Option<String>,
    /// `--device` specs, resolved against the host when the container is made.
    pub device: Vec<String>,
    pub privileged: bool,
}

/// What the container gets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Extras {
    /// `/etc/hosts` lines: (name, address or "host-gateway").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<u32>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// `no-new-privileges:false`: setuid programs may gain privileges again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub new_privileges: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub seccomp_unconfined: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// Bytes of /dev/shm (Docker's default: 64 MiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// `--device`, and with `--privileged` every host device node.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<super::devices::DeviceMapping>,
    /// `--privileged`: every capability, no seccomp, no masked or read-only
    /// paths, the devices cgroup open (set apart from the fields it implies).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
}

impl Extras {
    pub fn is_default(&self) -> bool {
        *self == Extras::default()
    }
}

/// Docker's `host-gateway`: the address of the host as the container sees it.
pub const HOST_GATEWAY: &str = "host-gateway";

/// Sysctls a container's own namespaces hold (Docker's list): IPC ones,
/// and `net.*` when it has its own network namespace.
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// `group_lookup`: the image's /etc/group, for names.
pub fn parse(
    req: &ExtrasRequest,
    own_network: bool,
    group_file: Option<&str>,
) -> Result<Extras, String> {
    let mut extras = Extras {
        oom_score_adj: req.oom_score_adj,
        privileged: req.privileged,
        // As Docker: no seccomp, and no no_new_privs unless asked for below.
        seccomp_unconfined: req.privileged,
        new_privileges: req.privileged,
        ..Extras::default()
    };
    if let Some(adj) = req.oom_score_adj.filter(|a| !(-1000..=1000).contains(a)) {
        return Err(format!(
            "invalid --oom-score-adj {adj}: use a value from -1000 to 1000"
        ));
    }
    for host in &req.add_host {
        extras.extra_hosts.push(parse_host(host)?);
    }
    for group in &req.group_add {
        extras.group_add.push(parse_group(group, group_file)?);
    }
    for sysctl in &req.sysctl {
        let (key, value) = parse_sysctl(sysctl, own_network)?;
        extras.sysctls.insert(key, value);
    }
    for opt in &req.security_opt {
        parse_security_opt(opt, &mut extras)?;
    }
    if let Some(size) = &req.shm_size {
        use crate::cgroups::convert::{parse_memory, ConvertError};
        // Memory limits have a floor; a /dev/shm does not.
        let bytes = match parse_memory(size) {
            Ok(bytes) | Err(ConvertError::MemoryTooSmall { bytes, .. }) => bytes,
            Err(_) => return Err(format!("invalid --shm-size {size:?}: use bytes or 64m, 1g")),
        };
        if bytes == 0 {
            return Err(format!(
                "invalid --shm-size {size:?}: it must be more than 0"
            ));
        }
        extras.shm_size = Some(bytes);
    }
    Ok(extras)
}

fn parse_host(spec: &str) -> Result<(String, String), String> {
    // NAME:IP or NAME=IP; an IPv6 address has colons of its own.
    let split = spec.split_once('=').or_else(|| spec.split_once(':'));
    let bad = || format!("invalid --add-host {spec:?}: use NAME:IP (or NAME:host-gateway)");
    let (name, ip) = split.ok_or_else(bad)?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad());
    }
    if ip != HOST_GATEWAY && ip.parse::<IpAddr>().is_err() {
        return Err(bad());
    }
    Ok((name.to_string(), ip.to_string()))
}

fn parse_group(group: &str, group_file: Option<&str>) -> Result<u32, String> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    group_file
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            (fields.next() == Some(group))
                .then(|| fields.nth(1).and_then(|g| g.parse().ok()))
                .flatten()
        })
        .ok_or_else(|| {
            format!("invalid --group-add {group:?}: no such group in the image's /etc/group; use a number")
        })
}

fn parse_sysctl(spec: &str, own_network: bool) -> Result<(String, String), String> {
    let (key, value) = spec
        .split_once('=')
        .ok_or_else(|| format!("invalid --sysctl {spec:?}: use KEY=VALUE"))?;
    let key = key.replace('/', ".");
    let namespaced = IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.");
    if key.starts_with("net.") {
        if !own_network {
            return Err(format!(
                "--sysctl {key} needs the container's own network, not --network host"
            ));
        }
    } else if !namespaced {
        return Err(format!(
            "--sysctl {key} is not namespaced (it would change the host): only net.*, fs.mqueue.* and kernel IPC ones (kernel.shm*, kernel.msg*, kernel.sem) are allowed"
        ));
    }
    if key.contains("..") || key.split('.').any(str::is_empty) {
        return Err(format!("invalid --sysctl key {key:?}"));
    }
    Ok((key, value.to_string()))
}

fn parse_security_opt(opt: &str, extras: &mut Extras) -> Result<(), String> {
    let (key, value) = opt
        .split_once('=')
        .or_else(|| opt.split_once(':'))
        .unwrap_or((opt, ""));
    match (key, value) {
        ("no-new-privileges", "" | "true") => extras.new_privileges = false,
        ("no-new-privileges", "false") => extras.new_privileges = true,
        ("seccomp", "unconfined") => extras.seccomp_unconfined = true,
        ("seccomp", "") => return Err("--security-opt seccomp needs a value: seccomp=unconfined".into()),
        ("seccomp", file) => {
            return Err(format!(
                "--security-opt seccomp={file}: profile files are not supported yet; use the default profile or seccomp=unconfined"
            ))
        }
        _ => {
            return Err(format!(
                "invalid --security-opt {opt:?}: use no-new-privileges[:true|false], seccomp=unconfined, apparmor=… or label=…"
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "extras_tests.rs"]
mod tests;
