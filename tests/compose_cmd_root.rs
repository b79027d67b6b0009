//! Root-only: `rcorch compose …`, docker compose's namespace — services
//! addressed by name (`exec web`, `exec --index 2 web`, `run --rm web`,
//! `port web 80`), `ps`, `top`, `images`, `build`, `config`, and the
//! project flags before or after the verb, and `logging:`. Checked by their
//! effects.

mod common;

use std::fs;

use common::project::Project;
use common::TestEnv;

const APP: &str = r#"
services:
  web:
    image: busybox
    network_mode: none
    stop_grace_period: 1s
    command: ["sh", "-c", "echo hello from $$(hostname); sleep 1000"]
    environment:
      ROLE: web
    deploy:
      replicas: 2
"#;

/// `compose -f FILE -p NAME VERB ARGS…`.
fn compose(p: &Project, verb: &str, args: &[&str]) -> common::Output {
    let mut v = vec!["compose", "-f", p.file_str(), "-p", &p.name, verb];
    v.extend_from_slice(args);
    p.env.rcorch(&v)
}

#[test]
fn compose_exec_picks_a_replica_by_index_and_run_makes_a_one_off() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "cx", APP);
    let out = compose(&p, "up", &["-d", "--wait-timeout", "30"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let names = compose(&p, "ps", &["--format", "{{.Name}} {{.Service}}"]).ok();
    assert_eq!(names, "cx-web-1 web\ncx-web-2 web", "{names}");
    let id_of = |name: &str| env.inspect(name)["Id"].as_str().unwrap()[..12].to_string();
    // Replica 1 by default, another with --index; hostnames are their ids.
    let first = compose(&p, "exec", &["-T", "web", "hostname"]).ok();
    assert_eq!(first, id_of("cx-web-1"));
    let second = compose(&p, "exec", &["--index", "2", "web", "hostname"]).ok();
    assert_eq!(second, id_of("cx-web-2"));
    let env_seen = compose(
        &p,
        "exec",
        &["-e", "X=1", "web", "sh", "-c", "echo $ROLE$X"],
    )
    .ok();
    assert_eq!(env_seen, "web1");
    let missing = compose(&p, "exec", &["--index", "3", "web", "true"]);
    assert!(
        missing.code != 0 && missing.stderr.contains("no running replica 3"),
        "{missing:#?}"
    );
    let ghost = compose(&p, "exec", &["db", "true"]);
    assert!(ghost.stderr.contains("no such service: db"), "{ghost:#?}");

    // A one-off from the service's definition, removed after (--rm).
    let one_off = compose(&p, "run", &["--rm", "web", "sh", "-c", "echo once $ROLE"]);
    assert_eq!(one_off.code, 0, "{one_off:#?}");
    assert_eq!(one_off.stdout.trim(), "once web");
    let all = env.rcorch(&["ps", "-a", "--format", "{{.Names}}"]).ok();
    assert_eq!(all.lines().count(), 2, "the one-off is gone: {all}");
    // Without --rm it stays, exited, and is no replica: the supervisor
    // leaves it alone and ps of the project lists it only with -a.
    let kept = compose(
        &p,
        "run",
        &["--name", "cx-job", "web", "sh", "-c", "exit 4"],
    );
    assert_eq!(kept.code, 4, "{kept:#?}");
    assert_eq!(env.inspect("cx-job")["State"]["ExitCode"], 4);
    let ps_all = compose(&p, "ps", &["-a", "--format", "{{.Name}}"]).ok();
    assert!(ps_all.contains("cx-job"), "{ps_all}");
    assert!(!compose(&p, "ps", &[]).ok().contains("cx-job"));
    env.rcorch(&["rm", "cx-job"]).ok();

    // top shows each replica's processes; images their image.
    let top = compose(&p, "top", &[]).ok();
    assert!(
        top.contains("cx-web-1") && top.contains("cx-web-2"),
        "{top}"
    );
    assert!(top.contains("sleep 1000"), "{top}");
    let images = compose(&p, "images", &[]).ok();
    assert!(
        images.contains("cx-web-1") && images.contains("busybox"),
        "{images}"
    );
    // Project flags may follow the verb too.
    let after = env.rcorch(&["compose", "ps", "-q", "-p", "cx"]).ok();
    assert_eq!(after.lines().count(), 2, "{after}");
    let out = compose(&p, "down", &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(env.rcorch(&["ps", "-aq"]).ok(), "");
}

const PUBLISHED: &str = r#"
services:
  web:
    image: busybox
    stop_grace_period: 1s
    command: ["httpd", "-f", "-p", "80"]
    ports:
      - "18431:80"
"#;

#[test]
fn compose_port_prints_the_host_address_of_a_service_port() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "cport", PUBLISHED);
    p.up();
    assert_eq!(compose(&p, "port", &["web", "80"]).ok(), "0.0.0.0:18431");
    let udp = compose(&p, "port", &["--protocol", "udp", "web", "80"]);
    assert!(udp.code != 0 && udp.stderr.contains("80/udp"), "{udp:#?}");
}

