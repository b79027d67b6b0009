//! Root-only: SIGKILL at points swept through `pull`, `load`, `up -d` and a
//! project's supervisor. After each kill, `system check` reports the root
//! clean (or `--repair` makes it clean), the next command succeeds, and
//! once the object is removed nothing is left: containers, cgroups, mounts,
//! processes, links, nft rules, temporary files.
//!
//! Commands run in one network namespace of the test's own (not one per
//! command), so its links and rules can be counted, and a registry on its
//! loopback is reachable.

mod common;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

use common::registry::{self, Registry, REGISTRY};
use common::{wait_for, wait_timeout, Output, TestEnv};

const BIN: &str = env!("CARGO_BIN_EXE_rcorch");
const WAIT: Duration = Duration::from_secs(20);

/// A named network namespace, deleted on drop (with all it holds).
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("rcorch-sweep-{}-{}", std::process::id(), rand_suffix());
        ip(&["netns", "add", &name]);
        ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        Netns(name)
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn ip(args: &[&str]) {
    let ok = Command::new("ip").args(args).status().expect("run ip");
    assert!(ok.success(), "ip {args:?}");
}

/// A TestEnv whose commands all run in `ns`.
struct Sweep {
    env: TestEnv,
    ns: Netns,
}

impl Sweep {
    fn new() -> Option<Sweep> {
        Some(Sweep {
            env: TestEnv::new()?,
            ns: Netns::new(),
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.ns.path()))
            .args(["unshare", "--mount", "--propagation", "private", BIN])
            .arg("--root")
            .arg(&self.env.root)
            .arg("--cgroup-parent")
            .arg(&self.env.cgroup_parent)
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn rcorch(&self, args: &[&str]) -> Output {
        let n = rand_suffix();
        let (out, err) = (
            self.env.scratch.join(format!(".o{n}")),
            self.env.scratch.join(format!(".e{n}")),
        );
        let mut child = self
            .command(args)
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .expect("spawn rcorch");
        let code = wait_timeout(&mut child, Duration::from_secs(120)).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            -1
        });
        let read = |p: &Path| {
            let s = fs::read_to_string(p).unwrap_or_default();
            let _ = fs::remove_file(p);
            s
        };
        Output {
            code,
            stdout: read(&out),
            stderr: read(&err),
        }
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rcorch")
    }

    /// Starts `args` and SIGKILLs it after `ms` (or once it ended);
    /// returns its pid.
    fn kill_after(&self, args: &[&str], ms: u64) -> u32 {
        let mut child = self.spawn(args);
        sleep(Duration::from_millis(ms));
        let _ = child.kill();
        let _ = child.wait();
        child.id()
    }

    /// `system check` is clean, or `--repair` makes it so.
    #[track_caller]
    fn assert_checks_clean(&self, what: &str) {
        let check = self.rcorch(&["system", "check"]);
        if check.code == 0 {
            return;
        }
        let repair = self.rcorch(&["system", "check", "--repair"]);
        assert_eq!(
            repair.code, 0,
            "{what}: check {check:#?}\nrepair {repair:#?}"
        );
        let again = self.rcorch(&["system", "check"]);
        assert_eq!(again.code, 0, "{what}: after repair {again:#?}");
    }

    /// Links (but lo) and nft rules in the namespace.
    /// The namespace's links and rules once no container's host veth is
    /// left: an exited container's namespace dies asynchronously, taking
    /// its veth a moment after `run --rm` returns.
    fn network_state(&self) -> Vec<String> {
        let is_veth = |l: &String| {
            l.strip_prefix("link rc")
                .and_then(|n| n.split('@').next())
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        wait_for(WAIT, || !self.raw_network_state().iter().any(is_veth));
        self.raw_network_state()
    }

    fn raw_network_state(&self) -> Vec<String> {
        let run = |prog: &str, args: &[&str]| {
            let out = Command::new("nsenter")
                .arg(format!("--net={}", self.ns.path()))
                .arg(prog)
                .args(args)
                .output()
                .expect("nsenter");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let mut found: Vec<String> = run("ip", &["-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(':').nth(1).map(|n| n.trim().to_string()))
            .filter(|n| n != "lo")
            .map(|n| format!("link {n}"))
            .collect();
        found.extend(
            run("nft", &["list", "ruleset"])
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("table") && *l != "}")
                .filter(|l| !l.starts_with("chain") && !l.starts_with("type "))
                .map(|l| format!("nft {l}")),
        );
        found
    }

    /// Temporary files under the root (of atomic writes, blobs, staging).
    fn temporaries(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut dirs = vec![self.env.root.clone()];
        while let Some(d) = dirs.pop() {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let path = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) && !is_rootfs(&path) {
                    dirs.push(path.clone());
                }
                if name.contains(".tmp") || name.starts_with(".staging") || name.contains(".del-") {
                    found.push(path.display().to_string());
                }
            }
        }
        found
    }

    /// Nothing of this root is left but its records.
    #[track_caller]
    fn assert_nothing_left(&self, what: &str, network_before: &[String]) {
        let clean = wait_for(WAIT, || self.env.leftovers().is_empty());
        assert!(clean, "{what}: {:#?}", self.env.leftovers());
        wait_for(WAIT, || self.network_state() == network_before);
        assert_eq!(self.network_state(), network_before, "{what}");
        assert_eq!(self.temporaries(), Vec::<String>::new(), "{what}");
    }
}

