//! rcorch-runtime on configs beyond the defaults: user namespaces, and the
//! fields a host without the feature answers with a warning. Each test has
//! its own state root, bundle and cgroupsPath (see tests/ocibundle).

#[allow(dead_code)]
mod ocibundle;

use std::time::Duration;

use ocibundle::{become_subreaper, is_root, reap, Bundle};

/// Container root is host uid 100000; only gid 0 is mapped, so the default
/// devpts `gid=5` cannot apply inside.
fn with_user_namespace(config: &mut serde_json::Value) {
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "user"}));
    config["linux"]["uidMappings"] =
        serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    config["linux"]["gidMappings"] =
        serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 1}]);
}

/// As podman prepares a rootfs for a user namespace: owned by the mapped
/// root, on a path the unprivileged host user can walk.
fn give_the_rootfs_to(b: &Bundle, id: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(b.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut stack = vec![b.path("rootfs")];
    while let Some(path) = stack.pop() {
        std::os::unix::fs::lchown(&path, Some(id), Some(id)).unwrap();
        if path.is_dir() && !path.is_symlink() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
}

#[test]
fn a_user_namespace_maps_the_containers_root_to_an_unprivileged_host_user() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "id -u; id -g; cat /proc/self/uid_map; tty < /dev/null; ls /dev/pts",
    ]);
    b.edit_config(with_user_namespace);
    give_the_rootfs_to(&b, 100000);
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["run", "--bundle", &bundle, "c1"]);
    assert!(status.success(), "run: {out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["0", "0"], "{out}");
    let map: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"], "{out}");
    assert!(out.contains("ptmx"), "devpts is mounted: {out}");

    // Seen from the host, the same process is the unprivileged user.
    b.edit_config(|c| c["process"]["args"] = serde_json::json!(["sleep", "100"]));
    let (status, out) = b.runtime_detached(&["run", "--detach", "--bundle", &bundle, "c2"]);
    assert!(status.success(), "run -d: {out}");
    let pid = b.state("c2")["pid"].as_i64().unwrap() as i32;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uids.split_whitespace().collect::<Vec<_>>(),
        ["Uid:", "100000", "100000", "100000", "100000"]
    );
    assert!(b.runtime(&["kill", "c2", "KILL"]).status.success());
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(128 + 9));
    assert!(b.runtime(&["delete", "c2"]).status.success());
}

#[test]
fn start_returns_once_the_process_runs_after_the_start_container_hooks() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sleep", "100"]);
    // A slow startContainer hook: start must wait for it and the exec.
    b.edit_config(|c| {
        c["hooks"] = serde_json::json!({"startContainer": [
            {"path": "/bin/sleep", "args": ["sleep", "0.3"]}
        ]})
    });
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["create", "--bundle", &bundle, "c1"]);
    assert!(status.success(), "create: {out}");
    let pid = b.state("c1")["pid"].as_i64().unwrap() as i32;
    assert!(b.runtime(&["start", "c1"]).status.success());
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        exe.ends_with("busybox"),
        "the container's program runs when start returns, not {}",
        exe.display()
    );
    assert!(b.runtime(&["kill", "c1", "KILL"]).status.success());
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(128 + 9));
}

#[test]
fn a_failing_poststop_hook_is_a_warning_and_the_next_poststop_hook_runs() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["true"]);
    let out_file = b.path("out/poststop");
    let script = format!("echo called >> {}", out_file.display());
    b.edit_config(|c| {
        c["hooks"] = serde_json::json!({"poststop": [
            {"path": "/bin/false", "args": ["false"]},
            {"path": "/bin/sh", "args": ["sh", "-c", script]}
        ]})
    });
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["create", "--bundle", &bundle, "c1"]);
    assert!(status.success(), "create: {out}");
    let pid = b.state("c1")["pid"].as_i64().unwrap() as i32;
    assert!(b.runtime(&["start", "c1"]).status.success());
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(0));
    let out = b.runtime(&["delete", "c1"]);
    assert!(out.status.success(), "delete succeeds: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: poststop"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "called\n");
}

#[test]
fn seccomp_flags_and_errno_ret_apply_and_a_listener_is_refused() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sh", "-c", "mkdir /tmp/x 2> /out/err; echo $? > /out/rc"]);
    b.edit_config(|c| {
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": libc::ENOSYS}]
        })
    });
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["create", "--bundle", &bundle, "c1"]);
    assert!(status.success(), "create: {out}");
    let pid = b.state("c1")["pid"].as_i64().unwrap() as i32;
    assert!(b.runtime(&["start", "c1"]).status.success());
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(0));
    let err = std::fs::read_to_string(b.path("out/err")).unwrap();
    assert!(err.contains("not implemented"), "errnoRet ENOSYS: {err}");
    assert_eq!(std::fs::read_to_string(b.path("out/rc")).unwrap(), "1\n");
    assert!(b.runtime(&["delete", "c1"]).status.success());

    b.edit_config(|c| c["linux"]["seccomp"]["listenerPath"] = "/run/agent.sock".into());
    let (status, out) = b.runtime_detached(&["create", "--bundle", &bundle, "c2"]);
    assert!(!status.success());
    assert!(out.contains("listenerPath"), "{out}");
    assert!(
        !b.root.join("c2").exists(),
        "a refused create leaves no state"
    );
}

