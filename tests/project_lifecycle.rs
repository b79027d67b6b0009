//! Root-only: a project's services stopped, started and restarted on
//! request, and its logs merged per replica.

mod common;

use std::time::Duration;

use common::project::Project;
use common::TestEnv;

const WAIT: Duration = Duration::from_secs(20);

const APP: &str = r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo hello from $$HOSTNAME; sleep 1000"]
    restart: always
    stop_grace_period: 1s
    deploy:
      replicas: 2
  worker:
    image: busybox
    command: ["sleep", "1000"]
    init: true
"#;

#[test]
fn services_stop_start_and_restart_on_request() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "life", APP);
    p.up();
    let out = env.rcorch(&["compose", "-p", "life", "stop", "web"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(p.running("web").is_empty(), "web still running after stop");
    assert_eq!(p.running("worker").len(), 1, "stop of web touched worker");
    // The supervisor keeps them stopped: nothing comes back on its own.
    std::thread::sleep(Duration::from_millis(500));
    assert!(p.running("web").is_empty());

    let out = p.cmd("compose", &["start", "web"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(p.wait_running("web", 2, WAIT));

    let before: Vec<String> = p.running("worker").into_iter().map(|r| r.id).collect();
    let out = p.cmd("compose", &["restart", "worker"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(p.wait_running("worker", 1, WAIT));
    let after: Vec<String> = p.running("worker").into_iter().map(|r| r.id).collect();
    assert_ne!(before, after, "restart must give the service new replicas");
    p.down();
}

#[test]
fn project_logs_are_prefixed_by_replica() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "logs", APP);
    p.up();
    let ok = common::wait_for(WAIT, || {
        let out = env.rcorch(&["compose", "-p", "logs", "logs", "web"]).stdout;
        out.contains("web-1 | hello from") && out.contains("web-2 | hello from")
    });
    assert!(ok, "{:#?}", env.rcorch(&["compose", "-p", "logs", "logs"]));
    let worker_only = env.rcorch(&["compose", "-p", "logs", "logs", "worker"]);
    assert!(!worker_only.stdout.contains("web-"), "{worker_only:#?}");
    p.down();
}

#[test]
fn attached_up_stops_the_services_on_ctrl_c() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "fg", APP);
    let mut child = env.spawn(&["up", "-f", p.file_str(), "-p", "fg"]);
    assert!(
        p.wait_running("web", 2, WAIT),
        "attached up did not start the app"
    );
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let stopped = common::wait_for(WAIT, || matches!(child.try_wait(), Ok(Some(_))));
    if !stopped {
        let _ = child.kill();
    }
    assert!(stopped, "up did not return after SIGINT");
    assert!(child.wait().unwrap().success());
    assert!(
        p.running("web").is_empty() && p.running("worker").is_empty(),
        "services still running"
    );
    p.down();
}

const TICKER: &str = r#"
services:
  ticker:
    image: busybox
    command: ["sh", "-c", "i=0; while true; do echo tick $$i; i=$$((i+1)); sleep 0.1; done"]
    init: true
    stop_grace_period: 1s
"#;

/// `compose -p NAME logs -f ARGS…` in the background until `during` returns, then
/// SIGTERM; returns its exit code and output.
fn follow_logs(
    env: &TestEnv,
    project: &str,
    args: &[&str],
    during: impl FnOnce(&std::path::Path),
) -> (i32, String) {
    let out = env.scratch.join(format!("follow-{}", args.join("_")));
    let mut cmd = vec!["compose", "-p", project, "logs", "-f"];
    cmd.extend_from_slice(args);
    let mut child = env.spawn_to(&cmd, &out);
    // `logs -f` blocks its stop signals before printing anything: once a line
    // is out, SIGTERM ends it cleanly however slow the host (a TCG guest) is.
    let started = common::wait_for(WAIT, || {
        std::fs::metadata(&out)
            .map(|m| m.len() > 0)
            .unwrap_or(false)
    });
    assert!(started, "logs -f printed nothing");
    during(&out);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let code = common::wait_timeout(&mut child, WAIT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        -1
    });
    (code, std::fs::read_to_string(&out).unwrap_or_default())
}

