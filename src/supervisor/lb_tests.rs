use std::time::Duration;

use super::*;
use crate::supervisor::action::Reason;
use crate::supervisor::health::HealthStatus;
use crate::supervisor::test_fixtures::*;
use crate::supervisor::{ReplicaStatus, SlotKey};

#[test]
fn replicas_join_once_healthy_or_started_and_leave_when_draining() {
    let o = observed(vec![
        with_health(running("web", 3, "c"), HealthStatus::Healthy),
        with_health(running("web", 2, "b"), HealthStatus::Starting),
        with_health(running("web", 4, "d"), HealthStatus::Unhealthy),
        running("web", 1, "a"), // no health check: member once running
        replica("web", 5, "e", ReplicaStatus::Starting),
        exited("web", 6, "f", 0, 0),
        running("api", 1, "x"),
    ]);
    let names = |m: Vec<&crate::supervisor::ObservedReplica>| {
        m.iter().map(|r| r.container.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(members("web", &o, &BTreeSet::new())), vec!["a", "c"]);
    let draining = BTreeSet::from(["c".to_string()]);
    assert_eq!(names(members("web", &o, &draining)), vec!["a"]);
}

#[test]
fn stops_drain_first() {
    let actions = vec![
        start("web", 3),
        Action::Stop {
            key: SlotKey::new("web", 4),
            container: "d".into(),
            grace: Duration::from_secs(10),
            reason: Reason::ScaleDown,
        },
    ];
    assert_eq!(draining_for(&actions), BTreeSet::from(["d".to_string()]));
}

#[test]
fn round_robin_cycles_over_the_members() {
    let mut b = Balancer::new(Strategy::RoundRobin);
    let members = ["a", "b", "c"];
    let mut picks = Vec::new();
    for _ in 0..7 {
        let (i, next) = b.pick(&members, &BTreeMap::new());
        picks.push(i.unwrap());
        b = next;
    }
    assert_eq!(picks, vec![0, 1, 2, 0, 1, 2, 0]);
    // A member leaves: the cursor wraps over the smaller set.
    let (i, _) = b.pick(&["a"], &BTreeMap::new());
    assert_eq!(i, Some(0));
    assert_eq!(b.pick(&[], &BTreeMap::new()).0, None);
}

#[test]
fn least_connections_picks_the_idlest_and_rotates_ties() {
    let b = Balancer::new(Strategy::LeastConnections);
    let open = BTreeMap::from([
        ("a".to_string(), 5),
        ("b".to_string(), 1),
        ("c".to_string(), 3),
    ]);
    assert_eq!(b.pick(&["a", "b", "c"], &open).0, Some(1));
    let mut b = b;
    let mut picks = Vec::new();
    for _ in 0..4 {
        let (i, next) = b.pick(&["a", "b"], &BTreeMap::new());
        picks.push(i.unwrap());
        b = next;
    }
    assert_eq!(picks, vec![0, 1, 0, 1]);
}

#[test]
fn membership_lists_ready_members_and_every_running_replica() {
    let o = observed(vec![
        with_health(running("web", 2, "b"), HealthStatus::Healthy),
        with_health(running("web", 1, "a"), HealthStatus::Starting),
        with_health(running("web", 3, "c"), HealthStatus::Healthy),
        exited("web", 4, "d", 1, 0),
        running("api", 1, "x"),
    ]);
    let draining = BTreeSet::from(["c".to_string()]);
    let m = membership("web", &o, &draining);
    assert_eq!(m.members, ["b"]);
    assert_eq!(m.running, ["a", "b"]);
    assert_eq!(membership("db", &o, &draining), Membership::default());
}

fn pool(members: &[&str]) -> Pool {
    let mut p = Pool::new(Strategy::LeastConnections);
    p.set_members(members.iter().map(|m| m.to_string()).collect());
    p
}

#[test]
fn a_held_connection_sends_every_new_one_to_the_other_member() {
    let mut p = pool(&["x", "y"]);
    assert_eq!(p.admit().as_deref(), Some("x"), "the long-lived one");
    for _ in 0..5 {
        let m = p.admit().unwrap();
        assert_eq!(m, "y");
        p.release(&m);
    }
    p.release("x");
    let mut seen = Vec::new();
    for _ in 0..4 {
        let m = p.admit().unwrap();
        p.release(&m);
        seen.push(m);
    }
    assert_eq!(
        seen,
        ["x", "y", "x", "y"],
        "released: ties round-robin again"
    );
    assert_eq!(p.open("x") + p.open("y"), 0);
}

#[test]
fn a_member_that_leaves_keeps_its_open_count_until_released() {
    let mut p = pool(&["x", "y"]);
    let first = p.admit().unwrap();
    p.set_members(vec!["y".into()]);
    assert_eq!(p.open(&first), 1);
    assert_eq!(p.admit().as_deref(), Some("y"));
    p.release(&first);
    p.release(&first); // twice: never below zero
    assert_eq!(p.open(&first), 0);
    p.set_members(vec![]);
    assert_eq!(p.admit(), None);
    assert_eq!(Strategy::LeastConnections.name(), "least-connections");
}

#[test]
fn a_balanced_replica_is_signalled_only_after_the_drain_delay() {
    let drained = Time::from_secs(10);
    assert_eq!(stop_signal_at(drained, false), drained);
    assert_eq!(stop_signal_at(drained, true), drained + DRAIN_DELAY);
    assert!(DRAIN_DELAY < Duration::from_secs(1), "stops stay prompt");
}
