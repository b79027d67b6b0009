//! Root-only: Prometheus metrics. Debian's `prometheus` scrapes a project's
//! `/metrics` inside the test's network namespace and its HTTP API is
//! queried; OOM kills are detected, reported and counted; `rcorch metrics`
//! prints a plain container's series.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::project::Project;
use common::{wait_for, TestEnv};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const WAIT: Duration = Duration::from_secs(40);

/// Runs `cmd` in the network namespace of `pid`.
fn in_netns(pid: i32, cmd: &[&str]) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/proc/{pid}/ns/net")).args(cmd);
    c
}

/// Our own prometheus (temp config and storage), killed on drop.
struct Prometheus {
    child: Child,
    netns_pid: i32,
}

impl Prometheus {
    fn start(netns_pid: i32, dir: &Path, target: &str) -> Prometheus {
        let config = dir.join("prometheus.yml");
        fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: rcorch\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let log = fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = in_netns(netns_pid, &[PROMETHEUS])
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg("--web.listen-address=127.0.0.1:9090")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        Prometheus { child, netns_pid }
    }

    /// The instant vector `query` returns: each result's (labels, value).
    fn query(&self, query: &str) -> Vec<(serde_json::Value, f64)> {
        let out = in_netns(self.netns_pid, &["curl", "-sfG", "--max-time", "5"])
            .arg("--data-urlencode")
            .arg(format!("query={query}"))
            .arg("http://127.0.0.1:9090/api/v1/query")
            .output()
            .expect("run curl");
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
            return Vec::new();
        };
        v["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                let value = r["value"][1]
                    .as_str()
                    .unwrap_or("NaN")
                    .parse()
                    .unwrap_or(f64::NAN);
                (r["metric"].clone(), value)
            })
            .collect()
    }

    /// The sorted `name` labels of `query`'s series.
    fn names(&self, query: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .query(query)
            .iter()
            .filter_map(|(m, _)| m["name"].as_str().map(String::from))
            .collect();
        names.sort();
        names
    }

    fn value(&self, query: &str) -> Option<f64> {
        self.query(query).first().map(|(_, v)| *v)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SHOP: &str = r#"
x-rcorch-metrics: 127.0.0.1:9464
services:
  web:
    image: busybox
    command: ["sleep", "1000"]
    restart: always
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "true"]
      interval: 300ms
    deploy:
      replicas: 2
      resources:
        limits:
          memory: 64m
  hog:
    image: busybox
    # Doubles a string until the 16 MiB limit OOM-kills PID 1.
    command: ["sh", "-c", "sleep 1; x=a; while true; do x=$$x$$x; done"]
    restart: always
    deploy:
      resources:
        limits:
          memory: 16m
"#;

fn pid_of(env: &TestEnv, container: &str) -> i32 {
    env.inspect(container)["State"]["Pid"].as_i64().unwrap() as i32
}

