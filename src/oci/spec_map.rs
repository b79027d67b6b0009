//! config.json → the runtime core's plain description (pure: no syscalls,
//! no files beyond what the caller passes in). Everything the OCI front end
//! builds an [`InitPlan`] from is decided here and unit-tested.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::stat::SFlag;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::mount_options::{devpts_data_in_userns, parse_options, propagation_flags, IdRange};
use super::resources::{limits, rlimits};
use super::seccomp_map::{filter_flags, map_seccomp};
use super::OciError;
use crate::cgroups::{Layout, Limits};
use crate::container::UserSpec;
use crate::runtime::caps::{self, CapSets};
use crate::runtime::hooks::Hook;
use crate::runtime::init::{ExecTarget, InitPlan};
use crate::runtime::mounts::{
    cgroup_mounts, GenericMount, MountOp, MountPlan, RootSource, RootfsPaths,
};

/// Where a container goes when its config names no cgroupsPath.
pub const DEFAULT_CGROUP_PARENT: &str = "/rcorch-runtime";

/// What `create` needs besides the init's plan.
pub struct Mapped {
    pub plan: InitPlan,
    /// Namespaces made by clone.
    pub clone_flags: CloneFlags,
    /// A PID namespace to join: setns before clone (it applies to children).
    pub pid_ns_path: Option<PathBuf>,
    pub limits: Limits,
    pub oom_score_adj: Option<i32>,
    pub hooks: HostHooks,
    /// With a new user namespace: "inside outside count" lines for
    /// /proc/PID/uid_map and gid_map, written by the runtime.
    pub id_maps: Option<(String, String)>,
}

/// The hooks the runtime itself runs, on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostHooks {
    pub prestart: Vec<HookRecord>,
    pub create_runtime: Vec<HookRecord>,
    pub poststart: Vec<HookRecord>,
    pub poststop: Vec<HookRecord>,
}

/// A hook as kept in the state record (poststart/poststop run later).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HookRecord {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<u64>,
}

impl HookRecord {
    pub fn hook(&self) -> Hook {
        Hook {
            path: self.path.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            timeout: self.timeout.map(Duration::from_secs),
        }
    }
}

fn hook_records(hooks: &Option<Vec<oci_spec::runtime::Hook>>) -> Vec<HookRecord> {
    hooks
        .iter()
        .flatten()
        .map(|h| HookRecord {
            path: h.path().clone(),
            args: h.args().clone().unwrap_or_default(),
            env: h.env().clone().unwrap_or_default(),
            timeout: h.timeout().map(|t| t.max(0) as u64),
        })
        .collect()
}

