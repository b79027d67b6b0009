//! rcorch-runtime driven as a shim drives runc: this test process is the
//! child subreaper, so the container's init (reparented to it once
//! `create` exits) is reaped here, which proves no rcorch process stays
//! behind. Each test has its own state root, bundle and cgroupsPath (under
//! a fresh network namespace made by the container itself) and removes
//! everything it made.

mod ocibundle;

use std::process::Command;
use std::time::Duration;

use ocibundle::{become_subreaper, cgroup_dirs, is_root, reap, Bundle};

#[test]
fn create_waits_in_created_until_start_and_the_caller_reaps_the_init() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sh", "-c", "echo started > /out/result; exit 3"]);
    let pid_file = b.path("pid");
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let pid_arg = pid_file.to_str().unwrap();
    let (status, out) =
        b.runtime_detached(&["create", "--bundle", &bundle, "--pid-file", pid_arg, "c1"]);
    assert!(status.success(), "create: {out}");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let state = b.state("c1");
    assert_eq!(state["status"], "created");
    assert_eq!(state["pid"], pid);
    assert!(
        !b.path("out/result").exists(),
        "the process must not run before start"
    );
    assert!(
        !cgroup_dirs(&b.cgroup).is_empty(),
        "the container has its cgroups"
    );
    // The init is our child now: `create` exited and left nobody in between.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: u32 = stat
        .rsplit_once(") ")
        .unwrap()
        .1
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, std::process::id());

    let out = b.runtime(&["start", "c1"]);
    assert!(out.status.success(), "start: {out:?}");
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(3));
    assert_eq!(
        std::fs::read_to_string(b.path("out/result")).unwrap(),
        "started\n"
    );
    assert_eq!(b.state("c1")["status"], "stopped");
    let out = b.runtime(&["delete", "c1"]);
    assert!(out.status.success(), "delete: {out:?}");
    assert!(
        cgroup_dirs(&b.cgroup).is_empty(),
        "delete removes the cgroups"
    );
    assert!(!b.root.join("c1").exists());
}

#[test]
fn kill_stops_a_running_container_and_delete_refuses_it_before() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sleep", "100"]);
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["run", "--detach", "--bundle", &bundle, "c2"]);
    assert!(status.success(), "run -d: {out}");
    let pid = b.state("c2")["pid"].as_i64().unwrap() as i32;
    assert_eq!(b.state("c2")["status"], "running");
    let out = b.runtime(&["delete", "c2"]);
    assert!(
        !out.status.success(),
        "delete of a running container must fail"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    let out = b.runtime(&["kill", "c2", "KILL"]);
    assert!(out.status.success(), "kill: {out:?}");
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(128 + 9));
    assert_eq!(b.state("c2")["status"], "stopped");
    assert!(b.runtime(&["delete", "c2"]).status.success());
}

/// runc's answer to `start` of a container whose init died while created:
/// exit 1, "cannot start a container that has stopped", state stopped;
/// both while the init is a zombie and once its parent has reaped it
/// (pidfd_open then fails with ESRCH).
#[test]
fn start_of_a_created_container_whose_init_died_fails_as_runc_does() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["true"]);
    let bundle = b.dir.path().to_str().unwrap().to_string();
    for (id, reaped) in [("c1", false), ("c2", true)] {
        let (status, out) = b.runtime_detached(&["create", "--bundle", &bundle, id]);
        assert!(status.success(), "create: {out}");
        let pid = b.state(id)["pid"].as_i64().unwrap() as i32;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();
        if reaped {
            assert_eq!(reap(pid, Duration::from_secs(10)), Some(128 + 9));
        } else {
            while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap()
                .contains(") Z ")
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let out = b.runtime(&["start", id]);
        assert_eq!(out.status.code(), Some(1), "start ({id}): {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot start a container that has stopped"),
            "start ({id}): {stderr}"
        );
        assert_eq!(b.state(id)["status"], "stopped");
        if !reaped {
            assert_eq!(reap(pid, Duration::from_secs(10)), Some(128 + 9));
        }
        let out = b.runtime(&["delete", id]);
        assert!(out.status.success(), "delete ({id}): {out:?}");
    }
}

#[test]
fn errors_go_to_stderr_and_to_the_json_log() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["true"]);
    let log = b.path("log.json");
    let out = Command::new(env!("CARGO_BIN_EXE_rcorch-runtime"))
        .args([
            "--root",
            b.root.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ])
        .args([
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/nonexistent-bundle",
            "c1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent-bundle"));
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&log).unwrap().trim()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"]
        .as_str()
        .unwrap()
        .contains("/nonexistent-bundle"));
    assert!(
        !b.root.join("c1").exists(),
        "a failed create leaves no state"
    );
    let out = b.runtime(&["state", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

/// Starts `c1` running `sleep 100` in the background; returns its init's pid.
fn running(b: &Bundle) -> i32 {
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["run", "--detach", "--bundle", &bundle, "c1"]);
    assert!(status.success(), "run -d: {out}");
    b.state("c1")["pid"].as_i64().unwrap() as i32
}

fn namespace(pid: i32, name: &str) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/{name}")).unwrap()
}

