//! Root-only: `run --restart` without a daemon. The container's monitor
//! restarts it by its policy (Docker's backoff is unit-tested in
//! container::restart), `inspect` shows RestartCount and RestartPolicy,
//! `stop` ends the restarting, a foreground `run` returns the first exit
//! code, and a SIGKILLed monitor's container is adopted by the next
//! command. Each scenario runs in its own network namespace.

mod networld;

use networld::{value, world};

const HELPERS: &str = r#"
runs() { $R logs $1 2>/dev/null | grep -c "^run$"; }
# Waits until container $1 has printed "run" $2 times.
wait_runs() { for i in $(seq 200); do [ "$(runs $1)" -ge $2 ] && return 0; sleep 0.05; done; return 1; }
field() { $R inspect $1 | jq -r ".[0].$2"; }
wait_status() { for i in $(seq 200); do [ "$(field $1 State.Status)" = $2 ] && return 0; sleep 0.05; done; return 1; }
"#;

#[test]
fn on_failure_n_restarts_n_times_and_inspect_shows_the_count_and_policy() {
    let Some(w) = world("restart-onfail") else {
        return;
    };
    let out = w.run(&format!(
        r#"{HELPERS}
id=$($R run -d --restart on-failure:2 busybox sh -c 'echo run; exit 3')
wait_runs $id 3
wait_status $id exited
sleep 1
echo "runs=$(runs $id)"
echo "count=$(field $id RestartCount)"
echo "policy=$(field $id HostConfig.RestartPolicy.Name):$(field $id HostConfig.RestartPolicy.MaximumRetryCount)"
echo "exit=$(field $id State.ExitCode)"
ok=$($R run -d --restart on-failure busybox sh -c 'echo run; exit 0')
wait_status $ok exited; sleep 0.5
echo "ok-runs=$(runs $ok) ok-count=$(field $ok RestartCount)"
no=$($R run -d busybox sh -c 'echo run; exit 1')
wait_status $no exited; sleep 0.5
echo "no-runs=$(runs $no) no-policy=$(field $no HostConfig.RestartPolicy.Name)"
"#
    ));
    assert_eq!(value(&out, "runs"), "3", "1 run + 2 restarts\n{out}");
    assert_eq!(value(&out, "count"), "2", "{out}");
    assert_eq!(value(&out, "policy"), "on-failure:2", "{out}");
    assert_eq!(value(&out, "exit"), "3", "{out}");
    assert_eq!(
        value(&out, "ok-runs"),
        "1 ok-count=0",
        "exit 0 is no failure\n{out}"
    );
    assert_eq!(value(&out, "no-runs"), "1 no-policy=no", "{out}");
}

