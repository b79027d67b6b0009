//! Root-only: health checks of plain `run` containers (`--health-*` and
//! the image's HEALTHCHECK), probed by the container's monitor as `exec`
//! does: `inspect`'s State.Health, `ps`'s (healthy), `health_status` events.

mod common;

use std::fs;
use std::time::Duration;

use common::{assert_unchanged, wait_for, TestEnv};

const WAIT: Duration = Duration::from_secs(20);

fn health(env: &TestEnv, id: &str) -> serde_json::Value {
    env.inspect(id)["State"]["Health"].clone()
}

fn ps_status(env: &TestEnv, name: &str) -> String {
    let out = env.rcorch(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_health_cmd_turns_healthy_then_unhealthy_with_events() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(
        &[
            "--name",
            "hc",
            "--network",
            "none",
            "--health-cmd",
            "echo probe says hi; test -f /tmp/ok",
            "--health-interval",
            "200ms",
            "--health-retries",
            "2",
        ],
        &["sh", "-c", "touch /tmp/ok; exec sleep 1000"],
    );
    assert!(
        wait_for(WAIT, || health(&env, &id)["Status"] == "healthy"),
        "{:#}",
        health(&env, &id)
    );
    let h = health(&env, &id);
    assert_eq!(h["FailingStreak"], 0);
    let first = &h["Log"][0];
    assert_eq!(
        (&first["ExitCode"], &first["Output"]),
        (&0.into(), &"probe says hi\n".into())
    );
    assert!(
        ps_status(&env, "hc").ends_with("(healthy)"),
        "{}",
        ps_status(&env, "hc")
    );
    let check = &env.inspect(&id)["Config"]["Healthcheck"];
    assert_eq!(check["Interval"], 200_000_000u64);
    assert_eq!(check["Retries"], 2);

    // The probe runs inside the container: removing its file fails it.
    env.rcorch(&["exec", "hc", "rm", "/tmp/ok"]).ok();
    assert!(
        wait_for(WAIT, || health(&env, &id)["Status"] == "unhealthy"),
        "{:#}",
        health(&env, &id)
    );
    let h = health(&env, &id);
    assert!(h["FailingStreak"].as_u64() >= Some(2), "{h:#}");
    assert!(h["Log"].as_array().unwrap().len() <= 5, "{h:#}");
    assert!(ps_status(&env, "hc").ends_with("(unhealthy)"));

    let out = env.rcorch(&[
        "events",
        "--since",
        "0",
        "--until",
        "0s",
        "--filter",
        "event=health_status",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        ["health_status: healthy hc", "health_status: unhealthy hc"],
        "{out:#?}"
    );
}

#[test]
fn failures_in_the_start_period_keep_it_starting_and_timeouts_fail() {
    let Some(env) = TestEnv::new() else { return };
    let starting = env.run_detached(
        &[
            "--network",
            "none",
            "--health-cmd",
            "false",
            "--health-start-period",
            "5m",
            "--health-start-interval",
            "200ms",
        ],
        &["sleep", "1000"],
    );
    let slow = env.run_detached(
        &[
            "--network",
            "none",
            "--health-cmd",
            "sleep 30",
            "--health-interval",
            "200ms",
            "--health-timeout",
            "300ms",
            "--health-retries",
            "1",
        ],
        &["sleep", "1000"],
    );
    assert!(wait_for(WAIT, || {
        health(&env, &starting)["Log"]
            .as_array()
            .is_some_and(|l| l.len() >= 3)
    }));
    let h = health(&env, &starting);
    assert_eq!(
        (&h["Status"], &h["FailingStreak"]),
        (&"starting".into(), &0.into())
    );
    assert_eq!(h["Log"][0]["ExitCode"], 1);
    let name = env.inspect(&starting)["Name"]
        .as_str()
        .unwrap()
        .trim_start_matches('/')
        .to_string();
    assert!(
        ps_status(&env, &name).ends_with("(health: starting)"),
        "{}",
        ps_status(&env, &name)
    );

    assert!(wait_for(WAIT, || health(&env, &slow)["Status"] == "unhealthy"));
    let entry = &health(&env, &slow)["Log"][0];
    assert_eq!(entry["ExitCode"], -1, "{entry:#}");
    assert_eq!(entry["Output"], "Health check exceeded timeout (300ms)");
    // The timed-out check was killed with its process group, not left running.
    let top = env.rcorch(&["top", &slow]).stdout;
    assert!(
        wait_for(WAIT, || !env
            .rcorch(&["top", &slow])
            .stdout
            .contains("sleep 30")),
        "{top}"
    );
}

#[test]
fn the_image_healthcheck_runs_unless_disabled() {
    let Some(env) = TestEnv::new() else { return };
    let ctx = env.scratch.join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD [\"test\", \"-d\", \"/etc\"]\n",
    )
    .unwrap();
    env.rcorch(&[
        "build",
        "--network",
        "none",
        "-t",
        "checked",
        ctx.to_str().unwrap(),
    ])
    .ok();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "-d", "--network", "none"];
        args.extend_from_slice(extra);
        args.extend(["checked", "sleep", "1000"]);
        env.rcorch(&args).ok()
    };
    let checked = run(&[]);
    assert!(wait_for(WAIT, || health(&env, &checked)["Status"] == "healthy"));
    let test = &env.inspect(&checked)["Config"]["Healthcheck"]["Test"];
    assert_eq!(test, &serde_json::json!(["CMD", "test", "-d", "/etc"]));
    // A flag overrides one field and keeps the image's others.
    let retimed = run(&["--health-retries", "4"]);
    let check = &env.inspect(&retimed)["Config"]["Healthcheck"];
    assert_eq!(
        (&check["Retries"], &check["Interval"]),
        (&4.into(), &200_000_000u64.into())
    );

    let off = run(&["--no-healthcheck"]);
    std::thread::sleep(Duration::from_millis(600));
    let inspected = env.inspect(&off);
    assert!(inspected["State"]["Health"].is_null(), "{inspected:#}");
    assert!(inspected["Config"]["Healthcheck"].is_null());
}

#[test]
fn bad_health_flags_are_one_error_and_create_nothing() {
    let Some(env) = TestEnv::new() else { return };
    for (flags, mentions) in [
        (
            vec!["--health-cmd", "true", "--health-interval", "5"],
            "--health-interval \"5\"",
        ),
        (
            vec!["--health-retries", "many", "--health-cmd", "true"],
            "--health-retries",
        ),
        (
            vec!["--no-healthcheck", "--health-cmd", "true"],
            "--no-healthcheck conflicts",
        ),
    ] {
        let out = assert_unchanged(&env, || {
            let mut args = vec!["run", "-d", "--network", "none"];
            args.extend_from_slice(&flags);
            args.extend(["busybox", "true"]);
            env.rcorch(&args)
        });
        assert_eq!(out.code, 125, "{out:#?}");
        assert!(out.stderr.contains(mentions), "{mentions}: {out:#?}");
        assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
    }
}
