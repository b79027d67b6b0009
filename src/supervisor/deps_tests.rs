use crate::supervisor::health::{HealthSpec, HealthStatus};
use crate::supervisor::reconcile::reconcile;
use crate::supervisor::spec::Condition;
use crate::supervisor::test_fixtures::*;
use crate::supervisor::{ObservedState, ReplicaStatus};

#[test]
fn waits_for_a_dependency_that_is_not_yet_healthy() {
    let mut db = service("db", 1, "always");
    db.health = Some(HealthSpec::default());
    let web = depends(service("web", 1, "always"), "db", Condition::ServiceHealthy);
    let d = desired(vec![db, web]);
    // Nothing runs: db starts, web waits.
    assert_eq!(
        reconcile(&d, &ObservedState::default(), t(0)),
        vec![
            start("db", 1),
            wait("web", 1, "db", Condition::ServiceHealthy)
        ]
    );
    let o = observed(vec![with_health(
        running("db", 1, "d"),
        HealthStatus::Starting,
    )]);
    assert_eq!(
        reconcile(&d, &o, t(0)),
        vec![wait("web", 1, "db", Condition::ServiceHealthy)]
    );
    let o = observed(vec![with_health(
        running("db", 1, "d"),
        HealthStatus::Healthy,
    )]);
    assert_eq!(reconcile(&d, &o, t(0)), vec![start("web", 1)]);
}

#[test]
fn a_restarted_dependency_gates_restarts_again() {
    let mut db = service("db", 1, "always");
    db.health = Some(HealthSpec::default());
    let web = depends(service("web", 1, "always"), "db", Condition::ServiceHealthy);
    let d = desired(vec![db, web]);
    // db crashed and came back, not healthy yet; web crashed meanwhile.
    let o = observed(vec![
        with_health(running("db", 1, "d2"), HealthStatus::Starting),
        exited("web", 1, "w", 1, 0),
    ]);
    assert_eq!(
        reconcile(&d, &o, t(0)),
        vec![wait("web", 1, "db", Condition::ServiceHealthy)]
    );
    // db still down: waiting for db, not for the backoff.
    let o = observed(vec![
        exited("db", 1, "d2", 1, 0),
        exited("web", 1, "w", 1, 0),
    ]);
    let actions = reconcile(&d, &o, t(0));
    assert_eq!(actions[1], wait("web", 1, "db", Condition::ServiceHealthy));
}

#[test]
fn service_started_and_completed_successfully() {
    let started = depends(service("web", 1, "always"), "db", Condition::ServiceStarted);
    let d = desired(vec![service("db", 1, "always"), started]);
    let o = observed(vec![replica("db", 1, "d", ReplicaStatus::Starting)]);
    assert_eq!(
        reconcile(&d, &o, t(0)),
        vec![wait("web", 1, "db", Condition::ServiceStarted)]
    );
    let o = observed(vec![running("db", 1, "d")]);
    assert_eq!(reconcile(&d, &o, t(0)), vec![start("web", 1)]);

    let done = Condition::ServiceCompletedSuccessfully;
    let app = depends(service("app", 1, "always"), "migrate", done);
    let d = desired(vec![service("migrate", 2, "no"), app]);
    let o = observed(vec![
        exited("migrate", 1, "m1", 0, 0),
        running("migrate", 2, "m2"),
    ]);
    assert_eq!(
        reconcile(&d, &o, t(0)),
        vec![wait("app", 1, "migrate", done)]
    );
    let o = observed(vec![
        exited("migrate", 1, "m1", 0, 0),
        exited("migrate", 2, "m2", 2, 0),
    ]);
    assert_eq!(
        reconcile(&d, &o, t(0)),
        vec![wait("app", 1, "migrate", done)]
    );
    let o = observed(vec![
        exited("migrate", 1, "m1", 0, 0),
        exited("migrate", 2, "m2", 0, 0),
    ]);
    assert_eq!(reconcile(&d, &o, t(0)), vec![start("app", 1)]);
}

#[test]
fn an_unknown_dependency_is_never_met() {
    let web = depends(
        service("web", 1, "always"),
        "ghost",
        Condition::ServiceStarted,
    );
    let d = desired(vec![web]);
    assert_eq!(
        reconcile(&d, &ObservedState::default(), t(0)),
        vec![wait("web", 1, "ghost", Condition::ServiceStarted)]
    );
}
