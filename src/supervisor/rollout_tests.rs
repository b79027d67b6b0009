use super::sim::{exit, Outcome, Sim};
use super::*;
use crate::supervisor::restart::ExitCause;

fn spec(replicas: u32, revision: u64, config: UpdateConfig) -> ServiceSpec {
    ServiceSpec {
        replicas,
        update: config,
        ..ServiceSpec::new("web", revision)
    }
}

fn config(parallelism: u32) -> UpdateConfig {
    UpdateConfig {
        parallelism,
        ..UpdateConfig::default()
    }
}

fn key(slot: u32) -> SlotKey {
    SlotKey::new("web", slot)
}

fn stop(slot: u32, container: &str) -> Action {
    Action::Stop {
        key: key(slot),
        container: container.into(),
        grace: Duration::from_secs(10),
        reason: Reason::Rollout,
    }
}

fn remove(slot: u32, container: &str) -> Action {
    Action::Remove {
        key: key(slot),
        container: container.into(),
        reason: Reason::Rollout,
    }
}

fn start(slot: u32, revision: u64, surge: bool) -> Action {
    Action::Start {
        key: key(slot),
        revision,
        surge,
    }
}

#[test]
fn swarm_defaults() {
    let d = UpdateConfig::default();
    assert_eq!(
        (d.parallelism, d.delay, d.order),
        (1, Duration::ZERO, Order::StopFirst)
    );
    assert_eq!(
        (d.monitor, d.max_failure_ratio),
        (Duration::from_secs(5), 0.0)
    );
    assert_eq!(d.failure_action, FailureAction::Pause);
}

#[test]
fn stop_first_replaces_one_slot_at_a_time() {
    let mut sim = Sim::new(3, 1);
    let mut r = Rollout::update(&spec(3, 2, config(1)), 1, sim.now);
    assert_eq!(sim.step(&mut r), vec![stop(1, "web1-r1")]);
    assert_eq!(
        r.claimed_slots().into_iter().collect::<Vec<_>>(),
        vec![key(1)]
    );
    assert_eq!(sim.step(&mut r), vec![remove(1, "web1-r1")]);
    assert_eq!(sim.step(&mut r), vec![start(1, 2, false)]);
    // Slot 1 is up: it is monitored and, with no delay, slot 2 starts at once.
    assert_eq!(sim.step(&mut r), vec![stop(2, "web2-r1")]);
    assert!(matches!(r.slots[&1], SlotStep::Monitoring { .. }));
    sim.run(&mut r, 1);
    assert_eq!(r.phase, Phase::Completed);
    assert_eq!(
        sim.revisions(),
        vec![(1, 2, true), (2, 2, true), (3, 2, true)]
    );
    assert_eq!((r.updated, r.failed), (3, 0));
}

#[test]
fn parallelism_sets_the_batch_size() {
    let mut sim = Sim::new(5, 1);
    let mut r = Rollout::update(&spec(5, 2, config(2)), 1, sim.now);
    assert_eq!(
        sim.step(&mut r),
        vec![stop(1, "web1-r1"), stop(2, "web2-r1")]
    );
    sim.run(&mut r, 2);
    assert_eq!(r.phase, Phase::Completed);

    let mut sim = Sim::new(3, 1);
    let mut r = Rollout::update(&spec(3, 2, config(0)), 1, sim.now);
    assert_eq!(
        sim.step(&mut r).len(),
        3,
        "parallelism 0 updates all at once"
    );
    sim.run(&mut r, 3);
    assert_eq!(
        sim.revisions(),
        vec![(1, 2, true), (2, 2, true), (3, 2, true)]
    );
}

#[test]
fn start_first_starts_the_new_replica_before_stopping_the_old() {
    let mut sim = Sim::new(2, 1);
    let cfg = UpdateConfig {
        order: Order::StartFirst,
        ..config(1)
    };
    let mut r = Rollout::update(&spec(2, 2, cfg), 1, sim.now);
    assert_eq!(sim.step(&mut r), vec![start(1, 2, true)]);
    assert_eq!(sim.step(&mut r), vec![stop(1, "web1-r1")]);
    assert_eq!(sim.step(&mut r), vec![remove(1, "web1-r1")]);
    assert_eq!(sim.step(&mut r), vec![start(2, 2, true)]);
    // Capacity never drops below the replica count.
    for _ in 0..20 {
        let ready = sim
            .observed
            .replicas
            .iter()
            .filter(|x| x.is_ready())
            .count();
        assert!(ready >= 2, "only {ready} ready");
        sim.step(&mut r);
        sim.now = sim.now + Duration::from_secs(1);
    }
    assert_eq!(r.phase, Phase::Completed);
    assert_eq!(sim.revisions(), vec![(1, 2, true), (2, 2, true)]);
}

