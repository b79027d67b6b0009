//! Root-only: `--device` and `--privileged`, checked inside the container
//! (the node, what opening it does, capabilities, seccomp, /proc and /sys)
//! and on the host (the container's devices cgroup).

mod common;

use std::path::Path;

use common::TestEnv;

fn sh(env: &TestEnv, opts: &[&str], script: &str) -> String {
    let mut all = vec!["--network", "none"];
    all.extend_from_slice(opts);
    env.run_busybox(&all, &["sh", "-c", script]).ok()
}

/// The container's devices.list as the host has it (v1 hosts only).
fn devices_list(env: &TestEnv, id: &str) -> Option<String> {
    let dir = Path::new("/sys/fs/cgroup/devices").join(&env.cgroup_parent);
    std::fs::read_to_string(dir.join(id).join("devices.list")).ok()
}

#[test]
fn device_is_created_at_its_container_path_and_usable() {
    let Some(env) = TestEnv::new() else { return };
    let out = sh(
        &env,
        &["--device", "/dev/zero:/dev/myzero"],
        "ls -ln /dev/myzero | awk '{print $1, $5, $6}'; head -c 4 /dev/myzero | od -An -tx1",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "crw-rw-rw- 1, 5", "{out}");
    assert_eq!(lines[1].trim(), "00 00 00 00", "{out}");
}

#[test]
fn the_devices_cgroup_allows_a_device_only_with_its_permissions() {
    let Some(env) = TestEnv::new() else { return };
    if !Path::new("/dev/net/tun").exists() {
        eprintln!("skipping: no /dev/net/tun on this host");
        return;
    }
    // tun opens without any capability, so only the cgroup decides.
    let script = "(exec 3</dev/tun) && echo read; (exec 3>/dev/tun) || echo no-write";
    let out = sh(&env, &["--device", "/dev/net/tun:/dev/tun:r"], script);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["read", "no-write"],
        "{out}"
    );
    let out = sh(
        &env,
        &["--device", "/dev/net/tun:/dev/tun"],
        "(exec 3>/dev/tun) && echo write",
    );
    assert_eq!(out, "write");
    let id = env.run_detached(
        &["--network", "none", "--device", "/dev/net/tun:/dev/tun:rw"],
        &["sleep", "30"],
    );
    if let Some(list) = devices_list(&env, &id) {
        assert!(list.lines().any(|l| l == "c 10:200 rw"), "{list}");
        assert!(!list.contains("a *:*"), "{list}");
    }
    // exec joins the same devices cgroup.
    let exec = env.rcorch(&["exec", &id, "sh", "-c", "(exec 3>/dev/tun) && echo write"]);
    assert_eq!(exec.ok(), "write");
    let devices = &env.inspect(&id)["HostConfig"]["Devices"];
    assert_eq!(devices[0]["PathOnHost"], "/dev/net/tun", "{devices}");
    assert_eq!(devices[0]["PathInContainer"], "/dev/tun", "{devices}");
    assert_eq!(devices[0]["CgroupPermissions"], "rw", "{devices}");
}

#[test]
fn without_device_a_node_can_be_made_but_not_opened() {
    let Some(env) = TestEnv::new() else { return };
    // Docker's default rules: mknod of any node, opening only the usual ones.
    let script = "mknod /tmp/tun c 10 200 && echo made; (exec 3</tmp/tun) || echo denied; \
                  head -c 1 /dev/zero | od -An -tx1";
    let out = sh(&env, &[], script);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, ["made", "denied", "00"], "{out}");
}

#[test]
fn privileged_has_every_capability_no_seccomp_and_the_hosts_devices() {
    let Some(env) = TestEnv::new() else { return };
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    let cap_eff = ours.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    let script = "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; \
                  grep -c -E ' /proc/(keys|sys) ' /proc/self/mountinfo; \
                  grep ' /sys ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1; \
                  ls /dev/net/tun /dev/loop-control";
    let out = sh(&env, &["--privileged"], script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], cap_eff, "every capability rcorch holds: {out}");
    assert_eq!(lines[1], "NoNewPrivs:\t0", "{out}");
    assert_eq!(lines[2], "Seccomp:\t0", "{out}");
    assert_eq!(lines[3], "0", "nothing masked or read-only in /proc: {out}");
    assert_eq!(lines[4], "rw", "/sys is writable: {out}");
    assert_eq!(&lines[5..], ["/dev/loop-control", "/dev/net/tun"], "{out}");
    let id = env.run_detached(&["--network", "none", "--privileged"], &["sleep", "30"]);
    if let Some(list) = devices_list(&env, &id) {
        assert_eq!(list.trim(), "a *:* rwm");
    }
    let exec = env.rcorch(&["exec", &id, "grep", "CapEff", "/proc/self/status"]);
    assert_eq!(exec.ok(), cap_eff, "exec gets every capability too");
    let host_config = &env.inspect(&id)["HostConfig"];
    assert_eq!(host_config["Privileged"], true, "{host_config}");
    assert_eq!(
        host_config["Devices"],
        serde_json::json!([]),
        "{host_config}"
    );
}

#[test]
fn a_default_container_is_still_confined() {
    let Some(env) = TestEnv::new() else { return };
    let script = "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; \
                  grep -c -E ' /proc/(keys|sys) ' /proc/self/mountinfo; \
                  ls /dev/loop-control 2>&1 >/dev/null | wc -l";
    let out = sh(&env, &[], script);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["NoNewPrivs:\t1", "Seccomp:\t2", "2", "1"],
        "{out}"
    );
}

#[test]
fn bad_devices_are_refused_by_name_and_change_nothing() {
    let Some(env) = TestEnv::new() else { return };
    for (spec, word) in [
        ("/etc/passwd", "not a character or block device"),
        ("/dev/no-such-device", "/dev/no-such-device"),
        ("/dev/zero:/dev/z:rx", "rwm"),
        ("dev/zero", "absolute"),
        ("/dev/net", "directory"),
    ] {
        let out = common::assert_unchanged(&env, || {
            env.run_busybox(&["--network", "none", "--device", spec], &["true"])
        });
        assert_eq!(out.code, 125, "{spec}: {out:?}");
        assert!(out.stderr.contains(word), "{spec}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{spec}: {out:?}");
    }
}
