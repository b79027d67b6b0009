//! Root-only networking scenarios, each in its own network namespace (see
//! `networld`): names and isolation, published ports, concurrent IPAM,
//! cleanup, and clear errors that change nothing.

mod networld;

use networld::world;

#[test]
fn containers_talk_by_name_and_other_networks_cannot_connect() {
    let Some(w) = world("names") else { return };
    let out = w.run(
        r#"
$R network create --subnet 10.89.0.0/24 back >/dev/null
$R run -d --name web --network-alias www busybox httpd -f -p 80 -h /etc >/dev/null
$R run -d --name db --network back busybox httpd -f -p 80 -h /etc >/dev/null
sleep 0.3
echo "name=$($R run --rm busybox wget -qO- http://web/hostname)"
echo "alias=$($R run --rm busybox wget -qO- http://www.rcorch/hostname)"
$R run --rm busybox nslookup ghost >/dev/null 2>&1; echo "ghost=$?"
ip=$($R network inspect bridge | jq -r '.[0].Containers[] | select(.Name=="web") | .IPv4Address' | cut -d/ -f1)
# --init: as PID 1, wget would ignore timeout's SIGTERM and wait out TCP's
# SYN retries (~130 s) against the dropped packets.
echo "cross=$($R run --rm --init --network back busybox timeout 3 wget -qO- http://$ip/hostname)"
$R network rm back >/dev/null 2>&1; echo "rm-in-use=$?"
"#,
    );
    assert!(out.contains("name=") && !out.contains("name=\n"), "{out}");
    let web_host = out.lines().find_map(|l| l.strip_prefix("name=")).unwrap();
    assert_eq!(web_host.len(), 12, "{out}");
    assert!(out.contains(&format!("alias={web_host}")), "{out}");
    assert!(out.contains("ghost=1"), "{out}");
    assert!(out.contains("cross=\n"), "{out}");
    assert!(out.contains("rm-in-use=1\n"), "{out}");
}

#[test]
fn a_name_resolves_right_after_run_and_is_gone_right_after_rm() {
    let Some(w) = world("fresh") else { return };
    let out = w.run(
        r#"
$R run -d --name client busybox sleep 300 >/dev/null
# The resolver starts with the first container: wait until it answers.
for _ in $(seq 50); do $R exec client nslookup client >/dev/null 2>&1 && break; sleep 0.1; done
# From here on, no waiting: each answer must already be current.
for i in 1 2 3; do
    $R run -d --name fresh$i busybox sleep 300 >/dev/null
    echo "run$i=$($R exec client nslookup fresh$i 2>/dev/null | grep -c '^Address: 172')"
    $R rm -f fresh$i >/dev/null
    $R exec client nslookup fresh$i >/dev/null 2>&1; echo "rm$i=$?"
done
"#,
    );
    for i in 1..=3 {
        assert!(out.contains(&format!("run{i}=1")), "{out}");
        assert!(out.contains(&format!("rm{i}=1")), "{out}");
    }
}

#[test]
fn published_port_answers_on_the_host_and_busy_ports_are_refused() {
    let Some(w) = world("ports") else { return };
    let out = w.run(
        r#"
$R run -d --name web -p 18080:80 busybox httpd -f -p 80 -h /etc >/dev/null
sleep 0.3
echo "loopback=$(busybox wget -qO- http://127.0.0.1:18080/hostname)"
echo "port=$($R port web)"
$R run -d -p 18080:80 busybox true 2>&1; echo "clash=$?"
busybox nc -l -p 18081 >/dev/null 2>&1 & sleep 0.2
$R run -d -p 18081:80 busybox true 2>&1; echo "busy=$?"
kill $!
echo "containers=$($R ps -aq | wc -l)"
"#,
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("loopback=") && l.len() == 9 + 12),
        "{out}"
    );
    assert!(out.contains("port=80/tcp -> 0.0.0.0:18080"), "{out}");
    assert!(
        out.contains("host port 0.0.0.0:18080/tcp is already in use"),
        "{out}"
    );
    assert!(
        out.contains("clash=125") && out.contains("busy=125"),
        "{out}"
    );
    assert!(
        out.contains("host port 0.0.0.0:18081/tcp is already in use"),
        "{out}"
    );
    assert!(out.contains("containers=1"), "{out}");
}

#[test]
fn twenty_concurrent_runs_get_distinct_addresses_and_removal_leaves_nothing() {
    let Some(w) = world("ipam") else { return };
    let out = w.run(
        r#"
for i in $(seq 20); do $R run -d --name c$i -p $((19000+i)):80 busybox sleep 60 >/dev/null & done
wait
echo "running=$($R ps -q | wc -l)"
echo "distinct=$($R network inspect bridge | jq -r '.[0].Containers[].IPv4Address' | sort -u | wc -l)"
echo "veths=$(ip -o link show type veth | wc -l)"
$R rm -f $($R ps -aq) >/dev/null
echo "after-veths=$(ip -o link show type veth | wc -l)"
echo "after-dnat=$(nft list chain inet $T published | grep -c dnat)"
"#,
    );
    assert!(out.contains("running=20"), "{out}");
    assert!(out.contains("distinct=20"), "{out}");
    assert!(out.contains("veths=20"), "{out}");
    assert!(out.contains("after-veths=0"), "{out}");
    assert!(out.contains("after-dnat=0"), "{out}");
    for record in std::fs::read_dir(w.root.path().join("networks/records")).unwrap() {
        let record = std::fs::read_to_string(record.unwrap().path()).unwrap();
        let record: serde_json::Value = serde_json::from_str(&record).unwrap();
        assert_eq!(record["endpoints"].as_array().unwrap().len(), 0, "{record}");
    }
}

#[test]
fn bad_input_is_a_clear_error_that_changes_nothing() {
    let Some(w) = world("badinput") else { return };
    let out = w.run(
        r#"
$R network create --subnet 10.89.0.0/16 one >/dev/null
before=$(nft -j list ruleset | md5sum)
$R network create --subnet 10.89.5.0/24 two 2>&1; echo "rc=$?"
$R network create --subnet 10.0.0.300/24 three 2>&1; echo "rc=$?"
$R network create --subnet 10.90.0.1/24 four 2>&1; echo "rc=$?"
$R run --network nope busybox true 2>&1; echo "rc=$?"
$R run --network one --ip 10.99.0.2 busybox true 2>&1; echo "rc=$?"
after=$(nft -j list ruleset | md5sum)
[ "$before" = "$after" ] && echo rules-unchanged
echo "networks=$($R network ls | tail -n +2 | wc -l)"
echo "containers=$($R ps -aq | wc -l)"
echo "veths=$(ip -o link show type veth | wc -l)"
"#,
    );
    for msg in [
        "subnet 10.89.5.0/24 overlaps network one (10.89.0.0/16)",
        "invalid subnet \"10.0.0.300/24\": expected CIDR notation",
        "host bits are set, did you mean 10.90.0.0/24?",
        "network nope not found",
        "address 10.99.0.2 is not in subnet 10.89.0.0/16",
    ] {
        assert!(out.contains(msg), "missing {msg:?} in {out}");
    }
    // `network create` errors exit 1, `run` errors 125 (Docker's rule).
    assert_eq!(out.matches("rc=1\n").count(), 3, "{out}");
    assert_eq!(out.matches("rc=125").count(), 2, "{out}");
    assert!(out.contains("rules-unchanged"), "{out}");
    assert!(out.contains("networks=1"), "{out}");
    assert!(out.contains("containers=0"), "{out}");
    assert!(out.contains("veths=0"), "{out}");
}