pub fn map_spec(spec: &Spec, bundle: &Path, layout: &Layout) -> Result<Mapped, OciError> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| invalid("process is missing: create needs a process to run"))?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| invalid("root is missing: set root.path to the rootfs directory"))?;
    let rootfs = bundle.join(root.path());
    let default_linux = oci_spec::runtime::Linux::default();
    let linux = spec.linux().as_ref().unwrap_or(&default_linux);
    let (clone_flags, join, pid_ns_path) = namespaces(linux)?;
    let has = |flag| clone_flags.contains(flag) || join.iter().any(|(f, _)| *f == flag);
    if spec.hostname().is_some() && !has(CloneFlags::CLONE_NEWUTS) {
        return Err(invalid(
            "hostname is set but there is no UTS namespace: add one to linux.namespaces",
        ));
    }
    let paths = RootfsPaths {
        rootfs: rootfs.clone(),
        upper: PathBuf::new(),
        work: PathBuf::new(),
        hosts: PathBuf::new(),
        hostname: PathBuf::new(),
        resolv_conf: PathBuf::new(),
        files: PathBuf::new(),
    };
    let mut ops = Vec::new();
    for m in spec.mounts().iter().flatten() {
        ops.extend(map_mount(m, bundle, layout));
    }
    if clone_flags.contains(CloneFlags::CLONE_NEWUSER) {
        let (uids, gids) = (ranges(linux.uid_mappings()), ranges(linux.gid_mappings()));
        if uids.is_empty() || gids.is_empty() {
            return Err(invalid(
                "a new user namespace needs linux.uidMappings and linux.gidMappings: add both",
            ));
        }
        for op in ops.iter_mut() {
            if let MountOp::Generic(m) = op {
                if m.fstype == "devpts" {
                    m.data = devpts_data_in_userns(&m.data, &uids, &gids);
                }
            }
        }
    }
    ops.extend(device_ops(linux));
    let own_mounts = has(CloneFlags::CLONE_NEWNS);
    let mounts = MountPlan {
        // Without a mount namespace of its own the container shares the
        // caller's mounts: it is only chrooted into its rootfs.
        root: if own_mounts {
            RootSource::Directory
        } else {
            RootSource::Chroot
        },
        before_pivot: ops,
        read_only_root: root.readonly().unwrap_or(false),
        root_propagation: linux
            .rootfs_propagation()
            .as_deref()
            .map(propagation_flags)
            .transpose()?
            .unwrap_or(MsFlags::empty()),
        masked: linux
            .masked_paths()
            .iter()
            .flatten()
            .map(PathBuf::from)
            .collect(),
        readonly: linux
            .readonly_paths()
            .iter()
            .flatten()
            .map(PathBuf::from)
            .collect(),
    };
    let target = exec_target(process, linux)?;
    let hooks = spec.hooks().clone().unwrap_or_default();
    let plan = InitPlan {
        hostname: has(CloneFlags::CLONE_NEWUTS)
            .then(|| spec.hostname().clone())
            .flatten(),
        domainname: has(CloneFlags::CLONE_NEWUTS)
            .then(|| spec.domainname().clone())
            .flatten(),
        join,
        new_cgroup_ns: clone_flags.contains(CloneFlags::CLONE_NEWCGROUP),
        cgroup_procs: Vec::new(),
        mounts,
        paths,
        working_dir: process.cwd().clone(),
        target,
        stdio: [0, 1, 2],
        console: None,
        reaper: false,
        own_network: clone_flags.contains(CloneFlags::CLONE_NEWNET),
        sysctl: linux
            .sysctl()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        rlimits: rlimits(process)?,
        oom_score_adj: None,
        die_with_parent: false,
        oci: None,
    };
    let container_hooks = (
        hook_records(hooks.create_container()),
        hook_records(hooks.start_container()),
    );
    let mut mapped = Mapped {
        // CLONE_NEWCGROUP is unshared by the init once in its cgroup.
        clone_flags: clone_flags & !CloneFlags::CLONE_NEWCGROUP,
        pid_ns_path,
        limits: limits(linux),
        oom_score_adj: process.oom_score_adj(),
        hooks: HostHooks {
            prestart: hook_records(hooks.prestart()),
            create_runtime: hook_records(hooks.create_runtime()),
            poststart: hook_records(hooks.poststart()),
            poststop: hook_records(hooks.poststop()),
        },
        id_maps: clone_flags
            .contains(CloneFlags::CLONE_NEWUSER)
            .then(|| (id_map(linux.uid_mappings()), id_map(linux.gid_mappings()))),
        plan,
    };
    mapped.plan.oci = Some(crate::runtime::init::OciHandshake {
        exec_fifo: -1,
        preserve_fds: 0,
        user_ns: mapped.id_maps.is_some()
            || mapped
                .plan
                .join
                .iter()
                .any(|(f, _)| *f == CloneFlags::CLONE_NEWUSER),
        create_container: container_hooks.0.iter().map(HookRecord::hook).collect(),
        start_container: container_hooks.1.iter().map(HookRecord::hook).collect(),
    });
    Ok(mapped)
}

