//! Root-only: detached containers through ps, logs, exec, stop, kill, rm
//! and inspect.

mod common;

use std::time::Duration;

use common::TestEnv;

const WAIT: Duration = Duration::from_secs(15);

/// Keeps running until TERM, then prints and exits with `code`.
fn term_trap(code: i32) -> String {
    format!("trap 'echo got-term; exit {code}' TERM; echo ready; while true; do sleep 0.1; done")
}

/// Waits until the container has printed "ready" (its traps are set).
fn wait_ready(env: &TestEnv, c: &str) {
    let ready = common::wait_for(WAIT, || env.rcorch(&["logs", c]).stdout.contains("ready"));
    assert!(ready, "{c} never printed ready");
}

#[test]
fn detached_run_prints_id_and_shows_in_ps() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&["--name", "web"], &["sleep", "30"]);
    assert_eq!(id.len(), 64, "{id:?}");
    assert!(id
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let ps = env.rcorch(&["ps"]).ok();
    let row = ps
        .lines()
        .find(|l| l.contains(&id[..12]))
        .unwrap_or_else(|| panic!("{id} not in ps:\n{ps}"));
    assert!(row.contains("Up"), "{row}");
    assert!(row.contains("web"), "{row}");
    let quiet = env.rcorch(&["ps", "-q"]).ok();
    assert_eq!(quiet.lines().collect::<Vec<_>>(), [&id[..12]]);
}

#[test]
fn logs_tail_and_timestamps() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&[], &["sh", "-c", "echo one; echo two; echo three"]);
    env.wait_exited(&id, WAIT);
    let out = env.rcorch(&["logs", &id]);
    assert_eq!(out.ok(), "one\ntwo\nthree");
    assert_eq!(env.rcorch(&["logs", "--tail", "1", &id]).ok(), "three");
    let ts = env.rcorch(&["logs", "--timestamps", &id]).ok();
    let lines: Vec<&str> = ts.lines().collect();
    assert_eq!(lines.len(), 3, "{ts}");
    for (line, want) in lines.iter().zip(["one", "two", "three"]) {
        let (stamp, text) = line.split_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert_eq!(text, want);
        assert!(stamp.starts_with("20") && stamp.ends_with('Z'), "{line}");
        assert!(stamp.contains('T'), "{line}");
    }
}

#[test]
fn logs_keep_stderr_separate() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&[], &["sh", "-c", "echo out; echo err >&2"]);
    env.wait_exited(&id, WAIT);
    let out = env.rcorch(&["logs", &id]);
    assert_eq!(out.stdout.trim(), "out", "{out:?}");
    assert_eq!(out.stderr.trim(), "err", "{out:?}");
}

#[test]
fn logs_follow_until_exit() {
    let Some(env) = TestEnv::new() else { return };
    let script = "for i in 1 2 3; do echo line$i; sleep 0.3; done";
    let id = env.run_detached(&[], &["sh", "-c", script]);
    let out = env.rcorch_timeout(&["logs", "-f", &id], Duration::from_secs(20));
    assert_eq!(out.ok(), "line1\nline2\nline3");
}

#[test]
fn exec_shares_pid_namespace_and_passes_exit_code() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&["--name", "box"], &["sleep", "30"]);
    let out = env.rcorch(&["exec", "box", "ps", "-o", "pid,comm"]).ok();
    let pid1 = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_else(|| panic!("no PID 1 in exec ps:\n{out}"));
    assert!(pid1.contains("sleep"), "{out}");
    assert_eq!(env.rcorch(&["exec", &id, "sh", "-c", "exit 5"]).code, 5);
    let out = env.rcorch(&["exec", "-e", "FOO=bar", "box", "sh", "-c", "echo $FOO"]);
    assert_eq!(out.ok(), "bar");
    let out = env.rcorch(&["exec", "-w", "/tmp", "box", "pwd"]);
    assert_eq!(out.ok(), "/tmp");
}

#[test]
fn exec_interactive_reads_stdin() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&[], &["sleep", "30"]);
    let out = env.rcorch_stdin(&["exec", "-i", &id, "cat"], b"piped in\n");
    assert_eq!(out.ok(), "piped in");
}