#[test]
fn delay_separates_batches() {
    let mut sim = Sim::new(2, 1);
    let cfg = UpdateConfig {
        delay: Duration::from_secs(10),
        ..config(1)
    };
    let mut r = Rollout::update(&spec(2, 2, cfg), 1, sim.now);
    sim.step(&mut r); // stop
    sim.step(&mut r); // remove
    sim.step(&mut r); // start
    sim.now = Time::from_secs(1);
    assert!(
        sim.step(&mut r).is_empty(),
        "slot 1 up at 1 s: slot 2 waits"
    );
    assert_eq!(
        r.next_wakeup(sim.now),
        Some(Time::from_secs(6)),
        "monitor end first"
    );
    sim.now = Time::from_secs(6);
    sim.step(&mut r);
    assert_eq!(r.next_wakeup(sim.now), Some(Time::from_secs(11)));
    sim.now = Time::from_millis(10_999);
    assert!(sim.step(&mut r).is_empty());
    sim.now = Time::from_secs(11);
    assert_eq!(sim.step(&mut r), vec![stop(2, "web2-r1")]);
}

/// Brings slot 1 of a 3-replica update up at `t = 0`, then crashes it at `crash_at`.
fn crash_after(crash_at: u64, cfg: UpdateConfig) -> (Sim, Rollout) {
    let mut sim = Sim::new(3, 1);
    let mut r = Rollout::update(&spec(3, 2, cfg), 1, sim.now);
    sim.step(&mut r);
    sim.step(&mut r);
    sim.step(&mut r);
    sim.step(&mut r); // slot 1 monitored since 0; slot 2 being replaced
    let new = sim
        .observed
        .in_slot(&key(1))
        .next()
        .unwrap()
        .container
        .clone();
    sim.now = Time::from_secs(crash_at);
    sim.step(&mut r);
    sim.find(&new).status = exit(1, sim.now, ExitCause::Exited);
    sim.step(&mut r);
    (sim, r)
}

#[test]
fn a_failure_within_the_monitor_window_counts() {
    let (_, r) = crash_after(3, config(1));
    assert_eq!(r.slots[&1], SlotStep::Failed);
    assert_eq!(
        r.phase,
        Phase::Paused(PauseReason::TooManyFailures {
            failed: 1,
            total: 3
        })
    );
    assert!(
        r.claimed_slots().is_empty(),
        "a paused rollout hands its slots back"
    );
}

#[test]
fn a_failure_after_the_monitor_window_does_not() {
    let (_, r) = crash_after(6, config(1));
    assert_eq!(r.slots[&1], SlotStep::Done);
    assert_eq!((r.phase, r.failed), (Phase::Updating, 0));
}

#[test]
fn failures_up_to_the_ratio_are_tolerated() {
    let mut sim = Sim::new(4, 1);
    sim.outcomes.insert(2, Outcome::Crash);
    let cfg = UpdateConfig {
        max_failure_ratio: 0.3,
        ..config(1)
    };
    let mut r = Rollout::update(&spec(4, 2, cfg), 1, sim.now);
    sim.run(&mut r, 1);
    // 1/4 = 0.25 is tolerated; 2/4 = 0.5 pauses.
    assert_eq!(
        r.phase,
        Phase::Paused(PauseReason::TooManyFailures {
            failed: 2,
            total: 4
        })
    );
    assert_eq!(
        (r.slots[&1], r.slots[&2], r.slots[&3]),
        (SlotStep::Failed, SlotStep::Failed, SlotStep::Pending)
    );
}

