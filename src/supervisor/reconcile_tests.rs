use super::*;
use crate::supervisor::health::{HealthSpec, HealthStatus};
use crate::supervisor::restart::ExitInfo;
use crate::supervisor::test_fixtures::*;

#[test]
fn starts_every_slot_of_a_new_service() {
    let d = desired(vec![service("web", 3, "always")]);
    let actions = reconcile(&d, &ObservedState::default(), t(0));
    assert_eq!(
        actions,
        vec![start("web", 3), start("web", 2), start("web", 1)]
    );
}

#[test]
fn steady_state_needs_nothing() {
    let d = desired(vec![service("web", 2, "always")]);
    let o = observed(vec![running("web", 1, "a"), running("web", 2, "b")]);
    assert!(reconcile(&d, &o, t(0)).is_empty());
    assert_eq!(next_wakeup(&d, &o, t(0)), None);
}

#[test]
fn scale_up_starts_the_missing_slots_only() {
    let d = desired(vec![service("web", 3, "always")]);
    let o = observed(vec![running("web", 1, "a"), running("web", 2, "b")]);
    assert_eq!(reconcile(&d, &o, t(0)), vec![start("web", 3)]);
}

#[test]
fn a_gap_in_the_slots_is_filled() {
    let d = desired(vec![service("web", 3, "always")]);
    let o = observed(vec![running("web", 1, "a"), running("web", 3, "c")]);
    assert_eq!(reconcile(&d, &o, t(0)), vec![start("web", 2)]);
}

#[test]
fn scale_down_stops_the_highest_slots_gracefully_then_removes_them() {
    let mut web = service("web", 1, "always");
    web.stop_grace = Duration::from_secs(3);
    let d = desired(vec![web]);
    let o = observed(vec![
        running("web", 1, "a"),
        running("web", 2, "b"),
        running("web", 3, "c"),
    ]);
    let grace = Duration::from_secs(3);
    let stops = |slot, c: &str| Action::Stop {
        key: key("web", slot),
        container: c.into(),
        grace,
        reason: Reason::ScaleDown,
    };
    assert_eq!(reconcile(&d, &o, t(0)), vec![stops(3, "c"), stops(2, "b")]);
    // Once stopped they are removed, and a removing one is left alone.
    let o = observed(vec![
        running("web", 1, "a"),
        exited("web", 2, "b", 143, 5),
        replica("web", 3, "c", ReplicaStatus::Removing),
    ]);
    let removes = vec![Action::Remove {
        key: key("web", 2),
        container: "b".into(),
        reason: Reason::ScaleDown,
    }];
    assert_eq!(reconcile(&d, &o, t(10)), removes);
}

#[test]
fn scale_to_zero_stops_everything() {
    let d = desired(vec![service("web", 0, "always")]);
    let o = observed(vec![running("web", 1, "a")]);
    assert_eq!(
        reconcile(&d, &o, t(0)),
        vec![stop("web", 1, "a", Reason::ScaleDown)]
    );
}

#[test]
fn a_crash_is_restarted_after_the_first_backoff() {
    let d = desired(vec![service("web", 2, "always")]);
    let o = observed(vec![
        running("web", 1, "a"),
        exited("web", 2, "b", 137, 1_000),
    ]);
    assert_eq!(
        reconcile(&d, &o, t(1_000)),
        vec![restart_at("web", 2, "b", 1_100)]
    );
    assert_eq!(next_wakeup(&d, &o, t(1_000)), Some(t(1_100)));
    // At the deadline the action is due and nothing is left to wait for.
    let actions = reconcile(&d, &o, t(1_100));
    assert!(actions[0].is_due(t(1_100)) && !actions[0].is_due(t(1_099)));
    assert_eq!(next_wakeup(&d, &o, t(1_100)), None);
}

#[test]
fn backoff_grows_in_a_crash_loop() {
    let d = desired(vec![service("web", 1, "on-failure")]);
    let mut o = observed(vec![exited("web", 1, "a", 1, 5_000)]);
    o.restarts.insert(
        key("web", 1),
        history_after_restarts(&[100, 200, 400], 4_900),
    );
    assert_eq!(
        reconcile(&d, &o, t(5_000)),
        vec![restart_at("web", 1, "a", 5_800)]
    );
    assert_eq!(next_wakeup(&d, &o, t(5_000)), Some(t(5_800)));
}

#[test]
fn backoff_resets_after_a_long_run() {
    let d = desired(vec![service("web", 1, "on-failure")]);
    let mut o = observed(vec![exited("web", 1, "a", 1, 20_000)]);
    o.restarts.insert(
        key("web", 1),
        history_after_restarts(&[100, 200, 400], 9_000),
    );
    assert_eq!(
        reconcile(&d, &o, t(20_000)),
        vec![restart_at("web", 1, "a", 20_100)]
    );
}

