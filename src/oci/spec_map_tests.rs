use super::*;
use crate::cgroups::CpuQuota;
use crate::runtime::init::Rlimit;

fn spec(json: serde_json::Value) -> Spec {
    let mut base = serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]}
    });
    merge(&mut base, json);
    serde_json::from_value(base).unwrap()
}

fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, o) => *b = o,
    }
}

fn layout() -> Layout {
    Layout::V2 {
        root: "/sys/fs/cgroup".into(),
    }
}

fn map(json: serde_json::Value) -> Result<Mapped, OciError> {
    map_spec(&spec(json), Path::new("/b"), &layout())
}

#[test]
fn namespaces_new_or_joined_and_the_pid_namespace_before_clone() {
    let m = map(serde_json::json!({"linux": {"namespaces": [
        {"type": "mount"}, {"type": "uts"},
        {"type": "network", "path": "/proc/1/ns/net"},
        {"type": "pid", "path": "/proc/1/ns/pid"}
    ]}, "hostname": "box"}))
    .unwrap();
    assert_eq!(
        m.clone_flags,
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS
    );
    assert_eq!(
        m.plan.join,
        vec![(CloneFlags::CLONE_NEWNET, PathBuf::from("/proc/1/ns/net"))]
    );
    assert_eq!(m.pid_ns_path, Some(PathBuf::from("/proc/1/ns/pid")));
    assert_eq!(m.plan.hostname.as_deref(), Some("box"));
    assert!(
        !m.plan.own_network,
        "a joined network is not ours to set up"
    );
}

#[test]
fn a_hostname_without_a_uts_namespace_is_refused() {
    let err = map(serde_json::json!({"hostname": "box"})).err().unwrap();
    assert!(err.to_string().contains("UTS namespace"), "{err}");
}