fn ranges(maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>) -> Vec<IdRange> {
    maps.iter()
        .flatten()
        .map(|m| (m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn id_map(maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>) -> String {
    ranges(maps)
        .iter()
        .map(|(inside, outside, count)| format!("{inside} {outside} {count}\n"))
        .collect()
}

pub(super) fn invalid(message: &str) -> OciError {
    OciError::InvalidConfig {
        message: message.to_string(),
    }
}

type Namespaces = (CloneFlags, Vec<(CloneFlags, PathBuf)>, Option<PathBuf>);

fn namespaces(linux: &oci_spec::runtime::Linux) -> Result<Namespaces, OciError> {
    let mut new = CloneFlags::empty();
    let mut join = Vec::new();
    let mut pid_path = None;
    for ns in linux.namespaces().iter().flatten() {
        let flag = match ns.typ() {
            LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
            LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
            LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
            LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
            LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
        };
        match ns.path() {
            Some(path) if flag == CloneFlags::CLONE_NEWPID => pid_path = Some(path.clone()),
            Some(path) => join.push((flag, path.clone())),
            None => new |= flag,
        }
    }
    Ok((new, join, pid_path))
}

fn map_mount(m: &oci_spec::runtime::Mount, bundle: &Path, layout: &Layout) -> Vec<MountOp> {
    let fstype = m.typ().clone().unwrap_or_default();
    let options = parse_options(m.options().as_deref().unwrap_or_default());
    // A fresh `cgroup` mount of every v1 hierarchy at once is refused by the
    // kernel: show the container's cgroups as rcorch run does.
    if (fstype == "cgroup" || fstype == "cgroup2") && m.destination() == Path::new("/sys/fs/cgroup")
    {
        return cgroup_mounts(layout);
    }
    let bind = options.bind || fstype == "bind";
    let source = m.source().clone().unwrap_or_default();
    let source = if bind && source.is_relative() {
        bundle.join(source)
    } else {
        source
    };
    vec![MountOp::Generic(GenericMount {
        source,
        target: m.destination().clone(),
        fstype,
        flags: options.flags,
        data: options.data,
        bind,
        recursive: options.recursive,
        propagation: options.propagation,
    })]
}

/// The devices the spec requires every container to have, then the config's.
fn device_ops(linux: &oci_spec::runtime::Linux) -> Vec<MountOp> {
    let mut ops = Vec::new();
    let listed: Vec<&oci_spec::runtime::LinuxDevice> = linux.devices().iter().flatten().collect();
    for (name, major, minor) in crate::runtime::mounts::DEVICES {
        let path = Path::new("/dev").join(name);
        if !listed.iter().any(|d| d.path() == &path) {
            ops.push(MountOp::Device {
                path,
                kind: SFlag::S_IFCHR,
                major: *major,
                minor: *minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
            });
        }
    }
    for d in listed {
        let kind = match d.typ() {
            oci_spec::runtime::LinuxDeviceType::B => SFlag::S_IFBLK,
            oci_spec::runtime::LinuxDeviceType::P => SFlag::S_IFIFO,
            _ => SFlag::S_IFCHR,
        };
        ops.push(MountOp::Device {
            path: d.path().clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    for (link, points_to) in [
        ("/dev/ptmx", "pts/ptmx"),
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        ops.push(MountOp::Symlink { link, points_to });
    }
    ops
}

pub(super) fn exec_target(
    process: &oci_spec::runtime::Process,
    linux: &oci_spec::runtime::Linux,
) -> Result<ExecTarget, OciError> {
    let cstrings = |items: &[String]| -> Vec<CString> {
        items
            .iter()
            .map(|s| CString::new(s.replace('\0', "")).expect("NULs removed"))
            .collect()
    };
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(invalid("process.args is empty: give the command to run"));
    }
    let env = process.env().clone().unwrap_or_default();
    let search_path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .split(':')
        .map(PathBuf::from)
        .collect();
    let user = process.user();
    let (seccomp, seccomp_flags) = match linux.seccomp() {
        Some(profile) => (
            Some(crate::runtime::seccomp::compile(&map_seccomp(profile)?)?),
            filter_flags(profile)?,
        ),
        None => (None, 0),
    };
    Ok(ExecTarget {
        user: UserSpec {
            uid: user.uid(),
            gid: user.gid(),
        },
        groups: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask().unwrap_or(0o022),
        argv: cstrings(&args),
        env: cstrings(&env),
        search_path,
        capabilities: cap_sets(process.capabilities())?,
        no_new_privs: process.no_new_privileges().unwrap_or(false),
        seccomp,
        seccomp_flags,
    })
}

fn cap_sets(spec: &Option<oci_spec::runtime::LinuxCapabilities>) -> Result<CapSets, OciError> {
    let Some(spec) = spec else {
        return Ok(CapSets::default());
    };
    let set =
        |caps: &Option<oci_spec::runtime::Capabilities>| -> Result<::caps::CapsHashSet, OciError> {
            let mut out = ::caps::CapsHashSet::new();
            for cap in caps.iter().flatten() {
                let name = serde_json::to_value(cap)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                out.insert(caps::parse_capability(&name)?);
            }
            Ok(out)
        };
    Ok(CapSets {
        bounding: set(spec.bounding())?,
        effective: set(spec.effective())?,
        permitted: set(spec.permitted())?,
        inheritable: set(spec.inheritable())?,
        ambient: set(spec.ambient())?,
    })
}

#[cfg(test)]
#[path = "spec_map_tests.rs"]
mod tests;