/// How many lines of the file at `path` start with `prefix`.
fn lines_in(path: &std::path::Path, prefix: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter(|l| l.starts_with(prefix)).count()
}

#[test]
fn project_logs_follow_replicas_including_later_ones() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "tick", TICKER);
    p.up();
    std::thread::sleep(Duration::from_millis(300));
    // One line of history, then about ten more while following.
    let (code, out) = follow_logs(&env, "tick", &["--tail", "1"], |out| {
        assert!(common::wait_for(WAIT, || lines_in(out, "ticker-1 | tick ") >= 6));
    });
    assert_eq!(code, 0, "follow did not end cleanly on SIGTERM:\n{out}");
    let ticks = out
        .lines()
        .filter(|l| l.starts_with("ticker-1 | tick "))
        .count();
    assert!(ticks >= 5, "too few followed lines ({ticks}):\n{out}");
    assert_eq!(ticks, out.lines().count(), "unexpected lines:\n{out}");

    // A replica started while following shows up too.
    let (code, out) = follow_logs(&env, "tick", &["--tail", "0", "ticker"], |out| {
        p.cmd("scale", &["ticker=2"]).ok();
        assert!(p.wait_running("ticker", 2, WAIT));
        assert!(common::wait_for(WAIT, || lines_in(out, "ticker-2 | tick ") >= 3));
    });
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("ticker-1 | tick ")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("ticker-2 | tick ")),
        "{out}"
    );
    // The new replica is followed from its first line.
    assert!(out.contains("ticker-2 | tick 0\n"), "{out}");
    // Unknown projects are an error, not an endless wait.
    let out = env.rcorch_timeout(
        &["compose", "-p", "nope", "logs", "-f"],
        Duration::from_secs(5),
    );
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(out.stderr.contains("no project named nope"), "{out:#?}");
    p.down();
}

#[test]
fn compose_ulimits_are_applied_in_the_replica() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    network_mode: none\n    stop_grace_period: 1s\n    command: [\"sh\", \"-c\", \"echo n=$$(ulimit -n) h=$$(ulimit -Hn); sleep 1000\"]\n    ulimits:\n      nofile:\n        soft: 1024\n        hard: 2048\n";
    let p = Project::new(&env, "ulimits", yaml);
    p.up();
    let ok = common::wait_for(Duration::from_secs(15), || {
        env.rcorch(&["compose", "-p", "ulimits", "logs", "web"])
            .stdout
            .contains("n=1024 h=2048")
    });
    assert!(
        ok,
        "{:#?}",
        env.rcorch(&["compose", "-p", "ulimits", "logs"])
    );
}

#[test]
fn container_name_names_the_replica() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    network_mode: none\n    stop_grace_period: 1s\n    container_name: my-web\n    command: [\"sleep\", \"1000\"]\n";
    let p = Project::new(&env, "cname", yaml);
    p.up();
    let ps = env.rcorch(&["ps", "--format", "{{.Project}}/{{.Service}} {{.Names}}"]);
    assert_eq!(ps.ok(), "cname/web my-web");
    assert_eq!(env.inspect("my-web")["State"]["Status"], "running");
    // More than one replica with a fixed name is refused, as compose does.
    let two = "services:\n  web:\n    image: busybox\n    container_name: my-web\n    deploy:\n      replicas: 2\n";
    let q = Project::new(&env, "cname2", two);
    let out = q.cmd("up", &["-d"]);
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(out.stderr.contains("container_name"), "{out:#?}");
}