const BUILT: &str = "services:
  app:
    build: ./app
    network_mode: none
  plain:
    image: busybox
    network_mode: none
";

#[test]
fn compose_build_builds_only_the_services_with_build_and_starts_nothing() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "cbuild", BUILT);
    let dir = env.scratch.join("cbuild/app");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nRUN echo built > /built\n",
    )
    .unwrap();
    let out = compose(&p, "build", &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    let built = env
        .rcorch(&[
            "run",
            "--rm",
            "--network",
            "none",
            "cbuild-app",
            "cat",
            "/built",
        ])
        .ok();
    assert_eq!(built, "built");
    assert_eq!(env.rcorch(&["ps", "-aq"]).ok(), "", "build started nothing");
    let ghost = compose(&p, "build", &["nope"]);
    assert!(ghost.stderr.contains("no such service: nope"), "{ghost:#?}");
    let services = compose(&p, "config", &["--services"]).ok();
    assert_eq!(services, "app\nplain");
}

#[test]
fn compose_env_file_replaces_dotenv_for_interpolation() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(
        &env,
        "cenv",
        "services:\n  a:\n    image: busybox:${TAG:-none}\n",
    );
    let file = env.scratch_file("prod.env", "TAG=from-prod\n");
    let f = file.to_str().unwrap();
    let model = env
        .rcorch(&["compose", "-f", p.file_str(), "--env-file", f, "config"])
        .ok();
    assert!(model.contains("busybox:from-prod"), "{model}");
    let plain = env.rcorch(&["compose", "-f", p.file_str(), "config"]).ok();
    assert!(plain.contains("busybox:none"), "{plain}");
    let missing = env.rcorch(&[
        "compose",
        "-f",
        p.file_str(),
        "--env-file",
        "/nope.env",
        "config",
    ]);
    assert!(
        missing.code != 0 && missing.stderr.contains("/nope.env"),
        "{missing:#?}"
    );
}

#[test]
fn container_verbs_point_project_flags_at_compose() {
    let Some(env) = TestEnv::new() else { return };
    for (args, hint) in [
        (
            &["start", "-p", "shop", "web"][..],
            "rcorch compose -p shop start web",
        ),
        (
            &["restart", "-p", "shop"][..],
            "rcorch compose -p shop restart",
        ),
        (
            &["stop", "-p", "shop", "web"][..],
            "rcorch compose -p shop stop web",
        ),
        (&["logs", "-p", "shop"][..], "rcorch compose -p shop logs"),
    ] {
        let out = env.rcorch(args);
        assert_ne!(out.code, 0, "{out:#?}");
        assert!(out.stderr.contains(hint), "{args:?}: {out:#?}");
    }
}

