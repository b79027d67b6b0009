//! Root-only, in one network namespace (see `networld`): a network whose
//! record is lost (record and copy unreadable) and then removed or set
//! aside leaves its bridge and containers behind; the network made again
//! in its name never hands out an address one of them still holds.

mod networld;

use networld::world;

fn scenario(fix: &str) -> String {
    format!(
        r#"
$R network create neta >/dev/null
old=$($R run -d --network neta busybox sleep 60)
held=$($R exec $old ip -4 -o addr show eth0 | awk '{{print $4}}')
echo "held=$held"
for f in records copies; do printf '{{"network": ' > $ROOT/networks/$f/neta.json; done
$R run --rm busybox true && echo "default=ok"
{fix} >/dev/null
$R network create neta >/dev/null && echo "created=ok"
new=$($R run -d --network neta busybox sleep 60)
echo "new=$($R exec $new ip -4 -o addr show eth0 | awk '{{print $4}}')"
echo "bridge=$($R network inspect neta | jq -r '.[0].Bridge')"
$R rm -f $old $new >/dev/null
$R network rm neta >/dev/null && echo "rm=ok"
"#
    )
}

#[test]
fn a_network_made_again_after_a_lost_record_never_reuses_a_held_address() {
    for fix in ["$R network rm neta", "$R system check --repair"] {
        let Some(w) = world("netdamage") else { return };
        let out = w.run(&scenario(fix));
        let value = |key: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_default()
                .to_string()
        };
        assert!(!value("held").is_empty(), "{fix}: {out}");
        for ok in ["default", "created", "rm"] {
            assert_eq!(value(ok), "ok", "{fix}: {ok}: {out}");
        }
        assert!(!value("new").is_empty(), "{fix}: {out}");
        assert_ne!(value("new"), value("held"), "{fix}: {out}");
        // Nor the old bridge, which still carries the old container.
        assert_ne!(value("bridge"), w.names().bridge(1), "{fix}: {out}");
    }
}

/// `KEY=value` lines of a script's output.
fn value(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .to_string()
}

/// A network whose record and copy are lost stays fenced from the others
/// when the next network change rebuilds the table (from its rules by
/// wildcard, not from its record). Without the table the same ping passes.
#[test]
fn a_lost_network_stays_isolated_after_the_next_network_change() {
    let Some(w) = world("netlostfence") else {
        return;
    };
    let out = w.run(
        r#"
ip4() { $R exec $1 ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1; }
ping1() { $R exec $1 ping -c1 -W1 $2 >/dev/null 2>&1 && echo reached || echo fenced; }
$R network create neta >/dev/null
$R network create netb >/dev/null
a=$($R run -d --network neta busybox sleep 60)
b=$($R run -d --network netb busybox sleep 60)
aip=$(ip4 $a); bip=$(ip4 $b)
echo "before=$(ping1 $a $bip)"
for f in records copies; do printf '{"network": ' > $ROOT/networks/$f/netb.json; done
$R network create netc >/dev/null && echo "changed=ok"
echo "there=$(ping1 $a $bip)"
echo "back=$(ping1 $b $aip)"
nft delete table inet $T
echo "open=$(ping1 $a $bip)"
"#,
    );
    assert_eq!(value(&out, "before"), "fenced", "{out}");
    assert_eq!(value(&out, "changed"), "ok", "{out}");
    assert_eq!(value(&out, "there"), "fenced", "{out}");
    assert_eq!(value(&out, "back"), "fenced", "{out}");
    assert_eq!(value(&out, "open"), "reached", "the control: {out}");
}

/// `network rm` of a lost network removes its bridge, or (containers still
/// plugged in) says it kept it and `system check --repair` removes it once
/// they are gone; `--repair` of the lost record removes an empty one.
#[test]
fn the_bridge_of_a_lost_network_goes_with_rm_or_repair() {
    let Some(w) = world("netlostbridge") else {
        return;
    };
    let out = w.run(
        r#"
lose() { for f in records copies; do printf '{"network": ' > $ROOT/networks/$f/$1.json; done; }
gone() { ip link show $1 >/dev/null 2>&1 && echo no || echo yes; }
$R network create neta >/dev/null
c=$($R run -d --network neta busybox sleep 60)
br=$($R network inspect neta | jq -r '.[0].Bridge')
lose neta
$R network rm neta 2>$ROOT/rm.err && echo "rm=ok"
grep -q "bridge $br of lost network neta kept" $ROOT/rm.err && echo "told=yes"
echo "kept=$(gone $br)"
$R rm -f $c >/dev/null
$R system check | grep -q "bridge $br" && echo "reported=yes"
$R system check --repair >/dev/null && echo "repair=ok"
echo "rmgone=$(gone $br)"

$R network create netb >/dev/null
$R run --rm --network netb busybox true
br=$($R network inspect netb | jq -r '.[0].Bridge')
echo "netbmade=$(gone $br)"
lose netb
$R network rm netb >/dev/null && echo "rm2=ok"
echo "rm2gone=$(gone $br)"

$R network create netc >/dev/null
$R run --rm --network netc busybox true
br=$($R network inspect netc | jq -r '.[0].Bridge')
echo "netcmade=$(gone $br)"
lose netc
$R system check --repair >/dev/null && echo "repair2=ok"
echo "repairgone=$(gone $br)"
$R system check >/dev/null && echo "clean=yes"
"#,
    );
    for (key, want) in [
        ("rm", "ok"),
        ("told", "yes"),
        ("kept", "no"),
        ("reported", "yes"),
        ("repair", "ok"),
        ("rmgone", "yes"),
        ("netbmade", "no"),
        ("netcmade", "no"),
        ("rm2", "ok"),
        ("rm2gone", "yes"),
        ("repair2", "ok"),
        ("repairgone", "yes"),
        ("clean", "yes"),
    ] {
        assert_eq!(value(&out, key), want, "{key}: {out}");
    }
}
