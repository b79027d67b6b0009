use super::*;

/// Recorded from the development host: hybrid, cpu and cpuacct separate,
/// cgroup2 at /sys/fs/cgroup/unified without our controllers.
const HYBRID_THIS_HOST: &str = include_str!("testdata/mountinfo-hybrid-this-host.txt");
/// Debian 12 / Ubuntu 22.04 style pure cgroup v2 host.
const V2_DEBIAN12: &str = include_str!("testdata/mountinfo-v2-debian12.txt");
/// Ubuntu 18.04 style v1 host with "cpu,cpuacct" combined and a unified mount.
const V1_COMBINED: &str = include_str!("testdata/mountinfo-v1-ubuntu18.txt");

fn v1(pairs: &[(Controller, &str)]) -> Layout {
    Layout::V1 {
        mounts: pairs.iter().map(|(c, p)| (*c, PathBuf::from(p))).collect(),
    }
}

#[test]
fn this_hybrid_host_uses_separate_v1_mounts() {
    assert_eq!(
        parse_mountinfo(HYBRID_THIS_HOST),
        v1(&[
            (Controller::Memory, "/sys/fs/cgroup/memory"),
            (Controller::Cpu, "/sys/fs/cgroup/cpu"),
            (Controller::Cpuacct, "/sys/fs/cgroup/cpuacct"),
            (Controller::Pids, "/sys/fs/cgroup/pids"),
            (Controller::Cpuset, "/sys/fs/cgroup/cpuset"),
            (Controller::Blkio, "/sys/fs/cgroup/blkio"),
            (Controller::Devices, "/sys/fs/cgroup/devices"),
        ])
    );
}

#[test]
fn pure_v2_host_is_unified() {
    assert_eq!(
        parse_mountinfo(V2_DEBIAN12),
        Layout::V2 {
            root: PathBuf::from("/sys/fs/cgroup")
        }
    );
}

#[test]
fn combined_cpu_cpuacct_share_one_mount() {
    assert_eq!(
        parse_mountinfo(V1_COMBINED),
        v1(&[
            (Controller::Memory, "/sys/fs/cgroup/memory"),
            (Controller::Cpu, "/sys/fs/cgroup/cpu,cpuacct"),
            (Controller::Cpuacct, "/sys/fs/cgroup/cpu,cpuacct"),
            (Controller::Pids, "/sys/fs/cgroup/pids"),
            (Controller::Devices, "/sys/fs/cgroup/devices"),
        ])
    );
}

#[test]
fn named_hierarchies_and_other_filesystems_are_ignored() {
    let text = "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
                41 31 0:38 / /x/net_cls rw - cgroup cgroup rw,net_cls\n\
                42 31 0:39 / /tmp rw - tmpfs tmpfs rw,memory\n\
                garbage line\n";
    assert_eq!(parse_mountinfo(text), v1(&[]));
}

#[test]
fn escaped_mount_points_are_decoded() {
    let text = "1 2 0:1 / /my\\040cgroups shared:3 master:4 - cgroup2 none rw\n";
    assert_eq!(
        parse_mountinfo(text),
        Layout::V2 {
            root: PathBuf::from("/my cgroups")
        }
    );
}

#[test]
fn first_mount_of_a_hierarchy_wins() {
    let text = "1 2 0:1 / /a/memory rw - cgroup cgroup rw,memory\n\
                3 2 0:1 / /b/memory rw - cgroup cgroup rw,memory\n";
    assert_eq!(
        parse_mountinfo(text),
        v1(&[(Controller::Memory, "/a/memory")])
    );
}

#[test]
fn detect_reads_the_file_and_requires_all_v1_controllers() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    std::fs::write(&good, V1_COMBINED).unwrap();
    assert_eq!(detect(&good).unwrap(), parse_mountinfo(V1_COMBINED));

    let partial = dir.path().join("partial");
    std::fs::write(&partial, "1 2 0:1 / /m rw - cgroup cgroup rw,memory\n").unwrap();
    assert!(matches!(
        detect(&partial),
        Err(CgroupError::ControllerNotMounted {
            controller: Controller::Cpu
        })
    ));

    assert!(matches!(
        detect(&dir.path().join("missing")),
        Err(CgroupError::Read { .. })
    ));
}

#[test]
fn detect_on_this_host_matches_the_recording() {
    let Ok(live) = detect(Path::new("/proc/self/mountinfo")) else {
        eprintln!("skipping: this host does not expose our cgroup controllers");
        return;
    };
    // Only meaningful where the recording was made; just check it is usable.
    match live {
        Layout::V1 { mounts } => assert!(Controller::ALL.iter().all(|c| mounts.contains_key(c))),
        Layout::V2 { root } => assert!(root.is_absolute()),
    }
}
