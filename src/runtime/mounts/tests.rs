use super::*;
use crate::container::build::{build_config, HostFacts, ImageDefaults, RunRequest};

fn config(req: RunRequest, layers: Vec<PathBuf>) -> ContainerConfig {
    let lookup = |_: &str| None;
    let host = HostFacts {
        cpus: 2,
        lookup_env: &lookup,
        cgroup_parent: "rcorch",
        cgroup_manager: Default::default(),
        now: "t".into(),
    };
    let image = ImageDefaults {
        reference: "busybox".into(),
        cmd: vec!["sh".into()],
        layers,
        ..ImageDefaults::default()
    };
    build_config(&req, &image, &host, &"cd".repeat(32)).unwrap()
}

fn paths() -> RootfsPaths {
    let dir = PathBuf::from("/var/lib/rcorch/containers/x");
    RootfsPaths {
        rootfs: dir.join("rootfs"),
        upper: dir.join("upper"),
        work: dir.join("work"),
        hosts: dir.join("hosts"),
        hostname: dir.join("hostname"),
        resolv_conf: dir.join("resolv.conf"),
        files: dir.join("files"),
    }
}

#[test]
fn overlay_lower_dirs_are_relative_to_the_layer_store() {
    let layers = vec![
        PathBuf::from("/r/images/layers/aa/rootfs"),
        PathBuf::from("/r/images/layers/bb/rootfs"),
    ];
    let plan = plan_mounts(&config(RunRequest::default(), layers), &paths(), vec![]);
    assert_eq!(
        plan.root,
        RootSource::Overlay {
            cwd: PathBuf::from("/r/images/layers"),
            data: "lowerdir=aa/rootfs:bb/rootfs,upperdir=/var/lib/rcorch/containers/x/upper,workdir=/var/lib/rcorch/containers/x/work".into(),
        }
    );
}

#[test]
fn standard_filesystems_come_first_and_user_mounts_last() {
    let req = RunRequest {
        volumes: vec!["/etc:/data:ro".into()],
        tmpfs: vec!["/scratch".into()],
        read_only: true,
        ..RunRequest::default()
    };
    let plan = plan_mounts(
        &config(req, vec![PathBuf::from("/l/x/rootfs")]),
        &paths(),
        vec![],
    );
    let targets: Vec<String> = plan
        .before_pivot
        .iter()
        .map(|op| match op {
            MountOp::Fs { target, .. } => target.to_string(),
            MountOp::Bind { target, .. }
            | MountOp::Tmpfs { target, .. }
            | MountOp::Volume { target, .. } => target.display().to_string(),
            MountOp::Devices => "devices".into(),
            MountOp::Symlink { link, .. } => format!("link {link}"),
            MountOp::Cgroup { target, .. } => format!("cgroup {}", target.display()),
            MountOp::ReadOnly { target } => format!("ro {target}"),
            MountOp::Device { path, .. } => format!("device {}", path.display()),
            MountOp::Generic(m) => m.target.display().to_string(),
        })
        .collect();
    assert_eq!(&targets[..4], ["/proc", "/sys", "/dev", "devices"]);
    assert!(targets.contains(&"/dev/pts".to_string()));
    assert_eq!(
        &targets[targets.len() - 5..],
        [
            "/data",
            "/scratch",
            "/etc/hosts",
            "/etc/hostname",
            "/etc/resolv.conf",
        ]
    );
    assert!(plan.read_only_root);
    assert!(matches!(
        plan.before_pivot
            .iter()
            .find(|op| matches!(op, MountOp::Bind { target, .. } if target == Path::new("/data"))),
        Some(MountOp::Bind {
            read_only: true,
            file: false,
            ..
        })
    ));
}

