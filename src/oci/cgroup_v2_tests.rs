use super::*;

fn resources(json: serde_json::Value) -> LinuxResources {
    serde_json::from_value(json).unwrap()
}

fn flat(writes: &[V2Write]) -> Vec<String> {
    writes
        .iter()
        .map(|w| {
            let choices: Vec<String> = w.choices.iter().map(|(f, v)| format!("{f}={v}")).collect();
            choices.join("|")
        })
        .collect()
}

#[test]
fn resources_become_v2_files() {
    let res = resources(serde_json::json!({
        "cpu": {"shares": 1024, "cpus": "0-1", "mems": "0"},
        "memory": {"limit": 1000, "reservation": 500, "swap": 1500},
        "blockIO": {"weight": 10,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 300}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                    "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 50}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 2147483648u64}],
        "unified": {"memory.high": "4096"}
    }));
    assert_eq!(
        flat(&plan(&res).unwrap()),
        [
            "cpu.weight=100",
            "cpuset.cpus=0-1",
            "cpuset.mems=0",
            "memory.low=500",
            "memory.swap.max=500",
            "io.bfq.weight=10|io.weight=default 1",
            "io.bfq.weight=8:0 300|io.weight=8:0 300",
            "io.max=8:0 rbps=1000",
            "io.max=254:0 wiops=50",
            "hugetlb.2MB.max=2147483648",
            "memory.high=4096",
        ]
    );
    let unlimited = resources(serde_json::json!({"memory": {"limit": 1000, "swap": -1}}));
    assert_eq!(flat(&plan(&unlimited).unwrap()), ["memory.swap.max=max"]);
}

#[test]
fn unified_keys_must_name_a_controller_file() {
    let bad = resources(serde_json::json!({"unified": {"nonsense": "1"}}));
    let err = plan(&bad).unwrap_err().to_string();
    assert!(err.contains("\"nonsense\""), "{err}");
    let core = resources(serde_json::json!({"unified": {"cgroup.max.depth": "3"}}));
    assert_eq!(plan(&core).unwrap()[0].controller, None);
}

#[test]
fn page_sizes_are_named_as_the_kernel_does_and_checked() {
    assert_eq!(page_size_name(2048), "2MB");
    assert_eq!(page_size_name(1048576), "1GB");
    assert_eq!(page_size_name(64), "64KB");
    let host = vec!["2MB".to_string(), "1GB".to_string()];
    let good = resources(serde_json::json!({"hugepageLimits": [{"pageSize": "1GB", "limit": 1}]}));
    assert!(check_page_sizes(&good, &host).is_ok());
    let bad = resources(serde_json::json!({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}));
    let err = check_page_sizes(&bad, &host).unwrap_err().to_string();
    assert!(err.contains("\"3MB\"") && err.contains("2MB, 1GB"), "{err}");
}

#[test]
fn a_hybrid_host_keeps_for_v2_what_v1_does_not_mount() {
    let res = resources(serde_json::json!({
        "cpu": {"cpus": "0"},
        "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 1}]
    }));
    let on_v1: BTreeSet<String> = ["cpuset", "memory", "blkio"].map(String::from).into();
    let kept = hybrid_share(plan(&res).unwrap(), &on_v1, &res).unwrap();
    assert_eq!(flat(&kept), ["hugetlb.2MB.max=1"]);
    let unified = resources(serde_json::json!({"unified": {"memory.high": "1"}}));
    let err = hybrid_share(plan(&unified).unwrap(), &on_v1, &unified).unwrap_err();
    assert!(err.to_string().contains("memory.high"), "{err}");
}

/// A cgroup2 tree as files: root offers hugetlb and io.
fn fake_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("cgroup.controllers"), "io hugetlb\n").unwrap();
    std::fs::write(root.path().join("cgroup.subtree_control"), "").unwrap();
    root
}

#[test]
fn prepare_enables_the_needed_controllers_and_reports_what_it_made() {
    let root = fake_root();
    let writes = vec![one("hugetlb", "hugetlb.2MB.max", 5)];
    // The fake kernel makes no control files: give the first level its own.
    let first = root.path().join("a");
    std::fs::create_dir(&first).unwrap();
    std::fs::write(first.join("cgroup.controllers"), "hugetlb\n").unwrap();
    std::fs::write(first.join("cgroup.subtree_control"), "").unwrap();
    let made = prepare(root.path(), "/a/b", &writes).unwrap();
    assert_eq!(made, vec![first.join("b")], "a existed already");
    let enabled = std::fs::read_to_string(root.path().join("cgroup.subtree_control")).unwrap();
    assert_eq!(enabled, "+hugetlb");
    std::fs::write(first.join("b/hugetlb.2MB.max"), "max").unwrap();
    write(&first.join("b"), &writes).unwrap();
    let limit = std::fs::read_to_string(first.join("b/hugetlb.2MB.max")).unwrap();
    assert_eq!(limit, "5");
    let absent = vec![one("hugetlb", "hugetlb.1GB.max", 5)];
    let err = write(&first.join("b"), &absent).unwrap_err().to_string();
    assert!(err.contains("hugetlb.1GB.max"), "{err}");
}

#[test]
fn prepare_refuses_a_controller_the_hierarchy_lacks() {
    let root = fake_root();
    let writes = vec![one("cpuset", "cpuset.cpus", "0")];
    let err = prepare(root.path(), "/x", &writes).unwrap_err().to_string();
    assert!(err.contains("cpuset controller"), "{err}");
    assert!(!root.path().join("x").exists(), "nothing made");
}

#[test]
fn the_unified_mount_is_found_in_mountinfo() {
    let text = "30 25 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n\
                31 25 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
    assert_eq!(
        unified_mount(text),
        Some(PathBuf::from("/sys/fs/cgroup/unified"))
    );
    assert_eq!(unified_mount(&text[..text.find('\n').unwrap()]), None);
}

#[test]
fn a_throttle_on_a_missing_device_says_so() {
    let enodev = std::io::Error::from_raw_os_error(libc::ENODEV);
    let err = write_failure("8:0 1", Path::new("/x/io.max"), &enodev).to_string();
    assert!(
        err.contains("\"8:0 1\"") && err.contains("no block device"),
        "{err}"
    );
    let eperm = std::io::Error::from_raw_os_error(libc::EPERM);
    let err = write_failure("1", Path::new("/x/f"), &eperm).to_string();
    assert!(!err.contains("block device"), "{err}");
}