fn parent_of(pid: i32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit_once(") ").unwrap().1;
    after.split(' ').nth(1).unwrap().parse().unwrap()
}

/// What a process in the container wrote to /out/NAME (a complete line).
fn written(b: &Bundle, name: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(b.path(&format!("out/{name}"))).unwrap_or_default();
        if text.ends_with('\n') || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn exec_detached_from_a_process_file_joins_the_container_and_the_caller_adopts_it() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sleep", "100"]);
    let init = running(&b);
    let script = "echo $GREETING $(pwd) $(id -u):$(id -g) > /out/exec; exec sleep 100";
    let process = serde_json::json!({
        "args": ["sh", "-c", script], "env": ["PATH=/bin", "GREETING=hi"],
        "cwd": "/bin", "user": {"uid": 0, "gid": 0}, "terminal": false
    });
    std::fs::write(b.path("process.json"), process.to_string()).unwrap();
    let pid_file = b.path("exec.pid");
    let (status, out) = b.runtime_detached(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "--process",
        b.path("process.json").to_str().unwrap(),
        "c1",
    ]);
    assert!(status.success(), "exec -d: {out}");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(written(&b, "exec"), "hi /bin 0:0\n");
    assert_eq!(parent_of(pid), std::process::id(), "the caller adopts it");
    for ns in ["pid", "mnt", "net", "uts", "ipc"] {
        assert_eq!(namespace(pid, ns), namespace(init, ns), "{ns} namespace");
    }
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cgroups.contains(&b.cgroup), "{cgroups}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(137));
}

#[test]
fn exec_in_the_foreground_lays_flags_over_the_config_and_returns_the_status() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sleep", "100"]);
    running(&b);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(b.path("out"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let script = "echo $GREETING $(pwd) $(id -u):$(id -g) > /out/fg; exit 7";
    let out = b.runtime(&[
        "exec",
        "--env",
        "GREETING=hey",
        "--cwd",
        "/out",
        "--user",
        "1000:1001",
        "c1",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert_eq!(written(&b, "fg"), "hey /out 1000:1001\n");
    let out = b.runtime(&["exec", "c1", "no-such-command"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("executable file not found"), "{stderr}");
    let out = b.runtime(&["exec", "c1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--process"));
}

#[test]
fn exec_with_a_terminal_sends_the_pty_master_over_the_console_socket() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sleep", "100"]);
    running(&b);
    let socket = b.path("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rcorch-runtime"))
        .arg("--root")
        .arg(&b.root)
        .args(["exec", "--tty", "--console-socket"])
        .arg(&socket)
        .args(["c1", "sh", "-c", "tty; exit 3"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (connection, _) = listener.accept().unwrap();
    let master = rcorch::runtime::console::receive_master(&connection.into()).unwrap();
    let mut output = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::fs::File::from(master), &mut output);
    let output = String::from_utf8_lossy(&output);
    assert!(output.contains("/dev/pts/"), "{output}");
    assert_eq!(child.wait().unwrap().code(), Some(3));
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
fn pause_freezes_the_container_and_resume_thaws_it() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sleep", "100"]);
    let init = running(&b);
    let frozen = || cgroup_file(&b, ("freezer", "freezer.state"), "cgroup.freeze");
    assert!(b.runtime(&["pause", "c1"]).status.success());
    assert_eq!(b.state("c1")["status"], "paused");
    assert!(["FROZEN", "1"].contains(&frozen().as_str()), "{}", frozen());
    let out = b.runtime(&["exec", "c1", "true"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("paused"));
    assert!(!b.runtime(&["pause", "c1"]).status.success());
    assert!(b.runtime(&["resume", "c1"]).status.success());
    assert_eq!(b.state("c1")["status"], "running");
    assert!(["THAWED", "0"].contains(&frozen().as_str()), "{}", frozen());
    // A paused container can still be deleted by force.
    assert!(b.runtime(&["pause", "c1"]).status.success());
    let out = b.runtime(&["delete", "--force", "c1"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(reap(init, Duration::from_secs(10)), Some(137));
}

#[test]
fn update_changes_the_live_cgroup_and_ps_lists_the_processes() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sleep", "100"]);
    let init = running(&b);
    let out = b.runtime(&["update", "--memory", "64m", "--pids-limit", "20", "c1"]);
    assert!(out.status.success(), "{out:?}");
    let memory = || cgroup_file(&b, ("memory", "memory.limit_in_bytes"), "memory.max");
    let pids = || cgroup_file(&b, ("pids", "pids.max"), "pids.max");
    assert_eq!(memory(), "67108864");
    assert_eq!(pids(), "20");
    let resources = serde_json::json!({
        "memory": {"limit": 134217728}, "cpu": {"quota": 50000, "period": 100000}
    });
    std::fs::write(b.path("resources.json"), resources.to_string()).unwrap();
    let file = b.path("resources.json");
    let out = b.runtime(&["update", "--resources", file.to_str().unwrap(), "c1"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(memory(), "134217728", "a raised limit applies too");
    assert_eq!(pids(), "20", "what the update leaves out stays");
    let quota = cgroup_file(&b, ("cpu", "cpu.cfs_quota_us"), "cpu.max");
    assert!(quota.starts_with("50000"), "{quota}");
    let out = b.runtime(&["update", "--memory", "lots", "c1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--memory lots"));
    let out = b.runtime(&["ps", "--format", "json", "c1"]);
    let listed: Vec<i32> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed, vec![init]);
}

/// The cgroup2 mount: the root on a unified host, .../unified on a hybrid one.
fn unified_root() -> Option<std::path::PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        right
            .starts_with("cgroup2 ")
            .then(|| left.split_whitespace().nth(4).map(Into::into))?
    })
}

/// Disables hugetlb again in a subtree_control that did not have it.
struct Restore(std::path::PathBuf, bool);

impl Drop for Restore {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::fs::write(&self.0, "-hugetlb");
        }
    }
}

#[test]
fn hugepage_limits_apply_on_cgroup_v2_and_a_page_size_the_host_lacks_is_refused() {
    let two_mb = std::path::Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB");
    let Some(root) = unified_root().filter(|_| is_root() && two_mb.exists()) else {
        return;
    };
    if !std::fs::read_to_string(root.join("cgroup.controllers"))
        .unwrap_or_default()
        .contains("hugetlb")
    {
        return; // hugetlb is on v1 here: cgroup_extra's v1 writes cover it
    }
    become_subreaper();
    // The runtime delegates hugetlb at the root; the test gives it back.
    let subtree = root.join("cgroup.subtree_control");
    let delegated = std::fs::read_to_string(&subtree).unwrap_or_default();
    let _restore = Restore(subtree, !delegated.contains("hugetlb"));
    let b = Bundle::new(&["sleep", "100"]);
    b.edit_config(|c| {
        c["linux"]["resources"]["hugepageLimits"] =
            serde_json::json!([{"pageSize": "2MB", "limit": 2147483648u64}])
    });
    let init = running(&b);
    let dir = root.join(b.cgroup.trim_start_matches('/'));
    let limit = std::fs::read_to_string(dir.join("hugetlb.2MB.max")).unwrap();
    assert_eq!(limit.trim(), "2147483648");
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|p| p == init.to_string()), "{procs}");
    let resources =
        serde_json::json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 1073741824}]});
    std::fs::write(b.path("resources.json"), resources.to_string()).unwrap();
    let file = b.path("resources.json");
    let out = b.runtime(&["update", "--resources", file.to_str().unwrap(), "c1"]);
    assert!(out.status.success(), "{out:?}");
    let limit = std::fs::read_to_string(dir.join("hugetlb.2MB.max")).unwrap();
    assert_eq!(limit.trim(), "1073741824", "update changes it");
    assert!(b.runtime(&["delete", "--force", "c1"]).status.success());
    assert_eq!(reap(init, Duration::from_secs(10)), Some(137));
    assert!(!dir.exists(), "delete removes the v2 cgroup");

    b.edit_config(|c| c["linux"]["resources"]["hugepageLimits"][0]["pageSize"] = "3MB".into());
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["create", "--bundle", &bundle, "c2"]);
    assert!(!status.success());
    assert!(out.contains("\"3MB\""), "{out}");
    assert!(!b.root.join("c2").exists() && !dir.exists(), "nothing left");
}