#[test]
fn parents_are_mounted_before_what_is_inside_them() {
    let req = RunRequest {
        volumes: vec!["/srv/a/b:/x/y".into(), "conf:/etc".into(), "/srv:/x".into()],
        ..RunRequest::default()
    };
    let plan = plan_mounts(&config(req, vec![]), &paths(), vec![]);
    let targets: Vec<String> = plan
        .before_pivot
        .iter()
        .filter_map(|op| match op {
            MountOp::Bind { target, .. } | MountOp::Volume { target, .. } => {
                Some(target.display().to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        targets,
        [
            "/etc",
            "/x",
            "/etc/hosts",
            "/etc/hostname",
            "/etc/resolv.conf",
            "/x/y"
        ]
    );
}

#[test]
fn named_volumes_plan_a_copy_up_unless_nocopy() {
    let req = RunRequest {
        volumes: vec!["data:/data".into(), "logs:/logs:ro,nocopy".into()],
        ..RunRequest::default()
    };
    let mut config = config(req, vec![]);
    // `run` fills in the host side when it attaches the volumes.
    for m in &mut config.mounts {
        m.source = format!("/r/volumes/{}/_data", m.volume.as_deref().unwrap()).into();
    }
    let plan = plan_mounts(&config, &paths(), vec![]);
    let volumes: Vec<&MountOp> = plan
        .before_pivot
        .iter()
        .filter(|op| matches!(op, MountOp::Volume { .. }))
        .collect();
    assert_eq!(
        volumes,
        [
            &MountOp::Volume {
                source: "/r/volumes/data/_data".into(),
                target: "/data".into(),
                read_only: false,
                copy_up: true,
            },
            &MountOp::Volume {
                source: "/r/volumes/logs/_data".into(),
                target: "/logs".into(),
                read_only: true,
                copy_up: false,
            },
        ]
    );
}

#[test]
fn sysfs_is_read_only_and_proc_is_noexec() {
    let plan = plan_mounts(&config(RunRequest::default(), vec![]), &paths(), vec![]);
    for op in &plan.before_pivot {
        if let MountOp::Fs {
            target: "/sys",
            flags,
            ..
        } = op
        {
            assert!(flags.contains(MsFlags::MS_RDONLY));
        }
        if let MountOp::Fs {
            target: "/proc",
            flags,
            ..
        } = op
        {
            assert!(flags.contains(MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV));
        }
    }
}

#[test]
fn masked_and_read_only_paths_match_docker() {
    for p in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/sys/firmware",
    ] {
        assert!(MASKED_PATHS.contains(&p), "{p}");
    }
    for p in ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"] {
        assert!(READONLY_PATHS.contains(&p), "{p}");
    }
}

#[test]
fn cgroup_mounts_follow_the_host_layout() {
    let v2 = cgroup_mounts(&Layout::V2 {
        root: "/sys/fs/cgroup".into(),
    });
    assert_eq!(
        v2,
        [MountOp::Cgroup {
            fstype: "cgroup2",
            target: "/sys/fs/cgroup".into(),
            options: String::new()
        }]
    );
    let mounts = [
        (crate::cgroups::Controller::Memory, "/sys/fs/cgroup/memory"),
        (
            crate::cgroups::Controller::Cpu,
            "/sys/fs/cgroup/cpu,cpuacct",
        ),
        (
            crate::cgroups::Controller::Cpuacct,
            "/sys/fs/cgroup/cpu,cpuacct",
        ),
        (crate::cgroups::Controller::Pids, "/sys/fs/cgroup/pids"),
    ]
    .into_iter()
    .map(|(c, p)| (c, PathBuf::from(p)))
    .collect();
    let v1 = cgroup_mounts(&Layout::V1 { mounts });
    let options: Vec<&str> = v1
        .iter()
        .filter_map(|op| match op {
            MountOp::Cgroup { options, .. } => Some(options.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(options, ["cpu,cpuacct", "memory", "pids"]);
    assert!(matches!(
        v1.first(),
        Some(MountOp::Fs {
            fstype: "tmpfs",
            target: "/sys/fs/cgroup",
            ..
        })
    ));
    assert_eq!(
        v1.last(),
        Some(&MountOp::ReadOnly {
            target: "/sys/fs/cgroup"
        })
    );
}

#[test]
fn secrets_and_configs_are_bound_read_only_from_the_containers_copies() {
    let req = RunRequest {
        files: vec![crate::container::FileMount {
            source: "/r/projects/p/files/secrets/pw".into(),
            target: "/run/secrets/pw".into(),
            uid: 0,
            gid: 0,
            mode: 0o444,
        }],
        ..RunRequest::default()
    };
    let plan = plan_mounts(&config(req, vec![]), &paths(), vec![]);
    let bind = plan.before_pivot.iter().find(
        |op| matches!(op, MountOp::Bind { target, .. } if target == Path::new("/run/secrets/pw")),
    );
    assert_eq!(
        bind,
        Some(&MountOp::Bind {
            source: "/var/lib/rcorch/containers/x/files/0".into(),
            target: "/run/secrets/pw".into(),
            read_only: true,
            file: true,
        })
    );
}