#[test]
fn an_unhealthy_new_replica_is_a_failure() {
    let mut sim = Sim::new(2, 1);
    sim.outcomes.insert(2, Outcome::Unhealthy);
    let mut r = Rollout::update(&spec(2, 2, config(1)), 1, sim.now);
    sim.run(&mut r, 1);
    assert_eq!(
        r.phase,
        Phase::Paused(PauseReason::TooManyFailures {
            failed: 1,
            total: 2
        })
    );
}

#[test]
fn failure_action_continue_finishes_the_update() {
    let mut sim = Sim::new(3, 1);
    sim.outcomes.insert(2, Outcome::Crash);
    let cfg = UpdateConfig {
        failure_action: FailureAction::Continue,
        ..config(1)
    };
    let mut r = Rollout::update(&spec(3, 2, cfg), 1, sim.now);
    sim.run(&mut r, 1);
    assert_eq!((r.phase, r.failed), (Phase::Completed, 3));
}

fn rolling_back(config: UpdateConfig) -> ServiceSpec {
    ServiceSpec {
        rollback: config,
        ..spec(
            3,
            2,
            UpdateConfig {
                failure_action: FailureAction::Rollback,
                ..config
            },
        )
    }
}

#[test]
fn failure_action_rollback_restores_the_previous_revision() {
    let mut sim = Sim::new(3, 1);
    sim.outcomes.insert(2, Outcome::Crash);
    let mut r = Rollout::update(&rolling_back(config(1)), 1, sim.now);
    sim.step(&mut r);
    sim.step(&mut r);
    sim.step(&mut r); // starts rev 2 in slot 1; it crashes at once
    let actions = sim.step(&mut r);
    assert_eq!(
        (r.kind, r.from_revision, r.to_revision),
        (RolloutKind::Rollback, 2, 1)
    );
    // The rollback starts in the same step: the crashed rev-2 container goes first.
    assert!(matches!(&actions[..], [Action::Remove { key, .. }] if key.slot == 1));
    sim.run(&mut r, 1);
    assert_eq!(r.phase, Phase::Completed);
    assert_eq!(
        sim.revisions(),
        vec![(1, 1, true), (2, 1, true), (3, 1, true)]
    );
    assert_eq!(r.adopted, 2, "slots 2 and 3 never left revision 1");
}

#[test]
fn a_failed_rollback_pauses_and_is_never_rolled_back() {
    let mut sim = Sim::new(3, 1);
    sim.outcomes.insert(1, Outcome::Crash);
    sim.outcomes.insert(2, Outcome::Crash);
    let mut r = Rollout::update(&rolling_back(config(1)), 1, sim.now);
    sim.run(&mut r, 1);
    assert_eq!(r.kind, RolloutKind::Rollback);
    assert_eq!(
        r.phase,
        Phase::Paused(PauseReason::RollbackFailed {
            failed: 1,
            total: 1
        })
    );
}

#[test]
fn user_rollback_follows_rollback_config() {
    let mut sim = Sim::new(2, 2);
    let current = ServiceSpec {
        rollback: config(0),
        ..spec(2, 2, config(1))
    };
    let target = spec(2, 1, config(1));
    let mut r = Rollout::rollback(&current, &target, sim.now);
    assert_eq!((r.kind, r.to_revision), (RolloutKind::Rollback, 1));
    assert_eq!(sim.step(&mut r).len(), 2, "rollback_config parallelism 0");
    sim.run(&mut r, 2);
    assert_eq!(sim.revisions(), vec![(1, 1, true), (2, 1, true)]);
}

#[test]
fn slots_already_updated_are_adopted() {
    let mut sim = Sim::new(2, 1);
    sim.observed.replicas[1].revision = 2;
    let mut r = Rollout::update(&spec(2, 2, config(1)), 1, sim.now);
    assert_eq!(sim.step(&mut r), vec![stop(1, "web1-r1")]);
    assert_eq!((r.slots[&2], r.adopted), (SlotStep::Done, 1));
}

#[test]
fn a_finished_rollout_does_nothing() {
    let sim = Sim::new(1, 1);
    let mut r = Rollout::update(&spec(1, 2, config(1)), 1, sim.now);
    r.phase = Phase::Completed;
    let (next, actions) = step(&r, &sim.observed, sim.now);
    assert_eq!((next, actions), (r.clone(), vec![]));
    assert_eq!(r.next_wakeup(sim.now), None);
}