#[test]
fn policies_that_do_not_restart_leave_the_slot_exited() {
    let no = desired(vec![service("job", 1, "no")]);
    assert!(reconcile(&no, &observed(vec![exited("job", 1, "a", 1, 0)]), t(0)).is_empty());
    let on_failure = desired(vec![service("job", 1, "on-failure")]);
    assert!(reconcile(
        &on_failure,
        &observed(vec![exited("job", 1, "a", 0, 0)]),
        t(0)
    )
    .is_empty());
    // Given up after max retries: no action either.
    let capped = desired(vec![service("job", 1, "on-failure:2")]);
    let mut o = observed(vec![exited("job", 1, "a", 1, 0)]);
    o.restarts
        .insert(key("job", 1), history_after_restarts(&[100, 200], 0));
    assert!(reconcile(&capped, &o, t(0)).is_empty());
}

#[test]
fn an_unhealthy_replica_is_stopped_then_restarted() {
    let d = desired(vec![service("web", 1, "on-failure")]);
    let sick = with_health(running("web", 1, "a"), HealthStatus::Unhealthy);
    assert_eq!(
        reconcile(&d, &observed(vec![sick]), t(0)),
        vec![stop("web", 1, "a", Reason::Unhealthy)]
    );
    // It exits 0 on SIGTERM; being stopped for ill health still counts as a failure.
    let stopped = replica(
        "web",
        1,
        "a",
        ReplicaStatus::Exited(ExitInfo {
            code: 0,
            at: t(50),
            cause: ExitCause::StoppedUnhealthy,
        }),
    );
    assert_eq!(
        reconcile(&d, &observed(vec![stopped]), t(50)),
        vec![restart_at("web", 1, "a", 150)]
    );
}

#[test]
fn unhealthy_under_restart_no_is_still_replaced() {
    let d = desired(vec![service("web", 1, "no")]);
    let sick = with_health(running("web", 1, "a"), HealthStatus::Unhealthy);
    let actions = reconcile(&d, &observed(vec![sick]), t(0));
    assert!(matches!(
        actions.as_slice(),
        [Action::Stop {
            reason: Reason::Unhealthy,
            ..
        }]
    ));
    let mut stopped = running("web", 1, "a");
    stopped.status = ReplicaStatus::Exited(ExitInfo {
        code: 143,
        at: t(50),
        cause: ExitCause::StoppedUnhealthy,
    });
    let restarted = reconcile(&d, &observed(vec![stopped.clone()]), t(50));
    assert!(matches!(restarted.as_slice(), [Action::Restart { .. }]));
    // A plain exit under `restart: no` still stays down.
    stopped.status = ReplicaStatus::Exited(ExitInfo {
        code: 1,
        at: t(50),
        cause: ExitCause::Exited,
    });
    assert!(reconcile(&d, &observed(vec![stopped]), t(50)).is_empty());
}

#[test]
fn orphans_are_stopped_then_removed() {
    let d = desired(vec![service("web", 1, "always")]);
    let o = observed(vec![
        running("web", 1, "a"),
        running("old", 1, "x"),
        exited("old", 2, "y", 0, 0),
    ]);
    let actions = reconcile(&d, &o, t(0));
    assert_eq!(
        actions,
        vec![
            Action::Remove {
                key: key("old", 2),
                container: "y".into(),
                reason: Reason::Orphan
            },
            stop("old", 1, "x", Reason::Orphan),
        ]
    );
}

#[test]
fn duplicates_in_a_slot_are_reduced_to_one() {
    let d = desired(vec![service("web", 1, "always")]);
    // Adopted after a crash of the supervisor: two containers claim slot 1.
    let mut stale = running("web", 1, "b");
    stale.revision = 0;
    let o = observed(vec![stale, running("web", 1, "a")]);
    assert_eq!(
        reconcile(&d, &o, t(0)),
        vec![stop("web", 1, "b", Reason::Duplicate)]
    );
    // Same revision and state: the higher id goes, deterministically.
    let o = observed(vec![running("web", 1, "b"), running("web", 1, "a")]);
    assert_eq!(
        reconcile(&d, &o, t(0)),
        vec![stop("web", 1, "b", Reason::Duplicate)]
    );
    // A running one is kept over an exited one, which is removed.
    let o = observed(vec![exited("web", 1, "a", 1, 0), running("web", 1, "b")]);
    assert_eq!(
        reconcile(&d, &o, t(0)),
        vec![Action::Remove {
            key: key("web", 1),
            container: "a".into(),
            reason: Reason::Duplicate
        }]
    );
}

