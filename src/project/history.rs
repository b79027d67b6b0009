//! Each service's revision history (`history.json` in the project's
//! directory), kept by `up` and `rollback`, read by the supervisor to know
//! what a revision was. A revision number is the service's
//! `spec.revision`: numbers only grow, a rollback records the old
//! definition again under a new number (as Kubernetes does).

use std::collections::BTreeMap;

use super::translate::{ProjectRecord, ServiceRecord};
use super::{ProjectDir, ProjectError, Result};
use crate::container::store::{read_json, write_json_atomic};
use crate::supervisor::revisions::{HistoryError, Revision, RevisionHistory};
use crate::supervisor::Time;

/// Histories by service name.
pub type History = BTreeMap<String, RevisionHistory<ServiceRecord>>;

impl ProjectDir {
    pub fn load_history(&self) -> History {
        read_json(&self.dir.join("history.json")).unwrap_or_default()
    }

    pub fn save_history(&self, history: &History) -> Result<()> {
        Ok(write_json_atomic(&self.dir.join("history.json"), history)?)
    }
}

/// Records the services of `record` whose definition is new, numbering
/// them after their history (a revision number is never reused, even after
/// a rollback). `at` is wall-clock seconds, for `history`.
pub fn record_changes(history: &mut History, record: &mut ProjectRecord, at: Time) {
    for service in &mut record.services {
        let h = history.entry(service.spec.name.clone()).or_default();
        let known = h
            .current()
            .is_some_and(|c| c.number == service.spec.revision);
        if known {
            continue;
        }
        let number = service.spec.revision.max(h.next_number());
        service.spec.revision = number;
        h.record_as(number, service.clone(), at, None);
    }
}

/// The definition a replica of `revision` was made from: the desired one,
/// or an older one from the history (during a rolling update old replicas
/// keep their own health check). Falls back to the desired definition.
pub fn definition<'a>(
    record: &'a ProjectRecord,
    history: &'a History,
    service: &str,
    revision: u64,
) -> Option<&'a ServiceRecord> {
    let desired = record.service(service)?;
    if desired.spec.revision == revision {
        return Some(desired);
    }
    let old = history.get(service).and_then(|h| h.get(revision));
    Some(old.map_or(desired, |r| &r.spec))
}

/// The definition `rollback [--to N]` puts back for `current`: the target
/// revision's, renumbered as the next revision, at the current scale.
pub fn rollback_record(
    history: &mut History,
    current: &ServiceRecord,
    to: Option<u64>,
    at: Time,
) -> std::result::Result<ServiceRecord, HistoryError> {
    let h = history.entry(current.spec.name.clone()).or_default();
    let target = rollback_target(h, current.spec.revision, to)?.clone();
    let mut restored = target.spec.clone();
    restored.spec.replicas = current.spec.replicas;
    restored.spec.run = current.spec.run;
    restored.spec.revision = h.next_number();
    h.record_as(
        restored.spec.revision,
        restored.clone(),
        at,
        Some(target.number),
    );
    Ok(restored)
}

