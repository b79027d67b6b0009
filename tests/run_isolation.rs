//! Root-only: what a container sees from the inside (namespaces, /proc,
//! /dev, privileges, filesystem options, env, init, stdin and tty).

mod common;

use common::TestEnv;

/// One field of /proc/self/status as seen by the container's command.
fn status_field(env: &TestEnv, opts: &[&str], field: &str) -> String {
    let script = format!("grep '^{field}:' /proc/self/status | cut -f2");
    env.run_busybox(opts, &["sh", "-c", &script]).ok()
}

#[test]
fn command_is_pid_1() {
    let Some(env) = TestEnv::new() else { return };
    assert_eq!(env.run_busybox(&[], &["sh", "-c", "echo $$"]).ok(), "1");
}

#[test]
fn hostname_defaults_to_id_prefix_and_can_be_set() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&[], &["sleep", "30"]);
    let out = env.rcorch(&["exec", &id, "hostname"]).ok();
    assert_eq!(out, id[..12]);
    env.rcorch(&["rm", "-f", &id]).ok();

    let out = env.run_busybox(&["--hostname", "box1"], &["hostname"]).ok();
    assert_eq!(out, "box1");
    let out = env.run_busybox(&["--hostname", "box2"], &["cat", "/etc/hostname"]);
    assert_eq!(out.ok(), "box2");
    // -h is --hostname, as in Docker.
    assert_eq!(env.run_busybox(&["-h", "box3"], &["hostname"]).ok(), "box3");
}

#[test]
fn ps_sees_only_own_processes() {
    let Some(env) = TestEnv::new() else { return };
    let out = env.run_busybox(&[], &["sh", "-c", "sleep 5 & ps -o pid,comm"]);
    let out = out.ok();
    let rows: Vec<&str> = out.lines().skip(1).collect();
    // At most sh, sleep and ps; nothing from the host. Only small PIDs
    // (busybox may briefly show a child as "exe" while it re-executes
    // itself, so names are not checked).
    assert!(rows.len() <= 3, "unexpected processes:\n{out}");
    let pids: Vec<u32> = rows
        .iter()
        .filter_map(|r| r.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(pids.contains(&1), "no PID 1:\n{out}");
    assert!(pids.iter().all(|&p| p <= 10), "host-like PIDs:\n{out}");
}

#[test]
fn proc_sys_is_read_only() {
    let Some(env) = TestEnv::new() else { return };
    let out = env.run_busybox(&[], &["sh", "-c", "echo evil > /proc/sys/kernel/hostname"]);
    assert_ne!(out.code, 0, "write to /proc/sys succeeded: {out:?}");
    assert!(
        out.stderr.contains("Read-only") || out.stderr.contains("ermission"),
        "{out:?}"
    );
}

#[test]
fn proc_kcore_and_friends_are_masked() {
    let Some(env) = TestEnv::new() else { return };
    // Masked files read as empty (bound to /dev/null); kcore only exists
    // when the host kernel has CONFIG_PROC_KCORE.
    for f in ["/proc/kcore", "/proc/keys", "/proc/timer_list"] {
        if !std::path::Path::new(f).exists() {
            continue;
        }
        let script = format!("wc -c < {f}");
        let out = env.run_busybox(&[], &["sh", "-c", &script]);
        assert_eq!(out.ok(), "0", "{f} is not masked");
    }
}

#[test]
fn default_privileges_are_reduced() {
    let Some(env) = TestEnv::new() else { return };
    assert_eq!(status_field(&env, &[], "CapEff"), "00000000a80425fb");
    assert_eq!(status_field(&env, &[], "NoNewPrivs"), "1");
    assert_eq!(status_field(&env, &[], "Seccomp"), "2");
}

#[test]
fn non_root_user_has_no_capabilities() {
    let Some(env) = TestEnv::new() else { return };
    let opts = ["-u", "65534"];
    assert_eq!(env.run_busybox(&opts, &["id", "-u"]).ok(), "65534");
    assert_eq!(status_field(&env, &opts, "CapEff"), "0000000000000000");
}

#[test]
fn cap_add_and_cap_drop_adjust_the_default_set() {
    let Some(env) = TestEnv::new() else { return };
    let caps = |opts: &[&str]| status_field(&env, opts, "CapEff");
    assert_eq!(caps(&["--cap-drop", "ALL"]), "0000000000000000");
    // NET_ADMIN is bit 12, CHOWN bit 0.
    assert_eq!(caps(&["--cap-add", "NET_ADMIN"]), "00000000a80435fb");
    assert_eq!(caps(&["--cap-drop", "CHOWN"]), "00000000a80425fa");
}

#[test]
fn network_none_has_only_loopback_and_it_is_up() {
    let Some(env) = TestEnv::new() else { return };
    let out = env
        .run_busybox(&["--network", "none"], &["ip", "-o", "link"])
        .ok();
    let links: Vec<&str> = out.lines().collect();
    assert_eq!(links.len(), 1, "{out}");
    assert!(links[0].contains("lo:"), "{out}");
    // As in Docker, 127.0.0.1 is usable inside a network-less container.
    assert!(links[0].contains(",UP"), "loopback is down: {out}");
}

#[test]
fn dev_has_only_the_minimal_set() {
    let Some(env) = TestEnv::new() else { return };
    let out = env.run_busybox(&[], &["ls", "-A", "/dev"]).ok();
    let entries: Vec<&str> = out.split_whitespace().collect();
    let allowed = [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "mqueue", "fd",
        "stdin", "stdout", "stderr", "console", "core",
    ];
    for e in &entries {
        assert!(
            allowed.contains(e),
            "unexpected /dev entry {e}: {entries:?}"
        );
    }
    for needed in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts",
    ] {
        assert!(
            entries.contains(&needed),
            "/dev/{needed} missing: {entries:?}"
        );
    }
    let out = env.run_busybox(
        &[],
        &["sh", "-c", "ls /dev/sda /dev/vda /dev/kmsg /dev/mem"],
    );
    assert_ne!(out.code, 0, "{out:?}");
}