#[test]
fn exec_into_stopped_container_fails() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&[], &["true"]);
    env.wait_exited(&id, WAIT);
    let out = env.rcorch(&["exec", &id, "true"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(!out.stderr.trim().is_empty(), "{out:?}");
}

#[test]
fn stop_delivers_term_to_a_trapping_container() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&[], &["sh", "-c", &term_trap(7)]);
    wait_ready(&env, &id);
    env.rcorch(&["stop", &id]).ok();
    let v = env.inspect(&id);
    assert_eq!(v["State"]["Running"], false, "{v:#}");
    assert_eq!(v["State"]["ExitCode"], 7, "{v:#}");
    assert!(env.rcorch(&["logs", &id]).ok().contains("got-term"));
}

#[test]
fn stop_kills_a_container_ignoring_term() {
    let Some(env) = TestEnv::new() else { return };
    let script = "trap '' TERM; echo ready; while true; do sleep 0.1; done";
    let id = env.run_detached(&[], &["sh", "-c", script]);
    wait_ready(&env, &id);
    env.rcorch(&["stop", "-t", "1", &id]).ok();
    let v = env.inspect(&id);
    assert_eq!(v["State"]["Running"], false, "{v:#}");
    assert_eq!(v["State"]["ExitCode"], 137, "{v:#}");
}

#[test]
fn kill_sends_the_requested_signal() {
    let Some(env) = TestEnv::new() else { return };
    let script = "trap 'echo got-usr1; exit 4' USR1; echo ready; while true; do sleep 0.1; done";
    let id = env.run_detached(&[], &["sh", "-c", script]);
    wait_ready(&env, &id);
    env.rcorch(&["kill", "-s", "USR1", &id]).ok();
    let v = env.wait_exited(&id, WAIT);
    assert_eq!(v["State"]["ExitCode"], 4, "{v:#}");
    assert!(env.rcorch(&["logs", &id]).ok().contains("got-usr1"));

    let id = env.run_detached(&[], &["sleep", "30"]);
    env.rcorch(&["kill", &id]).ok();
    let v = env.wait_exited(&id, WAIT);
    assert_eq!(v["State"]["ExitCode"], 137, "{v:#}");
}

#[test]
fn rm_refuses_a_running_container_without_force() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&["--name", "busy"], &["sleep", "30"]);
    let out = env.rcorch(&["rm", "busy"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("busy"), "{out:?}");
    assert_eq!(env.inspect(&id)["State"]["Running"], true);
    env.rcorch(&["rm", "-f", "busy"]).ok();
    let out = env.rcorch(&["inspect", &id]);
    assert_ne!(out.code, 0, "{out:?}");
    assert_eq!(env.leftovers(), Vec::<String>::new());
}

#[test]
fn names_and_id_prefixes_address_containers() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&["--name", "named"], &["sleep", "30"]);
    for r in ["named", &id[..12], &id[..6], id.as_str()] {
        assert_eq!(env.inspect(r)["Id"], id.as_str(), "reference {r}");
    }
    assert_eq!(env.rcorch(&["exec", &id[..8], "true"]).code, 0);
    env.rcorch(&["stop", "-t", "1", &id[..10]]).ok();
    env.rcorch(&["rm", "named"]).ok();
    assert_ne!(env.rcorch(&["inspect", "named"]).code, 0);
}

#[test]
fn unknown_container_reference_fails() {
    let Some(env) = TestEnv::new() else { return };
    for cmd in [&["inspect"][..], &["stop"], &["kill"], &["rm"], &["logs"]] {
        let mut args = cmd.to_vec();
        args.push("no-such-container");
        let out = env.rcorch(&args);
        assert_ne!(out.code, 0, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("no-such-container"),
            "{args:?}: {out:?}"
        );
    }
}

#[test]
fn inspect_reports_state_and_mounts() {
    let Some(env) = TestEnv::new() else { return };
    let src = env.scratch.to_str().unwrap().to_string();
    let vol = format!("{src}:/data:ro");
    let id = env.run_detached(
        &["--name", "insp", "-v", &vol, "--tmpfs", "/t"],
        &["sleep", "30"],
    );
    let v = env.inspect("insp");
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["Name"], "/insp", "Docker's name: with a slash");
    assert_eq!(v["State"]["Running"], true);
    assert_eq!(v["State"]["Status"], "running");
    let pid = v["State"]["Pid"].as_i64().expect("State.Pid");
    assert!(pid > 1 && common::pid_alive(pid as i32), "{v:#}");
    assert!(v["State"]["StartedAt"]
        .as_str()
        .is_some_and(|s| s.starts_with("20")));
    assert!(v["State"]["FinishedAt"].is_null(), "{v:#}");
    let mounts = v["Mounts"].as_array().expect("Mounts");
    assert!(
        mounts.iter().any(|m| m["Type"] == "bind"
            && m["Source"] == src.as_str()
            && m["Destination"] == "/data"
            && m["RW"] == false),
        "{v:#}"
    );
    assert!(mounts
        .iter()
        .any(|m| m["Type"] == "tmpfs" && m["Destination"] == "/t"));

    env.rcorch(&["kill", "insp"]).ok();
    let v = env.wait_exited("insp", WAIT);
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 137);
    let started = v["State"]["StartedAt"].as_str().expect("StartedAt");
    let finished = v["State"]["FinishedAt"].as_str().expect("FinishedAt");
    // RFC 3339 UTC with the same width sorts chronologically.
    assert!(finished >= started, "{started} > {finished}");
    assert!(!common::pid_alive(pid as i32));
}

