//! `rcorch kube generate` on the project's compose apps (tests/apps and
//! src/compose/testdata): every manifest validates against the Kubernetes
//! OpenAPI schema (PyPI's kubernetes-validate, strict), Secrets are written
//! owner-only, and a missing secret file is one clear error.
//!
//! kubernetes-validate lives in a venv under target/ that the first test
//! builds; without it the tests skip loudly, except under CI, where they fail.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const RCORCH: &str = env!("CARGO_BIN_EXE_rcorch");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The validator, building its venv once; None (after a loud message) if
/// that cannot be done here.
fn validator() -> Option<&'static Path> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let venv = repo().join("target/kv");
        let bin = venv.join("bin/kubernetes-validate");
        if !bin.exists() {
            let made = run_ok(Command::new("python3").arg("-m").arg("venv").arg(&venv))
                && run_ok(Command::new(venv.join("bin/pip")).args(["install", "-q", "kubernetes-validate"]));
            if !made {
                let why = "cannot build the kubernetes-validate venv (python3 -m venv target/kv && target/kv/bin/pip install kubernetes-validate)";
                assert!(std::env::var_os("CI").is_none(), "{why}: CI must be able to");
                eprintln!("SKIPPED: {why}; install python3-venv (scripts/deps.sh test)");
                return None;
            }
        }
        Some(bin)
    })
    .as_deref()
}

fn run_ok(cmd: &mut Command) -> bool {
    match cmd.output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            eprintln!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
            false
        }
        Err(e) => {
            eprintln!("{cmd:?}: {e}");
            false
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A copy of `app` in a fresh directory, with the files its secrets read.
fn stage(app: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    std::fs::copy(app, &file).unwrap();
    std::fs::write(dir.path().join("db_pw.txt"), "s3cr3t-pw\n").unwrap();
    std::fs::write(dir.path().join("blob.bin"), [0u8, 159, 146, 150, 255]).unwrap();
    (dir, file)
}

fn generate(file: &Path, extra: &[&str]) -> Output {
    Command::new(RCORCH)
        .args(["kube", "generate", "-f"])
        .arg(file)
        .args(extra)
        .env("RCORCH_KUBE_TEST_TOKEN", "tok-123")
        .output()
        .unwrap()
}

fn validate(kv: &Path, files: &[PathBuf]) {
    let out = Command::new(kv)
        .args(["--strict", "--quiet"])
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubernetes-validate rejected {files:?}:\n{}",
        text(&out)
    );
}

fn apps() -> Vec<PathBuf> {
    let mut apps = Vec::new();
    for dir in ["tests/apps", "src/compose/testdata"] {
        for e in std::fs::read_dir(repo().join(dir)).unwrap() {
            apps.push(e.unwrap().path());
        }
    }
    apps.sort();
    assert!(apps.len() >= 6, "{apps:?}");
    apps
}

#[test]
fn every_test_app_converts_to_manifests_that_validate() {
    let Some(kv) = validator() else { return };
    for app in apps() {
        let (dir, file) = stage(&app);
        let out_dir = dir.path().join("k8s");
        let out = generate(&file, &["-o", out_dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", app.display(), text(&out));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(
            files
                .iter()
                .any(|f| f.to_string_lossy().ends_with("-deployment.yaml")),
            "{files:?}"
        );
        validate(kv, &files);
    }
}

#[test]
fn stdout_stream_with_load_balancers_validates() {
    let Some(kv) = validator() else { return };
    let (dir, file) = stage(&repo().join("tests/apps/lb-autoscale.yaml"));
    let out = generate(&file, &["--service-type", "LoadBalancer"]);
    assert!(out.status.success(), "{}", text(&out));
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(yaml.contains("type: LoadBalancer"), "{yaml}");
    assert!(yaml.contains("kind: HorizontalPodAutoscaler"), "{yaml}");
    let path = dir.path().join("all.yaml");
    std::fs::write(&path, yaml).unwrap();
    validate(kv, &[path]);
}

#[test]
fn secrets_are_written_owner_only_and_carry_their_bytes() {
    let (dir, file) = stage(&repo().join("tests/apps/volumes-secrets.yaml"));
    let out_dir = dir.path().join("k8s");
    // A world-readable leftover of an earlier run is made owner-only too.
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::write(out_dir.join("db-pw-secret.yaml"), "old").unwrap();
    std::fs::set_permissions(
        out_dir.join("db-pw-secret.yaml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = generate(&file, &["-o", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let secret = out_dir.join("db-pw-secret.yaml");
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", secret.display());
    // base64 of "s3cr3t-pw\n" and of "tok-123".
    let body = std::fs::read_to_string(&secret).unwrap();
    assert!(body.contains("czNjcjN0LXB3Cg=="), "{body}");
    let token = std::fs::read_to_string(out_dir.join("token-secret.yaml")).unwrap();
    assert!(token.contains("dG9rLTEyMw=="), "{token}");
    let blob = std::fs::read_to_string(out_dir.join("binary-configmap.yaml")).unwrap();
    assert!(blob.contains("binaryData"), "{blob}");
}

#[test]
fn a_missing_secret_file_is_one_error_naming_it_and_writes_nothing() {
    let (dir, file) = stage(&repo().join("tests/apps/volumes-secrets.yaml"));
    std::fs::remove_file(dir.path().join("db_pw.txt")).unwrap();
    let out_dir = dir.path().join("k8s");
    let out = generate(&file, &["-o", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let missing = dir.path().join("db_pw.txt");
    assert!(
        err.contains(&format!("cannot read secret file {}", missing.display())),
        "{err}"
    );
    assert!(err.contains("secrets.db_pw.file"), "{err}");
    assert_eq!(err.matches("rcorch:").count(), 1, "{err}");
    assert!(!out_dir.exists(), "nothing written");
}

/// The check above can fail: the validator rejects an unknown field.
#[test]
fn the_validator_rejects_a_field_kubernetes_does_not_have() {
    let Some(kv) = validator() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: 1\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: x, image: y, entrypoint: [z]}]\n";
    std::fs::write(&bad, manifest).unwrap();
    let out = Command::new(kv)
        .args(["--strict", "--quiet"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn several_files_merge_before_conversion() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("compose.yaml");
    let prod = dir.path().join("compose.prod.yaml");
    std::fs::write(
        &base,
        "name: m\nservices:\n  web:\n    image: web:dev\n    environment: [MODE=dev, KEEP=1]\n",
    )
    .unwrap();
    std::fs::write(&prod, "services:\n  web:\n    image: web:prod\n    environment: {MODE: prod}\n    deploy: {replicas: 3}\n").unwrap();
    let out = Command::new(RCORCH)
        .args(["kube", "generate", "-f"])
        .arg(&base)
        .arg("-f")
        .arg(&prod)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let yaml = String::from_utf8(out.stdout).unwrap();
    for want in [
        "image: web:prod",
        "replicas: 3",
        "value: prod",
        "name: KEEP",
    ] {
        assert!(yaml.contains(want), "{want}:\n{yaml}");
    }
    assert!(!yaml.contains("web:dev"), "{yaml}");
}