#[test]
fn read_only_rootfs_with_writable_tmpfs() {
    let Some(env) = TestEnv::new() else { return };
    let opts = ["--read-only", "--tmpfs", "/scratch"];
    let out = env.run_busybox(&opts, &["touch", "/x"]);
    assert_ne!(out.code, 0, "touch /x succeeded on a read-only rootfs");
    let script = "echo hi > /scratch/f && cat /scratch/f";
    assert_eq!(env.run_busybox(&opts, &["sh", "-c", script]).ok(), "hi");
}

#[test]
fn tmpfs_options_are_applied() {
    let Some(env) = TestEnv::new() else { return };
    let net = ["--network", "none"];
    let line = |spec: &str| {
        let opts = [net[0], net[1], "--tmpfs", spec];
        env.run_busybox(&opts, &["sh", "-c", "grep ' /x ' /proc/mounts"])
            .ok()
    };
    let ro = line("/x:ro,size=1m,mode=1770");
    let fields: Vec<&str> = ro.split(' ').collect();
    let flags: Vec<&str> = fields[3].split(',').collect();
    for want in ["ro", "nosuid", "nodev", "noexec", "size=1024k", "mode=1770"] {
        assert!(flags.contains(&want), "want {want} in {ro}");
    }
    // Docker's defaults: rw, noexec; `exec` lifts noexec.
    let rw = line("/x:exec");
    assert!(rw.contains(" rw,") && !rw.contains("noexec"), "{rw}");
    let opts = ["--tmpfs", "/x:ro,size=1m", net[0], net[1]];
    let out = env.run_busybox(&opts, &["touch", "/x/f"]);
    assert_ne!(out.code, 0, "touch in a read-only tmpfs succeeded: {out:?}");
    let bad = env.run_busybox(&["--tmpfs", "/x:sise=1m"], &["true"]);
    assert_eq!(bad.code, 125, "{bad:?}");
    assert!(bad.stderr.contains("sise"), "{bad:?}");
}

