//! Root-only, pure cgroup v2 only (skips elsewhere; scripts/v2-guest.sh runs
//! it in a guest): how rcorch delegates controllers where the layout is not
//! the plain host root — inside a cgroup namespace whose root holds
//! processes (rcorch in a container or CI runner), without the cpu
//! controller delegated, under a --cgroup-parent that holds a process.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::Duration;

use common::{Output, TestEnv};

const BIN: &str = env!("CARGO_BIN_EXE_rcorch");
const CGROUP_FS: &str = "/sys/fs/cgroup";
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Whether /sys/fs/cgroup is one cgroup2 hierarchy (no v1 controllers).
fn pure_v2() -> bool {
    let unified = Path::new(CGROUP_FS).join("cgroup.controllers").exists();
    if !unified {
        eprintln!("skipping: not a pure cgroup v2 host (scripts/v2-guest.sh runs this)");
    }
    unified
}

/// A cgroup directly under the host's root, removed with everything in it.
struct TestCgroup {
    path: PathBuf,
    sleeper: Option<Child>,
}

impl TestCgroup {
    fn new(subtree_control: &str) -> TestCgroup {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = Path::new(CGROUP_FS).join(format!("rcorch-v2t-{}-{n}", std::process::id()));
        // The host root delegates to its children what the tests need.
        fs::write(
            Path::new(CGROUP_FS).join("cgroup.subtree_control"),
            "+memory +pids +cpu",
        )
        .expect("enable controllers at the root");
        fs::create_dir(&path).expect("create test cgroup");
        if !subtree_control.is_empty() {
            fs::write(path.join("cgroup.subtree_control"), subtree_control)
                .expect("write subtree_control");
        }
        TestCgroup {
            path,
            sleeper: None,
        }
    }

    /// Puts a long sleep into `dir` (this cgroup or one below it).
    fn hold_process(&mut self, dir: &Path) -> i32 {
        let child = Command::new("sleep")
            .arg("300")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        fs::write(dir.join("cgroup.procs"), pid.to_string()).expect("move sleep");
        self.sleeper = Some(child);
        pid
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Some(child) = self.sleeper.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        remove_tree(&self.path);
    }
}

fn remove_tree(dir: &Path) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            remove_tree(&entry.path());
        }
    }
    let _ = fs::write(dir.join("cgroup.kill"), "1");
    for _ in 0..100 {
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        sleep(Duration::from_millis(20));
    }
}

/// Runs `script` (sh) in a new cgroup namespace rooted at `ns_root`, with
/// /sys/fs/cgroup remounted so the script sees that namespace's view, in
/// private mount and network namespaces. `$RCORCH` runs rcorch on `env`'s
/// root with the cgroup parent "rcorch" (inside the namespace).
fn in_cgroup_namespace(env: &TestEnv, ns_root: &Path, script: &str) -> Output {
    // The inherited mount shows the whole tree: replace it with this namespace's.
    let inner =
        format!("umount -l {CGROUP_FS} && mount -t cgroup2 cgroup2 {CGROUP_FS} && {script}");
    let outer = format!(
        "echo $$ > {}/cgroup.procs && exec unshare --cgroup --mount --net --propagation private sh -c '{}'",
        ns_root.display(),
        inner.replace('\'', r"'\''")
    );
    let rcorch = format!("{BIN} --root {} --cgroup-parent rcorch", env.root.display());
    // busybox's sh would run its own unshare applet, which lacks --cgroup.
    let outer = outer.replacen("exec unshare", &format!("exec {}", util_linux_unshare()), 1);
    let out = Command::new("sh")
        .arg("-c")
        .arg(outer)
        .env("RCORCH", rcorch)
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// util-linux's unshare, found on PATH.
fn util_linux_unshare() -> String {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| Path::new(dir).join("unshare"))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "unshare".to_string())
}

#[test]
fn runs_with_limits_in_a_cgroup_namespace_whose_root_holds_processes() {
    let Some(env) = TestEnv::new() else { return };
    if !pure_v2() {
        return;
    }
    let cg = TestCgroup::new("");
    // The shell and rcorch itself live in the namespace's root: it cannot
    // delegate until rcorch moves them into a leaf, as docker-in-docker does.
    let out = in_cgroup_namespace(
        &env,
        &cg.path,
        "$RCORCH run --rm --network none -m 64m --pids-limit 50 busybox \
         cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max",
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["67108864", "50"]
    );
    let leaf = fs::read_to_string(cg.path.join("init/cgroup.procs")).unwrap_or_default();
    assert!(
        leaf.trim().is_empty(),
        "the evacuation leaf exists and emptied: {leaf:?}"
    );
    assert!(
        cg.path.join("init").is_dir(),
        "processes were moved to init/"
    );
}