#[test]
fn without_f_the_override_file_merges_over_compose_yaml_for_config_and_up() {
    let Some(env) = TestEnv::new() else { return };
    let base = "services:\n  web:\n    image: busybox\n    network_mode: none\n    \
                stop_grace_period: 1s\n    command: [sleep, '1000']\n    \
                environment: {ROLE: base, KEEP: kept}\n";
    let p = Project::new(&env, "cover", base);
    let over = "services:\n  web:\n    environment: {ROLE: override}\n";
    let dir = p.file.parent().unwrap().to_path_buf();
    fs::write(dir.join("compose.override.yaml"), over).unwrap();
    let in_dir = |args: &[&str]| env.rcorch_in(&dir, args);
    let model = in_dir(&["compose", "-p", "cover", "config"]).ok();
    assert!(model.contains("ROLE: override"), "{model}");
    let out = in_dir(&["compose", "-p", "cover", "up", "-d", "--wait-timeout", "60"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let seen = in_dir(&[
        "compose",
        "-p",
        "cover",
        "exec",
        "web",
        "sh",
        "-c",
        "echo $ROLE $KEEP",
    ]);
    assert_eq!(seen.ok(), "override kept");
}

const LOGGING: &str = r#"
services:
  chatty:
    image: busybox
    network_mode: none
    stop_grace_period: 1s
    command: ["sh", "-c", "for i in $$(seq 300); do echo line$$i; done; sleep 1000"]
    logging:
      driver: json-file
      options:
        max-size: 2k
        max-file: "2"
  silent:
    image: busybox
    network_mode: none
    stop_grace_period: 1s
    command: ["sh", "-c", "echo unseen; sleep 1000"]
    logging:
      driver: none
"#;

#[test]
fn compose_logging_sets_each_replicas_log_driver_and_rotation() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "lg", LOGGING);
    let out = compose(&p, "up", &["-d", "--wait-timeout", "30"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let config = env.inspect("lg-chatty-1")["HostConfig"]["LogConfig"].clone();
    assert_eq!(config["Type"], "json-file", "{config}");
    assert_eq!(config["Config"]["max-size"], "2048", "{config}");
    let id = env.inspect("lg-chatty-1")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = env.root.join("containers").join(id);
    let rotated = common::wait_for(std::time::Duration::from_secs(10), || {
        env.rcorch(&["logs", "--tail", "1", "lg-chatty-1"]).stdout == "line300\n"
    });
    assert!(rotated, "{:#?}", env.rcorch(&["logs", "lg-chatty-1"]));
    assert!(dir.join("log.json.1").exists() && !dir.join("log.json.2").exists());
    let kept = env.rcorch(&["logs", "lg-chatty-1"]).ok();
    assert!(
        !kept.starts_with("line1\n"),
        "the oldest lines are gone: {kept}"
    );
    let silent = env.rcorch(&["logs", "lg-silent-1"]);
    assert!(
        silent
            .stderr
            .contains("configured logging driver does not support reading"),
        "{silent:#?}"
    );
    p.down();
    // A bad option fails `up` by service, before anything runs.
    let bad = Project::new(
        &env,
        "lgbad",
        &LOGGING.replace("max-size: 2k", "max-size: lots"),
    );
    let out = compose(&bad, "up", &["-d", "--wait-timeout", "30"]);
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr.contains("service chatty") && out.stderr.contains("max-size=lots"),
        "{out:#?}"
    );
    assert_eq!(env.rcorch(&["ps", "-aq"]).ok(), "");
}

#[test]
fn compose_ps_shows_a_paused_replica_as_ps_does() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "cz", APP);
    let out = compose(&p, "up", &["-d", "--wait-timeout", "30"]);
    assert_eq!(out.code, 0, "{out:#?}");
    env.rcorch(&["pause", "cz-web-2"]).ok();
    let ps = compose(&p, "ps", &["--format", "{{.Name}}|{{.State}}|{{.Status}}"]).ok();
    let lines: Vec<&str> = ps.lines().collect();
    assert!(lines[0].starts_with("cz-web-1|running|Up "), "{ps}");
    assert!(!lines[0].contains("Paused"), "{ps}");
    assert!(lines[1].starts_with("cz-web-2|paused|Up "), "{ps}");
    assert!(lines[1].ends_with(" (Paused)"), "{ps}");
    env.rcorch(&["unpause", "cz-web-2"]).ok();
}
