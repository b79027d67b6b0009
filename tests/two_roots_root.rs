//! Root-only: two state roots in one network namespace (see `networld`).
//! Each has its own nft table and bridges (names carry the root's tag) and
//! a subnet clear of the other's, so neither breaks the other's published
//! ports; a bridge of the root's name that someone else owns is refused,
//! one whose creation was cut short is finished.

mod networld;

use networld::{value, world, World};

/// Runs `script` in one fresh network namespace where `$RA`/`$RB` are
/// rcorch with `a`'s and `b`'s roots (`$ROOTA`: `a`'s), `$TA`/`$TB` their tables.
fn run_both(a: &World, b: &World, script: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_rcorch");
    let r = |w: &World| {
        format!(
            "{bin} --root {} --cgroup-parent {}",
            w.root.path().display(),
            w.cgroup_parent
        )
    };
    let prologue = format!(
        "set -u\nROOTA='{}'\nRA='{}'\nRB='{}'\nTA='{}'\nTB='{}'\nip link set lo up\n\
         trap '$RA rm -f $($RA ps -aq) >/dev/null 2>&1; $RB rm -f $($RB ps -aq) >/dev/null 2>&1' EXIT\n",
        a.root.path().display(),
        r(a),
        r(b),
        a.names().table,
        b.names().table
    );
    networld::in_new_netns(&prologue, script)
}

