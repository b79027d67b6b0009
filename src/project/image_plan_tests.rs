use super::*;
use crate::compose::test_project as project;
use crate::project::translate::translate;

const APP: &str = r#"
name: shop
services:
  web:
    image: busybox
    command: ["sleep", "100"]
    deploy: { replicas: 2 }
  db:
    image: busybox
    pull_policy: always
    command: ["sleep", "200"]
  api:
    build: .
    image: shop/api
  cron:
    build: .
    pull_policy: build
"#;

fn action(service: &str, present: bool, wanted: bool, options: ImageOptions) -> ImageAction {
    image_action(&project(APP).services[service], present, wanted, &options)
}

fn pull(policy: PullPolicy) -> ImageOptions {
    ImageOptions {
        pull: Some(policy),
        ..ImageOptions::default()
    }
}

fn build(flag: BuildFlag) -> ImageOptions {
    ImageOptions {
        build: flag,
        ..ImageOptions::default()
    }
}

#[test]
fn by_default_a_missing_image_is_pulled_and_a_present_one_kept() {
    let default = ImageOptions::default();
    assert_eq!(action("web", false, true, default), ImageAction::Pull);
    assert_eq!(action("web", true, true, default), ImageAction::Keep);
    // A dependency nobody named is still pulled when missing.
    assert_eq!(action("web", false, false, default), ImageAction::Pull);
}

#[test]
fn pull_policy_always_pulls_each_up_of_that_service() {
    let default = ImageOptions::default();
    assert_eq!(action("db", true, true, default), ImageAction::Pull);
    assert_eq!(action("db", true, false, default), ImageAction::Keep);
}

#[test]
fn the_pull_flag_overrides_every_services_policy() {
    assert_eq!(
        action("web", true, true, pull(PullPolicy::Always)),
        ImageAction::Pull
    );
    assert_eq!(
        action("db", true, true, pull(PullPolicy::Never)),
        ImageAction::Keep
    );
    assert_eq!(
        action("web", false, true, pull(PullPolicy::Never)),
        ImageAction::Keep
    );
    assert_eq!(
        action("db", true, true, pull(PullPolicy::Missing)),
        ImageAction::Keep
    );
}

#[test]
fn services_with_build_are_built_when_missing_on_build_or_by_policy() {
    let default = ImageOptions::default();
    assert_eq!(action("api", false, true, default), ImageAction::Build);
    assert_eq!(action("api", true, true, default), ImageAction::Keep);
    assert_eq!(
        action("api", true, true, build(BuildFlag::Always)),
        ImageAction::Build
    );
    assert_eq!(
        action("api", true, false, build(BuildFlag::Always)),
        ImageAction::Keep
    );
    assert_eq!(action("cron", true, true, default), ImageAction::Build);
    // A built service is never pulled, whatever --pull says.
    assert_eq!(
        action("api", true, true, pull(PullPolicy::Always)),
        ImageAction::Keep
    );
}

const BASES: &str = r#"
services:
  plain:
    build: .
  fresh:
    build: { context: ., pull: true }
  policy:
    build: .
    pull_policy: always
"#;

fn pulls(service: &str, options: ImageOptions) -> bool {
    pulls_bases(&project(BASES).services[service], &options)
}

#[test]
fn a_build_pulls_its_bases_on_pull_always_build_pull_or_pull_policy_always() {
    let default = ImageOptions::default();
    assert!(!pulls("plain", default), "only missing bases by default");
    assert!(pulls("plain", pull(PullPolicy::Always)));
    assert!(!pulls("plain", pull(PullPolicy::Missing)));
    assert!(!pulls("plain", pull(PullPolicy::Never)));
    assert!(pulls("fresh", default) && pulls("fresh", pull(PullPolicy::Never)));
    assert!(pulls("policy", default));
    assert!(!pulls("policy", pull(PullPolicy::Never)), "--pull wins");
    let compose_build = ImageOptions {
        pull_bases: true,
        ..pull(PullPolicy::Never)
    };
    assert!(pulls("plain", compose_build));
}

#[test]
fn no_build_never_builds_even_a_missing_image() {
    let never = build(BuildFlag::Never);
    assert_eq!(action("api", false, true, never), ImageAction::Keep);
    assert_eq!(action("cron", true, true, never), ImageAction::Keep);
}

fn selected(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn revision(record: &ProjectRecord, service: &str) -> u64 {
    record.service(service).unwrap().spec.revision
}

#[test]
fn force_recreate_moves_unchanged_selected_services_to_the_next_revision() {
    let first = translate(&project(APP), None);
    let mut again = translate(&project(APP), Some(&first));
    apply_recreate(
        &mut again,
        Some(&first),
        Recreate::Force,
        &selected(&["web"]),
    );
    assert_eq!(revision(&again, "web"), revision(&first, "web") + 1);
    assert_eq!(
        revision(&again, "db"),
        revision(&first, "db"),
        "not selected"
    );
    // The first up has nothing to recreate.
    let mut fresh = translate(&project(APP), None);
    apply_recreate(&mut fresh, None, Recreate::Force, &selected(&["web"]));
    assert_eq!(revision(&fresh, "web"), 1);
}

#[test]
fn force_recreate_of_a_changed_service_moves_it_once() {
    let first = translate(&project(APP), None);
    let changed = APP.replace("sleep\", \"100", "sleep\", \"101");
    let mut again = translate(&project(&changed), Some(&first));
    apply_recreate(
        &mut again,
        Some(&first),
        Recreate::Force,
        &selected(&["web"]),
    );
    assert_eq!(revision(&again, "web"), revision(&first, "web") + 1);
}

#[test]
fn no_recreate_keeps_the_previous_definition_at_the_new_scale() {
    let first = translate(&project(APP), None);
    let changed = APP
        .replace("sleep\", \"100", "sleep\", \"101")
        .replace("replicas: 2", "replicas: 4");
    let mut again = translate(&project(&changed), Some(&first));
    assert_eq!(revision(&again, "web"), revision(&first, "web") + 1);
    apply_recreate(
        &mut again,
        Some(&first),
        Recreate::Never,
        &selected(&["web", "db"]),
    );
    let web = again.service("web").unwrap();
    assert_eq!(web.spec.revision, revision(&first, "web"));
    assert_eq!(web.template, first.service("web").unwrap().template);
    assert_eq!(web.spec.replicas, 4);
}