#[test]
fn always_restarts_clean_exits_on_its_network_and_stop_ends_it() {
    let Some(w) = world("restart-always") else {
        return;
    };
    let out = w.run(&format!(
        r#"{HELPERS}
id=$($R run -d --restart always -p 18190:80 busybox sh -c 'echo run; httpd -p 80 -h /; sleep 0.5; exit 0')
wait_runs $id 3 && echo "restarted=yes" || echo "restarted=no"
served=none
for i in $(seq 100); do served=$(curl -s -o /dev/null -w '%{{http_code}}' http://127.0.0.1:18190/); [ $served = 404 ] && break; sleep 0.05; done
echo "served=$served"
$R stop $id >/dev/null
before=$(runs $id)
sleep 1.5
echo "after-stop=$(( $(runs $id) - before ))"
echo "status=$(field $id State.Status)"
echo "monitor-gone=$(ps -p $(field $id State.MonitorPid) >/dev/null 2>&1 && echo no || echo yes)"
echo "dnat-kept=$(nft list table inet $T 2>/dev/null | grep -c 'dport 18190')"
"#
    ));
    assert_eq!(value(&out, "restarted"), "yes", "{out}");
    assert_eq!(
        value(&out, "served"),
        "404",
        "the port reaches the restarted run\n{out}"
    );
    assert_eq!(
        value(&out, "after-stop"),
        "0",
        "restarted after stop\n{out}"
    );
    assert_eq!(value(&out, "status"), "exited", "{out}");
    assert_eq!(value(&out, "monitor-gone"), "yes", "{out}");
    assert_eq!(
        value(&out, "dnat-kept"),
        "0",
        "its port rule outlived it\n{out}"
    );
}

#[test]
fn stop_during_the_backoff_cancels_the_restart() {
    let Some(w) = world("restart-backoff-stop") else {
        return;
    };
    // After a few quick failures the backoff is long enough to catch.
    let out = w.run(&format!(
        r#"{HELPERS}
id=$($R run -d --restart always busybox sh -c 'echo run; exit 1')
wait_runs $id 5
for i in $(seq 200); do [ "$(field $id State.Restarting)" = true ] && break; sleep 0.01; done
echo "seen=$(field $id State.Status)"
echo "ps=$($R ps --format '{{{{.Status}}}}' | cut -d' ' -f1)"
echo "kill=$($R kill $id 2>&1 | grep -c restarting)"
$R stop $id >/dev/null
n=$(runs $id); sleep 2
echo "after=$(( $(runs $id) - n )) status=$(field $id State.Status)"
"#
    ));
    assert_eq!(value(&out, "seen"), "restarting", "{out}");
    assert_eq!(value(&out, "ps"), "Restarting", "{out}");
    assert_eq!(value(&out, "kill"), "1", "{out}");
    assert_eq!(value(&out, "after"), "0 status=exited", "{out}");
}

#[test]
fn a_foreground_run_returns_the_first_exit_code_and_restarting_goes_on() {
    let Some(w) = world("restart-fg") else { return };
    let out = w.run(&format!(
        r#"{HELPERS}
$R run --name fg --restart on-failure:2 busybox sh -c 'echo run; exit 5'; echo "rc=$?"
wait_runs fg 3
wait_status fg exited; sleep 0.5
echo "runs=$(runs fg) count=$(field fg RestartCount)"
"#
    ));
    assert_eq!(value(&out, "rc"), "5", "{out}");
    assert_eq!(value(&out, "runs"), "3 count=2", "{out}");
}

#[test]
fn a_killed_monitors_container_is_started_again_by_the_next_command() {
    let Some(w) = world("restart-adopt") else {
        return;
    };
    let out = w.run(&format!(
        r#"{HELPERS}
id=$($R run -d --restart unless-stopped -p 18191:80 busybox sh -c 'echo run; exec httpd -f -p 80 -h /')
wait_runs $id 1
old=$(field $id State.MonitorPid)
kill -9 $old
for i in $(seq 100); do ps -p $old >/dev/null || break; sleep 0.05; done
echo "status=$($R ps --format '{{{{.Status}}}}' | cut -d' ' -f1)"
wait_runs $id 2 && echo "rerun=yes" || echo "rerun=no"
echo "count=$(field $id RestartCount)"
echo "new-monitor=$([ "$(field $id State.MonitorPid)" != "$old" ] && echo yes || echo no)"
served=none
for i in $(seq 100); do served=$(curl -s -o /dev/null -w '%{{http_code}}' http://127.0.0.1:18191/); [ $served = 404 ] && break; sleep 0.05; done
echo "served=$served"
stopped=$($R run -d --restart always busybox sh -c 'echo run; sleep 60')
wait_runs $stopped 1
$R stop -t 0 $stopped >/dev/null
$R ps >/dev/null
echo "stopped-stays=$(field $stopped State.Status)"
"#
    ));
    assert_eq!(value(&out, "status"), "Up", "{out}");
    assert_eq!(value(&out, "rerun"), "yes", "{out}");
    assert_eq!(value(&out, "count"), "1", "{out}");
    assert_eq!(value(&out, "new-monitor"), "yes", "{out}");
    assert_eq!(value(&out, "served"), "404", "{out}");
    assert_eq!(value(&out, "stopped-stays"), "exited", "{out}");
}

#[test]
fn a_bad_policy_or_restart_with_rm_is_refused_and_leaves_nothing() {
    let Some(w) = world("restart-bad") else {
        return;
    };
    let out = w.run(
        r#"
$R run -d --restart sometimes busybox true; echo "bad=$?"
$R run -d --restart always --rm busybox true; echo "rm=$?"
$R run -d --restart on-failure:x busybox true; echo "n=$?"
echo "containers=$($R ps -aq | wc -l)"
"#,
    );
    assert_eq!(value(&out, "bad"), "125", "{out}");
    assert!(out.contains("invalid --restart \"sometimes\""), "{out}");
    assert_eq!(value(&out, "rm"), "125", "{out}");
    assert!(out.contains("--restart always and --rm"), "{out}");
    assert_eq!(value(&out, "n"), "125", "{out}");
    assert_eq!(value(&out, "containers"), "0", "{out}");
}

#[test]
fn update_restart_changes_the_policy_the_running_monitor_follows() {
    let Some(w) = world("restart-update") else {
        return;
    };
    let out = w.run(&format!(
        r#"{HELPERS}
id=$($R run -d busybox sh -c 'echo run; sleep 60')
wait_runs $id 1
$R update --restart on-failure:1 $id >/dev/null
echo "policy=$(field $id HostConfig.RestartPolicy.Name)"
kill -9 $(field $id State.Pid)
wait_runs $id 2 && echo "rerun=yes" || echo "rerun=no"
echo "count=$(field $id RestartCount)"
$R update --restart no $id >/dev/null
kill -9 $(field $id State.Pid)
wait_status $id exited
sleep 0.5
echo "after-no=$(runs $id)"
rm_id=$($R run -d --rm busybox sleep 60)
$R update --restart always $rm_id 2>&1 >/dev/null | grep -q -- '--rm' && echo "rm-refused=yes"
$R rm -f $rm_id >/dev/null
"#
    ));
    assert_eq!(value(&out, "policy"), "on-failure", "{out}");
    assert_eq!(value(&out, "rerun"), "yes", "{out}");
    assert_eq!(value(&out, "count"), "1", "{out}");
    assert_eq!(value(&out, "after-no"), "2", "{out}");
    assert_eq!(value(&out, "rm-refused"), "yes", "{out}");
}
