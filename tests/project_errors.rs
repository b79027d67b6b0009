//! Root-only: bad compose input is refused with a precise message (file,
//! line, key) and leaves the instance untouched; keys outside the compose spec included.

mod common;

use std::path::Path;

use common::project::Project;
use common::{assert_unchanged, TestEnv};

/// `up -d` must fail, naming `file:line` and every word of `mentions`,
/// and create nothing (no container, no project dir, no supervisor).
#[track_caller]
fn refused(env: &TestEnv, name: &str, yaml: &str, line: u32, mentions: &[&str]) {
    let p = Project::new(env, name, yaml);
    let out = assert_unchanged(env, || p.cmd("up", &["-d", "--wait-timeout", "10"]));
    assert_ne!(out.code, 0, "{out:#?}");
    let where_ = format!("{}:{line}", p.file.display());
    assert!(out.stderr.contains(&where_), "want {where_:?} in {out:#?}");
    for m in mentions {
        assert!(out.stderr.contains(m), "want {m:?} in {out:#?}");
    }
    assert!(!p.dir().exists(), "{} created", p.dir().display());
    assert!(p.supervisor_pid().is_none());
    // config agrees.
    let cfg = p.cmd("config", &["-q"]);
    assert_ne!(cfg.code, 0, "config accepted it: {cfg:#?}");
    assert!(cfg.stderr.contains(&where_), "{cfg:#?}");
}

#[test]
fn malformed_yaml_is_refused() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"\n";
    let p = Project::new(&env, "malformed", yaml);
    let out = assert_unchanged(&env, || p.cmd("up", &["-d"]));
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr.contains(&p.file.display().to_string()),
        "{out:#?}"
    );
    assert!(out.stderr.contains("line"), "{out:#?}");
    assert!(!p.dir().exists());
    assert!(!Path::new(&env.root.join("projects").join("malformed")).exists());
}

#[test]
fn unknown_service_in_depends_on() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n    depends_on:\n      - nosuch\n";
    refused(&env, "baddep", yaml, 5, &["nosuch"]);
}

#[test]
fn bad_memory_limit() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n    deploy:\n      resources:\n        limits:\n          memory: 12q\n";
    refused(&env, "badmem", yaml, 8, &["memory", "12q"]);
}

#[test]
fn wrong_type_names_the_key() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n    deploy:\n      replicas: lots\n";
    refused(&env, "badtype", yaml, 6, &["replicas"]);
}

#[test]
fn dependency_cycle_is_refused() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n";
    let p = Project::new(&env, "cycle", yaml);
    let out = assert_unchanged(&env, || p.cmd("up", &["-d", "--wait-timeout", "10"]));
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr.contains(&p.file.display().to_string()),
        "{out:#?}"
    );
    assert!(out.stderr.contains("cycle"), "{out:#?}");
    assert!(!p.dir().exists());
}

#[test]
fn a_key_outside_the_spec_is_refused_with_a_suggestion() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    comand: [\"sleep\", \"1000\"]\n";
    refused(
        &env,
        "typo",
        yaml,
        4,
        &["services.web: additional property comand is not allowed; did you mean command?"],
    );
}

#[test]
fn an_unimplemented_key_warns_once_on_up_and_not_on_every_verb() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n    stop_grace_period: 1s\n    dns_search: example.com\n";
    let p = Project::new(&env, "warnonce", yaml);
    let out = p.up();
    assert_eq!(
        out.stderr.matches("services.web.dns_search").count(),
        1,
        "{out:#?}"
    );
    // Verbs that only need the project's name from the file stay quiet.
    for verb in ["events", "down"] {
        let mut args = vec![verb, "-f", p.file_str()];
        if verb == "events" {
            args.extend(["--until", "0s"]);
        }
        let out = env.rcorch(&args);
        assert_eq!(out.code, 0, "{verb}: {out:#?}");
        assert!(
            !out.stderr.contains("WARN"),
            "{verb} repeated the warning: {out:#?}"
        );
    }
}

/// `up -d` must fail at once with `mentions`, recording and starting nothing.
#[track_caller]
fn not_runnable(env: &TestEnv, name: &str, yaml: &str, mentions: &[&str]) {
    let p = Project::new(env, name, yaml);
    let out = assert_unchanged(env, || p.cmd("up", &["-d", "--wait-timeout", "30"]));
    assert_ne!(out.code, 0, "{out:#?}");
    for m in mentions {
        assert!(out.stderr.contains(m), "want {m:?} in {out:#?}");
    }
    assert!(
        !out.stderr.contains("still starting"),
        "it waited: {out:#?}"
    );
    assert!(!p.dir().exists(), "{} created", p.dir().display());
    assert!(p.supervisor_pid().is_none());
}

#[test]
fn a_missing_image_fails_up_at_once_naming_service_and_image() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n  db:\n    image: nosuch:1\n";
    not_runnable(
        &env,
        "noimage",
        yaml,
        &["service db", "nosuch:1", "rcorch pull nosuch:1"],
    );
}

#[test]
fn a_build_service_without_a_dockerfile_is_refused_before_anything_starts() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n  app:\n    build: .\n";
    not_runnable(&env, "buildonly", yaml, &["service app", "Dockerfile"]);
}

