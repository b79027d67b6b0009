//! Root-only: `network connect`/`disconnect` on running containers, and
//! internal networks, each in its own network namespace (see `networld`).

mod networld;

use networld::world;

#[test]
fn connect_reaches_the_other_network_by_name_until_disconnect_and_rm_frees_all() {
    let Some(w) = world("connect") else { return };
    let out = w.run(
        r#"
$R network create --subnet 10.89.0.0/24 back >/dev/null
$R run -d --name db --network back busybox httpd -f -p 80 -h /etc >/dev/null
$R run -d --name app busybox sleep 300 >/dev/null
get() { $R exec app wget -qO- http://db/hostname 2>/dev/null; }
echo "before=$(get)"
$R network connect --alias client back app; echo "connect=$?"
echo "after=$(get)"
echo "ifaces=$($R exec app ls /sys/class/net | tr '\n' ' ')"
echo "routes=$($R exec app ip route | grep -c default)"
echo "alias=$($R exec db nslookup client 2>/dev/null | grep -c '^Address: 10.89.0.3')"
$R inspect app | jq -c '.[0].HostConfig.NetworkMode, (.[0].NetworkSettings.Networks | keys), .[0].NetworkSettings.Networks.back.Aliases'
$R network connect back app 2>&1; echo "twice=$?"
$R network connect nope app 2>&1; echo "nonet=$?"
$R network connect back ghost 2>&1; echo "nocontainer=$?"
$R run -d --name quiet --network none busybox sleep 300 >/dev/null
$R network connect back quiet 2>&1; echo "none=$?"
$R run --name done busybox true
$R network connect back done 2>&1; echo "stopped=$?"
$R network disconnect back app; echo "disconnect=$?"
echo "gone=$(get)"
echo "ifaces2=$($R exec app ls /sys/class/net | tr '\n' ' ')"
$R network disconnect back app 2>&1; echo "again=$?"
$R network connect back app; echo "reconnect=$?"
# An exited container's veth goes with its namespace, which the kernel
# frees asynchronously: wait for it (a leak would stay above the count).
veths() { for _ in $(seq 50); do [ "$(ip -o link show type veth | wc -l)" -le "$1" ] && break; sleep 0.1; done; ip -o link show type veth | wc -l; }
echo "veths=$(veths 3)"
$R rm -f app quiet done >/dev/null
echo "veths-after=$(veths 1)"
echo "leases=$(cat $ROOT/networks/records/*.json | jq -sc '[.[].endpoints[].container_name]')"
"#,
    );
    for want in [
        "before=\n",
        "connect=0",
        "ifaces=eth0 eth1 lo",
        "routes=1",
        "alias=1",
        "\"bridge\"\n[\"back\",\"bridge\"]\n[\"client\"]",
        "container app is already connected to network back",
        "twice=1",
        "network nope not found",
        "nonet=1",
        "no such container: ghost",
        "nocontainer=1",
        "container quiet has network mode none",
        "none=1",
        "container done is not running",
        "stopped=1",
        "disconnect=0",
        "gone=\n",
        "ifaces2=eth0 lo",
        "container app is not connected to network back",
        "again=1",
        "reconnect=0",
        "veths=3",
        "veths-after=1",
        "leases=[\"db\"]",
    ] {
        assert!(out.contains(want), "missing {want:?} in {out}");
    }
    let host = out.lines().find_map(|l| l.strip_prefix("after=")).unwrap();
    assert_eq!(host.len(), 12, "{out}");
}

#[test]
fn disconnecting_the_routed_network_moves_the_default_route() {
    let Some(w) = world("reroute") else { return };
    let out = w.run(
        r#"
$R network create --subnet 10.89.0.0/24 back >/dev/null
$R network create --internal --subnet 10.90.0.0/24 sealed >/dev/null
$R run -d --name app busybox sleep 300 >/dev/null
$R network connect sealed app && $R network connect back app
routes() { $R exec app ip route | grep default | tr -s ' ' | tr '\n' ';'; }
echo "before=$(routes)"
$R network disconnect bridge app; echo "disconnect=$?"
echo "after=$(routes)"
$R network disconnect back app
echo "internal-only=$(routes)"
$R network connect bridge app
echo "reconnected=$(routes)"
"#,
    );
    for want in [
        "before=default via 172.17.0.1 dev eth0 ;",
        "disconnect=0",
        // Not the internal network (eth1): the other routed one takes over.
        "after=default via 10.89.0.1 dev eth2 ;",
        "internal-only=\n",
        "reconnected=default via 172.17.0.1 dev eth0 ;",
    ] {
        assert!(out.contains(want), "missing {want:?} in {out}");
    }
}

#[test]
fn internal_networks_give_no_default_route() {
    let Some(w) = world("internal") else { return };
    let out = w.run(
        r#"
$R network create --internal --subnet 10.90.0.0/24 sealed >/dev/null
$R run --rm --network sealed busybox cat /proc/net/route | awk 'NR>1 {print "route=" $1 "," $2}'
$R run -d --name app busybox sleep 300 >/dev/null
$R network connect sealed app
$R exec app ip route | grep -c default | sed 's/^/defaults=/'
"#,
    );
    assert!(out.contains("route=eth0,00005A0A"), "{out}");
    assert_eq!(out.matches("route=").count(), 1, "{out}");
    assert!(out.contains("defaults=1"), "{out}");
}