#[test]
fn mounts_keep_options_and_bind_sources_are_relative_to_the_bundle() {
    let m = map(serde_json::json!({"mounts": [
        {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro", "rshared"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]}
    ]}))
    .unwrap();
    let generic: Vec<&GenericMount> = m
        .plan
        .mounts
        .before_pivot
        .iter()
        .filter_map(|op| match op {
            MountOp::Generic(g) => Some(g),
            _ => None,
        })
        .collect();
    assert_eq!(generic[0].source, PathBuf::from("/b/data"));
    assert!(generic[0].bind && generic[0].recursive);
    assert_eq!(generic[0].flags, MsFlags::MS_RDONLY);
    assert_eq!(generic[0].propagation, MsFlags::MS_SHARED | MsFlags::MS_REC);
    assert_eq!(generic[1].data, "size=1m");
    assert_eq!(m.plan.mounts.root, RootSource::Directory);
    assert_eq!(m.plan.paths.rootfs, PathBuf::from("/b/rootfs"));
}

#[test]
fn process_user_capabilities_and_rlimits() {
    let m = map(serde_json::json!({"process": {
        "user": {"uid": 1000, "gid": 100, "umask": 63, "additionalGids": [5, 6]},
        "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
        "noNewPrivileges": true,
        "oomScoreAdj": 500
    }}))
    .unwrap();
    let t = &m.plan.target;
    assert_eq!((t.user.uid, t.user.gid, t.umask), (1000, 100, 0o77));
    assert_eq!(t.groups, vec![5, 6]);
    assert_eq!(t.capabilities.bounding.len(), 2);
    assert!(t
        .capabilities
        .effective
        .contains(&::caps::Capability::CAP_KILL));
    assert!(t.capabilities.permitted.is_empty());
    assert!(t.no_new_privs);
    assert_eq!(m.oom_score_adj, Some(500));
    assert_eq!(
        m.plan.rlimits,
        vec![Rlimit {
            resource: libc::RLIMIT_NOFILE as i32,
            soft: 100,
            hard: 200
        }]
    );
}

#[test]
fn resources_and_hooks() {
    let m = map(serde_json::json!({
        "linux": {"cgroupsPath": "/pods/c1", "resources": {
            "memory": {"limit": 67108864}, "cpu": {"quota": 50000, "period": 100000},
            "pids": {"limit": 10}}},
        "hooks": {"prestart": [{"path": "/bin/true", "timeout": 3}],
                  "startContainer": [{"path": "/bin/echo", "args": ["echo", "hi"]}]}
    }))
    .unwrap();
    assert_eq!(m.limits.memory, Some(67108864));
    assert_eq!(
        m.limits.cpu,
        Some(CpuQuota {
            period_us: 100000,
            quota_us: 50000
        })
    );
    assert_eq!(m.limits.pids, Some(10));
    assert_eq!(m.hooks.prestart[0].timeout, Some(3));
    let oci = m.plan.oci.as_ref().unwrap();
    assert_eq!(oci.start_container[0].args, vec!["echo", "hi"]);
}

#[test]
fn default_devices_are_added_unless_listed() {
    let m = map(serde_json::json!({"linux": {"devices": [
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 438, "uid": 0, "gid": 0},
        {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}
    ]}}))
    .unwrap();
    let devices: Vec<String> = m
        .plan
        .mounts
        .before_pivot
        .iter()
        .filter_map(|op| match op {
            MountOp::Device { path, .. } => Some(path.display().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(devices.iter().filter(|d| *d == "/dev/null").count(), 1);
    assert!(devices.contains(&"/dev/tty".to_string()));
    assert!(devices.contains(&"/dev/sda".to_string()));
}

#[test]
fn seccomp_profiles_map_actions_and_arguments() {
    let m = map(serde_json::json!({"linux": {"seccomp": {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
        {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
    ]}}}));
    assert!(m.unwrap().plan.target.seccomp.is_some());
    let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read", "no_such_call"], "action": "SCMP_ACT_ALLOW"}]
    }))
    .unwrap();
    let mapped = map_seccomp(&profile).unwrap();
    assert_eq!(mapped.default_action, seccompiler::SeccompAction::Errno(1));
    assert_eq!(mapped.rules.len(), 1, "unknown names are skipped");
    let notify: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(serde_json::json!({
        "defaultAction": "SCMP_ACT_NOTIFY"
    }))
    .unwrap();
    assert!(map_seccomp(&notify).is_err());
}

#[test]
fn a_new_user_namespace_gets_its_maps_and_devpts_only_mapped_owners() {
    let m = map(serde_json::json!({
        "linux": {
            "namespaces": [{"type": "mount"}, {"type": "user"}],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 2000}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]
        },
        "mounts": [{"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                    "options": ["nosuid", "newinstance", "mode=0620", "gid=5"]}]
    }))
    .unwrap();
    assert!(m.clone_flags.contains(CloneFlags::CLONE_NEWUSER));
    assert_eq!(
        m.id_maps,
        Some(("0 1000 2000\n".to_string(), "0 1000 1\n".to_string()))
    );
    assert!(m.plan.oci.as_ref().unwrap().user_ns);
    let devpts = m.plan.mounts.before_pivot.iter().find_map(|op| match op {
        MountOp::Generic(g) if g.fstype == "devpts" => Some(g.data.clone()),
        _ => None,
    });
    assert_eq!(devpts.as_deref(), Some("newinstance,mode=0620"));
}

#[test]
fn a_joined_user_namespace_is_entered_without_maps_and_a_new_one_needs_them() {
    let m = map(serde_json::json!({"linux": {"namespaces": [
        {"type": "mount"}, {"type": "user", "path": "/proc/1/ns/user"}
    ]}}))
    .unwrap();
    assert_eq!(m.id_maps, None);
    assert!(m.plan.oci.as_ref().unwrap().user_ns);
    assert_eq!(
        m.plan.join,
        vec![(CloneFlags::CLONE_NEWUSER, PathBuf::from("/proc/1/ns/user"))]
    );
    let err = map(serde_json::json!({"linux": {"namespaces": [{"type": "user"}]}}))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("uidMappings"), "{err}");
}
