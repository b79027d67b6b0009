//! Root-only: a SIGKILLed monitor (of `run -d` or of a foreground `run`).
//! The container dies with it, even as another user; the next command
//! records the truth (exited, 137, why), honours `--rm` and removes the
//! published port's rule. A replica that dies while its project's
//! supervisor is down leaves the balancer's map at once, and its UDP flows
//! with it. Each scenario runs
//! in its own network namespace (see `networld`).

mod networld;

use networld::{value, world};

const HELPERS: &str = r#"
monitor() { $R inspect $1 | jq -r '.[0].State.MonitorPid'; }
pid1() { $R inspect $1 | jq -r '.[0].State.Pid'; }
# Dead: gone, or a zombie waiting for its reaper.
dead() { ! grep -qE '^State:\s+[^ZX]' /proc/$1/status 2>/dev/null; }
wait_dead() { for i in $(seq 100); do dead $1 && return 0; sleep 0.05; done; return 1; }
"#;

#[test]
fn a_killed_detached_monitor_takes_its_container_and_the_next_command_cleans_up() {
    let Some(w) = world("mondeath-d") else { return };
    let out = w.run(&format!(
        r#"{HELPERS}
kept=$($R run -d -u 1000 -p 18090:80 busybox sleep 60)
gone=$($R run -d --rm -p 18091:80 busybox sleep 60)
kp=$(pid1 $kept); gp=$(pid1 $gone)
kill -9 $(monitor $kept) $(monitor $gone)
wait_dead $kp && echo "kept-died=yes" || echo "kept-died=no"
wait_dead $gp && echo "gone-died=yes" || echo "gone-died=no"
echo "ps-running=$($R ps -q | wc -l)"
echo "running=$($R inspect $kept | jq -r '.[0].State.Running')"
echo "exit=$($R inspect $kept | jq -r '.[0].State.ExitCode')"
echo "error=$($R inspect $kept | jq -r '.[0].State.Error')"
echo "rm-listed=$($R ps -aq | grep -c ${{gone:0:12}})"
echo "dnat=$(nft list table inet $T 2>/dev/null | grep -c 'dport 1809')"
echo "leases=$(cat $ROOT/networks/records/*.json | jq -s '[.[].endpoints[]] | length')"
$R rm $kept >/dev/null && echo "rm=ok"
"#
    ));
    assert_eq!(
        value(&out, "kept-died"),
        "yes",
        "-u 1000 outlived its monitor\n{out}"
    );
    assert_eq!(value(&out, "gone-died"), "yes", "{out}");
    assert_eq!(value(&out, "ps-running"), "0", "{out}");
    assert_eq!(value(&out, "running"), "false", "{out}");
    assert_eq!(value(&out, "exit"), "137", "{out}");
    assert!(value(&out, "error").contains("monitor"), "{out}");
    assert_eq!(value(&out, "rm-listed"), "0", "--rm not honoured\n{out}");
    assert_eq!(
        value(&out, "dnat"),
        "0",
        "published ports' rules left\n{out}"
    );
    assert_eq!(value(&out, "leases"), "0", "{out}");
    assert_eq!(value(&out, "rm"), "ok", "{out}");
}

#[test]
fn a_killed_foreground_run_takes_its_container_and_its_port_rule() {
    let Some(w) = world("mondeath-fg") else {
        return;
    };
    let out = w.run(&format!(
        r#"{HELPERS}
$R run --name fg -p 18092:80 busybox sleep 60 >/dev/null 2>&1 &
for i in $(seq 100); do [ "$($R ps -q | wc -l)" = 1 ] && break; sleep 0.05; done
p=$(pid1 fg)
echo "monitor-is-run=$([ "$(monitor fg)" = "$!" ] && echo yes || echo no)"
kill -9 $!
wait_dead $p && echo "died=yes" || echo "died=no"
echo "status=$($R ps -a --format json | jq -r '.[0].State')"
echo "dnat=$(nft list table inet $T 2>/dev/null | grep -c 'dport 18092')"
"#
    ));
    assert_eq!(value(&out, "monitor-is-run"), "yes", "{out}");
    assert_eq!(value(&out, "died"), "yes", "{out}");
    assert_eq!(value(&out, "status"), "exited", "{out}");
    assert_eq!(value(&out, "dnat"), "0", "{out}");
}

#[test]
fn a_replica_dying_while_its_supervisor_is_down_leaves_the_balancer_at_once() {
    let Some(w) = world("mondeath-lb") else {
        return;
    };
    let file = w.root.path().join("lb.yaml");
    std::fs::write(
        &file,
        r#"
name: dlb
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "80"]
    ports: ["18093:80", "18094:5353/udp"]
    stop_grace_period: 1s
    deploy:
      replicas: 2
"#,
    )
    .unwrap();
    let out = w.run(&format!(
        r#"{HELPERS}
trap '$R down -p dlb >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
$R up -d -f {file} >/dev/null || echo "up failed"
ip=$($R inspect dlb-web-1 | jq -r '.[0].NetworkSettings.Networks[].IPAddress')
for i in $(seq 100); do nft list table inet $T | grep -q "$ip" && break; sleep 0.05; done
echo "in-map-before=$(nft list table inet $T | grep -c "$ip")"
kill -9 $(cat $ROOT/projects/dlb/supervisor.pid)
# UDP flows, spread round-robin over both members.
for i in $(seq 10); do echo x > /dev/udp/127.0.0.1/18094; done
udp_to() {{ grep '^ipv4 .* udp ' /proc/net/nf_conntrack | grep -c "src=$1 "; }}
echo "udp-before=$(udp_to $ip)"
p=$(pid1 dlb-web-1)
kill -9 $p
for i in $(seq 100); do nft list table inet $T | grep -q "$ip" || break; sleep 0.05; done
echo "in-map-after=$(nft list table inet $T | grep -c "$ip")"
echo "udp-after=$(udp_to $ip)"
echo "other-in-map=$(nft list table inet $T | grep -c "$($R inspect dlb-web-2 | jq -r '.[0].NetworkSettings.Networks[].IPAddress')")"
"#,
        file = file.display()
    ));
    assert!(!out.contains("up failed"), "{out}");
    assert_ne!(value(&out, "in-map-before"), "0", "{out}");
    assert_eq!(
        value(&out, "in-map-after"),
        "0",
        "dead replica still balanced\n{out}"
    );
    assert_ne!(value(&out, "other-in-map"), "0", "{out}");
    assert_ne!(value(&out, "udp-before"), "0", "no UDP flow to it\n{out}");
    assert_eq!(
        value(&out, "udp-after"),
        "0",
        "its UDP flows outlived it\n{out}"
    );
}
