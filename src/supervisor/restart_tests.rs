use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn crash(at: u64) -> ExitInfo {
    ExitInfo {
        code: 1,
        at: Time::from_millis(at),
        cause: ExitCause::Exited,
    }
}

fn clean(at: u64) -> ExitInfo {
    ExitInfo {
        code: 0,
        ..crash(at)
    }
}

fn policy(s: &str) -> RestartPolicy {
    crate::supervisor::test_fixtures::docker_delays(RestartPolicy::parse(s).unwrap())
}

#[test]
fn by_default_the_first_restart_is_immediate_then_docker_backoff() {
    let p = RestartPolicy::parse("always").unwrap();
    let mut history = RestartHistory::default();
    let mut delays = Vec::new();
    let mut now = Time::from_secs(1);
    history = record_start(&history, now, StartKind::Fresh);
    for _ in 0..4 {
        now = now + Duration::from_millis(5);
        let exit = ExitInfo {
            code: 1,
            at: now,
            cause: ExitCause::Exited,
        };
        history = record_exit(&history, exit);
        let RestartDecision::RestartAt { at, delay } = decide_restart(&p, &history, &exit, now)
        else {
            panic!("expected a restart")
        };
        delays.push(delay.as_millis());
        history = record_start(&history, at, StartKind::Restart { delay });
        now = at;
    }
    assert_eq!(delays, [0, 100, 200, 400]);
}

/// Runs a crash loop: each run lasts `run_ms`, each restart happens when decided.
/// Returns the delays used.
fn crash_loop(policy: &RestartPolicy, runs: usize, run_ms: u64) -> Vec<Duration> {
    let mut h = record_start(&RestartHistory::default(), Time::ZERO, StartKind::Fresh);
    let mut start = 0;
    let mut delays = Vec::new();
    for _ in 0..runs {
        let exit = crash(start + run_ms);
        h = record_exit(&h, exit);
        match decide_restart(policy, &h, &exit, exit.at) {
            RestartDecision::RestartAt { at, delay } => {
                assert_eq!(at, exit.at + delay);
                delays.push(delay);
                h = record_start(&h, at, StartKind::Restart { delay });
                start = at.as_millis();
            }
            other => panic!("expected a restart, got {other:?}"),
        }
    }
    delays
}

#[test]
fn parses_compose_restart_values() {
    assert_eq!(policy("no").rule, RestartRule::No);
    assert_eq!(policy("always").rule, RestartRule::Always);
    assert_eq!(policy("unless-stopped").rule, RestartRule::UnlessStopped);
    assert_eq!(
        policy("on-failure").rule,
        RestartRule::OnFailure { max_retries: None }
    );
    assert_eq!(
        policy("on-failure:5").rule,
        RestartRule::OnFailure {
            max_retries: Some(5)
        }
    );
    assert!(matches!(
        RestartPolicy::parse("sometimes"),
        Err(RestartError::UnknownPolicy { .. })
    ));
    assert!(matches!(
        RestartPolicy::parse("on-failure:x"),
        Err(RestartError::BadRetryCount { .. })
    ));
}

#[test]
fn backoff_starts_at_100ms_and_doubles_to_a_60s_cap() {
    let delays = crash_loop(&policy("always"), 12, 5);
    let expected: Vec<Duration> = [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200]
        .into_iter()
        .map(ms)
        .chain([Duration::from_secs(60), Duration::from_secs(60)])
        .collect();
    assert_eq!(delays, expected);
}

#[test]
fn backoff_resets_after_ten_seconds_of_running() {
    let p = policy("always");
    let mut h = record_start(&RestartHistory::default(), Time::ZERO, StartKind::Fresh);
    h = record_start(
        &h,
        Time::from_millis(100),
        StartKind::Restart { delay: ms(800) },
    );
    // Ran 9.999 s: keeps doubling.
    let short = crash(100 + 9_999);
    assert_eq!(
        decide_restart(&p, &h, &short, short.at),
        RestartDecision::RestartAt {
            at: short.at + ms(1600),
            delay: ms(1600)
        }
    );
    // Ran 10 s: back to 100 ms.
    let long = crash(100 + 10_000);
    assert_eq!(
        decide_restart(&p, &h, &long, long.at),
        RestartDecision::RestartAt {
            at: long.at + ms(100),
            delay: ms(100)
        }
    );
}

#[test]
fn base_and_cap_are_parameters() {
    let mut p = policy("always");
    p.backoff.base = ms(10);
    p.backoff.first = ms(10);
    p.backoff.cap = ms(35);
    assert_eq!(crash_loop(&p, 4, 1), vec![ms(10), ms(20), ms(35), ms(35)]);
}

#[test]
fn no_never_restarts() {
    let h = RestartHistory::default();
    assert_eq!(
        decide_restart(&policy("no"), &h, &crash(5), Time::ZERO),
        RestartDecision::NoRestart
    );
}

#[test]
fn always_restarts_clean_exits_too() {
    let h = RestartHistory::default();
    for p in ["always", "unless-stopped"] {
        assert!(matches!(
            decide_restart(&policy(p), &h, &clean(5), Time::ZERO),
            RestartDecision::RestartAt { .. }
        ));
    }
}

