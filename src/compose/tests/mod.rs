//! Loading whole compose documents: keys, defaults, warnings, errors, real files.

mod autoscale;
mod errors;
mod files;
mod keys;
mod realworld;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use super::*;

const FILE: &str = "/srv/My App/compose.yaml";

fn env() -> Env {
    [("HOME", "/home/u"), ("TAG", "1.25"), ("SECRET", "s3cret")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load_with(text: &str, files: &BTreeMap<&str, &str>, name: Option<&str>) -> Result<Loaded> {
    let read = |p: &Path| -> io::Result<String> {
        let key = p.to_str().unwrap_or_default();
        files
            .get(key)
            .map(|s| s.to_string())
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    };
    let env = env();
    let input = LoadInput {
        file: Path::new(FILE),
        text,
        env: &env,
        project_name: name,
        profiles: &[],
        targeted: &[],
    };
    load_str(&input, &read)
}

fn load(text: &str) -> Result<Loaded> {
    load_with(text, &BTreeMap::new(), None)
}

fn ok(text: &str) -> Loaded {
    match load(text) {
        Ok(l) => l,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn err(text: &str) -> ComposeError {
    match load(text) {
        Ok(l) => panic!("expected an error, got {:?}", l.project),
        Err(e) => e,
    }
}

/// Asserts the error message starts with `FILE:line:` and contains `needle`.
fn assert_err(text: &str, line: usize, needle: &str) {
    let msg = err(text).to_string();
    let prefix = format!("{FILE}:{line}:");
    assert!(msg.starts_with(&prefix), "want {prefix} in {msg}");
    assert!(msg.contains(needle), "want {needle:?} in {msg}");
}

fn warning_keys(l: &Loaded) -> Vec<(String, usize, WarningKind)> {
    l.warnings
        .iter()
        .map(|w| (w.key.clone(), w.at.line, w.kind.clone()))
        .collect()
}

#[test]
fn default_file_search_prefers_compose_yaml() {
    assert_eq!(
        find_compose_file(&["docker-compose.yml", "compose.yml"]),
        Some("compose.yml")
    );
    assert_eq!(
        find_compose_file(&["docker-compose.yaml", "docker-compose.yml"]),
        Some("docker-compose.yaml")
    );
    assert_eq!(
        find_compose_file(&["compose.yaml", "compose.yml"]),
        Some("compose.yaml")
    );
    assert_eq!(find_compose_file(&["README.md"]), None);
    assert_eq!(find_compose_file::<&str>(&[]), None);
}

#[test]
fn project_name_default_explicit_and_override() {
    let text = "services:\n  a:\n    image: x\n";
    assert_eq!(ok(text).project.name, "myapp");
    let named = "name: shop\nservices:\n  a:\n    image: x\n";
    assert_eq!(ok(named).project.name, "shop");
    let over = load_with(named, &BTreeMap::new(), Some("other")).unwrap();
    assert_eq!(over.project.name, "other");
    let bad = load_with(named, &BTreeMap::new(), Some("Bad Name")).unwrap_err();
    assert!(bad.to_string().contains("project name"), "{bad}");
    assert_err("name: Shop\nservices: {}\n", 1, "project name");
}

#[test]
fn load_file_reads_dotenv_and_default_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "RCORCH_TEST_IMAGE_TAG=9.9\n").unwrap();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        "services:\n  a:\n    image: busybox:${RCORCH_TEST_IMAGE_TAG}\n    env_file: a.env\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("a.env"), "FROM_FILE=1\n").unwrap();
    let loaded = load_file(None, dir.path(), None, &[], &[]).unwrap();
    let a = &loaded.project.services["a"];
    assert_eq!(a.image.as_deref(), Some("busybox:9.9"));
    assert_eq!(a.environment["FROM_FILE"].as_deref(), Some("1"));
    let empty = tempfile::tempdir().unwrap();
    let e = load_file(None, empty.path(), None, &[], &[]).unwrap_err();
    assert!(matches!(e, ComposeError::NotFound { .. }), "{e}");
}

#[test]
fn override_file_search_takes_the_first_present() {
    let both = ["docker-compose.override.yml", "compose.override.yaml"];
    assert_eq!(find_override_file(&both), Some("compose.override.yaml"));
    let legacy = ["docker-compose.yml", "docker-compose.override.yml"];
    assert_eq!(
        find_override_file(&legacy),
        Some("docker-compose.override.yml")
    );
    assert_eq!(find_override_file(&["compose.yaml", "override.yaml"]), None);
}

#[test]
fn the_override_file_merges_over_the_default_file_only_without_f() {
    let dir = tempfile::tempdir().unwrap();
    let base = "services:\n  a:\n    image: busybox\n    environment: {A: base, B: base}\n";
    std::fs::write(dir.path().join("compose.yaml"), base).unwrap();
    let over = "services:\n  a:\n    environment: {B: over}\n  b:\n    image: busybox\n";
    std::fs::write(dir.path().join("compose.override.yaml"), over).unwrap();
    let p = load_file(None, dir.path(), None, &[], &[]).unwrap().project;
    let env = &p.services["a"].environment;
    assert_eq!(env["A"].as_deref(), Some("base"));
    assert_eq!(env["B"].as_deref(), Some("over"));
    assert!(p.services.contains_key("b"));
    // An explicit -f names every file: the override is not added.
    let named = load_file(Some(Path::new("compose.yaml")), dir.path(), None, &[], &[]);
    let p = named.unwrap().project;
    assert_eq!(p.services["a"].environment["B"].as_deref(), Some("base"));
    assert!(!p.services.contains_key("b"));
}

#[test]
fn an_env_file_replaces_dotenv_and_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "RCORCH_TEST_TAG2=from-dotenv\n").unwrap();
    std::fs::write(dir.path().join("prod.env"), "RCORCH_TEST_TAG2=from-prod\n").unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  a:\n    image: busybox:${RCORCH_TEST_TAG2:-none}\n",
    )
    .unwrap();
    let input = |env_file: &'static str| FileInput {
        files: &[],
        env_file: Some(Path::new(env_file)),
        cwd: dir.path(),
        project_name: None,
        profiles: &[],
        targeted: &[],
    };
    let loaded = super::load_with(&input("prod.env")).unwrap();
    let image = loaded.project.services["a"].image.clone();
    assert_eq!(image.as_deref(), Some("busybox:from-prod"));
    let e = super::load_with(&input("missing.env")).unwrap_err();
    assert!(e.to_string().contains("missing.env"), "{e}");
}