/// Image layers and container rootfs trees: not the root's own files.
fn is_rootfs(path: &Path) -> bool {
    path.parent()
        .and_then(Path::file_name)
        .is_some_and(|p| p == "layers" || p == "rootfs")
}

impl Drop for Sweep {
    fn drop(&mut self) {
        // Inside the namespace, so links and rules go with the containers.
        common::project::kill_supervisors(&self.env.root);
        let ids = self.rcorch(&["ps", "-aq"]).stdout;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            self.rcorch(&args);
        }
    }
}

fn start_registry(sweep: &Sweep) -> Registry {
    // A port free on the host is as good as any in a fresh namespace.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let config = registry::write_config(&sweep.env.scratch, &addr);
    let child = Command::new("nsenter")
        .arg(format!("--net={}", sweep.ns.path()))
        .arg(REGISTRY)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let registry = Registry { child, addr };
    let up = wait_for(Duration::from_secs(10), || {
        let probe = sweep.rcorch(&["pull", "--insecure", &format!("{}/none:x", registry.addr)]);
        // Any answer from the registry, even "not found", means it listens.
        !probe.stderr.contains("error sending request")
    });
    assert!(up, "registry did not start");
    registry
}

/// Delays covering a short command from its start to its end (debug build).
const SHORT: &[u64] = &[0, 5, 10, 20, 35, 50, 80, 120, 200, 350];

#[test]
fn pull_killed_at_any_point_leaves_a_root_the_next_pull_completes() {
    if !Path::new(REGISTRY).exists() {
        eprintln!("skipped: {REGISTRY} missing (apt-get install docker-registry)");
        return;
    }
    let Some(sweep) = Sweep::new() else { return };
    let registry = start_registry(&sweep);
    let remote = format!("{}/sweep/busybox:1", registry.addr);
    sweep.rcorch(&["tag", "busybox:latest", &remote]).ok();
    sweep.rcorch(&["push", "--insecure", &remote]).ok();
    // The default bridge `run` makes stays, as docker0 does.
    sweep.rcorch(&["run", "--rm", "busybox", "true"]).ok();
    let network = sweep.network_state();
    sweep.rcorch(&["rmi", &remote, "busybox:latest"]).ok();
    for &ms in SHORT {
        let what = format!("pull killed after {ms} ms");
        sweep.kill_after(&["pull", "--insecure", &remote], ms);
        sweep.assert_checks_clean(&what);
        let pulled = sweep.rcorch(&["pull", "--insecure", &remote]);
        assert_eq!(pulled.code, 0, "{what}: {pulled:#?}");
        let ran = sweep.rcorch(&["run", "--rm", &remote, "true"]);
        assert_eq!(ran.code, 0, "{what}: {ran:#?}");
        sweep.rcorch(&["rmi", &remote]).ok();
        assert_eq!(sweep.rcorch(&["images", "-q"]).ok(), "", "{what}");
        sweep.assert_nothing_left(&what, &network);
    }
}

#[test]
fn load_killed_at_any_point_leaves_a_root_the_next_load_completes() {
    let Some(sweep) = Sweep::new() else { return };
    let archive = sweep.env.scratch.join("busybox-saved.tar");
    let archive = archive.to_str().unwrap();
    sweep
        .rcorch(&["save", "-o", archive, "busybox:latest"])
        .ok();
    sweep.rcorch(&["run", "--rm", "busybox", "true"]).ok();
    let network = sweep.network_state();
    sweep.rcorch(&["rmi", "busybox:latest"]).ok();
    for &ms in SHORT {
        let what = format!("load killed after {ms} ms");
        sweep.kill_after(&["load", "-i", archive], ms);
        sweep.assert_checks_clean(&what);
        let loaded = sweep.rcorch(&["load", "-i", archive]);
        assert_eq!(loaded.code, 0, "{what}: {loaded:#?}");
        let ran = sweep.rcorch(&["run", "--rm", "busybox", "true"]);
        assert_eq!(ran.code, 0, "{what}: {ran:#?}");
        sweep.rcorch(&["rmi", "busybox:latest"]).ok();
        assert_eq!(sweep.rcorch(&["images", "-q"]).ok(), "", "{what}");
        sweep.assert_nothing_left(&what, &network);
    }
}