#[test]
fn on_failure_ignores_clean_exits_and_counts_retries() {
    let p = policy("on-failure:2");
    let h = RestartHistory::default();
    assert_eq!(
        decide_restart(&p, &h, &clean(5), Time::ZERO),
        RestartDecision::NoRestart
    );
    let h1 = record_start(&h, Time::ZERO, StartKind::Restart { delay: ms(100) });
    assert!(matches!(
        decide_restart(&p, &h1, &crash(5), Time::ZERO),
        RestartDecision::RestartAt { .. }
    ));
    let h2 = record_start(&h1, Time::ZERO, StartKind::Restart { delay: ms(200) });
    assert_eq!(
        decide_restart(&p, &h2, &crash(5), Time::ZERO),
        RestartDecision::GiveUp(GiveUpReason::MaxRetries { max: 2 })
    );
    // A fresh start (user `start`) resets the count.
    let h3 = record_start(&h2, Time::ZERO, StartKind::Fresh);
    assert_eq!(h3.count, 0);
}

#[test]
fn unhealthy_stop_is_a_failure_and_requested_stop_is_never_restarted() {
    let h = RestartHistory::default();
    let unhealthy = ExitInfo {
        cause: ExitCause::StoppedUnhealthy,
        ..clean(5)
    };
    assert!(matches!(
        decide_restart(&policy("on-failure"), &h, &unhealthy, Time::ZERO),
        RestartDecision::RestartAt { .. }
    ));
    let requested = ExitInfo {
        cause: ExitCause::StoppedOnRequest,
        ..crash(5)
    };
    assert_eq!(
        decide_restart(&policy("always"), &h, &requested, Time::ZERO),
        RestartDecision::NoRestart
    );
}

fn deploy(condition: DeployCondition) -> DeployRestart {
    DeployRestart {
        condition,
        delay: None,
        max_attempts: None,
        window: None,
    }
}

#[test]
fn deploy_conditions() {
    let h = RestartHistory::default();
    let none = RestartPolicy::new(RestartRule::Deploy(deploy(DeployCondition::None)));
    let on_failure = RestartPolicy::new(RestartRule::Deploy(deploy(DeployCondition::OnFailure)));
    let any = RestartPolicy::new(RestartRule::Deploy(deploy(DeployCondition::Any)));
    let t = Time::ZERO;
    assert_eq!(
        decide_restart(&none, &h, &crash(5), t),
        RestartDecision::NoRestart
    );
    assert_eq!(
        decide_restart(&on_failure, &h, &clean(5), t),
        RestartDecision::NoRestart
    );
    assert!(matches!(
        decide_restart(&on_failure, &h, &crash(5), t),
        RestartDecision::RestartAt { .. }
    ));
    assert!(matches!(
        decide_restart(&any, &h, &clean(5), t),
        RestartDecision::RestartAt { .. }
    ));
    assert!(!none.restarts_failures());
    assert!(any.restarts_failures());
}

#[test]
fn deploy_delay_is_the_backoff_base() {
    let p = RestartPolicy::new(RestartRule::Deploy(DeployRestart {
        delay: Some(Duration::from_secs(5)),
        ..deploy(DeployCondition::Any)
    }));
    let secs: Vec<u64> = crash_loop(&p, 6, 1).iter().map(|d| d.as_secs()).collect();
    assert_eq!(secs, vec![5, 10, 20, 40, 60, 60]);
}

#[test]
fn deploy_max_attempts_counts_only_within_the_window() {
    let p = RestartPolicy::new(RestartRule::Deploy(DeployRestart {
        max_attempts: Some(2),
        window: Some(Duration::from_secs(60)),
        ..deploy(DeployCondition::Any)
    }));
    let mut h = RestartHistory::default();
    h = record_start(
        &h,
        Time::from_secs(10),
        StartKind::Restart { delay: ms(100) },
    );
    h = record_start(
        &h,
        Time::from_secs(20),
        StartKind::Restart { delay: ms(200) },
    );
    let exit = crash(25_000);
    assert_eq!(
        decide_restart(&p, &h, &exit, Time::from_secs(25)),
        RestartDecision::GiveUp(GiveUpReason::MaxAttempts { max: 2 })
    );
    // 65 s later the first restart has left the window.
    assert!(matches!(
        decide_restart(&p, &h, &exit, Time::from_secs(71)),
        RestartDecision::RestartAt { .. }
    ));
    // Without a window every restart counts.
    let no_window = RestartPolicy::new(RestartRule::Deploy(DeployRestart {
        max_attempts: Some(2),
        ..deploy(DeployCondition::Any)
    }));
    assert!(matches!(
        decide_restart(&no_window, &h, &exit, Time::from_secs(500)),
        RestartDecision::GiveUp(_)
    ));
}

#[test]
fn record_exit_keeps_the_count() {
    let h = record_start(
        &RestartHistory::default(),
        Time::ZERO,
        StartKind::Restart { delay: ms(100) },
    );
    let h2 = record_exit(&h, crash(50));
    assert_eq!(h2.count, 1);
    assert_eq!(h2.last_exit, Some(crash(50)));
}
