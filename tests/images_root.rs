//! Root-only image tests through the binary: a 10-layer image with
//! whiteouts, save -> `podman load`, and push/pull against a real registry
//! (Debian's docker-registry). Each test has its own root and cgroup parent
//! and cleans up on failure too. Needs RCORCH_TEST_BUSYBOX_TAR.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::registry::{self, Registry, REGISTRY};
use rcorch::image::sha256::Sha256;

const BIN: &str = env!("CARGO_BIN_EXE_rcorch");

/// A private rcorch instance, removed on drop.
struct Env {
    dir: tempfile::TempDir,
    parent: String,
}

impl Env {
    fn new(name: &str) -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            parent: format!("rcorch-test-img-{name}-{}", std::process::id()),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Runs rcorch in private net and mount namespaces (push and pull keep
    /// the host's network to reach the test registry).
    fn rcorch(&self, args: &[&str]) -> Output {
        let root = self.root();
        let net = !matches!(args.first(), Some(&"push") | Some(&"pull"));
        let out = Command::new("unshare")
            .args(net.then_some("--net"))
            .args(["--mount", "--propagation", "private", BIN, "--root"])
            .arg(&root)
            .args(["--cgroup-parent", &self.parent])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        eprintln!(
            "rcorch {args:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.rcorch(args);
        assert!(out.status.success(), "rcorch {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let ids = String::from_utf8(self.rcorch(&["ps", "-aq"]).stdout).unwrap_or_default();
        for id in ids.split_whitespace() {
            let _ = self.rcorch(&["rm", "-f", id]);
        }
        if let Ok(layout) = rcorch::cgroups::detect(Path::new("/proc/self/mountinfo")) {
            let _ = rcorch::cgroups::parent_cleanup(&layout, &self.parent);
        }
    }
}

/// The busybox tarball, or None (skip) when not root or not built.
fn setup(test: &str) -> Option<PathBuf> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("{test}: skipped (needs root)");
        return None;
    }
    match std::env::var_os("RCORCH_TEST_BUSYBOX_TAR") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!("{test}: skipped (RCORCH_TEST_BUSYBOX_TAR not set)");
            None
        }
    }
}

fn digest(data: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(data);
    format!("sha256:{}", h.finalize_hex())
}

/// A layer tar of (path, content) regular files.
fn layer(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1);
        b.append_data(&mut h, path, content.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

/// A docker-save archive of busybox plus nine layers; layer 4 adds files
/// that layer 9 deletes (whiteout) and hides (opaque directory).
fn ten_layer_archive(busybox: &Path, out: &Path) {
    let mut layers = vec![std::fs::read(busybox).unwrap()];
    for i in 1..10 {
        let name = format!("l{i}");
        let content = format!("layer {i}\n");
        let mut files = vec![(name.as_str(), content.as_str())];
        if i == 4 {
            files.extend([("etc/victim", "x"), ("srv/dir/old", "x")]);
        }
        if i == 9 {
            files.extend([("etc/.wh.victim", ""), ("srv/dir/.wh..wh..opq", "")]);
            files.push(("srv/dir/new", "n"));
        }
        layers.push(layer(&files));
    }
    let diff_ids: Vec<String> = layers.iter().map(|l| digest(l)).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .unwrap();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut paths = Vec::new();
    for (i, l) in layers.into_iter().enumerate() {
        paths.push(format!("{i}/layer.tar"));
        files.push((format!("{i}/layer.tar"), l));
    }
    let manifest = serde_json::json!([{"Config": "config.json",
        "RepoTags": ["many:10"], "Layers": paths}]);
    files.push(("config.json".into(), config));
    files.push((
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    ));
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.finish().unwrap();
}

#[test]
fn ten_layer_image_with_whiteouts_runs() {
    let Some(busybox) = setup("ten_layer_image_with_whiteouts_runs") else {
        return;
    };
    let env = Env::new("many");
    let archive = env.dir.path().join("many.tar");
    ten_layer_archive(&busybox, &archive);
    assert!(env
        .ok(&["load", "-i", archive.to_str().unwrap()])
        .contains("many:10"));
    let script = "cat /l1 /l9; ls /etc/victim 2>&1 || echo victim-gone; ls /srv/dir";
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "many:10",
        "sh",
        "-c",
        script,
    ]);
    assert!(out.contains("layer 1\nlayer 9\n"), "{out}");
    assert!(out.contains("victim-gone"), "{out}");
    assert!(out.trim_end().ends_with("new"), "{out}");
    assert!(!out.contains("old"), "{out}");
}

#[test]
fn saved_archive_loads_in_podman() {
    let Some(busybox) = setup("saved_archive_loads_in_podman") else {
        return;
    };
    if Command::new("podman").arg("--version").output().is_err() {
        eprintln!("saved_archive_loads_in_podman: skipped (podman not installed)");
        return;
    }
    let env = Env::new("podman");
    env.ok(&["import", busybox.to_str().unwrap(), "bb:1"]);
    let archive = env.dir.path().join("bb.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), "bb:1"]);
    let pod = env.dir.path().join("podman");
    let out = Command::new("podman")
        .arg("--root")
        .arg(pod.join("root"))
        .arg("--runroot")
        .arg(pod.join("run"))
        .args(["--storage-driver", "vfs", "--events-backend", "none"])
        .args(["--cgroup-manager", "cgroupfs", "load", "-i"])
        .arg(&archive)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("bb:1"), "{text}");
}

