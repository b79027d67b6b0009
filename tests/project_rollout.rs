//! Root-only rolling updates (issue 7), in a private network namespace (see
//! `networld`): an update from one image tag to another goes replica by
//! replica; an update whose health check fails is rolled back by itself
//! while the old replicas keep running; `rollback` restores the previous
//! definition; `compose history` lists the revisions.

mod networld;

use networld::{value, world};

const SCRIPT: &str = r#"
trap '$R down -p rt >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
$R tag busybox:latest busybox:v1 && $R tag busybox:latest busybox:v2 && $R tag busybox:latest busybox:v3
cd "$ROOT"
mk() { cat > c.yaml <<YAML
name: rt
services:
  web:
    image: busybox:$1
    command: ["sleep", "3600"]
    init: true
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD-SHELL", "$2"]
      interval: 200ms
      retries: 1
    deploy:
      replicas: 3
      update_config: { parallelism: 1, monitor: 1s, failure_action: rollback }
      rollback_config: { parallelism: 0, monitor: 1s }
YAML
}
wait_event() { for i in $(seq 120); do $R events -p rt --since 0 --until 0s | grep -q "$1" && return 0; sleep 0.25; done; echo "timeout waiting for $1"; }
ids() { $R ps --format json | jq -r '[.[] | select(.Service=="web") | .Names + "=" + .Id[0:12]] | sort | join(" ")'; }
images() { $R ps --format json | jq -r '[.[] | select(.Service=="web") | .Image] | sort | unique | join(" ")'; }
mk v1 true
$R up -d -f c.yaml >/dev/null
mk v2 true
$R up -d -f c.yaml >/dev/null
wait_event "update revision 1 -> 2: completed"
echo "after-update=$(images)"
echo "order=$($R events -p rt --since 0 --until 0s | awk '$3=="stop" || ($3=="start" && $6=="2") {printf "%s:%s ", $3, $2}')"
before=$(ids)
echo "before-failing=$before"
mk v3 false
$R up -d -f c.yaml >/dev/null
wait_event "rollback revision 3 -> 2: completed"
echo "after-failing=$(images)"
echo "ids-after=$(ids)"
$R events -p rt --since 0 --until 0s | grep "back to revision" | sed 's/^/note=/'
$R rollback -p rt web
wait_event "rollback revision 2 -> 4: completed"
echo "after-rollback=$(images)"
echo "revisions=$($R compose -p rt history web | tail -n +2 | awk '{print $1":"$3}' | tr '\n' ' ')"
$R rollback -p rt --to 9 web; echo "bad-to=$?"
"#;

#[test]
fn updates_roll_out_one_by_one_roll_back_by_themselves_and_on_request() {
    let Some(w) = world("rollout") else { return };
    let out = w.run(SCRIPT);
    assert!(!out.contains("timeout waiting"), "{out}");
    assert_eq!(value(&out, "after-update"), "busybox:v2", "{out}");
    // parallelism 1, stop-first: each slot is stopped, then started anew,
    // before the next one is touched.
    let order: Vec<&str> = value(&out, "order").split_whitespace().collect();
    assert_eq!(
        order,
        [
            "stop:web-1",
            "start:web-1",
            "stop:web-2",
            "start:web-2",
            "stop:web-3",
            "start:web-3"
        ],
        "{out}"
    );
    // The failing update replaced only slot 1 before rolling back: slots 2
    // and 3 kept their old containers the whole time.
    assert_eq!(value(&out, "after-failing"), "busybox:v2", "{out}");
    let before = value(&out, "before-failing");
    let after = value(&out, "ids-after");
    for slot in ["rt-web-2", "rt-web-3"] {
        let id = |s: &str| {
            s.split_whitespace()
                .find(|kv| kv.starts_with(slot))
                .map(str::to_string)
        };
        assert_eq!(id(before), id(after), "{slot} was replaced:\n{out}");
    }
    assert!(
        value(&out, "note").contains("update to revision 3 failed"),
        "{out}"
    );
    assert!(
        out.contains("web: rolling back to revision 1 (as revision 4)"),
        "{out}"
    );
    assert_eq!(value(&out, "after-rollback"), "busybox:v1", "{out}");
    assert_eq!(
        value(&out, "revisions").trim(),
        "1:busybox:v1 2:busybox:v2 3:busybox:v3 4:busybox:v1",
        "{out}"
    );
    assert!(out.contains("revision 9 is not in the history"), "{out}");
    assert!(!out.contains("bad-to=0"), "{out}");
}
