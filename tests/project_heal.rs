//! Root-only: a project's supervisor keeps replicas alive and healthy —
//! a killed replica comes back, an unhealthy one is replaced, a crash loop
//! backs off.

mod common;

use std::time::{Duration, Instant};

use common::project::Project;
use common::{wait_for, TestEnv};

const WAIT: Duration = Duration::from_secs(20);

fn pid_of(env: &TestEnv, container: &str) -> i32 {
    let v = env.inspect(container);
    v["State"]["Pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("no State.Pid for {container}: {v:#}")) as i32
}

/// Timestamps (seconds since the epoch, fractional) of event lines.
fn times(lines: &[String]) -> Vec<f64> {
    lines
        .iter()
        .map(|l| {
            let t = l.split_whitespace().next().unwrap_or_default();
            parse_rfc3339(t).unwrap_or_else(|| panic!("bad event time in {l:?}"))
        })
        .collect()
}

/// `2026-11-23T06:06:08.554375686Z` → seconds since midnight of that day
/// plus the day number; enough to compare gaps within one test.
fn parse_rfc3339(t: &str) -> Option<f64> {
    let (date, time) = t.strip_suffix('Z')?.split_once('T')?;
    let day: f64 = date.split('-').nth(2)?.parse().ok()?;
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(day * 86400.0 + h * 3600.0 + m * 60.0 + s)
}

const THREE_WEB: &str = r#"
services:
  web:
    image: busybox
    command: ["sleep", "1000"]
    restart: always
    stop_grace_period: 1s
    deploy:
      replicas: 3
"#;

#[test]
fn killed_replica_is_replaced() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "heal", THREE_WEB);
    p.up();
    let running = p.running("web");
    let names: Vec<&str> = running.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["heal-web-1", "heal-web-2", "heal-web-3"]);

    let victim = running[1].clone();
    let pid = pid_of(&env, &victim.id);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill replica pid 1");
    // Back to three running, and slot 2 holds a live process again.
    let healed = wait_for(WAIT, || {
        let r = p.running("web");
        r.len() == 3
            && r.iter()
                .any(|x| x.name == "heal-web-2" && x.id != victim.id)
    });
    assert!(
        healed,
        "not back to 3: {:#?}\n{:#?}",
        p.replicas("web"),
        p.events()
    );
    let events = p.events();
    let exited = p.events_of("web-2", "exited");
    assert!(
        exited
            .iter()
            .any(|l| l.contains(&victim.id[..12]) && l.contains("137")),
        "no exit event for {}: {events:#?}",
        victim.id
    );
    assert!(p.events_of("web-2", "start").len() >= 2, "{events:#?}");
}

/// A service whose health check passes while /tmp/ok exists.
fn health_yaml(restart: &str) -> String {
    format!(
        r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "touch /tmp/ok; exec sleep 1000"]
    stop_grace_period: 1s
{restart}
    healthcheck:
      test: ["CMD-SHELL", "test -f /tmp/ok"]
      interval: 300ms
      timeout: 2s
      retries: 2
"#
    )
}

/// Breaks the health of slot 1 and checks it is stopped as Unhealthy and
/// replaced by a new container that becomes healthy.
fn check_unhealthy_replaced(env: &TestEnv, p: &Project) {
    let first = p.running("web");
    assert_eq!(first.len(), 1, "{first:#?}");
    let first = first[0].clone();
    let healthy = wait_for(WAIT, || !p.events_of("web-1", "healthy").is_empty());
    assert!(healthy, "never healthy: {:#?}", p.events());

    env.rcorch(&["exec", &first.id, "rm", "/tmp/ok"]).ok();
    let unhealthy = wait_for(WAIT, || !p.events_of("web-1", "unhealthy").is_empty());
    assert!(unhealthy, "never unhealthy: {:#?}", p.events());
    let replaced = wait_for(WAIT, || {
        p.running("web")
            .iter()
            .any(|r| r.name.ends_with("-web-1") && r.id != first.id)
    });
    assert!(
        replaced,
        "not replaced: {:#?}\n{:#?}",
        p.replicas("web"),
        p.events()
    );
    let new_id = p.running("web")[0].id.clone();
    let healthy_again = wait_for(WAIT, || {
        p.events_of("web-1", "healthy")
            .iter()
            .any(|l| l.contains(&new_id[..12]))
    });
    assert!(
        healthy_again,
        "replacement never healthy: {:#?}",
        p.events()
    );
    let events = p.events();
    let stop = p.events_of("web-1", "stop");
    assert!(
        stop.iter()
            .any(|l| l.contains(&first.id[..12]) && l.contains("Unhealthy")),
        "no stop ... Unhealthy for the old replica: {events:#?}"
    );
}

#[test]
fn unhealthy_replica_is_replaced() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "hc", &health_yaml("    restart: always"));
    p.up();
    check_unhealthy_replaced(&env, &p);
}

/// Issue 5: "A replica that becomes unhealthy is replaced" — not only when
/// a restart policy would restart it anyway.
#[test]
fn unhealthy_replica_is_replaced_with_default_restart() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "hcdef", &health_yaml(""));
    p.up();
    check_unhealthy_replaced(&env, &p);
}

/// With start_period 0 the first probe is due `interval` (300 ms) after the
/// start, not at the supervisor's 5 s safety-net wakeup.
#[test]
fn first_probe_follows_interval() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "hcfirst", &health_yaml("    restart: always"));
    p.up();
    let healthy = wait_for(Duration::from_secs(10), || {
        !p.events_of("web-1", "healthy").is_empty()
    });
    assert!(healthy, "never healthy: {:#?}", p.events());
    let start = times(&p.events_of("web-1", "start"))[0];
    let healthy = times(&p.events_of("web-1", "healthy"))[0];
    assert!(
        healthy - start < 3.0,
        "first healthy {:.2} s after start (interval 300ms): {:#?}",
        healthy - start,
        p.events()
    );
}

#[test]
fn crash_loop_backs_off() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = r#"
services:
  crash:
    image: busybox
    command: ["sh", "-c", "exit 1"]
    restart: always
"#;
    let p = Project::new(&env, "loop", yaml);
    // `up -d` may not report success for a service that never stays up;
    // only the supervisor's behaviour matters here.
    let up = p.cmd("up", &["-d", "--wait-timeout", "1"]);
    eprintln!("up: {up:?}");
    let t0 = Instant::now();
    // 100+200+400+800 ms of backoff: ≥5 starts need ~1.5 s plus start time.
    let enough = wait_for(Duration::from_secs(15), || {
        p.events_of("crash-1", "start").len() >= 5
    });
    assert!(enough, "too few starts: {:#?}", p.events());
    let starts = times(&p.events_of("crash-1", "start"));
    let gaps: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[3] > 2.0 * gaps[0],
        "backoff does not grow: gaps {gaps:?}\n{:#?}",
        p.events()
    );
    // Low CPU: within ~3 s of the loop there are only a handful of starts.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(t0.elapsed()));
    let early = starts[0];
    let in_3s = times(&p.events_of("crash-1", "start"))
        .into_iter()
        .filter(|t| *t - early <= 3.0)
        .count();
    assert!(in_3s < 8, "{in_3s} starts within 3 s: {:#?}", p.events());
}
