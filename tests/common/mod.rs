//! Shared harness for the root-only integration tests: a private rcorch
//! instance (root dir + cgroup parent) with busybox imported, a runner for the
//! real binary, and a census of what an instance leaves behind.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long one rcorch invocation may take before the harness kills it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

mod census;
pub mod netns;
pub mod podman;
pub mod project;
pub mod registry;
pub mod volumes;

#[allow(unused_imports)] // Not every test binary needs it.
pub use census::pid_alive;
use census::{mounts_mentioning, own_mounts_under, processes_mentioning};

const BIN: &str = env!("CARGO_BIN_EXE_rcorch");
const CGROUP_FS: &str = "/sys/fs/cgroup";

static COUNTER: AtomicUsize = AtomicUsize::new(0);
static BUSYBOX_TAR: OnceLock<PathBuf> = OnceLock::new();

/// Result of one rcorch invocation.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code; 128+N when killed by signal N (e.g. by the timeout).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Asserts exit 0 and returns stdout with surrounding whitespace trimmed.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(self.code, 0, "expected success, got {self:#?}");
        self.stdout.trim().to_string()
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The busybox rootfs tarball: $RCORCH_TEST_BUSYBOX_TAR, else built once per
/// test process with rootfs-tools/busybox.sh into cargo's test tmp dir.
pub fn busybox_tar() -> &'static Path {
    BUSYBOX_TAR.get_or_init(|| {
        if let Some(p) = std::env::var_os("RCORCH_TEST_BUSYBOX_TAR") {
            return PathBuf::from(p);
        }
        // The script caches by content key and replaces its output
        // atomically, so reruns are cheap and readers never see half a file.
        let dst = Path::new(env!("CARGO_TARGET_TMPDIR")).join("busybox.tar");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-tools/busybox.sh");
        let out = Command::new(&script)
            .arg("--output")
            .arg(&dst)
            .stdin(Stdio::null())
            .output()
            .expect("run rootfs-tools/busybox.sh");
        assert!(
            out.status.success(),
            "busybox.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dst
    })
}

/// A private rcorch instance. Dropping it removes every container, the
/// cgroup parent and the root dir, best effort.
pub struct TestEnv {
    pub root: PathBuf,
    pub cgroup_parent: String,
    /// Scratch space for tests (bind sources, env files), outside `root`.
    pub scratch: PathBuf,
    tmp: Option<tempfile::TempDir>,
}

impl TestEnv {
    /// A fresh instance with busybox:latest imported; `None` (after printing
    /// a skip message) when not running as root.
    pub fn new() -> Option<TestEnv> {
        let env = TestEnv::bare()?;
        let tar = busybox_tar().to_str().expect("utf-8 tarball path");
        env.rcorch(&["import", tar, "busybox:latest"]).ok();
        Some(env)
    }

    /// A private instance whose root does not exist yet (nothing imported).
    pub fn bare() -> Option<TestEnv> {
        if !is_root() {
            eprintln!("skipping: this test needs root");
            return None;
        }
        // /var/tmp is usually a real disk fs (overlayfs rejects tmpfs-less
        // exotic uppers such as another overlay); fall back to /tmp.
        let base = ["/var/tmp", "/tmp"]
            .into_iter()
            .find(|d| Path::new(d).is_dir())
            .expect("no /var/tmp or /tmp");
        let tmp = tempfile::Builder::new()
            .prefix("rcorch-test-")
            .tempdir_in(base)
            .expect("create temp root");
        let root = tmp.path().join("root");
        let scratch = tmp.path().join("scratch");
        fs::create_dir_all(&scratch).expect("create scratch dir");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        Some(TestEnv {
            root,
            cgroup_parent: format!("rcorch-test-{}-{n}", std::process::id()),
            scratch,
            tmp: Some(tmp),
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        // Private net+mount namespaces: nothing a container does with mounts
        // or network can reach the host running the tests.
        let mut cmd = Command::new("unshare");
        cmd.args(["--net", "--mount", "--propagation", "private", BIN])
            .arg("--root")
            .arg(&self.root)
            .arg("--cgroup-parent")
            .arg(&self.cgroup_parent)
            .args(args);
        cmd
    }

    /// Runs rcorch with stdin from /dev/null.
    pub fn rcorch(&self, args: &[&str]) -> Output {
        self.run(args, None, DEFAULT_TIMEOUT)
    }

    /// Runs rcorch with `input` on stdin.
    pub fn rcorch_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        self.run(args, Some(input), DEFAULT_TIMEOUT)
    }

    /// Runs rcorch, killing it after `timeout`.
    pub fn rcorch_timeout(&self, args: &[&str], timeout: Duration) -> Output {
        self.run(args, None, timeout)
    }

    /// Starts rcorch without waiting (stdin/stdout/stderr null). `unshare`
    /// execs the binary, so the child's pid is rcorch's.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rcorch")
    }