fn write_project(sweep: &Sweep, name: &str, yaml: &str) -> PathBuf {
    let dir = sweep.env.scratch.join(name);
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("compose.yaml");
    fs::write(&file, yaml).unwrap();
    file
}

const WEB: &str = r#"
services:
  web:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 1s
    ports: ["8080:80"]
"#;

#[test]
fn up_killed_at_any_point_leaves_a_project_the_next_up_completes() {
    let Some(sweep) = Sweep::new() else { return };
    let file = write_project(&sweep, "sweep", WEB);
    let file = file.to_str().unwrap();
    let up = [
        "up",
        "-d",
        "-f",
        file,
        "-p",
        "sweep",
        "--wait-timeout",
        "60",
    ];
    let network = sweep.network_state();
    for ms in [0, 20, 50, 100, 200, 350, 600, 1000] {
        let what = format!("up -d killed after {ms} ms");
        sweep.kill_after(&up, ms);
        sweep.assert_checks_clean(&what);
        let again = sweep.rcorch(&up);
        assert_eq!(again.code, 0, "{what}: {again:#?}");
        let ps = sweep.rcorch(&["ps", "-q"]).ok();
        assert_eq!(ps.lines().count(), 1, "{what}: one replica running: {ps}");
        let down = sweep.rcorch(&["down", "-f", file, "-p", "sweep"]);
        assert_eq!(down.code, 0, "{what}: {down:#?}");
        assert_eq!(sweep.rcorch(&["ps", "-aq"]).ok(), "", "{what}");
        sweep.assert_nothing_left(&what, &network);
    }
}

/// Replicas probed every 100 ms behind a published port: the supervisor
/// writes their health and the balancer's state all the time.
const BUSY: &str = r#"
services:
  web:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 1s
    ports: ["8081:80"]
    deploy:
      replicas: 2
    healthcheck:
      test: ["CMD", "true"]
      interval: 100ms
      timeout: 2s
      retries: 2
"#;

/// Every JSON record of the project parses (none is torn).
#[track_caller]
fn assert_records_whole(dir: &Path, what: &str) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "json") {
            let bytes = fs::read(&path).unwrap_or_default();
            let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&bytes);
            assert!(parsed.is_ok(), "{what}: {} is torn", path.display());
        }
    }
}

#[test]
fn a_supervisor_killed_while_it_writes_its_records_is_replaced_cleanly() {
    let Some(sweep) = Sweep::new() else { return };
    let file = write_project(&sweep, "busy", BUSY);
    let file = file.to_str().unwrap();
    let up = ["up", "-d", "-f", file, "-p", "busy", "--wait-timeout", "60"];
    let network = sweep.network_state();
    let dir = sweep.env.root.join("projects/busy");
    sweep.rcorch(&up).ok();
    for ms in [0, 10, 20, 30, 45, 60, 80, 100, 130, 170, 210, 250, 300, 400] {
        let what = format!("supervisor killed {ms} ms after its start");
        let pid = fs::read_to_string(dir.join("supervisor.pid")).unwrap_or_default();
        let pid: i32 = pid.trim().parse().expect("supervisor.pid");
        sleep(Duration::from_millis(ms));
        // What a kill between a write's create and its rename leaves, so
        // the check does not depend on a kill landing in that window.
        fs::write(dir.join(format!(".balancer.json.tmp{pid}")), "{\"hal").unwrap();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        assert!(wait_for(WAIT, || !common::pid_alive(pid)), "{what}");
        assert_records_whole(&dir, &what);
        sweep.assert_checks_clean(&what);
        let again = sweep.rcorch(&up);
        assert_eq!(again.code, 0, "{what}: {again:#?}");
        let ps = sweep.rcorch(&["ps", "-a"]).ok();
        assert!(ps.contains("busy-web-1"), "{what}: {ps}");
        // The next supervisor writes its pid once it has swept.
        let replaced = wait_for(WAIT, || {
            let now = fs::read_to_string(dir.join("supervisor.pid")).unwrap_or_default();
            now.trim()
                .parse::<i32>()
                .is_ok_and(|p| p != pid && common::pid_alive(p))
        });
        assert!(replaced, "{what}: no new supervisor");
        let temps: Vec<String> = sweep
            .temporaries()
            .into_iter()
            .filter(|t| t.ends_with(&format!(".tmp{pid}")))
            .collect();
        assert_eq!(temps, Vec::<String>::new(), "{what}: the dead one's");
    }
    let down = sweep.rcorch(&["down", "-f", file, "-p", "busy"]);
    assert_eq!(down.code, 0, "{down:#?}");
    sweep.assert_nothing_left("after down", &network);
}