fn load_profiles(text: &str, env: &Env, profiles: &[String]) -> Result<Loaded> {
    load_targeting(text, env, profiles, &[])
}

fn load_targeting(
    text: &str,
    env: &Env,
    profiles: &[String],
    targeted: &[String],
) -> Result<Loaded> {
    let input = LoadInput {
        file: Path::new(FILE),
        text,
        env,
        project_name: None,
        profiles,
        targeted,
    };
    load_str(&input, &|_| Ok(String::new()))
}

#[test]
fn a_targeted_service_enables_its_profiles() {
    // As compose: `up migrate` runs migrate (profile tools) and so enables
    // `tools`, which makes `seed` (its dependency, same profile) exist too;
    // `debug` stays out.
    let text = "services:\n  web:\n    image: x\n  migrate:\n    image: x\n    profiles: [tools]\n    depends_on: [seed]\n  seed:\n    image: x\n    profiles: [tools]\n  debug:\n    image: x\n    profiles: [debug]\n";
    let names = |l: Loaded| l.project.services.keys().cloned().collect::<Vec<_>>();
    let targeted = load_targeting(text, &Env::new(), &[], &["migrate".to_string()]).unwrap();
    assert_eq!(names(targeted), ["migrate", "seed", "web"]);
    let plain = load_targeting(text, &Env::new(), &[], &[]).unwrap();
    assert_eq!(names(plain), ["web"]);
}

#[test]
fn services_of_disabled_profiles_are_left_out() {
    let text = "services:\n  web:\n    image: x\n  debug:\n    image: x\n    profiles: [dev]\n  db:\n    image: x\n    profiles: [prod, dev]\n";
    let names = |l: Loaded| l.project.services.keys().cloned().collect::<Vec<_>>();
    let none = load_profiles(text, &Env::new(), &[]).unwrap();
    assert_eq!(names(none), ["web"]);
    let dev = load_profiles(text, &Env::new(), &["dev".into()]).unwrap();
    assert_eq!(names(dev), ["db", "debug", "web"]);
    let from_env: Env = [("COMPOSE_PROFILES".to_string(), "prod".to_string())].into();
    assert_eq!(
        names(load_profiles(text, &from_env, &[]).unwrap()),
        ["db", "web"]
    );
    // --profile wins over COMPOSE_PROFILES.
    let flag = load_profiles(text, &from_env, &["dev".into()]).unwrap();
    assert_eq!(names(flag), ["db", "debug", "web"]);
}

#[test]
fn depending_on_a_disabled_service_is_an_error() {
    let text = "services:\n  web:\n    image: x\n    depends_on: [debug]\n  debug:\n    image: x\n    profiles: [dev]\n";
    let e = load_profiles(text, &Env::new(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("undefined service") && e.contains("debug"),
        "{e}"
    );
}

#[test]
fn later_files_merge_over_earlier_ones() {
    let env = Env::default();
    let input = LoadInput {
        file: Path::new("/app/compose.yaml"),
        text: "services:\n  web:\n    image: a\n    ports: ['80:80']\n    environment: [A=1]\n",
        env: &env,
        project_name: None,
        profiles: &[],
        targeted: &[],
    };
    let over = "services:\n  web:\n    image: b\n    ports: ['8080:80']\n    environment: {B: '2'}\n  db:\n    image: c\n";
    let overrides = [(Path::new("/app/compose.prod.yaml"), over)];
    let p = load_merged(&input, &overrides, &|_| Ok(String::new()))
        .unwrap()
        .project;
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("b"));
    let published: Vec<u16> = web
        .ports
        .iter()
        .filter_map(|p| p.published.map(|r| r.start))
        .collect();
    assert_eq!(published, [80, 8080]);
    assert_eq!(web.environment["A"].as_deref(), Some("1"));
    assert_eq!(web.environment["B"].as_deref(), Some("2"));
    assert!(p.services.contains_key("db"));
}
