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
        assert_ne!(value("bridge"), "rcorch1", "{fix}: {out}");
    }
}