/// One sweep of `create`: after each kill the check is clean, `list`
/// shows `name` or not, what is there is removed by `remove`, and
/// `create` then `remove` succeed; nothing is left.
/// `records`: where `create` writes its record, to leave there what a kill
/// between the write's create and its rename leaves, whatever the timing.
fn sweep_command(
    sweep: &Sweep,
    create: &[&str],
    (list, name): (&[&str], &str),
    remove: &[&str],
    records: Option<&str>,
) {
    let network = sweep.network_state();
    let ok = |what: &str, args: &[&str]| {
        let out = sweep.rcorch(args);
        assert_eq!(out.code, 0, "{what}, then {args:?}: {out:#?}");
        out.stdout
    };
    for &ms in SHORT {
        let what = format!("{create:?} killed after {ms} ms");
        let pid = sweep.kill_after(create, ms);
        if let Some(dir) = records {
            let dir = sweep.env.root.join(dir);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join(format!(".{name}.json.tmp{pid}")), "{\"hal").unwrap();
        }
        sweep.assert_checks_clean(&what);
        if ok(&what, list).split_whitespace().any(|w| w == name) {
            ok(&what, remove);
        }
        ok(&what, create);
        ok(&what, remove);
        sweep.assert_nothing_left(&what, &network);
    }
}

#[test]
fn network_and_volume_create_killed_at_any_point_leave_nothing() {
    let Some(sweep) = Sweep::new() else { return };
    let (net, vol) = ("sweepnet", "sweepvol");
    let ls = ["network", "ls", "--format", "{{.Name}}"];
    let create = ["network", "create", net];
    let records = Some("networks/records");
    sweep_command(
        &sweep,
        &create,
        (&ls, net),
        &["network", "rm", net],
        records,
    );
    let ls = ["volume", "ls", "-q"];
    let create = ["volume", "create", vol];
    sweep_command(&sweep, &create, (&ls, vol), &["volume", "rm", vol], None);
}

#[test]
fn import_and_run_killed_at_any_point_leave_nothing() {
    let Some(sweep) = Sweep::new() else { return };
    sweep.rcorch(&["run", "--rm", "busybox", "true"]).ok();
    let tar = common::busybox_tar().to_str().unwrap();
    let ls = ["images", "--format", "{{.Repository}}:{{.Tag}}"];
    let import = ["import", tar, "swept:1"];
    let records = Some("images/records");
    sweep_command(
        &sweep,
        &import,
        (&ls, "swept:1"),
        &["rmi", "swept:1"],
        records,
    );
    let ls = ["ps", "-a", "--format", "{{.Names}}"];
    let run = [
        "run", "-d", "--name", "swept", "-p", "8082:80", "busybox", "sleep", "300",
    ];
    sweep_command(&sweep, &run, (&ls, "swept"), &["rm", "-f", "swept"], None);
}

#[test]
fn a_monitor_killed_at_any_point_leaves_a_container_the_next_command_finishes() {
    let Some(sweep) = Sweep::new() else { return };
    sweep.rcorch(&["run", "--rm", "busybox", "true"]).ok();
    let network = sweep.network_state();
    for ms in [0, 20, 50, 100, 200, 400] {
        let what = format!("monitor killed {ms} ms after run -d");
        let run = ["run", "-d", "-p", "8083:80", "busybox", "sleep", "300"];
        let id = sweep.rcorch(&run).ok();
        let inspect = sweep.rcorch(&["inspect", &id]).ok();
        let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
        let monitor = v[0]["State"]["MonitorPid"].as_i64().expect("MonitorPid") as i32;
        sleep(Duration::from_millis(ms));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(monitor),
            nix::sys::signal::Signal::SIGKILL,
        );
        assert!(wait_for(WAIT, || !common::pid_alive(monitor)), "{what}");
        // As a kill between a state write's create and rename leaves it.
        let dir = sweep.env.root.join("containers").join(&id);
        fs::write(dir.join(format!(".state.json.tmp{monitor}")), "{\"hal").unwrap();
        let ps = sweep.rcorch(&["ps", "-a"]).ok();
        assert!(!ps.contains(" Up "), "{what}: {ps}");
        assert_eq!(sweep.temporaries(), Vec::<String>::new(), "{what}");
        sweep.assert_checks_clean(&what);
        sweep.rcorch(&["rm", "-f", &id]).ok();
        sweep.assert_nothing_left(&what, &network);
    }
}