#[test]
fn a_host_port_published_twice_is_refused_before_anything_starts() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  a:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n    ports: [\"18080:80\"]\n  b:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n    ports: [\"18080:81\"]\n";
    refused(&env, "twoports", yaml, 9, &["18080", "\"a\"", "\"b\""]);
}

#[test]
fn a_nul_byte_in_an_env_file_is_refused_naming_file_and_line() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n    env_file: vars.env\n";
    let p = Project::new(&env, "nulenv", yaml);
    let vars = p.file.with_file_name("vars.env");
    std::fs::write(&vars, "A=1\nB=x\0y\n").unwrap();
    let out = assert_unchanged(&env, || p.cmd("up", &["-d", "--wait-timeout", "10"]));
    assert_ne!(out.code, 0, "{out:#?}");
    let where_ = format!("{}:2", vars.display());
    assert!(
        out.stderr.contains(&where_) && out.stderr.contains("NUL"),
        "{out:#?}"
    );
    assert!(!p.dir().exists());
}

#[test]
fn a_5mb_environment_value_fails_up_at_once_naming_the_variable() {
    let Some(env) = TestEnv::new() else { return };
    let big = "x".repeat(5 << 20);
    let yaml = format!("services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n    environment:\n      BIG: {big}\n");
    not_runnable(&env, "bigenv", &yaml, &["service web", "BIG", "bytes"]);
}

#[test]
fn a_wait_shows_progress_and_its_timeout_names_the_cause() {
    let Some(env) = TestEnv::new() else { return };
    // web waits for a db that never turns healthy: never up, but no error.
    let yaml = "services:\n  db:\n    image: busybox\n    network_mode: none\n    command: [\"sleep\", \"1000\"]\n    healthcheck:\n      test: [\"CMD\", \"false\"]\n      interval: 1s\n  web:\n    image: busybox\n    network_mode: none\n    command: [\"sleep\", \"1000\"]\n    depends_on:\n      db:\n        condition: service_healthy\n";
    let p = Project::new(&env, "slow", yaml);
    let out = p.cmd("up", &["-d", "--wait-timeout", "3"]);
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr.contains("waiting for web 0/1 running"),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains("after 3s: web still starting"),
        "{out:#?}"
    );
}

/// (name, the service's command, what `run` exits with for it.)
const CANNOT_RUN: &[(&str, &str, i32)] = &[
    ("notfound", "nosuchprog", 127),
    ("notexec", "/etc/passwd", 126),
];

#[test]
fn a_command_that_cannot_run_fails_up_at_once_with_runs_error() {
    let Some(env) = TestEnv::new() else { return };
    for (name, command, code) in CANNOT_RUN {
        let run = env.rcorch(&["run", "--rm", "--network", "none", "busybox", command]);
        assert_eq!(run.code, *code, "{run:#?}");
        let error = run.stderr.trim().trim_start_matches("rcorch: ").to_string();
        assert!(error.contains(command), "{run:#?}");
        // Restarted always: the supervisor would retry it forever.
        let yaml = format!(
            "services:\n  web:\n    image: busybox\n    restart: always\n    command: [\"{command}\"]\n"
        );
        let p = Project::new(&env, name, &yaml);
        // A fresh project that cannot run is removed again: nothing is left.
        let out = assert_unchanged(&env, || p.cmd("up", &["-d", "--wait-timeout", "60"]));
        assert_ne!(out.code, 0, "{out:#?}");
        let want = format!("rcorch: service web: {error}");
        assert!(out.stderr.contains(&want), "want {want:?} in {out:#?}");
        assert!(
            !out.stderr.contains("still starting"),
            "it waited: {out:#?}"
        );
        assert!(out.stderr.contains("removed again"), "{out:#?}");
        assert!(!p.dir().exists(), "{} kept", p.dir().display());
    }
}

/// (name, the service's extra lines, what the error must name): each
/// service could never start as written; `up` says so at once, by service,
/// and records nothing (it used to record the project and let the
/// supervisor retry until the wait gave up).
const NEVER_RUNS: &[(&str, &str, &[&str])] = &[
    (
        "baduser",
        "    user: nosuchuser\n",
        &["service web", "nosuchuser"],
    ),
    (
        "relwd",
        "    working_dir: rel\n",
        &["service web", "\"rel\""],
    ),
    (
        "badsig",
        "    stop_signal: BAD\n",
        &["service web", "\"BAD\""],
    ),
    (
        "badtmpfs",
        "    tmpfs: [\"/x:size=abc\"]\n",
        &["service web", "/x:size=abc"],
    ),
    (
        "badenv",
        "    environment: [\"=x\"]\n",
        &["service web", "=x"],
    ),
    (
        "cpus",
        "    deploy:\n      resources:\n        limits:\n          cpus: \"999\"\n",
        &["service web", "999"],
    ),
    (
        "cname",
        "    container_name: \"bad name\"\n",
        &["service web", "bad name"],
    ),
    (
        "nobind",
        "    volumes: [\"./nodir:/data\"]\n",
        &["service web", "nodir"],
    ),
    (
        "overdir",
        "    volumes: [\"/etc/passwd:/etc\"]\n",
        &["service web", "/etc/passwd onto /etc"],
    ),
    (
        "hostsysctl",
        "    sysctls: {vm.swappiness: 1}\n",
        &["service web", "vm.swappiness", "not namespaced"],
    ),
    (
        "badhost",
        "    extra_hosts: [\"nocolon\"]\n",
        &["service web", "nocolon"],
    ),
    (
        "baddns",
        "    dns: [notanip]\n",
        &["service web", "notanip"],
    ),
    ("badshm", "    shm_size: lots\n", &["service web", "lots"]),
    (
        "nodevice",
        "    devices: [\"/dev/nosuch\"]\n",
        &["service web", "/dev/nosuch"],
    ),
];

