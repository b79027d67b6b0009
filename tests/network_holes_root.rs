//! Root-only, in one network namespace (see `networld`): the state root is
//! one instance however it is spelled, and every kernel object rcorch made
//! for a network whose record is gone (its bridge, the bridges of earlier
//! versions, its rules) goes with `network rm` or `system check --repair`,
//! while a bridge rcorch did not make stays.

mod networld;

use networld::{value, world};

/// `./x` and `/abs/x` are one root: what one spelling made, the other
/// lists and removes, and nothing is left behind.
#[test]
fn a_relative_and_an_absolute_root_are_one_instance() {
    let Some(w) = world("netrootspell") else {
        return;
    };
    let out = w.run(
        r#"
read -r BIN _ _ _ CG <<<"$R"
REL="$BIN --root ./$(basename $ROOT) --cgroup-parent $CG"
cd $(dirname $ROOT)
$REL network create neta >/dev/null && echo "created=ok"
c=$($REL run -d --network neta busybox sleep 60) && echo "run=ok"
$R ps -q | grep -q ${c:0:12} && echo "listed=yes"
$R network ls | grep -q neta && echo "netlisted=yes"
$R system check >/dev/null && echo "abscheck=clean"
$REL system check >/dev/null && echo "relcheck=clean"
$R rm -f $c >/dev/null && echo "rm=ok"
$R network rm neta >/dev/null && echo "netrm=ok"
echo "bridges=$(ip -o link show type bridge | wc -l)"
echo "cgroups=$(ls -d /sys/fs/cgroup/*/$CG/*/ /sys/fs/cgroup/$CG/*/ 2>/dev/null | wc -l)"
echo "mounts=$(grep -c $(basename $ROOT) /proc/self/mountinfo)"
"#,
    );
    for (key, want) in [
        ("created", "ok"),
        ("run", "ok"),
        ("listed", "yes"),
        ("netlisted", "yes"),
        ("abscheck", "clean"),
        ("relcheck", "clean"),
        ("rm", "ok"),
        ("netrm", "ok"),
        ("bridges", "0"),
        ("cgroups", "0"),
        ("mounts", "0"),
    ] {
        assert_eq!(value(&out, key), want, "{key}: {out}");
    }
}

/// A lost internal network: its fence and every rule naming its bridge
/// go with the repair, as does its bridge.
#[test]
fn a_lost_internal_networks_rules_and_bridge_go_with_the_repair() {
    for fix in ["$R network rm neti", "$R system check --repair"] {
        let Some(w) = world("netlostinternal") else {
            return;
        };
        let out = w.run(&format!(
            r#"
rules() {{ nft list table inet $T 2>/dev/null | grep -c "\"$1\""; }}
$R network create --internal neti >/dev/null
$R network create netb >/dev/null
c=$($R run -d --network neti busybox sleep 60)
b=$($R run -d --network netb busybox sleep 60)
br=$($R network inspect neti | jq -r '.[0].Bridge')
echo "before=$(rules $br)"
for f in records copies; do printf '{{"network": ' > $ROOT/networks/$f/neti.json; done
$R rm -f $c >/dev/null
{fix} >/dev/null && echo "fix=ok"
echo "after=$(rules $br)"
ip link show $br >/dev/null 2>&1 && echo "bridge=kept" || echo "bridge=gone"
$R system check >/dev/null && echo "clean=yes"
$R rm -f $b >/dev/null
"#
        ));
        assert_ne!(value(&out, "before"), "0", "{fix}: {out}");
        for (key, want) in [
            ("fix", "ok"),
            ("after", "0"),
            ("bridge", "gone"),
            ("clean", "yes"),
        ] {
            assert_eq!(value(&out, key), want, "{fix}: {key}: {out}");
        }
    }
}

/// Bridges of earlier versions: `rcorch network NAME` without the
/// instance tag, or no alias at all (named in the lost record's bytes).
/// A bridge rcorch did not make, named like its own, stays. (One with an
/// untagged alias naming the lost network cannot be told from another
/// instance's old one: it is taken as this root's.)
#[test]
fn older_bridges_of_a_lost_network_go_and_foreign_ones_stay() {
    for (old_alias, fix) in [
        ("rcorch network neta", "$R network rm neta"),
        ("rcorch network neta", "$R system check --repair"),
        ("", "$R system check --repair"),
        ("", "$R network rm neta"),
    ] {
        let Some(w) = world("netoldbridge") else {
            return;
        };
        let out = w.run(&format!(
            r#"
ip link add rcorch7 type bridge
$R network create neta >/dev/null
$R run --rm --network neta busybox true
br=$($R network inspect neta | jq -r '.[0].Bridge')
# As an earlier version made it.
if [ -z "{old_alias}" ]; then
  ip link set $br alias ""
  printf '{{"network": {{"name": "neta", "bridge": "'$br'", "sub' > $ROOT/networks/records/neta.json
  printf '{{"network": {{"name": "neta", "bridge": "'$br'", "sub' > $ROOT/networks/copies/neta.json
else
  ip link set $br alias "{old_alias}"
  for f in records copies; do printf '{{"network": ' > $ROOT/networks/$f/neta.json; done
fi
ip -d link show $br | grep -q "alias rcorch network neta @" && echo "tagged=yes" || echo "tagged=no"
{fix} >/dev/null && echo "fix=ok"
ip link show $br >/dev/null 2>&1 && echo "bridge=kept" || echo "bridge=gone"
ip link show rcorch7 >/dev/null 2>&1 && echo "foreign=kept" || echo "foreign=gone"
$R system check >/dev/null && echo "clean=yes"
ip link show rcorch7 >/dev/null 2>&1 && echo "foreign2=kept" || echo "foreign2=gone"
"#
        ));
        let case = format!("{old_alias:?} {fix}");
        for (key, want) in [
            ("tagged", "no"),
            ("fix", "ok"),
            ("bridge", "gone"),
            ("foreign", "kept"),
            ("clean", "yes"),
            ("foreign2", "kept"),
        ] {
            assert_eq!(value(&out, key), want, "{case}: {key}: {out}");
        }
    }
}
