use super::*;
use crate::project::history::record_changes;
use crate::project::{ReplicaTemplate, ServiceRecord};
use crate::supervisor::rollout::FailureAction;
use crate::supervisor::test_fixtures::{observed, running, t};
use crate::supervisor::{ObservedReplica, ServiceSpec};

fn record(image: &str, revision: u64) -> ProjectRecord {
    let mut spec = ServiceSpec::new("web", 2);
    spec.revision = revision;
    spec.update.failure_action = FailureAction::Rollback;
    ProjectRecord {
        name: "p".into(),
        services: vec![ServiceRecord::plain(
            spec,
            ReplicaTemplate {
                image: image.into(),
                ..ReplicaTemplate::default()
            },
        )],
        networks: vec![],
        metrics: None,
    }
}

fn at_revision(mut r: ObservedReplica, revision: u64) -> ObservedReplica {
    r.revision = revision;
    r
}

fn history() -> History {
    let mut h = History::new();
    record_changes(&mut h, &mut record("v1", 1), t(0));
    record_changes(&mut h, &mut record("v2", 2), t(1));
    h
}

#[test]
fn replicas_at_another_revision_start_an_update_that_claims_a_batch() {
    let mut rollouts = Rollouts::default();
    let mut desired = record("v2", 2);
    let o = observed(vec![
        at_revision(running("web", 1, "a"), 1),
        at_revision(running("web", 2, "b"), 1),
    ]);
    let drive = rollouts.drive(&mut desired, &history(), &o, t(10));
    let r = &rollouts.active["web"];
    assert_eq!(
        (r.kind, r.from_revision, r.to_revision),
        (RolloutKind::Update, 1, 2)
    );
    assert_eq!(rollouts.claimed().len(), 1, "parallelism 1");
    assert!(drive.persist && !drive.changed);
    assert_eq!(drive.notes[0].action, "update");
    assert!(
        matches!(drive.actions.as_slice(), [Action::Stop { container, .. }] if container == "a")
    );
}

#[test]
fn nothing_to_do_when_every_replica_runs_the_desired_revision() {
    let mut rollouts = Rollouts::default();
    let mut desired = record("v2", 2);
    let o = observed(vec![at_revision(running("web", 1, "a"), 2)]);
    let drive = rollouts.drive(&mut desired, &history(), &o, t(10));
    assert!(rollouts.active.is_empty() && drive.actions.is_empty() && !drive.persist);
}

#[test]
fn a_failed_rebuild_rolls_back_to_the_image_id_that_ran_before() {
    // `up --build` gave p-web a new id under the same name.
    let built = |id: &str, revision| {
        let mut r = record("p-web", revision);
        r.services[0].image_id = Some(id.into());
        r
    };
    let mut h = History::new();
    record_changes(&mut h, &mut built("sha256:old", 1), t(0));
    let mut desired = built("sha256:new", 2);
    record_changes(&mut h, &mut desired, t(1));
    let mut rollouts = Rollouts::default();
    let o = observed(vec![
        at_revision(running("web", 1, "a"), 1),
        at_revision(running("web", 2, "b"), 1),
    ]);
    rollouts.drive(&mut desired, &h, &o, t(10));
    let failed = observed(vec![
        at_revision(
            crate::supervisor::test_fixtures::exited("web", 1, "n", 1, 11),
            2,
        ),
        at_revision(running("web", 2, "b"), 1),
    ]);
    assert!(rollouts.drive(&mut desired, &h, &failed, t(12)).changed);
    let back = &desired.services[0];
    assert_eq!(back.image_id.as_deref(), Some("sha256:old"));
    let request = crate::project::replicas::replica_request("p", back, 1, "p-web-1".into());
    assert_eq!(request.image_pin.as_deref(), Some("sha256:old"));
}

#[test]
fn a_failed_update_rolls_the_desired_definition_back() {
    let mut rollouts = Rollouts::default();
    let mut desired = record("v2", 2);
    let h = history();
    let o = observed(vec![
        at_revision(running("web", 1, "a"), 1),
        at_revision(running("web", 2, "b"), 1),
    ]);
    rollouts.drive(&mut desired, &h, &o, t(10));
    // Slot 1's new replica exited: the update fails, failure_action rollback.
    let failed = observed(vec![
        at_revision(
            crate::supervisor::test_fixtures::exited("web", 1, "n", 1, 11),
            2,
        ),
        at_revision(running("web", 2, "b"), 1),
    ]);
    let drive = rollouts.drive(&mut desired, &h, &failed, t(12));
    assert!(drive.changed, "{:?}", drive.notes);
    assert_eq!(desired.services[0].template.image, "v1");
    assert_eq!(desired.services[0].spec.revision, 1);
    assert_eq!(rollouts.active["web"].kind, RolloutKind::Rollback);
    assert!(drive.notes.iter().any(|n| n.action == "rollback"));
}

#[test]
fn a_restored_revision_rolls_out_as_a_rollback() {
    let mut h = history();
    let mut current = record("v2", 2);
    let back =
        crate::project::history::rollback_record(&mut h, &current.services[0], None, t(5)).unwrap();
    current.services[0] = back;
    let mut rollouts = Rollouts::default();
    let o = observed(vec![at_revision(running("web", 1, "a"), 2)]);
    rollouts.drive(&mut current, &h, &o, t(10));
    let r = &rollouts.active["web"];
    assert_eq!(
        (r.kind, r.from_revision, r.to_revision),
        (RolloutKind::Rollback, 2, 3)
    );
}
