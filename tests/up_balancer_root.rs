//! Root-only: `up` reports success only when the balancer's rules are
//! applied. Here nft refuses every ruleset that balances over members (an
//! `nft` wrapper on PATH, inside the scenario's own network namespace), so
//! the rules fail only once the replicas run: `up` must fail naming nft's
//! reason and remove the project it created.

mod networld;

use networld::{value, world};

const FAILING_NFT: &str = r#"#!/bin/sh
# Rulesets that balance over members (numgen) are refused; the rest pass.
[ "$*" = "-j -f -" ] || exec /usr/sbin/nft "$@"
input=$(cat)
case "$input" in
  *'"numgen"'*) echo "Error: Could not process rule: Operation not supported (injected)" >&2; exit 1 ;;
esac
printf '%s' "$input" | /usr/sbin/nft "$@"
"#;

#[test]
fn up_fails_naming_the_cause_when_the_balancer_rules_fail_and_leaves_nothing() {
    let Some(w) = world("up-lb-fail") else { return };
    let bin = w.root.path().join("fault-bin");
    std::fs::create_dir(&bin).unwrap();
    let nft = bin.join("nft");
    std::fs::write(&nft, FAILING_NFT).unwrap();
    std::fs::set_permissions(&nft, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = w.root.path().join("lb.yaml");
    std::fs::write(
        &file,
        r#"
name: lbfail
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "80"]
    ports: ["18095:80"]
    stop_grace_period: 1s
    volumes: ["data:/data"]
    deploy:
      replicas: 2
volumes:
  data: {}
"#,
    )
    .unwrap();
    let out = w.run(&format!(
        r#"
trap '$R down -v -p lbfail >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
PATH={bin}:$PATH $R up -d --wait-timeout 30 -f {file} 2>$ROOT/up.err
echo "up-rc=$?"
echo "cause=$(grep -c 'Operation not supported (injected)' $ROOT/up.err)"
echo "names-service=$(grep -c 'service web' $ROOT/up.err)"
echo "containers=$($R ps -aq | wc -l)"
echo "project-dir=$([ -e $ROOT/projects/lbfail ] && echo yes || echo no)"
echo "supervisors=$(ps -eo args | grep -c "[s]upervise lbfail")"
echo "networks=$($R network ls | grep -c lbfail)"
echo "volumes=$($R volume ls -q | wc -l)"
echo "leases=$(cat $ROOT/networks/records/*.json | jq -s '[.[].endpoints[]] | length')"
echo "services=$(cat $ROOT/networks/records/*.json | jq -s '[.[].services[]] | length')"
echo "dnat=$(nft list table inet $T 2>/dev/null | grep -c 'dport 18095')"
cat $ROOT/up.err
# The same file comes up once nft accepts the rules.
$R up -d -f {file} >/dev/null 2>&1
echo "up-again-rc=$?"
"#,
        bin = bin.display(),
        file = file.display()
    ));
    assert_eq!(value(&out, "up-rc"), "1", "up reported success\n{out}");
    assert_eq!(value(&out, "cause"), "1", "nft's reason not shown\n{out}");
    assert_ne!(value(&out, "names-service"), "0", "{out}");
    for (key, left) in [
        ("containers", "0"),
        ("project-dir", "no"),
        ("supervisors", "0"),
        ("networks", "0"),
        ("volumes", "0"),
        ("leases", "0"),
        ("services", "0"),
        ("dnat", "0"),
    ] {
        assert_eq!(value(&out, key), left, "{key} left behind\n{out}");
    }
    assert_eq!(value(&out, "up-again-rc"), "0", "{out}");
}