#[test]
fn rm_auto_removes_after_exit() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&["--rm"], &["true"]);
    let gone = common::wait_for(WAIT, || env.rcorch(&["inspect", &id]).code != 0);
    assert!(gone, "--rm container still there");
    assert!(common::wait_for(WAIT, || env.leftovers().is_empty()));
}

#[test]
fn ps_format_templates_print_the_fields_asked_for() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&["--name", "tmpl", "--network", "none"], &["sleep", "1000"]);
    let names = env.rcorch(&["ps", "--format", "{{.Names}}"]).ok();
    assert_eq!(names, "tmpl");
    let table = env
        .rcorch(&["ps", "--format", "table {{.ID}}\\t{{.Status}}"])
        .ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].starts_with("CONTAINER ID   STATUS"), "{table}");
    assert!(
        lines[1].starts_with(&id[..12]) && lines[1].contains("Up "),
        "{table}"
    );
    let json = env.rcorch(&["ps", "--format", "{{json .}}"]).ok();
    let row: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    assert_eq!(row["Names"], "tmpl");
    assert_eq!(row["Networks"], "none");
    // Not supported: one clear error, never the full table.
    let bad = env.rcorch(&["ps", "--format", "{{.Nmes}}"]);
    assert_ne!(bad.code, 0, "{bad:#?}");
    assert!(
        bad.stdout.is_empty() && bad.stderr.contains("unknown field \"Nmes\""),
        "{bad:#?}"
    );
    env.rcorch(&["rm", "-f", "tmpl"]).ok();
}

/// The child cgroups of `dirs` (one per hierarchy), as "hierarchy/name".
fn child_cgroups(dirs: &[std::path::PathBuf]) -> Vec<String> {
    let mut found = Vec::new();
    for dir in dirs {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                found.push(e.path().display().to_string());
            }
        }
    }
    found
}

/// A nested `--cgroup-parent` is kept when its last container goes, as runc
/// (Docker's runtime) keeps its parents: only each container's own cgroup
/// goes, on `rm -f`, with `run --rm`, and when its restarts end.
#[test]
fn a_nested_cgroup_parent_is_kept_and_each_container_cgroup_goes() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let top = env.cgroup_parent.clone();
    env.cgroup_parent = format!("{top}/a/b");
    let nested = env.cgroup_parent_dirs();
    let check = |what: &str| {
        assert!(
            nested.iter().any(|d| d.is_dir()),
            "{what}: {top}/a/b was removed"
        );
        assert_eq!(child_cgroups(&nested), Vec::<String>::new(), "{what}");
    };

    let id = env.run_detached(&["--memory", "32m"], &["sleep", "60"]);
    let path = env.inspect(&id)["State"]["CgroupPath"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(path.ends_with(&format!("/{top}/a/b/{id}")), "{path}");
    assert!(!child_cgroups(&nested).is_empty(), "no cgroup for {id}");
    env.rcorch(&["rm", "-f", &id]).ok();
    check("rm -f");

    env.run_busybox(&["--memory", "32m"], &["true"]).ok();
    check("run --rm");

    let id = env.run_detached(&["--restart", "on-failure:1"], &["sh", "-c", "exit 3"]);
    let done = common::wait_for(WAIT, || {
        let v = env.inspect(&id);
        v["State"]["Status"] == "exited" && v["RestartCount"] == 1
    });
    assert!(done, "{:#}", env.inspect(&id));
    check("after its restarts");
    env.rcorch(&["rm", &id]).ok();
    check("rm");
    // The instance's Drop removes the whole tree from the top.
    env.cgroup_parent = top;
}