fn start_registry(dir: &Path) -> Registry {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let config = registry::write_config(dir, &addr);
    let child = Command::new(REGISTRY)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let registry = Registry { child, addr };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&registry.addr).is_err() {
        assert!(Instant::now() < deadline, "registry did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    registry
}

#[test]
fn push_rmi_pull_run_through_a_registry() {
    let Some(busybox) = setup("push_rmi_pull_run_through_a_registry") else {
        return;
    };
    if !Path::new(REGISTRY).exists() {
        eprintln!(
            "push_rmi_pull_run: skipped ({REGISTRY} missing: apt-get install docker-registry)"
        );
        return;
    }
    let env = Env::new("registry");
    let registry = start_registry(env.dir.path());
    let remote = format!("{}/test/busybox:v1", registry.addr);
    env.ok(&["import", busybox.to_str().unwrap(), &remote]);
    // Plain HTTP needs --insecure or a config listing the registry.
    assert!(!env.rcorch(&["push", &remote]).status.success());
    let pushed = env.ok(&["push", "--insecure", &remote]);
    let digest = pushed
        .split("digest: ")
        .nth(1)
        .map(str::trim)
        .expect("push prints the manifest digest")
        .to_string();
    env.ok(&["rmi", &remote]);
    let config = env.dir.path().join("registries.json");
    let json = format!(r#"{{"insecure": ["{}"]}}"#, registry.addr);
    std::fs::write(&config, json).unwrap();
    let cfg = config.to_str().unwrap();
    // A missing tag fails and leaves nothing behind.
    let missing = format!("{}/test/busybox:nope", registry.addr);
    assert!(!env
        .rcorch(&["pull", "--registry-config", cfg, &missing])
        .status
        .success());
    let blobs = env.root().join("images/blobs/sha256");
    assert_eq!(std::fs::read_dir(&blobs).unwrap().count(), 0);
    let pulled = env.rcorch(&["pull", "--registry-config", cfg, &remote]);
    assert!(pulled.status.success());
    assert!(String::from_utf8_lossy(&pulled.stdout).contains(&remote));
    // Not a terminal: a line per blob as it starts, not silence.
    let told = String::from_utf8_lossy(&pulled.stderr);
    assert!(told.contains(": downloading ("), "{told}");
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &remote,
        "echo",
        "pulled",
    ]);
    assert_eq!(out.trim(), "pulled");

    // By digest: an untagged image that run, image inspect and rmi accept.
    env.ok(&["rmi", &remote]);
    let by_digest = format!("{}/test/busybox@{digest}", registry.addr);
    env.ok(&["pull", "--registry-config", cfg, &by_digest]);
    let listing = env.ok(&["images"]);
    let row = format!("{}/test/busybox", registry.addr);
    assert!(
        listing
            .lines()
            .any(|l| l.contains(&row) && l.contains("<none>")),
        "{listing}"
    );
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &by_digest,
        "echo",
        "pinned",
    ]);
    assert_eq!(out.trim(), "pinned");
    let inspect = env.ok(&["image", "inspect", &by_digest]);
    assert!(inspect.contains(&by_digest), "{inspect}");
    env.ok(&["rmi", &by_digest]);
    assert!(env.rcorch(&["image", "inspect", &by_digest]).status.code() != Some(0));

    // A manifest rcorch did not write (another tool's formatting and an
    // annotation): pushed on, it keeps its bytes and so its digest.
    let path = format!("/v2/test/busybox/manifests/{digest}");
    let ours = http(&registry.addr, "GET", &path, &[]);
    let mut value: serde_json::Value = serde_json::from_slice(&ours).unwrap();
    value["annotations"] = serde_json::json!({"org.example.by": "another tool"});
    let theirs = serde_json::to_vec_pretty(&value).unwrap();
    http(
        &registry.addr,
        "PUT",
        "/v2/test/busybox/manifests/v2",
        &theirs,
    );
    let theirs_digest = crate::digest(&theirs);
    let tagged = format!("{}/test/busybox:v2", registry.addr);
    env.ok(&["pull", "--registry-config", cfg, &tagged]);
    let copy = format!("{}/test/copy:v1", registry.addr);
    env.ok(&["tag", &tagged, &copy]);
    let pushed = env.ok(&["push", "--registry-config", cfg, &copy]);
    assert!(pushed.contains(&theirs_digest), "{pushed}");
    let copied = http(&registry.addr, "GET", "/v2/test/copy/manifests/v1", &[]);
    assert_eq!(copied, theirs, "the very bytes");
    env.ok(&["rmi", &copy]);
    env.ok(&["rmi", &tagged]);
    let kept = blobs.join(theirs_digest.trim_start_matches("sha256:"));
    assert!(!kept.exists(), "the kept manifest goes with the image");
}

/// One HTTP/1.1 request to the test registry (manifests only); the body.
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mt = "application/vnd.oci.image.manifest.v1+json";
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {mt}\r\nContent-Type: {mt}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&out[..split]).to_string();
    assert!(
        status.starts_with("HTTP/1.1 2"),
        "{method} {path}: {status}"
    );
    out[split + 4..].to_vec()
}
