//! Root-only: `--add-host`, `--group-add`, `--sysctl`, `--security-opt`,
//! `--oom-score-adj`, `--shm-size`, `--cidfile`, `--platform`, checked
//! inside the container or on the host; and the flags rcorch cannot honour
//! refused with one error that changes nothing; `--log-driver none` and
//! `--log-opt max-size/max-file` by the log files they leave.

mod common;

use common::TestEnv;

fn sh(env: &TestEnv, opts: &[&str], script: &str) -> String {
    env.run_busybox(opts, &["sh", "-c", script]).ok()
}

#[test]
fn add_host_writes_etc_hosts_with_the_gateway_for_host_gateway() {
    let Some(env) = TestEnv::new() else { return };
    let out = sh(
        &env,
        &["--add-host", "db:10.1.2.3", "--add-host", "gw:host-gateway"],
        // Whole words: the container's own random name may contain "db".
        "grep -wE 'db|gw' /etc/hosts; ip route | awk '/default/ {print $3}'",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "10.1.2.3\tdb", "{out}");
    assert_eq!(lines[1], format!("{}\tgw", lines[2]), "{out}");
}

#[test]
fn group_add_and_oom_score_adj_reach_the_process_and_exec() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(
        &[
            "--group-add",
            "7",
            "--group-add",
            "nogroup",
            "--oom-score-adj",
            "321",
        ],
        &["sleep", "30"],
    );
    let groups = env.rcorch(&["exec", &id, "id", "-G"]).ok();
    assert_eq!(
        groups, "0 7 65534",
        "nogroup is 65534 in the image's /etc/group"
    );
    let pid = env.inspect(&id)["State"]["Pid"].as_i64().unwrap();
    let adj = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap();
    assert_eq!(adj.trim(), "321");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("Groups:\t0 7 65534"), "{status}");
}

#[test]
fn namespaced_sysctls_are_set_inside_and_host_ones_refused() {
    let Some(env) = TestEnv::new() else { return };
    let host_before = std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap();
    let out = sh(
        &env,
        &[
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--sysctl",
            "kernel.shmmni=1234",
        ],
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni",
    );
    assert_eq!(out, "1\n1234");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap(),
        host_before
    );
    let refused = common::assert_unchanged(&env, || {
        env.rcorch(&[
            "run",
            "--rm",
            "--sysctl",
            "vm.swappiness=1",
            "busybox",
            "true",
        ])
    });
    assert_eq!(refused.code, 125);
    assert!(refused.stderr.contains("not namespaced"), "{refused:?}");
    let host_net = env.rcorch(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "busybox",
        "true",
    ]);
    assert_eq!(host_net.code, 125);
    assert!(host_net.stderr.contains("--network host"), "{host_net:?}");
}

