//! Root-only: `rcorch dashboard` on a running project — the plain snapshot
//! (`--no-stream`, or stdout not a terminal) with its services, replicas,
//! backends and events, and the live screen on a pty that `q` ends,
//! leaving the alternate screen.
//! Needs RCORCH_TEST_BUSYBOX_TAR.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::project::Project;
use common::TestEnv;

const BIN: &str = env!("CARGO_BIN_EXE_rcorch");

const WEB: &str = r#"
services:
  web:
    image: busybox
    stop_grace_period: 1s
    command: ["httpd", "-f", "-p", "80"]
    mem_limit: 64m
    deploy:
      replicas: 2
    ports:
      - "18471:80"
"#;

/// The row of `out` that starts with `first` (a replica or service name).
fn row<'a>(out: &'a str, first: &str) -> Vec<&'a str> {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(first))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default()
}

/// The rows under BACKEND, split into words.
fn backends(out: &str) -> Vec<Vec<&str>> {
    out.lines()
        .skip_while(|l| !l.starts_with("BACKEND "))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect()
}

#[test]
fn the_snapshot_shows_services_replicas_with_limits_backends_connections_and_events() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "dash", WEB);
    p.up();
    // One connection held open to replica 1's httpd, from inside it.
    let mut held = env.spawn(&[
        "exec",
        "dash-web-1",
        "sh",
        "-c",
        "sleep 30 | nc 127.0.0.1 80",
    ]);
    let counted = common::wait_for(Duration::from_secs(20), || {
        let out = env.rcorch(&["dashboard", "--no-stream", "-p", "dash"]);
        backends(&out.stdout)
            .first()
            .and_then(|b| b.get(4).copied())
            == Some("1")
    });
    let out = env.rcorch(&["dashboard", "--no-stream", "-p", "dash"]);
    let _ = held.kill();
    let _ = held.wait();
    assert_eq!(out.code, 0, "{out:#?}");
    let text = &out.stdout;
    assert!(counted, "a held connection shows on its backend: {text}");
    assert!(
        text.starts_with("rcorch dashboard: project dash "),
        "{text}"
    );
    // No terminal: plain lines, no escape sequences.
    assert!(!text.contains('\x1b'), "{text:?}");
    // Desired, running, no health check, nothing pending.
    assert_eq!(row(text, "web"), ["web", "2", "2", "-", "-"], "{text}");
    for replica in ["dash-web-1", "dash-web-2"] {
        let r = row(text, replica);
        // Name, CPU %, its one-sample sparkline, usage / limit, memory sparkline.
        assert!(r.len() >= 6, "{replica}: {r:?} in {text}");
        assert!(r[1].ends_with('%'), "{r:?}");
        assert_eq!(&r[4..6], ["/", "64.0MiB"], "{r:?}");
        assert!(
            r.last().unwrap().chars().all(|c| ('▁'..='█').contains(&c)),
            "{r:?}"
        );
    }
    // Backends: both replicas are members; replica 2 holds no connection.
    let rows = backends(text);
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[1][0], "dash-web-2", "{text}");
    // No /metrics served: the balancer's selections are not known.
    assert_eq!(&rows[1][3..], ["member", "0", "--"], "{text}");
    assert_eq!(&rows[0][3..], ["member", "1", "--"], "{text}");
    // The supervisor's last events, as `rcorch events` prints them.
    let events = p.events();
    let last = events.last().expect("the supervisor logged its starts");
    assert!(text.contains("\nEVENTS\n"), "{text}");
    assert!(text.contains(last.as_str()), "{last:?} in {text}");
    let missing = env.rcorch(&["dashboard", "--no-stream", "-p", "nosuch"]);
    assert!(
        missing.code != 0 && missing.stderr.contains("no project named nosuch"),
        "{missing:#?}"
    );
    p.down();
}

const SERVED: &str = r#"
x-rcorch-metrics: 127.0.0.1:19471
services:
  web:
    image: busybox
    stop_grace_period: 1s
    command: ["httpd", "-f", "-p", "80"]
    deploy:
      replicas: 2
    ports:
      - "18472:80"
  client:
    image: busybox
    stop_grace_period: 1s
    command: ["sleep", "3600"]