#[test]
fn two_roots_in_one_namespace_publish_side_by_side_and_clean_up_their_own() {
    let (Some(a), Some(b)) = (world("tworoots-a"), world("tworoots-b")) else {
        return;
    };
    let out = run_both(
        &a,
        &b,
        r#"
get() { curl -s -m 3 http://127.0.0.1:$1/hostname; }
ip4() { $1 inspect $2 | jq -r '.[0].NetworkSettings.Networks.bridge.IPAddress'; }
$RA run -d --name wa -p 18401:80 busybox httpd -f -p 80 -h /etc >/dev/null
$RB run -d --name wb -p 18402:80 busybox httpd -f -p 80 -h /etc >/dev/null
for i in $(seq 50); do [ -n "$(get 18401)" ] && [ -n "$(get 18402)" ] && break; sleep 0.1; done
echo "a=$(get 18401)"
echo "b=$(get 18402)"
echo "a-id=$($RA inspect wa | jq -r '.[0].Id' | cut -c1-12)"
echo "b-id=$($RB inspect wb | jq -r '.[0].Id' | cut -c1-12)"
echo "bra=$($RA network inspect bridge | jq -r '.[0].Bridge')"
echo "brb=$($RB network inspect bridge | jq -r '.[0].Bridge')"
echo "suba=$($RA network inspect bridge | jq -r '.[0].Subnet')"
echo "subb=$($RB network inspect bridge | jq -r '.[0].Subnet')"
echo "tables=$(nft list tables | grep -c -e "inet $TA\$" -e "inet $TB\$")"
# Forwarding between two roots' bridges is fenced like between networks.
echo "cross=$($RA exec wa ping -c1 -W1 $(ip4 "$RB" wb) >/dev/null 2>&1 && echo reached || echo fenced)"
$RA rm -f wa >/dev/null
echo "b-after=$(get 18402)"
echo "a-after=$(get 18401)"
echo "dnat-a=$(nft list chain inet $TA published | grep -c dnat)"
echo "dnat-b=$(nft list table inet $TB | grep -c 'dport 18402')"
$RB rm -f wb >/dev/null
echo "dnat-b-after=$(nft list chain inet $TB published | grep -c dnat)"
echo "veths=$(ip -o link show type veth | wc -l)"
echo "containers=$(( $($RA ps -aq | wc -l) + $($RB ps -aq | wc -l) ))"
"#,
    );
    let (a_id, b_id) = (value(&out, "a-id"), value(&out, "b-id"));
    assert_eq!(a_id.len(), 12, "{out}");
    assert_eq!(value(&out, "a"), a_id, "{out}");
    assert_eq!(value(&out, "b"), b_id, "{out}");
    assert_eq!(value(&out, "bra"), a.names().bridge(0), "{out}");
    assert_eq!(value(&out, "brb"), b.names().bridge(0), "{out}");
    assert_ne!(value(&out, "suba"), value(&out, "subb"), "{out}");
    assert_eq!(value(&out, "tables"), "2", "{out}");
    assert_eq!(value(&out, "cross"), "fenced", "{out}");
    assert_eq!(value(&out, "b-after"), b_id, "{out}");
    assert_eq!(value(&out, "a-after"), "", "{out}");
    assert_eq!(value(&out, "dnat-a"), "0", "{out}");
    assert_eq!(value(&out, "dnat-b"), "1", "{out}");
    assert_eq!(value(&out, "dnat-b-after"), "0", "{out}");
    assert_eq!(value(&out, "veths"), "0", "{out}");
    assert_eq!(value(&out, "containers"), "0", "{out}");
}

/// A bridge with the root's name and someone else's alias is refused,
/// naming it and the fix, and nothing changes; once it is gone, `run`
/// works. A bridge of the root's name without alias (its creation cut
/// short) is finished and used; `system check --repair` removes one no
/// record holds.
#[test]
fn a_foreign_bridge_is_refused_and_a_cut_short_one_is_finished() {
    let (Some(a), Some(b)) = (world("tworoots-fa"), world("tworoots-fb")) else {
        return;
    };
    let (bra, brb) = (a.names().bridge(0), b.names().bridge(0));
    let spare = a.names().bridge(5);
    let out = run_both(
        &a,
        &b,
        &format!(
            r#"
ip link add {bra} type bridge
ip link set {bra} alias "not rcorch"
before=$(ip -d link show {bra}; nft list ruleset | md5sum)
$RA run --rm busybox true 2>&1; echo "rc=$?"
after=$(ip -d link show {bra}; nft list ruleset | md5sum)
[ "$before" = "$after" ] && echo "unchanged=yes" || echo "unchanged=no"
echo "containers=$($RA ps -aq | wc -l)"
ip link del {bra}
$RA run --rm busybox true && echo "after-del=ok"
# Cut short: made, no alias, no address, down.
ip link add {brb} type bridge
$RB run --rm busybox ip -4 -o route 2>&1 | grep -c default | sed 's/^/routed=/'
ip -d link show {brb} | grep -q "alias rcorch network bridge @" && echo "aliased=yes"
ip -4 -o addr show {brb} | grep -q inet && echo "addressed=yes"
ip link add {spare} type bridge
$RA system check >/dev/null 2>&1; echo "check=$?"
$RA system check --repair >/dev/null 2>&1 && echo "repair=ok"
ip link show {spare} >/dev/null 2>&1 && echo "spare=kept" || echo "spare=gone"
"#
        ),
    );
    assert!(
        out.contains(&format!(
            "bridge {bra} in this network namespace belongs to someone else (its alias: \"not rcorch\")"
        )),
        "{out}"
    );
    assert!(
        out.contains("run this root in another network namespace"),
        "{out}"
    );
    assert_eq!(value(&out, "rc"), "125", "{out}");
    assert_eq!(value(&out, "unchanged"), "yes", "{out}");
    assert_eq!(value(&out, "containers"), "0", "{out}");
    assert_eq!(value(&out, "after-del"), "ok", "{out}");
    assert_eq!(value(&out, "routed"), "1", "{out}");
    assert_eq!(value(&out, "aliased"), "yes", "{out}");
    assert_eq!(value(&out, "addressed"), "yes", "{out}");
    assert_ne!(value(&out, "check"), "0", "{out}");
    assert_eq!(value(&out, "repair"), "ok", "{out}");
    assert_eq!(value(&out, "spare"), "gone", "{out}");
}

/// A table whose root is gone (its directory removed) is found by the
/// other root's `system check` by the root its table names, and removed
/// by `--repair` with that root's idle bridge; a live root's stay.
#[test]
fn a_table_whose_root_is_gone_is_removed_by_another_roots_repair() {
    let (Some(a), Some(b)) = (world("tworoots-sa"), world("tworoots-sb")) else {
        return;
    };
    let (bra, brb) = (a.names().bridge(0), b.names().bridge(1));
    let out = run_both(
        &a,
        &b,
        &format!(
            r#"
$RA run -d --name wa -p 18403:80 busybox httpd -f -p 80 -h /etc >/dev/null
$RB network create netb >/dev/null
$RB run --rm --network netb busybox true
$RB system check >/dev/null 2>&1; echo "live=$?"
$RA rm -f wa >/dev/null
echo "owner=$(nft list chain inet $TA owner | grep -c "comment \"rcorch root $ROOTA\"")"
mv $ROOTA $ROOTA.gone
echo "found=$($RB system check 2>&1 | grep -c "nft table inet $TA")"
$RB system check --repair >/dev/null 2>&1 && echo "repair=ok"
echo "table=$(nft list tables | grep -c "inet $TA\$")"
echo "own=$(nft list tables | grep -c "inet $TB\$")"
ip link show {bra} >/dev/null 2>&1 && echo "bridge=kept" || echo "bridge=gone"
ip link show {brb} >/dev/null 2>&1 && echo "own-bridge=kept" || echo "own-bridge=gone"
mv $ROOTA.gone $ROOTA
"#
        ),
    );
    assert_eq!(value(&out, "live"), "0", "{out}");
    assert_eq!(value(&out, "owner"), "1", "{out}");
    assert_eq!(value(&out, "found"), "1", "{out}");
    assert_eq!(value(&out, "repair"), "ok", "{out}");
    assert_eq!(value(&out, "table"), "0", "{out}");
    assert_eq!(value(&out, "own"), "1", "{out}");
    assert_eq!(value(&out, "bridge"), "gone", "{out}");
    assert_eq!(value(&out, "own-bridge"), "kept", "{out}");
}