#[test]
fn an_apparmor_profile_the_host_cannot_load_is_a_warning_and_a_bad_version_an_error() {
    if !is_root() || std::path::Path::new("/sys/module/apparmor/parameters/enabled").exists() {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "echo ran"]);
    b.edit_config(|c| c["process"]["apparmorProfile"] = "acme-profile".into());
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["run", "--bundle", &bundle, "c1"]);
    assert!(status.success(), "run: {out}");
    assert!(
        out.contains("warning: process.apparmorProfile \"acme-profile\" is not applied"),
        "{out}"
    );
    assert!(out.contains("ran"), "the container still runs: {out}");

    b.edit_config(|c| c["ociVersion"] = "invalid".into());
    let (status, out) = b.runtime_detached(&["run", "--bundle", &bundle, "c2"]);
    assert!(!status.success());
    assert!(out.contains("ociVersion \"invalid\""), "{out}");
    assert!(
        !b.root.join("c2").exists(),
        "a refused config leaves no state"
    );
}

/// A v1 file of the container's cgroup, or its v2 counterpart.
fn cgroup_file(b: &Bundle, v1: (&str, &str), v2: &str) -> String {
    let relative = b.cgroup.trim_start_matches('/');
    let v1_path = format!("/sys/fs/cgroup/{}/{relative}/{}", v1.0, v1.1);
    let v2_path = format!("/sys/fs/cgroup/{relative}/{v2}");
    std::fs::read_to_string(v1_path)
        .or_else(|_| std::fs::read_to_string(v2_path))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn update_minus_one_makes_memory_pids_and_cpu_unlimited_again() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sleep", "100"]);
    b.edit_config(|c| {
        c["linux"]["resources"] = serde_json::json!({
            "memory": {"limit": 67108864}, "pids": {"limit": 20},
            "cpu": {"quota": 50000, "period": 100000}
        })
    });
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["run", "--detach", "--bundle", &bundle, "c1"]);
    assert!(status.success(), "run -d: {out}");
    let pid = b.state("c1")["pid"].as_i64().unwrap() as i32;
    let memory = || cgroup_file(&b, ("memory", "memory.limit_in_bytes"), "memory.max");
    let pids = || cgroup_file(&b, ("pids", "pids.max"), "pids.max");
    let quota = || cgroup_file(&b, ("cpu", "cpu.cfs_quota_us"), "cpu.max");
    assert_eq!((memory(), pids()), ("67108864".into(), "20".into()));
    let out = b.runtime(&[
        "update",
        "--memory",
        "-1",
        "--pids-limit",
        "-1",
        "--cpu-quota",
        "-1",
        "c1",
    ]);
    assert!(out.status.success(), "{out:?}");
    let memory = memory();
    assert!(
        memory == "max" || memory.parse::<u64>().unwrap() > 1 << 60,
        "memory is unlimited: {memory}"
    );
    assert_eq!(pids(), "max");
    let quota = quota();
    assert!(quota == "-1" || quota.starts_with("max"), "{quota}");
    assert!(b.runtime(&["kill", "c1", "KILL"]).status.success());
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(128 + 9));
}

#[test]
fn exec_tty_without_a_console_socket_relays_the_pty_in_the_foreground() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sleep", "100"]);
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["run", "--detach", "--bundle", &bundle, "c1"]);
    assert!(status.success(), "run -d: {out}");
    let pid = b.state("c1")["pid"].as_i64().unwrap() as i32;
    let out = b.runtime(&["exec", "--tty", "c1", "sh", "-c", "tty; exit 3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "the process has a pty: {out:?}");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    // Detached there is nobody to hold the master: a clear refusal.
    let out = b.runtime(&["exec", "--tty", "--detach", "c1", "true"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--console-socket"));
    assert!(b.runtime(&["kill", "c1", "KILL"]).status.success());
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(128 + 9));
}

#[test]
fn a_rootless_spec_runs_in_its_own_user_namespace() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["true"]);
    std::fs::remove_file(b.path("config.json")).unwrap();
    let out = b.runtime(&[
        "spec",
        "--rootless",
        "--bundle",
        b.dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "spec --rootless: {out:?}");
    b.edit_config(|c| {
        c["process"]["terminal"] = false.into();
        c["process"]["args"] = serde_json::json!(["sh", "-c", "cat /proc/self/uid_map; ls /sys"]);
        c["linux"]["cgroupsPath"] = b.cgroup.clone().into();
    });
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["run", "--bundle", &bundle, "c1"]);
    assert!(status.success(), "run: {out}");
    let map: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", "0", "1"], "root maps to the caller alone: {out}");
    assert!(out.contains("kernel"), "/sys is bound from the host: {out}");
}