/// Refuses to roll `restored` back (to revision `from`) when the image
/// that revision ran is gone: its tag may name another image by now.
pub fn check_image(
    images: &crate::image::ImageStore,
    restored: &ServiceRecord,
    from: u64,
) -> Result<()> {
    let Some(id) = &restored.image_id else {
        return Ok(());
    };
    match images.resolve(id) {
        Ok(_) => Ok(()),
        Err(crate::image::ImageError::NotFound { .. }) => Err(ProjectError::RollbackImageGone {
            service: restored.spec.name.clone(),
            revision: from,
            image: crate::image::digest_hex(id).chars().take(12).collect(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// The image ids every project's revisions ran: `image prune` keeps them
/// (an untagged old build is what `rollback` brings back).
pub fn pinned_images(root: &std::path::Path) -> std::collections::BTreeSet<String> {
    let mut ids = std::collections::BTreeSet::new();
    for name in super::list_projects(root) {
        let dir = ProjectDir::new(root, &name);
        let record = dir.load().ok();
        let current = record.iter().flat_map(|r| r.services.iter());
        let history = dir.load_history();
        let old = history
            .values()
            .flat_map(|h| h.revisions.iter().map(|r| &r.spec));
        ids.extend(current.chain(old).filter_map(|s| s.image_id.clone()));
    }
    ids
}

/// `--to N`, else the newest revision before the one that runs (after an
/// automatic rollback that is not the newest recorded one).
fn rollback_target(
    h: &RevisionHistory<ServiceRecord>,
    running: u64,
    to: Option<u64>,
) -> std::result::Result<&Revision<ServiceRecord>, HistoryError> {
    match to {
        Some(n) if n == running => Err(HistoryError::AlreadyCurrent { revision: n }),
        Some(_) => h.rollback_target(to),
        None => h
            .revisions
            .iter()
            .rev()
            .find(|r| r.number < running)
            .ok_or(HistoryError::NoPrevious),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::ReplicaTemplate;
    use crate::supervisor::ServiceSpec;

    fn record(image: &str, revision: u64) -> ProjectRecord {
        let mut spec = ServiceSpec::new("web", 3);
        spec.revision = revision;
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

    #[test]
    fn new_definitions_are_recorded_once_under_their_revision() {
        let mut h = History::new();
        let mut r = record("v1", 1);
        record_changes(&mut h, &mut r, Time::from_secs(1));
        record_changes(&mut h, &mut r, Time::from_secs(2));
        assert_eq!(h["web"].revisions.len(), 1);
        let mut r2 = record("v2", 2);
        record_changes(&mut h, &mut r2, Time::from_secs(3));
        assert_eq!(h["web"].current().unwrap().number, 2);
        assert_eq!(h["web"].current().unwrap().spec.template.image, "v2");
    }

    #[test]
    fn rollback_restores_the_previous_definition_under_a_new_number() {
        let mut h = History::new();
        record_changes(&mut h, &mut record("v1", 1), Time::from_secs(1));
        let mut current = record("v2", 2);
        current.services[0].spec.replicas = 5;
        record_changes(&mut h, &mut current, Time::from_secs(2));
        let back = rollback_record(&mut h, &current.services[0], None, Time::from_secs(3)).unwrap();
        assert_eq!(back.template.image, "v1");
        assert_eq!(back.spec.revision, 3);
        assert_eq!(back.spec.replicas, 5, "the scale is kept");
        assert_eq!(h["web"].current().unwrap().restored_from, Some(1));
        // A later `up` translating v2 again (revision 2 + 1 = 3) must not reuse 3.
        let mut again = record("v2", 3);
        record_changes(&mut h, &mut again, Time::from_secs(4));
        assert_eq!(again.services[0].spec.revision, 3, "3 is current: known");
        let mut changed = record("v3", 3);
        changed.services[0].spec.revision = 2;
        record_changes(&mut h, &mut changed, Time::from_secs(5));
        assert_eq!(changed.services[0].spec.revision, 4);
    }

    #[test]
    fn rollback_brings_back_the_image_id_the_old_revision_ran() {
        // `up --build` rebuilt the image under the same name: only the id differs.
        let mut h = History::new();
        let mut old = record("p-web", 1);
        old.services[0].image_id = Some("sha256:aaa".into());
        record_changes(&mut h, &mut old, Time::from_secs(1));
        let mut new = record("p-web", 2);
        new.services[0].image_id = Some("sha256:bbb".into());
        record_changes(&mut h, &mut new, Time::from_secs(2));
        let back = rollback_record(&mut h, &new.services[0], None, Time::from_secs(3)).unwrap();
        assert_eq!(back.template.image, "p-web");
        assert_eq!(back.image_id.as_deref(), Some("sha256:aaa"));
    }

    #[test]
    fn rollback_to_an_unknown_revision_is_an_error() {
        let mut h = History::new();
        let r = record("v1", 1);
        record_changes(&mut h, &mut r.clone(), Time::from_secs(1));
        assert_eq!(
            rollback_record(&mut h, &r.services[0], None, Time::ZERO),
            Err(HistoryError::NoPrevious)
        );
        assert!(rollback_record(&mut h, &r.services[0], Some(7), Time::ZERO).is_err());
    }
}