    /// Like `spawn`, with extra environment variables for rcorch.
    pub fn spawn_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Child {
        self.command(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rcorch")
    }

    /// Starts rcorch without waiting, its stdout and stderr going to
    /// `out` (the caller signals it and reads the file after).
    pub fn spawn_to(&self, args: &[&str], out: &Path) -> Child {
        let file = fs::File::create(out).expect("create output file");
        let err = file.try_clone().expect("dup output file");
        self.command(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .expect("spawn rcorch")
    }

    /// Runs rcorch with `dir` as its working directory (default files, `.env`).
    pub fn rcorch_in(&self, dir: &Path, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        cmd.current_dir(dir);
        self.run_cmd(cmd, args, None, DEFAULT_TIMEOUT)
    }

    fn run(&self, args: &[&str], input: Option<&[u8]>, timeout: Duration) -> Output {
        self.run_cmd(self.command(args), args, input, timeout)
    }

    fn run_cmd(
        &self,
        mut cmd: Command,
        args: &[&str],
        input: Option<&[u8]>,
        timeout: Duration,
    ) -> Output {
        // Output goes to files, not pipes: a detached monitor that keeps an
        // inherited pipe open would otherwise block the reader forever.
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let out_path = self.scratch.join(format!(".out-{n}"));
        let err_path = self.scratch.join(format!(".err-{n}"));
        let out_file = fs::File::create(&out_path).expect("create stdout file");
        let err_file = fs::File::create(&err_path).expect("create stderr file");
        cmd.stdout(out_file).stderr(err_file).stdin(match input {
            Some(_) => Stdio::piped(),
            None => Stdio::null(),
        });
        let mut child = cmd.spawn().expect("spawn rcorch");
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            let data = data.to_vec();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&data);
            });
        }
        let code = wait_timeout(&mut child, timeout).unwrap_or_else(|| {
            let _ = child.kill();
            let status = child.wait().expect("wait killed rcorch");
            eprintln!("rcorch {args:?} timed out after {timeout:?}, killed");
            exit_code(status)
        });
        let read = |p: &Path| {
            let s = String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).into_owned();
            let _ = fs::remove_file(p);
            s
        };
        Output {
            code,
            stdout: read(&out_path),
            stderr: read(&err_path),
        }
    }

    /// `run --rm busybox ARGS...` in the foreground; returns the output.
    pub fn run_busybox(&self, opts: &[&str], cmd: &[&str]) -> Output {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(opts);
        args.push("busybox");
        args.extend_from_slice(cmd);
        self.rcorch(&args)
    }

    /// `run -d OPTS busybox CMD...`; asserts success, returns the full id.
    #[track_caller]
    pub fn run_detached(&self, opts: &[&str], cmd: &[&str]) -> String {
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(opts);
        args.push("busybox");
        args.extend_from_slice(cmd);
        self.rcorch(&args).ok()
    }

    /// The `inspect` JSON object of one container.
    #[track_caller]
    pub fn inspect(&self, container: &str) -> serde_json::Value {
        let out = self.rcorch(&["inspect", container]).ok();
        let mut v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("inspect JSON: {e}\n{out}"));
        match v.as_array_mut() {
            Some(a) if a.len() == 1 => a.remove(0),
            _ => panic!("inspect {container}: expected a 1-element array, got {out}"),
        }
    }

    /// Polls `inspect` until the container is no longer running.
    #[track_caller]
    pub fn wait_exited(&self, container: &str, timeout: Duration) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.inspect(container);
            if v["State"]["Running"] != serde_json::Value::Bool(true) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{container} still running after {timeout:?}"
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// Writes a file in the scratch dir and returns its path.
    pub fn scratch_file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.scratch.join(name);
        fs::write(&p, content).expect("write scratch file");
        p
    }

    /// Everything this instance left behind: container dirs, cgroups under
    /// the parent, mounts (in any mount namespace) and processes mentioning
    /// the root. Sorted, so before/after snapshots compare directly.
    pub fn leftovers(&self) -> Vec<String> {
        let mut found = Vec::new();
        if let Ok(rd) = fs::read_dir(self.root.join("containers")) {
            for e in rd.flatten() {
                found.push(format!("container dir {}", e.file_name().to_string_lossy()));
            }
        }
        for dir in self.cgroup_parent_dirs() {
            for sub in subdirs(&dir) {
                found.push(format!("cgroup {}", sub.display()));
            }
        }
        let root = self.root.to_string_lossy().into_owned();
        found.extend(
            mounts_mentioning(&root)
                .into_iter()
                .map(|m| format!("mount {m}")),
        );
        found.extend(
            processes_mentioning(&root)
                .into_iter()
                .map(|p| format!("process {p}")),
        );
        found.sort();
        found
    }

    /// The parent cgroup dir in every hierarchy (existing or not).
    pub fn cgroup_parent_dirs(&self) -> Vec<PathBuf> {
        let fs_root = Path::new(CGROUP_FS);
        if fs_root.join("cgroup.controllers").exists() {
            return vec![fs_root.join(&self.cgroup_parent)];
        }
        subdirs(fs_root)
            .into_iter()
            .map(|h| h.join(&self.cgroup_parent))
            .collect()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Supervisors first: one left alive would recreate what we remove.
        project::kill_supervisors(&self.root);
        let ids = self.rcorch_timeout(&["ps", "-aq"], Duration::from_secs(20));
        let ids: Vec<&str> = ids.stdout.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            self.rcorch_timeout(&args, Duration::from_secs(30));
        }
        for dir in self.cgroup_parent_dirs() {
            remove_cgroup_tree(&dir);
        }
        let root = self.root.to_string_lossy().into_owned();
        let host_mounts = own_mounts_under(&root);
        for m in host_mounts.iter().rev() {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        if !own_mounts_under(&root).is_empty() {
            // Never let remove_dir_all descend into a (bind) mount.
            eprintln!("leaving {root}: mounts remain under it");
            if let Some(t) = self.tmp.take() {
                let _ = t.keep();
            }
        }
    }
}

/// Waits for `child` up to `timeout`; `None` if it is still running.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(exit_code(status));
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(Duration::from_millis(10));
    }
}

pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Polls `cond` every 20 ms until true or `timeout`; returns its last value.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(20));
    }
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Kills what is left in a cgroup subtree, then removes it bottom-up.
fn remove_cgroup_tree(dir: &Path) {
    for sub in subdirs(dir) {
        remove_cgroup_tree(&sub);
    }
    if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    wait_for(Duration::from_secs(2), || {
        fs::remove_dir(dir).is_ok() || !dir.exists()
    });
}

/// Runs `f` on the current thread and asserts the instance is left exactly
/// as it was (used for bad-input checks).
#[track_caller]
pub fn assert_unchanged<T>(env: &TestEnv, f: impl FnOnce() -> T) -> T {
    let before = env.leftovers();
    let v = f();
    assert_eq!(env.leftovers(), before, "instance state changed");
    v
}

/// Writes a tar of `dir`'s contents to `tar` (`tar -C DIR -cf TAR .`), as an
/// archive for `import`.
pub fn tar_dir(dir: &Path, tar: &Path) {
    let made = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(tar)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(made.success(), "tar of {}", dir.display());
}
