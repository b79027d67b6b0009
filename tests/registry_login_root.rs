//! Root-only: `login`/`logout` against Debian's docker-registry with
//! htpasswd auth, run in the test's own network namespace (the registry
//! listens on its loopback). Checked by their effects: Docker's
//! config.json (entry, mode, other keys kept), and push/pull that work
//! only while logged in.

mod networld;

use std::path::Path;

use networld::{value, world};

const REGISTRY: &str = "/usr/bin/docker-registry";

/// bcrypt of "s3cret" (what `htpasswd -B` writes), for user `u`.
const HTPASSWD: &str = "u:$2a$05$rcorchtestsaltrcorchte1nhuEBsHANjTXsE6zOJc.yOUNkF/.1a";

const SCRIPT: &str = r#"
D=$ROOT/login-test; mkdir -p $D/data
printf '%s\n' "$HTPASSWD" > $D/htpasswd
printf '%s\n' 'version: 0.1' 'log: {level: error}' \
  "storage: {filesystem: {rootdirectory: $D/data}}" 'http: {addr: 127.0.0.1:5000}' \
  "auth: {htpasswd: {realm: rcorch-test, path: $D/htpasswd}}" > $D/reg.yml
docker-registry serve $D/reg.yml >/dev/null 2>&1 & REG=$!
trap 'kill $REG; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:5000/v2/ && break; sleep 0.1; done
export RCORCH_REGISTRY_CONFIG=$D/registries.json DOCKER_CONFIG=$D/docker
echo '{"insecure": ["127.0.0.1:5000"]}' > $RCORCH_REGISTRY_CONFIG
mkdir -p $DOCKER_CONFIG
echo '{"auths": {"other.example": {"auth": "eDp5"}}, "psFormat": "table"}' > $DOCKER_CONFIG/config.json
IMG=127.0.0.1:5000/t/busybox:1
$R tag busybox $IMG
$R push $IMG >/dev/null 2>&1; echo "anonymous-push=$?"
echo wrong | $R login -u u --password-stdin 127.0.0.1:5000; echo "bad-login=$?"
echo "after-bad=$(jq -c '.auths | keys' $DOCKER_CONFIG/config.json)"
$R login -u u 127.0.0.1:5000 </dev/null; echo "no-tty=$?"
echo s3cret | $R login -u u --password-stdin 127.0.0.1:5000; echo "login=$?"
echo "mode=$(stat -c %a $DOCKER_CONFIG/config.json)"
echo "auth=$(jq -r '.auths["127.0.0.1:5000"].auth' $DOCKER_CONFIG/config.json | base64 -d)"
echo "kept=$(jq -r '.auths["other.example"].auth + " " + .psFormat' $DOCKER_CONFIG/config.json)"
$R login 127.0.0.1:5000 </dev/null; echo "login-again=$?"
$R push $IMG >/dev/null 2>&1; echo "push=$?"
$R rmi $IMG >/dev/null
$R pull $IMG >/dev/null 2>&1; echo "pull=$?"
$R run --rm --network none $IMG echo ran-pulled
$R logout 127.0.0.1:5000; echo "logout=$?"
echo "left=$(jq -c '.auths | keys' $DOCKER_CONFIG/config.json)"
$R logout 127.0.0.1:5000; echo "logout-again=$?"
$R rmi $IMG >/dev/null
$R pull $IMG >/dev/null 2>&1; echo "pull-after-logout=$?"
"#;

#[test]
fn login_keeps_dockers_config_that_push_and_pull_use_and_logout_removes_it() {
    if !Path::new(REGISTRY).exists() {
        eprintln!("skipped: {REGISTRY} missing (apt-get install docker-registry)");
        return;
    }
    let Some(w) = world("login") else { return };
    let out = w.run(&format!("HTPASSWD='{HTPASSWD}'\n{SCRIPT}"));
    assert_ne!(value(&out, "anonymous-push"), "0", "{out}");
    assert_ne!(value(&out, "bad-login"), "0", "{out}");
    assert!(
        out.contains("login to 127.0.0.1:5000 refused: 401"),
        "{out}"
    );
    assert_eq!(
        value(&out, "after-bad"),
        r#"["other.example"]"#,
        "nothing kept"
    );
    assert_ne!(value(&out, "no-tty"), "0", "{out}");
    assert!(out.contains("non TTY device"), "{out}");
    assert_eq!(value(&out, "login"), "0", "{out}");
    assert!(out.contains("Login Succeeded"), "{out}");
    assert_eq!(value(&out, "mode"), "600");
    assert_eq!(value(&out, "auth"), "u:s3cret");
    assert_eq!(value(&out, "kept"), "eDp5 table", "other keys stay");
    assert_eq!(value(&out, "login-again"), "0", "kept credentials: {out}");
    assert!(
        out.contains("Authenticating with existing credentials"),
        "{out}"
    );
    assert_eq!(value(&out, "push"), "0", "{out}");
    assert_eq!(value(&out, "pull"), "0", "{out}");
    assert!(out.contains("\nran-pulled\n"), "{out}");
    assert_eq!(value(&out, "logout"), "0");
    assert!(
        out.contains("Removing login credentials for 127.0.0.1:5000"),
        "{out}"
    );
    assert_eq!(value(&out, "left"), r#"["other.example"]"#);
    assert_eq!(value(&out, "logout-again"), "0", "as Docker: not an error");
    assert!(out.contains("Not logged in to 127.0.0.1:5000"), "{out}");
    assert_ne!(value(&out, "pull-after-logout"), "0", "{out}");
}