#[test]
fn up_again_starts_a_killed_restart_no_replica() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    network_mode: none\n    restart: \"no\"\n    stop_grace_period: 1s\n    command: [\"sleep\", \"1000\"]\n";
    let p = Project::new(&env, "killed", yaml);
    p.up();
    let first = p.running("web")[0].clone();
    let pid = env.inspect(&first.name)["State"]["Pid"]
        .as_i64()
        .expect("pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        common::wait_for(WAIT, || p.running("web").is_empty()),
        "{:#?}",
        p.replicas("web")
    );
    let out = p.cmd("up", &["-d", "--wait-timeout", "120"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let now = p.running("web");
    assert_eq!(now.len(), 1, "{:#?}", p.replicas("web"));
    assert_ne!(now[0].id, first.id, "the dead one is not running again");
}

#[test]
fn stop_says_what_it_waits_for() {
    let Some(env) = TestEnv::new() else { return };
    // Ignores TERM: the stop waits for the 3 s grace period, then SIGKILL.
    let yaml = "services:\n  web:\n    image: busybox\n    network_mode: none\n    stop_grace_period: 3s\n    command: [\"sh\", \"-c\", \"trap '' TERM; while true; do sleep 0.1; done\"]\n";
    let p = Project::new(&env, "slowstop", yaml);
    p.up();
    let out = env.rcorch(&["compose", "-p", "slowstop", "stop"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr.contains("waiting for slowstop-web-1 to stop"),
        "{out:#?}"
    );
}

#[test]
fn compose_long_syntax_tmpfs_options_take_effect_in_the_replica() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    network_mode: none\n    stop_grace_period: 1s\n    command: [\"sleep\", \"1000\"]\n    volumes:\n      - type: tmpfs\n        target: /scratch\n        read_only: true\n        tmpfs:\n          size: 1m\n          mode: 0700\n";
    let p = Project::new(&env, "tmpfs", yaml);
    p.up();
    let web = p.running("web")[0].name.clone();
    let script = "stat -c mode=%a /scratch; grep ' /scratch ' /proc/mounts";
    let out = env.rcorch(&["exec", &web, "sh", "-c", script]).ok();
    assert!(out.contains("mode=700"), "{out}");
    assert!(out.contains("size=1024k"), "{out}");
    assert!(out.contains(" ro,"), "{out}");
    p.down();
}

#[test]
fn compose_host_keys_are_applied_in_the_replica_as_runs_flags() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    stop_grace_period: 1s\n    command: [\"sleep\", \"1000\"]\n    dns: [10.0.0.53]\n    extra_hosts:\n      db: 10.0.0.2\n      gw: host-gateway\n    sysctls:\n      net.ipv4.ip_unprivileged_port_start: 1000\n    shm_size: 128m\n    devices: [\"/dev/null:/dev/mynull:rw\"]\n";
    let p = Project::new(&env, "hostkeys", yaml);
    let out = p.up();
    // Mapped now: none of them is reported as ignored.
    assert!(!out.stderr.contains("not supported"), "{out:#?}");
    let sh = |script: &str| {
        env.rcorch(&["exec", "hostkeys-web-1", "sh", "-c", script])
            .ok()
    };
    let hosts = sh("cat /etc/hosts");
    let line = |name: &str| {
        hosts
            .lines()
            .find(|l| l.split_whitespace().skip(1).any(|w| w == name))
            .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
    };
    assert_eq!(line("db").as_deref(), Some("10.0.0.2"), "{hosts}");
    let gateway = line("gw").unwrap_or_else(|| panic!("no gw in {hosts}"));
    assert!(gateway.parse::<std::net::Ipv4Addr>().is_ok(), "{hosts}");
    assert_eq!(
        sh("cat /proc/sys/net/ipv4/ip_unprivileged_port_start"),
        "1000"
    );
    assert_eq!(
        sh("grep nameserver /etc/resolv.conf"),
        "nameserver 10.0.0.53"
    );
    let shm = sh("grep ' /dev/shm ' /proc/mounts");
    assert!(shm.contains("size=131072k"), "{shm}");
    assert_eq!(
        sh("stat -c %t,%T /dev/mynull"),
        "1,3",
        "the host's /dev/null"
    );
    p.down();
}