#[test]
fn never_two_actions_for_one_slot() {
    let d = desired(vec![service("web", 2, "always")]);
    let o = observed(vec![
        running("web", 1, "a"),
        running("web", 1, "b"),
        exited("web", 1, "c", 1, 0),
        exited("web", 2, "d", 1, 0),
        running("web", 3, "e"),
        exited("web", 3, "f", 0, 0),
        running("gone", 1, "g"),
        exited("gone", 1, "h", 0, 0),
    ]);
    let actions = reconcile(&d, &o, t(0));
    assert_one_action_per_slot(&actions);
    assert_eq!(actions.len(), 4);
}

#[test]
fn claimed_slots_are_left_to_the_rollout() {
    let mut d = desired(vec![service("web", 2, "always")]);
    d.claimed.insert(key("web", 2));
    let o = observed(vec![exited("web", 1, "a", 1, 0)]);
    assert_eq!(
        reconcile(&d, &o, t(0)),
        vec![restart_at("web", 1, "a", 100)]
    );
}

#[test]
fn a_stopped_service_is_stopped_and_started_again_on_request() {
    let mut web = service("web", 2, "always");
    web.run = RunState::Stopped;
    let d = desired(vec![web.clone()]);
    let o = observed(vec![running("web", 1, "a"), exited("web", 2, "b", 1, 0)]);
    assert_eq!(
        reconcile(&d, &o, t(0)),
        vec![stop("web", 1, "a", Reason::ServiceStopped)]
    );
    // `start`: replicas stopped on request restart at once, whatever the backoff.
    web.run = RunState::Running;
    let d = desired(vec![web]);
    let by_request = replica(
        "web",
        1,
        "a",
        ReplicaStatus::Exited(ExitInfo {
            code: 143,
            at: t(10),
            cause: ExitCause::StoppedOnRequest,
        }),
    );
    let o = observed(vec![by_request]);
    assert_eq!(
        reconcile(&d, &o, t(500)),
        vec![start("web", 2), restart_at("web", 1, "a", 500)]
    );
}

#[test]
fn starting_and_removing_replicas_are_left_alone() {
    let d = desired(vec![service("web", 2, "always")]);
    let o = observed(vec![
        replica("web", 1, "a", ReplicaStatus::Starting),
        replica("web", 2, "b", ReplicaStatus::Removing),
    ]);
    assert!(reconcile(&d, &o, t(0)).is_empty());
}

#[test]
fn probes_are_scheduled_and_wake_the_shell() {
    let mut web = service("web", 2, "always");
    web.health = Some(HealthSpec {
        interval: Duration::from_secs(10),
        ..HealthSpec::default()
    });
    let d = desired(vec![web]);
    let mut probed = with_health(running("web", 2, "b"), HealthStatus::Healthy);
    if let Some(h) = probed.health.as_mut() {
        h.last_probe_at = Some(t(4_000));
    }
    let o = observed(vec![
        with_health(running("web", 1, "a"), HealthStatus::Starting),
        probed,
    ]);
    assert_eq!(next_wakeup(&d, &o, t(1_000)), Some(t(10_000)));
    assert!(due_probes(&d, &o, t(9_999)).is_empty());
    assert_eq!(due_probes(&d, &o, t(10_000)), vec!["a"]);
    assert_eq!(next_wakeup(&d, &o, t(10_000)), Some(t(14_000)));
}

#[test]
fn a_crash_loop_backs_off_and_resets_end_to_end() {
    use crate::supervisor::restart::{record_exit, record_start, StartKind};
    let d = desired(vec![service("web", 1, "always")]);
    let mut o = observed(vec![running("web", 1, "a")]);
    let k = key("web", 1);
    o.restarts.insert(
        k.clone(),
        record_start(&Default::default(), t(0), StartKind::Fresh),
    );
    let mut now = 0;
    let mut delays = Vec::new();
    // Runs of 50 ms, then one of 10 s, then 50 ms again.
    for run in [50, 50, 50, 50, 10_000, 50] {
        now += run;
        let exit = ExitInfo {
            code: 1,
            at: t(now),
            cause: ExitCause::Exited,
        };
        o.replicas[0].status = ReplicaStatus::Exited(exit);
        let h = record_exit(&o.history(&k), exit);
        o.restarts.insert(k.clone(), h.clone());
        let [Action::Restart { at, .. }] = reconcile(&d, &o, t(now))[..] else {
            panic!("expected one restart");
        };
        assert_eq!(next_wakeup(&d, &o, t(now)), Some(at));
        let delay = at.since(t(now));
        delays.push(delay.as_millis() as u64);
        now = at.as_millis();
        o.restarts.insert(
            k.clone(),
            record_start(&h, at, StartKind::Restart { delay }),
        );
        o.replicas[0].status = ReplicaStatus::Running { since: at };
    }
    assert_eq!(delays, vec![100, 200, 400, 800, 100, 200]);
    assert_eq!(o.history(&k).count, 6);
}
