//! Root-only: generated units pass `systemd-analyze verify`, and the
//! supervisor speaks sd_notify (READY=1, WATCHDOG=1) to a socket we bind.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::project::Project;
use common::{pid_alive, wait_timeout, TestEnv};

const YAML: &str = r#"
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
fn generated_unit_verifies() {
    let Some(env) = TestEnv::new() else { return };
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: systemd-analyze missing");
        return;
    }
    let p = Project::new(&env, "unit", YAML);
    let out_dir = env.scratch.join("units");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out_s = out_dir.to_str().unwrap();
    for extra in [&[][..], &["--watchdog", "10"][..]] {
        let mut args = vec![
            "systemd",
            "generate",
            "-f",
            p.file_str(),
            "--output-dir",
            out_s,
        ];
        args.extend_from_slice(extra);
        env.rcorch(&args).ok();
        let unit = out_dir.join("rcorch-unit.service");
        let text = std::fs::read_to_string(&unit).expect("unit written");
        assert!(text.contains("Type=notify"), "{text}");
        assert!(text.contains("Restart=always"), "{text}");
        assert!(text.contains("supervise unit"), "{text}");
        assert!(text.contains("ExecStop="), "{text}");
        if !extra.is_empty() {
            assert!(text.contains("WatchdogSec=10"), "{text}");
        }
        let v = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&unit)
            .output()
            .expect("run systemd-analyze");
        assert!(
            v.status.success() && v.stderr.is_empty(),
            "systemd-analyze verify: {}\n{}\n{text}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
    }
}

/// Messages received on `sock` until `until` returns true or `timeout`.
fn receive_until(
    sock: &UnixDatagram,
    timeout: Duration,
    mut until: impl FnMut(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !until(&got) {
        if let Ok(n) = sock.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            got.extend(text.lines().map(str::to_string));
        }
    }
    got
}

/// Stops the supervisor with SIGTERM (as systemd does) on drop.
struct Supervise(Child);

impl Drop for Supervise {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        if wait_timeout(&mut self.0, Duration::from_secs(10)).is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start(env: &TestEnv, p: &Project, envs: &[(&str, &str)]) -> Supervise {
    Supervise(env.spawn_env(&["supervise", &p.name, "--file", p.file_str()], envs))
}

#[test]
fn ready_after_replicas_run_and_clean_sigterm() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "notify", YAML);
    let sock_path = env.scratch.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut sup = start(&env, &p, &[("NOTIFY_SOCKET", sock_path.to_str().unwrap())]);
    let got = receive_until(&sock, Duration::from_secs(30), |m| {
        m.iter().any(|l| l == "READY=1")
    });
    let running = p.running("web").len();
    assert!(
        got.iter().any(|l| l == "READY=1"),
        "no READY=1: {got:?}\n{:#?}",
        p.events()
    );
    assert_eq!(
        running,
        3,
        "READY=1 before all replicas ran: {:#?}",
        p.replicas("web")
    );
    // No watchdog asked for, none sent.
    let more = receive_until(&sock, Duration::from_millis(500), |_| false);
    assert!(!more.iter().any(|l| l == "WATCHDOG=1"), "{more:?}");

    // SIGTERM: the supervisor exits cleanly; containers stay for adoption.
    let pid = sup.0.id() as i32;
    let ids: Vec<String> = p.running("web").into_iter().map(|r| r.id).collect();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let code = wait_timeout(&mut sup.0, Duration::from_secs(10));
    assert_eq!(code, Some(0), "supervisor did not exit 0 on SIGTERM");
    assert!(!pid_alive(pid));
    let after: Vec<String> = p.running("web").into_iter().map(|r| r.id).collect();
    assert_eq!(after, ids);
    let down = p.down();
    assert_eq!(down.code, 0, "{down:#?}");
    assert!(p.replicas("web").is_empty());
}

#[test]
fn watchdog_pings_keep_coming() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "dog", YAML);
    let sock_path = env.scratch.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let _sup = start(
        &env,
        &p,
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let got = receive_until(&sock, Duration::from_secs(30), |m| {
        m.iter().any(|l| l == "READY=1")
    });
    assert!(got.iter().any(|l| l == "READY=1"), "no READY=1: {got:?}");
    // Every 100 ms (half of 200 ms) while idle: expect well over 5 in 1.5 s,
    // in each of two windows (so they keep coming, not a burst at start).
    for window in 0..2 {
        let t0 = Instant::now();
        let msgs = receive_until(&sock, Duration::from_millis(1500), |_| false);
        let pings = msgs.iter().filter(|l| *l == "WATCHDOG=1").count();
        assert!(
            pings >= 5,
            "window {window}: {pings} WATCHDOG=1 in {:?}: {msgs:?}",
            t0.elapsed()
        );
    }
}
