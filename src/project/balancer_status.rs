//! What the supervisor last managed to tell the balancer, per service and
//! revision (`<project>/balancer.json`): `up` waits on it, so a port whose
//! rules could not be applied makes `up` fail with nft's own reason instead
//! of reporting replicas that nobody can reach.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::balance::balanced_network;
use super::translate::ProjectRecord;
use super::ProjectDir;
use crate::container::store::{read_json, write_json_atomic};

/// One service's balancer, as last applied (or not) by the supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancerStatus {
    /// The service revision the supervisor was serving when it applied.
    pub revision: u64,
    /// Running replicas whose ports the applied rules publish.
    pub running: usize,
    /// Why the rules could not be applied; `None` when they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When (RFC 3339): `up` trusts only what was written after it began.
    pub at: String,
}

pub type BalancerStatuses = BTreeMap<String, BalancerStatus>;

/// What a wait on the balancers of `record`'s services concludes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BalancerVerdict {
    /// Services whose rules are not (yet) known applied for all replicas.
    pub pending: Vec<String>,
    /// `(service, reason)` of services whose rules failed.
    pub failed: Vec<(String, String)>,
}

/// Judges `statuses` for `record`'s balanced services, trusting only what
/// was written at or after `since` for the service's current revision.
pub fn verdict(
    record: &ProjectRecord,
    statuses: &BalancerStatuses,
    since: &str,
) -> BalancerVerdict {
    let mut out = BalancerVerdict::default();
    for service in &record.services {
        if balanced_network(service).is_none() {
            continue;
        }
        let name = &service.spec.name;
        let fresh = statuses
            .get(name)
            .filter(|s| s.revision == service.spec.revision && s.at.as_str() >= since);
        match fresh {
            Some(BalancerStatus {
                error: Some(reason),
                ..
            }) => out.failed.push((name.clone(), reason.clone())),
            Some(s) if s.running >= service.spec.replicas as usize => {}
            _ => out.pending.push(name.clone()),
        }
    }
    out
}

impl ProjectDir {
    /// Written by the supervisor only; a damaged file reads as "nothing
    /// known yet" and is rewritten on the supervisor's next sync.
    pub fn save_balancer(&self, statuses: &BalancerStatuses) {
        let _ = write_json_atomic(&self.dir.join("balancer.json"), statuses);
    }

    pub fn load_balancer(&self) -> BalancerStatuses {
        read_json(&self.dir.join("balancer.json")).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::translate::{ReplicaTemplate, ServiceRecord};
    use crate::supervisor::ServiceSpec;

    fn status(revision: u64, running: usize, error: Option<&str>, at: &str) -> BalancerStatus {
        BalancerStatus {
            revision,
            running,
            error: error.map(str::to_string),
            at: at.into(),
        }
    }

    /// web (2 replicas, revision 3) and db (1, revision 1) on a bridge,
    /// and a host-network service the balancer never sees.
    fn record() -> ProjectRecord {
        let service = |name: &str, replicas: u32, revision: u64, network: &str| {
            let mut spec = ServiceSpec::new(name, revision);
            spec.replicas = replicas;
            let template = ReplicaTemplate {
                network: Some(network.into()),
                ..Default::default()
            };
            ServiceRecord::plain(spec, template)
        };
        ProjectRecord {
            name: "p".into(),
            services: vec![
                service("web", 2, 3, "p_default"),
                service("db", 1, 1, "p_default"),
                service("agent", 1, 1, "host"),
            ],
            networks: Vec::new(),
            metrics: None,
        }
    }

    #[test]
    fn applied_for_the_current_revision_and_every_replica_is_done() {
        let statuses = BalancerStatuses::from([
            ("web".into(), status(3, 2, None, "2026-01-01T00:00:02Z")),
            ("db".into(), status(1, 1, None, "2026-01-01T00:00:02Z")),
        ]);
        assert_eq!(
            verdict(&record(), &statuses, "2026-01-01T00:00:01Z"),
            BalancerVerdict::default()
        );
    }

    #[test]
    fn a_failure_names_the_service_and_nfts_reason() {
        let statuses = BalancerStatuses::from([
            (
                "web".into(),
                status(3, 0, Some("nft: busy"), "2026-01-01T00:00:02Z"),
            ),
            ("db".into(), status(1, 1, None, "2026-01-01T00:00:02Z")),
        ]);
        let v = verdict(&record(), &statuses, "2026-01-01T00:00:01Z");
        assert_eq!(v.failed, vec![("web".to_string(), "nft: busy".to_string())]);
        assert!(v.pending.is_empty());
    }

    #[test]
    fn stale_old_revision_or_short_statuses_are_pending() {
        let statuses = BalancerStatuses::from([
            // written before this `up` began: a failure since fixed, maybe
            (
                "web".into(),
                status(3, 0, Some("old"), "2026-01-01T00:00:00Z"),
            ),
            ("db".into(), status(1, 0, None, "2026-01-01T00:00:02Z")),
        ]);
        let v = verdict(&record(), &statuses, "2026-01-01T00:00:01Z");
        assert_eq!(v.pending, vec!["web".to_string(), "db".to_string()]);
        assert!(v.failed.is_empty());
        let older = BalancerStatuses::from([(
            "web".into(),
            status(2, 2, Some("x"), "2026-01-01T00:00:02Z"),
        )]);
        let v = verdict(&record(), &older, "2026-01-01T00:00:01Z");
        assert!(v.failed.is_empty() && v.pending.contains(&"web".to_string()));
    }
}