/// A subnet another root already routes through its bridge is refused
/// when the network's bridge would come up, and nothing changes: two
/// bridges routing one subnet would break both roots' containers.
#[test]
fn a_subnet_another_root_routes_is_refused_and_changes_nothing() {
    let (Some(a), Some(b)) = (world("tworoots-na"), world("tworoots-nb")) else {
        return;
    };
    let brb = b.names().bridge(1);
    let out = run_both(
        &a,
        &b,
        &format!(
            r#"
$RA network create --subnet 10.89.0.0/24 neta >/dev/null
$RA run -d --name wa --network neta busybox sleep 60 >/dev/null
$RB network create --subnet 10.89.0.0/16 netb >/dev/null
before=$(ip -o link; ip route; nft list ruleset | md5sum)
$RB run --rm --network netb busybox true 2>&1; echo "rc=$?"
after=$(ip -o link; ip route; nft list ruleset | md5sum)
[ "$before" = "$after" ] && echo "unchanged=yes" || echo "unchanged=no"
echo "containers=$($RB ps -aq | wc -l)"
ip link show {brb} >/dev/null 2>&1 && echo "bridge=made" || echo "bridge=none"
echo "a-route=$(ip route | grep -c '^10.89.0.0/24')"
"#
        ),
    );
    let bra = a.names().bridge(1);
    assert!(
        out.contains(&format!("subnet 10.89.0.0/16 of network netb overlaps 10.89.0.0/24, routed through bridge {bra} of another rcorch root")),
        "{out}"
    );
    assert_eq!(value(&out, "rc"), "125", "{out}");
    assert_eq!(value(&out, "unchanged"), "yes", "{out}");
    assert_eq!(value(&out, "containers"), "0", "{out}");
    assert_eq!(value(&out, "bridge"), "none", "{out}");
    assert_eq!(value(&out, "a-route"), "1", "{out}");
}

/// A default network planned while the other root's bridge was down (a
/// reboot, a fresh namespace) shares its subnet; unused, it takes a free
/// one at the next `run`, and both roots serve.
#[test]
fn an_unused_default_network_moves_off_a_subnet_another_root_took() {
    let (Some(a), Some(b)) = (world("tworoots-da"), world("tworoots-db")) else {
        return;
    };
    let brb = b.names().bridge(0);
    let out = run_both(
        &a,
        &b,
        &format!(
            r#"
get() {{ curl -s -m 3 http://127.0.0.1:$1/hostname; }}
$RB run --rm busybox true
echo "b-first=$($RB network inspect bridge | jq -r '.[0].Subnet')"
ip link del {brb}
$RA run -d --name wa -p 18404:80 busybox httpd -f -p 80 -h /etc >/dev/null
echo "a=$($RA network inspect bridge | jq -r '.[0].Subnet')"
$RB run -d --name wb -p 18405:80 busybox httpd -f -p 80 -h /etc >/dev/null; echo "rc=$?"
echo "b=$($RB network inspect bridge | jq -r '.[0].Subnet')"
for i in $(seq 50); do [ -n "$(get 18404)" ] && [ -n "$(get 18405)" ] && break; sleep 0.1; done
echo "served=$([ -n "$(get 18404)" ] && [ -n "$(get 18405)" ] && echo both || echo not-both)"
"#
        ),
    );
    assert_eq!(value(&out, "b-first"), "172.17.0.0/16", "{out}");
    assert_eq!(value(&out, "a"), "172.17.0.0/16", "{out}");
    assert_eq!(value(&out, "rc"), "0", "{out}");
    assert_eq!(value(&out, "b"), "172.18.0.0/16", "{out}");
    assert_eq!(value(&out, "served"), "both", "{out}");
}