#[test]
fn security_opts_turn_off_no_new_privs_and_seccomp_and_warn_about_apparmor() {
    let Some(env) = TestEnv::new() else { return };
    let status = "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\t'";
    assert_eq!(sh(&env, &[], status), "NoNewPrivs:1\nSeccomp:2");
    assert_eq!(
        sh(
            &env,
            &[
                "--security-opt",
                "no-new-privileges:false",
                "--security-opt",
                "seccomp=unconfined"
            ],
            status
        ),
        "NoNewPrivs:0\nSeccomp:0"
    );
    let out = env.run_busybox(&["--security-opt", "apparmor=unconfined"], &["true"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("warning: --security-opt apparmor"),
        "{out:?}"
    );
    let file = env.run_busybox(&["--security-opt", "seccomp=/p.json"], &["true"]);
    assert_eq!(file.code, 125);
    assert!(file.stderr.contains("not supported"), "{file:?}");
}

#[test]
fn shm_size_sizes_dev_shm() {
    let Some(env) = TestEnv::new() else { return };
    let kib = "df -k /dev/shm | tail -1 | awk '{print $2}'";
    assert_eq!(sh(&env, &[], kib), "65536");
    assert_eq!(sh(&env, &["--shm-size", "2m"], kib), "2048");
}

#[test]
fn cidfile_gets_the_id_and_an_existing_one_is_refused() {
    let Some(env) = TestEnv::new() else { return };
    let cid = env.scratch.join("cid");
    let cid_s = cid.to_str().unwrap();
    let id = env.run_detached(&["--cidfile", cid_s], &["true"]);
    assert_eq!(std::fs::read_to_string(&cid).unwrap(), id);
    // The first container's monitor (and DNS) must be gone before the
    // snapshot, or their exit would read as a change.
    let settled = common::wait_for(std::time::Duration::from_secs(20), || {
        env.leftovers().iter().all(|l| !l.starts_with("process "))
    });
    assert!(settled, "{:?}", env.leftovers());
    let again = common::assert_unchanged(&env, || {
        env.rcorch(&["run", "-d", "--cidfile", cid_s, "busybox", "true"])
    });
    assert_eq!(again.code, 125);
    assert!(again.stderr.contains("exists"), "{again:?}");
    let failed = env.scratch.join("failed");
    let out = env.rcorch(&[
        "run",
        "--rm",
        "--cidfile",
        failed.to_str().unwrap(),
        "--network",
        "none",
        "--add-host",
        "x:host-gateway",
        "busybox",
        "true",
    ]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(!failed.exists(), "a failed run left its cidfile");
}

#[test]
fn flags_rcorch_cannot_honour_are_refused_by_name() {
    let Some(env) = TestEnv::new() else { return };
    assert_eq!(
        env.run_busybox(&["--platform", "linux/amd64"], &["echo", "ok"])
            .ok(),
        "ok"
    );
    for (flags, word) in [
        (&["--platform", "linux/arm64"][..], "linux/arm64"),
        (&["--userns", "keep-id"][..], "--userns keep-id"),
        (&["--sig-proxy=maybe"][..], "maybe"),
        (&["--detach-keys", "ctrl-1"][..], "ctrl-1"),
        (&["-d", "--detach-keys", "ctrl-x"][..], "--detach-keys"),
        (&["--log-driver", "syslog"][..], "syslog"),
        (&["--log-opt", "compress=true"][..], "compress"),
        (
            &["--log-driver", "none", "--log-opt", "max-size=1m"][..],
            "max-size",
        ),
        (&["--log-opt", "max-size=tiny"][..], "max-size=tiny"),
        (&["--pull", "sometimes"][..], "sometimes"),
        (&["--oom-score-adj", "-2000"][..], "-2000"),
    ] {
        let out = common::assert_unchanged(&env, || env.run_busybox(flags, &["true"]));
        assert_eq!(out.code, 125, "{flags:?}: {out:?}");
        assert!(out.stderr.contains(word), "{flags:?}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{flags:?}: {out:?}");
    }
}

/// The log files of a container, by name, sorted.
fn log_files(env: &TestEnv, id: &str) -> Vec<String> {
    let dir = env.root.join("containers").join(id);
    assert!(dir.is_dir(), "no container dir {}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("log.json"))
        .collect();
    names.sort();
    names
}

#[test]
fn log_driver_none_keeps_no_log_and_logs_says_it_cannot_read_one() {
    let Some(env) = TestEnv::new() else { return };
    let run = [
        "run",
        "--network",
        "none",
        "--name",
        "quiet",
        "--log-driver",
        "none",
    ];
    let out = env.rcorch(&[&run[..], &["busybox", "echo", "shown"]].concat());
    assert_eq!(out.ok(), "shown", "an attached run still shows the output");
    let id = env.inspect("quiet")["Id"].as_str().unwrap().to_string();
    assert_eq!(log_files(&env, &id), Vec::<String>::new());
    let logs = env.rcorch(&["logs", "quiet"]);
    assert_eq!(logs.code, 1, "{logs:#?}");
    assert!(
        logs.stderr
            .contains("configured logging driver does not support reading"),
        "{logs:#?}"
    );
    let config = &env.inspect("quiet")["HostConfig"]["LogConfig"];
    assert_eq!(config["Type"], "none", "{config}");
}

#[test]
fn log_opt_max_size_and_max_file_rotate_the_json_log_as_docker() {
    let Some(env) = TestEnv::new() else { return };
    let opts = ["--log-opt", "max-size=1k", "--log-opt", "max-file=3"];
    let script = "for i in $(seq 200); do echo line$i; done";
    let run = ["run", "--network", "none", "--name", "rot"];
    let out = env.rcorch(&[&run[..], &opts[..], &["busybox", "sh", "-c", script]].concat());
    assert_eq!(
        out.ok().lines().count(),
        200,
        "the terminal gets every line"
    );
    let id = env.inspect("rot")["Id"].as_str().unwrap().to_string();
    assert_eq!(
        log_files(&env, &id),
        ["log.json", "log.json.1", "log.json.2"]
    );
    let dir = env.root.join("containers").join(&id);
    for rotated in ["log.json.1", "log.json.2"] {
        let size = std::fs::metadata(dir.join(rotated)).unwrap().len();
        // Full, and at most one line (under 100 bytes) past max-size.
        assert!((1024..1124).contains(&size), "{rotated}: {size} bytes");
    }
    // `logs` reads the kept files oldest first: the newest lines, in order.
    let logs = env.rcorch(&["logs", "rot"]).ok();
    let numbers: Vec<u32> = logs
        .lines()
        .map(|l| l.trim_start_matches("line").parse().unwrap())
        .collect();
    assert_eq!(numbers.last(), Some(&200), "{logs}");
    assert!(
        numbers.len() < 200 && numbers.len() > 20,
        "older lines are gone: {logs}"
    );
    let first = numbers[0];
    assert_eq!(numbers, (first..=200).collect::<Vec<_>>(), "{logs}");
    let tail = env.rcorch(&["logs", "--tail", "2", "rot"]).ok();
    assert_eq!(tail, "line199\nline200");
    let config = &env.inspect("rot")["HostConfig"]["LogConfig"];
    assert_eq!(config["Type"], "json-file", "{config}");
    assert_eq!(config["Config"]["max-size"], "1024", "{config}");
    assert_eq!(config["Config"]["max-file"], "3", "{config}");
}
