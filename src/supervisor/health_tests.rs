use super::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn spec() -> HealthSpec {
    HealthSpec {
        interval: secs(10),
        timeout: secs(2),
        retries: 3,
        start_period: secs(30),
        start_interval: secs(1),
    }
}

fn apply(state: HealthState, result: ProbeResult, at: u64) -> (HealthState, HealthEvent) {
    on_probe_result(&spec(), &state, result, Time::from_secs(at))
}

#[test]
fn compose_defaults() {
    let d = HealthSpec::default();
    assert_eq!(
        (d.interval, d.timeout, d.retries, d.start_period),
        (secs(30), secs(30), 3, secs(0))
    );
}

#[test]
fn probes_every_start_interval_during_the_start_period_then_every_interval() {
    let s = HealthState::new(Time::from_secs(100));
    assert_eq!(next_probe_at(&spec(), &s), Time::from_secs(101));
    let (s, _) = apply(s, ProbeResult::Failure, 101);
    assert_eq!(next_probe_at(&spec(), &s), Time::from_secs(102));
    // Past the start period: the normal interval.
    let (s, _) = apply(s, ProbeResult::Failure, 131);
    assert_eq!(next_probe_at(&spec(), &s), Time::from_secs(141));
}

#[test]
fn without_start_period_the_first_probe_waits_one_interval() {
    let sp = HealthSpec {
        start_period: Duration::ZERO,
        ..spec()
    };
    let s = HealthState::new(Time::from_secs(100));
    assert_eq!(next_probe_at(&sp, &s), Time::from_secs(110));
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    let mut s = HealthState::new(Time::ZERO);
    for t in 1..=10 {
        let (n, e) = apply(s, ProbeResult::Failure, t);
        assert_eq!(
            (n.status, n.failing_streak, e),
            (HealthStatus::Starting, 0, HealthEvent::Unchanged)
        );
        s = n;
    }
}

#[test]
fn success_in_the_start_period_makes_it_healthy_at_once() {
    let (s, e) = apply(HealthState::new(Time::ZERO), ProbeResult::Success, 3);
    assert_eq!(
        (s.status, e),
        (HealthStatus::Healthy, HealthEvent::BecameHealthy)
    );
    // Once healthy, the start period no longer shields failures.
    let (s, _) = apply(s, ProbeResult::Failure, 4);
    assert_eq!(s.failing_streak, 1);
}

#[test]
fn unhealthy_after_retries_consecutive_failures_and_timeouts_count() {
    let (s, _) = apply(HealthState::new(Time::ZERO), ProbeResult::Success, 1);
    let (s, e1) = apply(s, ProbeResult::Failure, 40);
    let (s, e2) = apply(s, ProbeResult::Timeout, 50);
    assert_eq!(
        (s.status, e1, e2),
        (
            HealthStatus::Healthy,
            HealthEvent::Unchanged,
            HealthEvent::Unchanged
        )
    );
    let (s, e3) = apply(s, ProbeResult::Timeout, 60);
    assert_eq!(
        (s.status, s.failing_streak, e3),
        (HealthStatus::Unhealthy, 3, HealthEvent::BecameUnhealthy)
    );
}

#[test]
fn a_success_resets_the_streak() {
    let (s, _) = apply(HealthState::new(Time::ZERO), ProbeResult::Failure, 40);
    let (s, _) = apply(s, ProbeResult::Failure, 50);
    let (s, _) = apply(s, ProbeResult::Success, 60);
    assert_eq!((s.status, s.failing_streak), (HealthStatus::Healthy, 0));
    let (s, _) = apply(s, ProbeResult::Failure, 70);
    let (s, _) = apply(s, ProbeResult::Failure, 80);
    assert_eq!(s.status, HealthStatus::Healthy);
}

#[test]
fn starting_replica_turns_unhealthy_after_the_start_period() {
    let mut s = HealthState::new(Time::ZERO);
    let mut events = Vec::new();
    for t in [31, 41, 51] {
        let (n, e) = apply(s, ProbeResult::Failure, t);
        events.push(e);
        s = n;
    }
    assert_eq!(events.last(), Some(&HealthEvent::BecameUnhealthy));
    assert_eq!(s.status, HealthStatus::Unhealthy);
}

#[test]
fn probe_deadline_is_start_plus_timeout() {
    assert_eq!(
        probe_deadline(&spec(), Time::from_secs(7)),
        Time::from_secs(9)
    );
}