#[test]
fn bind_mounts_ro_and_rw() {
    let Some(env) = TestEnv::new() else { return };
    let src = env.scratch.join("vol");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("hello"), "from host\n").unwrap();
    let src = src.to_str().unwrap();

    let ro = format!("{src}:/data:ro");
    let out = env.run_busybox(&["-v", &ro], &["cat", "/data/hello"]).ok();
    assert_eq!(out, "from host");
    let out = env.run_busybox(&["-v", &ro], &["touch", "/data/new"]);
    assert_ne!(out.code, 0, "write to a :ro bind succeeded");
    assert!(!std::path::Path::new(src).join("new").exists());

    let rw = format!("{src}:/data");
    let out = env.run_busybox(&["-v", &rw], &["sh", "-c", "echo written > /data/new"]);
    out.ok();
    let host = std::fs::read_to_string(std::path::Path::new(src).join("new")).unwrap();
    assert_eq!(host, "written\n");
}

#[test]
fn workdir_env_and_env_file() {
    let Some(env) = TestEnv::new() else { return };
    assert_eq!(env.run_busybox(&["-w", "/tmp"], &["pwd"]).ok(), "/tmp");
    let file = env.scratch_file("vars", "# comment\nFROM_FILE=file value\n\nOTHER=2\n");
    let opts = ["-e", "FOO=bar baz", "--env-file", file.to_str().unwrap()];
    let script = "echo \"$FOO|$FROM_FILE|$OTHER\"";
    let out = env.run_busybox(&opts, &["sh", "-c", script]).ok();
    assert_eq!(out, "bar baz|file value|2");
}

#[test]
fn entrypoint_replaces_command_head() {
    let Some(env) = TestEnv::new() else { return };
    let out = env.run_busybox(&["--entrypoint", "echo"], &["a", "b"]).ok();
    assert_eq!(out, "a b");
}

#[test]
fn init_runs_command_below_pid_1() {
    let Some(env) = TestEnv::new() else { return };
    let out = env.run_busybox(&["--init"], &["sh", "-c", "echo $$"]).ok();
    let pid: u32 = out.parse().unwrap_or_else(|_| panic!("not a pid: {out:?}"));
    assert!(pid >= 2, "with --init the command should not be PID 1");
}

#[test]
fn interactive_stdin_reaches_command() {
    let Some(env) = TestEnv::new() else { return };
    let out = env.rcorch_stdin(
        &["run", "--rm", "-i", "busybox", "cat"],
        b"line one\nline two\n",
    );
    assert_eq!(out.ok(), "line one\nline two");
}

#[test]
fn tty_flag_gives_a_terminal() {
    let Some(env) = TestEnv::new() else { return };
    // rcorch itself on a terminal (via script(1)), as a user would run it.
    let cmd = format!(
        "unshare --net --mount --propagation private {} --root {} --cgroup-parent {} \
         run --rm -t busybox sh -c 'test -t 0 && test -t 1 && echo is-a-tty'",
        env!("CARGO_BIN_EXE_rcorch"),
        env.root.display(),
        env.cgroup_parent
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script(1)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("is-a-tty"), "{stdout:?}");
    // Without -t, stdout is not a terminal.
    let out = env.run_busybox(&[], &["sh", "-c", "test -t 1 || echo notty"]);
    assert_eq!(out.ok(), "notty");
}

#[test]
fn tty_output_reaches_redirected_stdout() {
    let Some(env) = TestEnv::new() else { return };
    // Like `docker run -t ... > file`: the container still has a tty, and
    // what it prints reaches rcorch's stdout (with tty CRLF line endings).
    let out = env.run_busybox(&["-t"], &["sh", "-c", "test -t 1 && echo tty"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.trim(), "tty", "{out:?}");
}