#[test]
fn prometheus_scrapes_replicas_restarts_and_removals() {
    let Some(env) = TestEnv::new() else { return };
    if !Path::new(PROMETHEUS).exists() {
        panic!("{PROMETHEUS} missing: run scripts/deps.sh test");
    }
    let p = Project::new(&env, "shop", SHOP);
    p.up();
    let sup = p.supervisor_pid().expect("supervisor pid");
    let lo = in_netns(sup, &["ip", "link", "set", "lo", "up"])
        .status()
        .unwrap();
    assert!(lo.success());
    let prom = Prometheus::start(sup, &env.scratch, "127.0.0.1:9464");

    // Both replicas' CPU and memory series, with cAdvisor's compose labels.
    let web = "{container_label_com_docker_compose_project=\"shop\",\
               container_label_com_docker_compose_service=\"web\"}";
    let both = ["shop-web-1", "shop-web-2"];
    for family in [
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
    ] {
        let q = format!("{family}{web}");
        let ok = wait_for(WAIT, || prom.names(&q) == both);
        let log = fs::read_to_string(env.scratch.join("prometheus.log")).unwrap_or_default();
        assert!(ok, "{q}: {:?}\nprometheus log:\n{log}", prom.query(&q));
    }
    let limit = prom.value("container_spec_memory_limit_bytes{name=\"shop-web-1\"}");
    assert_eq!(limit, Some(64.0 * 1024.0 * 1024.0));
    assert_eq!(
        prom.value("rcorch_service_desired_replicas{service=\"web\"}"),
        Some(2.0)
    );
    // The supervisor's own timings are histograms Prometheus can query.
    for count in [
        "rcorch_supervisor_loop_duration_seconds_count{project=\"shop\"}",
        "rcorch_health_probe_duration_seconds_count{service=\"web\"}",
    ] {
        let seen = wait_for(WAIT, || prom.value(count).is_some_and(|v| v >= 1.0));
        assert!(seen, "{count}: {:?}", prom.query(count));
    }
    let median = "histogram_quantile(0.5, rcorch_health_probe_duration_seconds_bucket)";
    assert!(
        prom.value(median).is_some_and(|v| v > 0.0 && v <= 10.0),
        "{:?}",
        prom.query(median)
    );

    // A killed replica is restarted, and counted as an exit.
    let victim = p.running("web")[1].id.clone();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid_of(&env, &victim)),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let exit_restarts = "rcorch_service_restarts_total{service=\"web\",reason=\"exit\"}";
    assert!(
        wait_for(WAIT, || prom.value(exit_restarts) == Some(1.0)),
        "{:?}\n{:#?}",
        prom.query(exit_restarts),
        p.events()
    );
    // Its replacement's self-heal time is observed once.
    let heal = "rcorch_self_heal_duration_seconds_count{service=\"web\"}";
    assert!(
        wait_for(WAIT, || prom.value(heal) == Some(1.0)),
        "{:?}",
        prom.query(heal)
    );
    // The hog's OOM kills are counted as such.
    let oom = "rcorch_service_restarts_total{service=\"hog\",reason=\"oom\"}";
    assert!(
        wait_for(WAIT, || prom.value(oom).is_some_and(|v| v >= 1.0)),
        "{:?}\n{:#?}",
        prom.query(oom),
        p.events()
    );
    let kills = prom.value("rcorch_service_oom_kills_total{service=\"hog\"}");
    assert!(kills.is_some_and(|v| v >= 1.0), "{kills:?}");

    // Scaled down: the removed replica's series go stale, the other stays.
    assert_eq!(p.cmd("scale", &["web=1"]).code, 0);
    let q = format!("container_memory_working_set_bytes{web}");
    let gone = wait_for(WAIT, || prom.names(&q) == ["shop-web-1"]);
    assert!(gone, "{:?}", prom.query(&q));
}

/// Whether `/metrics` answers on `addr` in `pid`'s network namespace.
fn serves(pid: i32, addr: &str) -> bool {
    let url = format!("http://{addr}/metrics");
    in_netns(pid, &["curl", "-sf", "--max-time", "2", &url])
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"# HELP"))
}

#[test]
fn metrics_server_follows_each_up() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    command: [sleep, '1000']\n    stop_grace_period: 1s\n";
    let p = Project::new(&env, "mv", yaml);
    assert_eq!(p.cmd("up", &["-d", "--metrics", "127.0.0.1:9464"]).code, 0);
    let sup = p.supervisor_pid().expect("supervisor pid");
    assert!(in_netns(sup, &["ip", "link", "set", "lo", "up"])
        .status()
        .unwrap()
        .success());
    assert!(wait_for(WAIT, || serves(sup, "127.0.0.1:9464")));
    // The same address again is no conflict with our own supervisor.
    let again = p.cmd("up", &["-d", "--metrics", "127.0.0.1:9464"]);
    assert_eq!(again.code, 0, "{again:?}");
    // A new address moves the server; none stops it.
    assert_eq!(p.cmd("up", &["-d", "--metrics", "127.0.0.1:9465"]).code, 0);
    assert!(wait_for(WAIT, || serves(sup, "127.0.0.1:9465")
        && !serves(sup, "127.0.0.1:9464")));
    assert_eq!(p.cmd("up", &["-d"]).code, 0);
    assert!(wait_for(WAIT, || !serves(sup, "127.0.0.1:9465")));
    assert_eq!(
        p.supervisor_pid(),
        Some(sup),
        "the supervisor itself kept running"
    );
}