#[test]
fn a_replica_run_would_refuse_fails_up_at_once_recording_nothing() {
    let Some(env) = TestEnv::new() else { return };
    for (name, extra, mentions) in NEVER_RUNS {
        let yaml = format!(
            "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n{extra}"
        );
        not_runnable(&env, name, &yaml, mentions);
        let networks = env.root.join("networks").join("records");
        let left: Vec<_> = std::fs::read_dir(&networks)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("{name}_")))
            .collect();
        assert!(left.is_empty(), "{name}: networks left: {left:?}");
    }
}

#[test]
fn a_network_mode_sharing_namespaces_is_refused_by_key() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n    network_mode: \"service:db\"\n";
    refused(
        &env,
        "netmode",
        yaml,
        5,
        &["network_mode", "service:db", "not supported"],
    );
}

/// (name, the service's extra lines, its line, what the error must name):
/// service input compose validation refuses, in `config` and `up` alike.
const REFUSED_KEYS: &[(&str, &str, u32, &[&str])] = &[
    (
        "bogusmode",
        "    network_mode: bogus\n",
        5,
        &[
            "services.web.network_mode",
            "\"bogus\"",
            "bridge, host or none",
        ],
    ),
    (
        "exposeabc",
        "    expose: [\"abc\"]\n",
        5,
        &["services.web.expose[0]", "\"abc\"", "a container port"],
    ),
    (
        "scalarscale",
        "    x-rcorch-autoscale: 5\n",
        5,
        &["services.web.x-rcorch-autoscale", "a mapping", "max"],
    ),
    (
        "xautoscale",
        "    x-autoscale: 5\n",
        5,
        &["services.web.x-autoscale", "x-rcorch-autoscale"],
    ),
];

#[test]
fn service_input_compose_refuses_is_one_error_by_key() {
    let Some(env) = TestEnv::new() else { return };
    for (name, extra, line, mentions) in REFUSED_KEYS {
        let yaml = format!(
            "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n{extra}"
        );
        refused(&env, name, &yaml, *line, mentions);
        let p = Project::new(&env, name, &yaml);
        let out = p.cmd("up", &["-d", "--wait-timeout", "10"]);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{name}: one line: {out:#?}");
    }
}

#[test]
fn a_project_without_services_starts_nothing() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "noservices", "services:\n");
    let out = assert_unchanged(&env, || p.cmd("up", &["-d", "--wait-timeout", "10"]));
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(out.stderr.contains("defines no services"), "{out:#?}");
    assert!(!p.dir().exists(), "{} created", p.dir().display());
    assert!(p.supervisor_pid().is_none());
}

#[test]
fn admission_input_is_refused_by_key_before_anything_starts() {
    let Some(env) = TestEnv::new() else { return };
    let base =
        "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n    deploy:\n";
    let cases: &[(&str, &str, &[&str])] = &[
        ("resvmem", "      resources:\n        reservations:\n          memory: 100000g\n", &["web", "memory"]),
        ("resvcpu", "      resources:\n        reservations:\n          cpus: \"999\"\n", &["web", "cpus"]),
        ("below", "      resources:\n        limits:\n          memory: 10m\n        reservations:\n          memory: 20m\n", &["web", "memory"]),
        ("constraint", "      placement:\n        constraints: [\"node.labels.x\"]\n", &["constraints[0]", "node.labels.x"]),
    ];
    for (name, extra, mentions) in cases {
        not_runnable(&env, name, &format!("{base}{extra}"), mentions);
    }
}

#[test]
fn down_of_a_project_that_is_not_there_warns_as_docker_compose_does() {
    let Some(env) = TestEnv::new() else { return };
    let out = assert_unchanged(&env, || env.rcorch(&["down", "-p", "noproject"]));
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(
        out.stderr.trim_end(),
        "Warning: No resource found to remove for project \"noproject\".",
        "{out:#?}"
    );
    // A project that is there is removed without the warning.
    let p = Project::new(
        &env,
        "downwarn",
        "services:\n  web:\n    image: busybox\n    network_mode: none\n    command: [\"sleep\", \"1000\"]\n",
    );
    p.up();
    let out = p.cmd("down", &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(!out.stderr.contains("No resource found"), "{out:#?}");
    assert!(out.stdout.contains("downwarn-web-1"), "{out:#?}");
}
