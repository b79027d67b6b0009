//! Root-only start-first rolling update (issue 7), in a private network
//! namespace (see `networld`): the new replica of a slot starts next to the
//! old one under a name of its own, joins the balancer once healthy, and only
//! then is the old one drained and stopped, so the service never runs fewer
//! replicas than its count.

mod networld;

use networld::world;

const SCRIPT: &str = r#"
trap '$R down -p sf >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
cd "$ROOT"
mk() { cat > c.yaml <<YAML
name: sf
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo hello \$\$V; exec sleep 3600"]
    init: true
    environment: { V: "$1" }
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "true"]
      interval: 200ms
      retries: 1
    deploy:
      replicas: 2
      update_config: { parallelism: 1, monitor: 500ms, order: start-first }
YAML
}
observe() { $R ps --format json | jq -r '[.[] | select(.Service=="web") | .Names] | sort | "\(length) \(join(" "))"'; }
names() { $R ps --format json | jq -r '[.[] | select(.Service=="web") | .Names] | sort | join(" ")'; }
mk one
$R up -d -f c.yaml >/dev/null
# Both first replicas in the balancer before the update begins.
for i in $(seq 100); do [ "$($R events -p sf --since 0 --until 0s | awk '$3=="healthy"' | wc -l)" -ge 2 ] && break; sleep 0.1; done
mk two
$R up -d -f c.yaml >/dev/null
done=
for i in $(seq 400); do
  echo "obs=$(observe)"
  if $R events -p sf --since 0 --until 0s | grep -q "update revision 1 -> 2: completed"; then done=1; break; fi
  sleep 0.05
done
[ -n "$done" ] || echo "timeout waiting for the update"
echo "final=$(names)"
echo "envs=$(for n in $(names); do $R inspect $n | jq -r '.[0].Config.Env[]? // empty' | grep '^V='; done | sort -u | tr '\n' ' ')"
echo "labels=$(for n in $(names); do $R inspect $n | jq -r '.[0].Config.Labels | .["rcorch.slot"] + ":" + .["rcorch.revision"]'; done | sort | tr '\n' ' ')"
$R events -p sf --since 0 --until 0s | awk '/update revision 1 -> 2/ {u=1} u && $3=="balancer" {print "balancer=" $0}'
$R events -p sf --since 0 --until 0s | awk '$3=="start" || $3=="stop" || $3=="healthy" {print "ev=" $2 " " $3 " " $4}'
$R compose -p sf logs web | sed 's/^/log=/'
"#;

fn values<'a>(out: &'a str, key: &str) -> Vec<&'a str> {
    out.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn start_first_keeps_every_replica_running_during_the_update() {
    let Some(w) = world("rollout-start-first") else {
        return;
    };
    let out = w.run(SCRIPT);
    assert!(!out.contains("timeout waiting"), "{out}");
    let observations = values(&out, "obs");
    assert!(!observations.is_empty(), "{out}");
    let counts: Vec<usize> = observations
        .iter()
        .map(|o| o.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    // Never fewer than the replica count, and both of a slot during the overlap.
    assert!(counts.iter().all(|n| *n >= 2), "{counts:?}\n{out}");
    assert!(counts.iter().any(|n| *n >= 3), "{counts:?}\n{out}");
    assert!(
        observations.iter().any(|o| o.contains("-r2")),
        "no surge replica seen:\n{out}"
    );
    // Every balancer change during the update keeps at least two members.
    let changes = values(&out, "balancer");
    assert!(!changes.is_empty(), "{out}");
    for line in changes {
        let members = line
            .split_once('[')
            .and_then(|(_, m)| m.strip_suffix(']'))
            .unwrap_or("");
        assert!(members.split_whitespace().count() >= 2, "{line}\n{out}");
    }
    let last = values(&out, "final");
    assert_eq!(last.len(), 1, "{out}");
    assert_eq!(last[0].split_whitespace().count(), 2, "{out}");
    assert_eq!(values(&out, "envs"), ["V=two "], "{out}");
    // Same slot and revision labels whatever the name.
    assert_eq!(values(&out, "labels"), ["1:2 2:2 "], "{out}");
    // The new replicas said hello under their own names.
    let logs = values(&out, "log");
    assert!(
        logs.iter()
            .any(|l| l.contains("-r2") && l.contains("hello two")),
        "{out}"
    );
}