#[test]
fn metrics_address_in_use_or_malformed_fails_up_and_starts_nothing() {
    let Some(env) = TestEnv::new() else { return };
    let bad = Project::new(&env, "bad", "x-rcorch-metrics: localhost\nservices:\n  web:\n    image: busybox\n    command: [sleep, '100']\n");
    let out = bad.cmd("up", &["-d"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("invalid metrics address \"localhost\""),
        "{out:?}"
    );
    // --metrics overrides the file: still refused, one line naming the flag.
    let out = bad.cmd("up", &["-d", "--metrics", "1.2.3.4"]);
    assert!(out.stderr.contains("up --metrics"), "{out:?}");
    assert!(!bad.dir().exists(), "recorded: {out:?}");
    assert!(bad.replicas("web").is_empty());
    assert!(bad.supervisor_pid().is_none());
}

#[test]
fn oom_kill_is_an_event_and_a_restart_reason() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = SHOP.replace("x-rcorch-metrics: 127.0.0.1:9464\n", "");
    let p = Project::new(&env, "oomp", &yaml);
    p.up();
    let seen = wait_for(WAIT, || !p.events_of("hog-1", "restart").is_empty());
    let events = p.events();
    assert!(seen, "{events:#?}");
    let exited = p.events_of("hog-1", "exited");
    assert!(exited[0].ends_with("code 137 (OOMKilled)"), "{events:#?}");
    assert!(!p.events_of("hog-1", "oom").is_empty(), "{events:#?}");
    let restart = &p.events_of("hog-1", "restart")[0];
    assert!(restart.contains("reason oom"), "{events:#?}");
    // As `docker events --filter event=oom --format json` shows it.
    let out = env.rcorch(&[
        "events",
        "-p",
        "oomp",
        "--since",
        "0",
        "--until",
        "0s",
        "--filter",
        "event=oom",
        "--format",
        "json",
    ]);
    let first = out
        .stdout
        .lines()
        .next()
        .unwrap_or_else(|| panic!("{out:?}"));
    let m: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_eq!(
        (m["Type"].as_str(), m["Action"].as_str()),
        (Some("container"), Some("oom"))
    );
    assert_eq!(m["Actor"]["Attributes"]["name"], "oomp-hog-1", "{m}");
}

#[test]
fn metrics_command_prints_a_containers_series() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(
        &["--name", "m1", "-m", "48m", "-l", "tier=db"],
        &["sleep", "100"],
    );
    let out = env.rcorch(&["metrics"]);
    assert_eq!(out.code, 0, "{out:?}");
    let series = |family: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{family}{{")))
            .unwrap_or_else(|| panic!("no {family} in {}", out.stdout))
            .to_string()
    };
    let limit = series("container_spec_memory_limit_bytes");
    assert!(
        limit.ends_with(&format!(" {}", 48 * 1024 * 1024)),
        "{limit}"
    );
    assert!(limit.contains("name=\"m1\""), "{limit}");
    assert!(limit.contains("container_label_tier=\"db\""), "{limit}");
    assert!(
        limit.contains(&format!("id=\"/{}/{id}\"", env.cgroup_parent)),
        "{limit}"
    );
    assert!(out
        .stdout
        .contains("# TYPE container_cpu_usage_seconds_total counter"));
    let om = env.rcorch(&["metrics", "--format", "openmetrics"]);
    assert!(
        om.stdout
            .contains("# TYPE container_cpu_usage_seconds counter"),
        "{om:?}"
    );
    assert!(om.stdout.ends_with("# EOF\n"), "{om:?}");
}