#[test]
fn runs_with_limits_from_a_leaf_of_a_cgroup_namespace() {
    let Some(env) = TestEnv::new() else { return };
    if !pure_v2() {
        return;
    }
    let cg = TestCgroup::new("");
    let out = in_cgroup_namespace(
        &env,
        &cg.path,
        "mkdir /sys/fs/cgroup/leaf && echo $$ > /sys/fs/cgroup/leaf/cgroup.procs && \
         $RCORCH run --rm --network none -m 64m busybox cat /sys/fs/cgroup/memory.max",
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(out.stdout.trim(), "67108864");
    assert!(
        !cg.path.join("init").exists(),
        "nothing to evacuate from an empty root"
    );
}

#[test]
fn without_cpu_delegated_only_a_cpu_limit_fails_and_says_why() {
    let Some(env) = TestEnv::new() else { return };
    if !pure_v2() {
        return;
    }
    // The namespace's root (child of cg) is offered memory and pids, not cpu.
    let cg = TestCgroup::new("+memory +pids");
    let ns_root = cg.path.join("ns");
    fs::create_dir(&ns_root).unwrap();
    let out = in_cgroup_namespace(
        &env,
        &ns_root,
        "$RCORCH run --rm --network none -m 64m busybox cat /sys/fs/cgroup/memory.max",
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(out.stdout.trim(), "67108864");

    // A fresh namespace root: the first one now delegates, so it cannot take
    // a process any more.
    let ns_root = cg.path.join("ns2");
    fs::create_dir(&ns_root).unwrap();
    let out = in_cgroup_namespace(
        &env,
        &ns_root,
        "$RCORCH run --rm --network none --cpus 0.5 busybox true",
    );
    assert_eq!(out.code, 125, "{out:#?}");
    assert!(
        out.stderr.contains("controller cpu") && out.stderr.contains("cgroup.subtree_control"),
        "{out:#?}"
    );
}

/// `run --rm --network none ARGS...` on `env` under the cgroup parent `parent`.
fn run_under_parent(env: &TestEnv, parent: &str, args: &[&str]) -> std::process::Output {
    Command::new("unshare")
        .args([
            "--net",
            "--mount",
            "--propagation",
            "private",
            BIN,
            "--root",
        ])
        .arg(&env.root)
        .args([
            "--cgroup-parent",
            parent,
            "run",
            "--rm",
            "--network",
            "none",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rcorch")
}

#[test]
fn a_cgroup_parent_that_holds_a_process_gets_a_clear_error() {
    let Some(env) = TestEnv::new() else { return };
    if !pure_v2() {
        return;
    }
    let mut cg = TestCgroup::new("");
    let path = cg.path.clone();
    let pid = cg.hold_process(&path);
    let parent = path.file_name().unwrap().to_str().unwrap().to_string();
    let out = run_under_parent(&env, &parent, &["-m", "64m", "busybox", "true"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(
        stderr.contains("holds processes") && stderr.contains(&pid.to_string()),
        "{stderr}"
    );
    // Nothing of the container is left in the parent.
    let children: Vec<_> = fs::read_dir(&path)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(children.is_empty(), "{children:?}");

    // Without limits the container runs: no controller is required there.
    let out = run_under_parent(&env, &parent, &["busybox", "echo", "ran"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ran");
}

#[test]
fn run_d_then_rm_f_leaves_no_cgroup_and_limits_show_on_the_host() {
    let Some(env) = TestEnv::new() else { return };
    if !pure_v2() {
        return;
    }
    let id = env.run_detached(
        &[
            "--network",
            "none",
            "-m",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "30",
        ],
        &["sleep", "300"],
    );
    let dir = Path::new(CGROUP_FS).join(&env.cgroup_parent).join(&id);
    assert_eq!(
        fs::read_to_string(dir.join("memory.max")).unwrap().trim(),
        "67108864"
    );
    assert_eq!(
        fs::read_to_string(dir.join("cpu.max")).unwrap().trim(),
        "50000 100000"
    );
    assert_eq!(
        fs::read_to_string(dir.join("pids.max")).unwrap().trim(),
        "30"
    );
    let stats = env
        .rcorch(&["stats", "--no-stream", "--format", "json", &id])
        .ok();
    let rows: serde_json::Value = serde_json::from_str(&stats).expect("stats JSON");
    assert_eq!(
        rows[0]["MemLimit"],
        serde_json::json!(67108864u64),
        "{stats}"
    );
    assert!(rows[0]["PIDs"].as_u64().unwrap_or(0) >= 1, "{stats}");
    env.rcorch(&["rm", "-f", &id]).ok();
    assert!(!dir.exists(), "{} left behind", dir.display());
}