"#;

#[test]
fn with_metrics_served_each_backend_shows_the_balancers_selections() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "dashm", SERVED);
    p.up();
    // /metrics is served in the supervisor's network namespace.
    let pid = p.supervisor_pid().expect("a supervisor");
    let dashboard = || {
        let out = Command::new("nsenter")
            .arg(format!("--net=/proc/{pid}/ns/net"))
            .arg(BIN)
            .arg("--root")
            .arg(&env.root)
            .args(["--cgroup-parent", &env.cgroup_parent])
            .args(["dashboard", "--no-stream", "-p", "dashm"])
            .output()
            .expect("nsenter");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Every service on the bridge has a VIP; web's two replicas take the hits.
    let web = |text: &str| -> Vec<Vec<String>> {
        let rows = backends(text).into_iter().filter(|b| b[1] == "web");
        rows.map(|b| b.iter().map(|w| w.to_string()).collect())
            .collect()
    };
    let total = |text: &str| -> u64 {
        web(text)
            .iter()
            .map(|b| {
                b.get(5)
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("a count: {text}"))
            })
            .sum()
    };
    // That namespace is the test's own, made by unshare: its loopback is down.
    let lo = Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(["ip", "link", "set", "lo", "up"])
        .status()
        .expect("nsenter ip");
    assert!(lo.success());
    let before = dashboard();
    assert_eq!(web(&before).len(), 2, "{before}");
    for _ in 0..4 {
        let hit = env.rcorch(&["exec", "dashm-client-1", "wget", "-qO-", "http://web/"]);
        // httpd without files answers 404: the connection is what counts.
        assert!(!hit.stderr.contains("can't connect"), "{hit:#?}");
    }
    let mut after = String::new();
    let counted = common::wait_for(Duration::from_secs(10), || {
        after = dashboard();
        total(&after) >= total(&before) + 4
    });
    assert!(counted, "4 connections through the VIP: {before}\n{after}");
    p.down();
}

/// `rcorch dashboard -p NAME` on a pty made by script(1), in the test's
/// namespaces, sent `key` after a few frames: its exit code and everything
/// it wrote to the terminal.
fn dashboard_on_a_pty(env: &TestEnv, name: &str, key: &[u8]) -> (Option<i32>, String) {
    let line = format!(
        "unshare --net --mount --propagation private {BIN} --root {} --cgroup-parent {} dashboard -p {name}",
        env.root.display(),
        env.cgroup_parent,
    );
    let mut child = Command::new("script")
        .args(["-qfc", &line, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script(1)");
    let mut stdin = child.stdin.take().unwrap();
    let mut reader = child.stdout.take().unwrap();
    let collect = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut reader, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    });
    std::thread::sleep(Duration::from_millis(3500));
    stdin.write_all(key).unwrap();
    stdin.flush().unwrap();
    let code = common::wait_timeout(&mut child, Duration::from_secs(20));
    // The pty's input stays open until here (script ends its command at EOF).
    drop(stdin);
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    (code, collect.join().unwrap())
}

#[test]
fn on_a_terminal_it_redraws_until_q_or_ctrl_c_and_restores_the_screen() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "dashtty", WEB);
    p.up();
    for key in [&b"q"[..], b"\x03"] {
        let (code, out) = dashboard_on_a_pty(&env, "dashtty", key);
        assert_eq!(code, Some(0), "{key:?}: {out:?}");
        // Took the alternate screen, drew frames from the top, gave it back.
        assert!(out.contains("\x1b[?1049h"), "{out:?}");
        let frames = out
            .matches("\x1b[Hrcorch dashboard: project dashtty")
            .count();
        assert!(frames >= 2, "redrawn each second: {out:?}");
        assert!(out.contains("dashtty-web-2"), "{out:?}");
        let leave = out.rfind("\x1b[?1049l").expect("left the alternate screen");
        assert!(out.rfind("\x1b[H").unwrap() < leave, "{out:?}");
    }
    p.down();
}