/// linux.resources.devices in order, the last matching rule deciding: v1's
/// devices cgroup on this host, an eBPF program on cgroup v2 (the v2
/// guest). /dev/kmsg (c 1:11) because opening it write-only needs no
/// capability: the cgroup is what decides.
#[test]
fn device_rules_of_the_config_decide_which_nodes_open() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let script = "busybox mknod /out/kmsg-$0 c 1 11 || { echo mknod-denied > /out/$0; exit 0; }; \
                  if (exec 3>/out/kmsg-$0); then echo w-ok; else echo w-denied; fi > /out/$0";
    let b = Bundle::new(&["sh", "-c", script]);
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let kmsg = |access: &str, allow: bool| serde_json::json!({"allow": allow, "type": "c", "major": 1, "minor": 11, "access": access});
    let cases = [
        ("c1", vec![kmsg("rwm", true)], "w-ok"),
        ("c2", vec![kmsg("rwm", true), kmsg("w", false)], "w-denied"),
    ];
    for (id, rules, want) in cases {
        b.edit_config(|c| {
            c["process"]["args"] = serde_json::json!(["sh", "-c", script, id]);
            let mut all = vec![serde_json::json!({"allow": false, "access": "rwm"})];
            all.extend(rules);
            c["linux"]["resources"]["devices"] = all.into();
            for set in ["bounding", "effective", "permitted"] {
                let caps = c["process"]["capabilities"][set].as_array_mut().unwrap();
                caps.push("CAP_MKNOD".into());
            }
        });
        let (status, out) = b.runtime_detached(&["create", "--bundle", &bundle, id]);
        assert!(status.success(), "create {id}: {out}");
        let pid = b.state(id)["pid"].as_i64().unwrap() as i32;
        if id == "c2" {
            // update leaves the device rules as create set them, as runc's
            // update does (it takes no devices), on v1 and v2 alike.
            let doc = serde_json::json!({"devices": [{"allow": true, "access": "rwm"}],
                                         "pids": {"limit": 50}});
            let file = b.path("update.json");
            std::fs::write(&file, doc.to_string()).unwrap();
            let out = b.runtime(&["update", "--resources", file.to_str().unwrap(), id]);
            assert!(out.status.success(), "update: {out:?}");
        }
        assert!(b.runtime(&["start", id]).status.success());
        assert_eq!(reap(pid, Duration::from_secs(20)), Some(0), "{id}");
        let result = std::fs::read_to_string(b.path(&format!("out/{id}"))).unwrap();
        assert_eq!(result.trim(), want, "{id}");
        assert!(b.runtime(&["delete", id]).status.success());
    }
}

/// As runc: the program is looked up before the init waits for `start`, so
/// `create` itself fails (podman's and containerd's `run -d` then exit
/// 127/126 at once) and leaves no state or cgroup behind.
#[test]
fn create_fails_for_a_missing_or_unexecutable_program_as_runc_does() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["true"]);
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let cases = [
        ("/nonexistent", "no such file or directory"),
        ("no-such-command", "executable file not found in $PATH"),
        ("/bin", "permission denied"),
        ("/out", "permission denied"),
    ];
    for (program, message) in cases {
        b.edit_config(|c| c["process"]["args"] = serde_json::json!([program]));
        let (status, out) = b.runtime_detached(&["create", "--bundle", &bundle, "c1"]);
        assert!(!status.success(), "create of {program} must fail: {out}");
        assert!(
            out.contains(message) && out.contains(program),
            "{program}: {out}"
        );
        assert!(!b.root.join("c1").exists(), "{program}: no state is left");
        assert!(
            ocibundle::cgroup_dirs(&b.cgroup).is_empty(),
            "{program}: no cgroup is left"
        );
    }
    // A script without its execute bit, found by path.
    std::fs::write(b.path("rootfs/script"), "#!/bin/sh\ntrue\n").unwrap();
    b.edit_config(|c| c["process"]["args"] = serde_json::json!(["/script"]));
    let (status, out) = b.runtime_detached(&["create", "--bundle", &bundle, "c1"]);
    assert!(
        !status.success() && out.contains("permission denied"),
        "{out}"
    );
}

/// runc puts the init in the container's cgroup in every hierarchy the host
/// mounts: each v1 controller, the named "systemd" one, and on a hybrid
/// host cgroup2 too (where a hybrid systemd tracks its units).
#[test]
fn the_init_joins_every_mounted_hierarchy_as_runc_does() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sleep", "100"]);
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["create", "--bundle", &bundle, "c1"]);
    assert!(status.success(), "create: {out}");
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in cgroup.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap();
        assert_eq!(path, b.cgroup, "{line} in\n{cgroup}");
    }
    let out = b.runtime(&["delete", "--force", "c1"]);
    assert!(out.status.success(), "{out:?}");
    reap(pid as i32, Duration::from_secs(10));
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for point in mounts
        .lines()
        .filter(|l| l.contains(" - cgroup"))
        .filter_map(|l| l.split(' ').nth(4))
    {
        let dir = std::path::Path::new(point).join(b.cgroup.trim_start_matches('/'));
        assert!(!dir.exists(), "{} is left", dir.display());
    }
}