/// MAJOR:MINOR of a whole disk of this host (not a loop or RAM device).
fn a_disk() -> Option<String> {
    let entries = std::fs::read_dir("/sys/block").ok()?;
    entries.flatten().find_map(|e| {
        let name = e.file_name().into_string().ok()?;
        let virtual_disk = ["loop", "ram", "zram", "nbd"]
            .iter()
            .any(|p| name.starts_with(p));
        if virtual_disk {
            return None;
        }
        std::fs::read_to_string(e.path().join("dev"))
            .ok()
            .map(|d| d.trim().to_string())
    })
}

#[test]
fn block_io_throttles_apply_on_v1_blkio_or_v2_io_max() {
    let Some(disk) = a_disk().filter(|_| is_root()) else {
        return;
    };
    let (major, minor) = disk.split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    become_subreaper();
    let b = Bundle::new(&["sleep", "100"]);
    b.edit_config(|c| {
        c["linux"]["resources"]["blockIO"] = serde_json::json!({
            "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
            "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]
        })
    });
    let init = running(&b);
    let read_bps = cgroup_file(&b, ("blkio", "blkio.throttle.read_bps_device"), "io.max");
    let write_iops = cgroup_file(&b, ("blkio", "blkio.throttle.write_iops_device"), "io.max");
    if read_bps.contains("rbps=") {
        assert!(
            read_bps.contains(&format!("{disk} rbps=1048576")),
            "{read_bps}"
        );
        assert!(read_bps.contains("wiops=100"), "{read_bps}");
    } else {
        assert_eq!(read_bps, format!("{disk} 1048576"));
        assert_eq!(write_iops, format!("{disk} 100"));
    }
    assert!(b.runtime(&["delete", "--force", "c1"]).status.success());
    assert_eq!(reap(init, Duration::from_secs(10)), Some(137));
}
