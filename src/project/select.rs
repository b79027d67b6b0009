//! `up SERVICE…`: which services a partial `up` touches, and the desired
//! state it leaves. Pure: the compose model and the records in, a record out.

use std::collections::BTreeSet;

use super::translate::ProjectRecord;
use super::{ProjectError, Result};
use crate::compose::model::Project;

/// The services `up` brings up: all of them when `named` is empty, else the
/// named ones and, transitively, what they depend on (as compose does).
/// A name that is not a service of `project` is an error.
pub fn selected_services(project: &Project, named: &[String]) -> Result<BTreeSet<String>> {
    if named.is_empty() {
        return Ok(project.services.keys().cloned().collect());
    }
    if let Some(unknown) = named.iter().find(|n| !project.services.contains_key(*n)) {
        return Err(ProjectError::NoService {
            project: project.name.clone(),
            service: unknown.clone(),
        });
    }
    let mut selected = BTreeSet::new();
    let mut todo: Vec<&String> = named.iter().collect();
    while let Some(name) = todo.pop() {
        if !selected.insert(name.clone()) {
            continue;
        }
        // Optional dependencies that are not in the file are skipped.
        let Some(service) = project.services.get(name) else {
            continue;
        };
        todo.extend(
            service
                .depends_on
                .keys()
                .filter(|d| project.services.contains_key(*d)),
        );
    }
    Ok(selected)
}

/// The desired state after `up` of `selected` only: those services as
/// `fresh` (the whole file translated) has them; every other service as
/// `previous` had it (definition and replica count); services neither
/// selected nor already there are not added. Networks: the previous ones
/// plus those the selected services join.
pub fn merge_selected(
    fresh: ProjectRecord,
    previous: Option<&ProjectRecord>,
    selected: &BTreeSet<String>,
) -> ProjectRecord {
    let mut services = Vec::new();
    for service in &fresh.services {
        if selected.contains(&service.spec.name) {
            services.push(service.clone());
        } else if let Some(before) = previous.and_then(|p| p.service(&service.spec.name)) {
            services.push(before.clone());
        }
    }
    // Services no longer in the file stay too: only a full `up` drops them.
    if let Some(previous) = previous {
        for before in &previous.services {
            if fresh.service(&before.spec.name).is_none() {
                services.push(before.clone());
            }
        }
    }
    let mut networks = previous.map(|p| p.networks.clone()).unwrap_or_default();
    for network in fresh.networks {
        let used = fresh
            .services
            .iter()
            .filter(|s| selected.contains(&s.spec.name))
            .any(|s| {
                let t = &s.template;
                t.network.as_deref() == Some(network.name.as_str())
                    || t.extra_networks.iter().any(|(n, _)| *n == network.name)
            });
        if used && !networks.iter().any(|n| n.name == network.name) {
            networks.push(network);
        }
    }
    ProjectRecord {
        name: fresh.name,
        services,
        networks,
        metrics: fresh.metrics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::test_project as project;
    use crate::project::translate::translate;

    const APP: &str = r#"
name: shop
services:
  web:
    image: busybox
    depends_on: [api]
    networks: [front]
  api:
    image: busybox
    depends_on: [db]
    networks: [back]
  db:
    image: busybox
    networks: [back]
  cron:
    image: busybox
    deploy: { replicas: 2 }
networks:
  front: {}
  back: {}
"#;

    fn names(set: &BTreeSet<String>) -> Vec<&str> {
        set.iter().map(String::as_str).collect()
    }

    #[test]
    fn no_names_select_every_service() {
        let p = project(APP);
        assert_eq!(
            names(&selected_services(&p, &[]).unwrap()),
            ["api", "cron", "db", "web"]
        );
    }

    #[test]
    fn a_named_service_brings_its_dependencies_transitively() {
        let p = project(APP);
        let web = selected_services(&p, &["web".into()]).unwrap();
        assert_eq!(names(&web), ["api", "db", "web"]);
        let db = selected_services(&p, &["db".into()]).unwrap();
        assert_eq!(names(&db), ["db"]);
        let two = selected_services(&p, &["api".into(), "cron".into()]).unwrap();
        assert_eq!(names(&two), ["api", "cron", "db"]);
    }

    #[test]
    fn an_unknown_service_is_an_error() {
        let p = project(APP);
        let err = selected_services(&p, &["db".into(), "nope".into()]).unwrap_err();
        assert!(
            matches!(&err, ProjectError::NoService { service, .. } if service == "nope"),
            "{err}"
        );
    }

    #[test]
    fn a_first_partial_up_adds_only_the_selected_services_and_their_networks() {
        let p = project(APP);
        let selected = selected_services(&p, &["db".into()]).unwrap();
        let record = merge_selected(translate(&p, None), None, &selected);
        let services: Vec<&str> = record
            .services
            .iter()
            .map(|s| s.spec.name.as_str())
            .collect();
        assert_eq!(services, ["db"]);
        let networks: Vec<&str> = record.networks.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(networks, ["shop_back"]);
    }

    #[test]
    fn services_not_selected_keep_their_definition_and_replica_count() {
        let before = translate(&project(APP), None);
        let mut previous = before.clone();
        // Scaled since: a partial up must not reset it.
        previous.services.iter_mut().for_each(|s| {
            if s.spec.name == "cron" {
                s.spec.replicas = 5;
            }
        });
        // The file changes both db and cron.
        let changed = APP
            .replace(
                "image: busybox\n    networks: [back]\n  cron",
                "image: alpine\n    networks: [back]\n  cron",
            )
            .replace("replicas: 2", "replicas: 3");
        let p = project(&changed);
        let selected = selected_services(&p, &["db".into()]).unwrap();
        let record = merge_selected(translate(&p, Some(&previous)), Some(&previous), &selected);
        let db = record.service("db").unwrap();
        assert_eq!(db.template.image, "alpine");
        assert_eq!(db.spec.revision, 2);
        let cron = record.service("cron").unwrap();
        assert_eq!(cron.spec.replicas, 5);
        assert_eq!(cron, previous.service("cron").unwrap());
        assert_eq!(record.services.len(), 4);
        assert_eq!(record.networks, previous.networks);
    }

    #[test]
    fn services_dropped_from_the_file_survive_a_partial_up() {
        let previous = translate(&project(APP), None);
        let p = project(&APP.replace(
            "  cron:\n    image: busybox\n    deploy: { replicas: 2 }\n",
            "",
        ));
        assert!(!p.services.contains_key("cron"));
        let selected = selected_services(&p, &["web".into()]).unwrap();
        let record = merge_selected(translate(&p, Some(&previous)), Some(&previous), &selected);
        assert!(record.service("cron").is_some());
    }
}
