//! Root-only: `rcorch events` for plain containers, as `docker events`:
//! the lifecycle in order with Docker's names and attributes, filters and
//! formats, and live streaming until `--until` or an interrupt.

mod common;

use std::time::Duration;

use common::{wait_for, wait_timeout, TestEnv};

const WAIT: Duration = Duration::from_secs(20);

fn kept(env: &TestEnv, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["events", "--since", "0", "--until", "0s"];
    args.extend_from_slice(extra);
    let out = env.rcorch(&args);
    assert_eq!(out.code, 0, "{out:#?}");
    out.stdout.lines().map(String::from).collect()
}

#[test]
fn a_containers_lifecycle_is_recorded_in_order() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&["--name", "ev", "--network", "none"], &["sleep", "1000"]);
    env.rcorch(&["exec", "ev", "true"]).ok();
    env.rcorch(&["kill", "ev"]).ok();
    env.wait_exited("ev", WAIT);
    env.rcorch(&["rm", "ev"]).ok();
    // Another container's events are not in a container= filter.
    env.run_busybox(&["--network", "none", "--name", "other"], &["true"]);

    let actions = kept(
        &env,
        &["--filter", "container=ev", "--format", "{{.Action}}"],
    );
    assert_eq!(
        actions,
        [
            "create",
            "start",
            "exec_create: true",
            "exec_start: true",
            "exec_die: true",
            "kill",
            "die",
            "destroy"
        ]
    );
    let json = kept(
        &env,
        &[
            "--filter",
            "event=die",
            "--filter",
            "container=ev",
            "--format",
            "json",
        ],
    );
    let die: serde_json::Value = serde_json::from_str(&json[0]).unwrap();
    assert_eq!(
        (&die["Type"], &die["Actor"]["ID"]),
        (&"container".into(), &id.clone().into())
    );
    let a = &die["Actor"]["Attributes"];
    assert_eq!(
        (&a["name"], &a["image"], &a["exitCode"]),
        (&"ev".into(), &"busybox".into(), &"137".into())
    );
    let kill = kept(
        &env,
        &[
            "--filter",
            "event=kill",
            "--format",
            "{{.Actor.Attributes.signal}}",
        ],
    );
    assert_eq!(kill, ["9"]);
    // --rm: die then destroy, from the monitor itself.
    let other = kept(
        &env,
        &["--filter", "container=other", "--format", "{{.Action}}"],
    );
    assert_eq!(other, ["create", "start", "die", "destroy"]);
    // The default line: time, type, action, id, sorted attributes.
    let line = &kept(
        &env,
        &["--filter", "container=ev", "--filter", "event=start"],
    )[0];
    assert!(
        line.ends_with(&format!("container start {id} (image=busybox, name=ev)")),
        "{line}"
    );
}

#[test]
fn an_oom_kill_is_an_oom_event_before_die() {
    let Some(env) = TestEnv::new() else { return };
    // tail keeps a line that never ends: it grows until the limit kills it.
    let out = env.rcorch(&[
        "run",
        "--name",
        "hog",
        "--network",
        "none",
        "-m",
        "16m",
        "busybox",
        "sh",
        "-c",
        "tail /dev/zero",
    ]);
    assert_eq!(out.code, 137, "{out:#?}");
    let actions = kept(
        &env,
        &["--filter", "container=hog", "--format", "{{.Action}}"],
    );
    assert_eq!(actions, ["create", "start", "oom", "die"]);
}

#[test]
fn events_stream_new_events_until_interrupted() {
    let Some(env) = TestEnv::new() else { return };
    env.run_busybox(&["--network", "none", "--name", "before"], &["true"]);
    let out = env.scratch.join("stream");
    let mut follower = env.spawn_to(
        &[
            "events",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ],
        &out,
    );
    // Only what happens after it started: wait for it to be polling.
    std::thread::sleep(Duration::from_millis(800));
    env.run_busybox(&["--network", "none", "--name", "live"], &["true"]);
    let seen = wait_for(WAIT, || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.contains("destroy live"))
    });
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(seen, "{text}");
    assert!(!text.contains("before"), "{text}");
    assert_eq!(follower.try_wait().unwrap(), None, "still streaming");
    let _ = nix_kill(follower.id());
    assert!(wait_timeout(&mut follower, WAIT).is_some());

    // --until in the future: streams, then returns by itself.
    let soon = std::time::SystemTime::now() + Duration::from_secs(2);
    let soon = soon
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let until = env.rcorch_timeout(&["events", "--until", &soon], WAIT);
    assert_eq!(until.code, 0, "{until:#?}");
}

fn nix_kill(pid: u32) -> std::io::Result<()> {
    let status = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()?;
    assert!(status.success());
    Ok(())
}

/// A supervisor's log rotated past its limit (written here with the
/// supervisor's own appender and a small limit) keeps serving `--since`
/// from both kept files, oldest first, and nothing older than the window.
#[test]
fn a_rotated_project_log_still_answers_since() {
    use rcorch::project::events::{append_bounded, rotated, Event};
    let Some(env) = TestEnv::new() else { return };
    let dir = env.root.join("projects").join("rot");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("events.log");
    let event = |n: u32| Event {
        time: format!("2026-01-01T00:00:{n:02}Z"),
        ..Event::new("web", 1, "start", "", format!("n{n}"))
    };
    let line = serde_json::to_vec(&event(0)).unwrap().len() as u64 + 1;
    for n in 0..8 {
        append_bounded(&log, &event(n), 3 * line);
    }
    assert!(rotated(&log).exists(), "the log was rotated");
    let shown = |since: &str| -> Vec<String> {
        let args = ["events", "-p", "rot", "--since", since, "--until", "0s"];
        let out = env.rcorch(&args);
        assert_eq!(out.code, 0, "{out:#?}");
        out.stdout
            .lines()
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
            .collect()
    };
    // 0..2 went with the first rotation; 3..5 are in events.log.1.
    assert_eq!(shown("0"), ["n3", "n4", "n5", "n6", "n7"]);
    assert_eq!(shown("2026-01-01T00:00:04Z"), ["n4", "n5", "n6", "n7"]);
}
