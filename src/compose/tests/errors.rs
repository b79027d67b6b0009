//! Errors name the file, the line and the key; warnings never stop a load.

use super::*;

#[test]
fn wrong_types_and_bad_values() {
    assert_err(
        "services:\n  web:\n    image: x\n    deploy:\n      replicas: \"x\"\n",
        5,
        "services.web.deploy.replicas",
    );
    assert_err(
        "services:\n  web:\n    image: x\n    ports:\n      - \"80:80\"\n      - \"80:http\"\n",
        6,
        "services.web.ports[1]",
    );
    assert_err(
        "services:\n  web:\n    image: x\n    ports: \"80\"\n",
        4,
        "expected a list",
    );
    assert_err(
        "services:\n  web:\n    image: [x]\n",
        3,
        "services.web.image: expected a string",
    );
    assert_err(
        "services:\n  web:\n    image: x\n    restart: sometimes\n",
        4,
        "on-failure[:N]",
    );
    assert_err("services:\n  web:\n    image: x\n    stop_grace_period: 10\n    healthcheck:\n      interval: soon\n", 6, "duration");
    assert_err(
        "services:\n  web:\n    image: x\n    read_only: maybe\n",
        4,
        "a boolean",
    );
    assert_err(
        "services:\n  web:\n    image: x\n    command: \"echo 'hi\"\n",
        4,
        "balanced quotes",
    );
    assert_err("services:\n  web:\n    image: x\n    deploy:\n      resources:\n        limits:\n          memory: lots\n", 7, "512m");
    assert_err(
        "services:\n  web:\n    image: x\n    volumes:\n      - data\n",
        5,
        "TARGET",
    );
}

#[test]
fn missing_image_and_services() {
    assert_err(
        "services:\n  web:\n    restart: always\n",
        2,
        "missing required key image",
    );
    let e = err("name: x\n");
    assert!(e.to_string().contains("services"), "{e}");
}

#[test]
fn undefined_references() {
    assert_err(
        "services:\n  web:\n    image: x\n    depends_on: [db]\n",
        4,
        "undefined service \"db\"",
    );
    assert_err(
        "services:\n  web:\n    image: x\n    networks: [front]\n",
        4,
        "undefined network \"front\"",
    );
    assert_err(
        "services:\n  web:\n    image: x\n    volumes:\n      - data:/data\n",
        5,
        "undefined volume \"data\"",
    );
}

#[test]
fn optional_missing_dependency_is_dropped() {
    let l = ok("services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: service_started\n        required: false\n");
    assert!(l.project.services["web"].depends_on.is_empty());
}

#[test]
fn dependency_cycles_name_the_cycle() {
    let text = "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n  d:\n    image: x\n";
    let e = err(text);
    assert!(
        matches!(&e, ComposeError::DependencyCycle { cycle, .. } if cycle == &["a", "b", "c", "a"]),
        "{e}"
    );
    assert!(e.to_string().starts_with(&format!("{FILE}:4:")), "{e}");
    assert_err(
        "services:\n  a:\n    image: x\n    depends_on: [a]\n",
        4,
        "a -> a",
    );
}

#[test]
fn container_name_clashes() {
    assert_err("services:\n  a:\n    image: x\n    container_name: c\n  b:\n    image: x\n    container_name: c\n", 7, "container name \"c\"");
    assert_err(
        "services:\n  a:\n    image: x\n    container_name: c\n    scale: 2\n",
        4,
        "2 replicas",
    );
    // An explicit name that equals a generated one also clashes.
    assert_err(
        "services:\n  a:\n    image: x\n  b:\n    image: x\n    container_name: myapp-a-1\n",
        6,
        "myapp-a-1",
    );
}

#[test]
fn scale_and_replicas_must_agree() {
    assert_err(
        "services:\n  a:\n    image: x\n    scale: 2\n    deploy:\n      replicas: 3\n",
        4,
        "differ",
    );
    let l = ok("services:\n  a:\n    image: x\n    scale: 2\n");
    assert_eq!(l.project.services["a"].replicas(), 2);
}

#[test]
fn interpolation_errors_name_variable_file_and_line() {
    let e = err("services:\n  a:\n    image: x\n    environment:\n      PW: ${DB_PASSWORD:?set the database password}\n");
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("{FILE}:5:")), "{msg}");
    assert!(
        msg.contains("DB_PASSWORD") && msg.contains("set the database password"),
        "{msg}"
    );
    assert!(msg.contains("services.a.environment.PW"), "{msg}");
    assert_err(
        "services:\n  a:\n    image: x\n    command: echo 5$\n",
        4,
        "escape any $",
    );
}

#[test]
fn yaml_syntax_errors_name_the_file() {
    let e = err("services:\n  a: [\n");
    assert!(matches!(e, ComposeError::Yaml { .. }), "{e}");
    assert!(e.to_string().contains(FILE), "{e}");
}

#[test]
fn unimplemented_keys_are_warnings_with_lines() {
    let text = "version: \"3.8\"\nservices:\n  web:\n    image: x\n    blkio_config:\n      weight: 300\n    deploy:\n      placement:\n        constraints: []\n      x-note: fine\n    x-rcorch-lb: {algo: rr}\ninclude: [other.yaml]\nx-common: &c {a: 1}\n";
    let l = ok(text);
    let w = warning_keys(&l);
    use WarningKind::*;
    assert_eq!(
        w,
        [
            ("version".to_string(), 1, Obsolete),
            ("services.web.blkio_config".to_string(), 5, NotImplemented),
            ("include".to_string(), 12, NotImplemented),
        ]
    );
    assert!(l.project.services["web"]
        .extensions
        .contains_key("x-rcorch-lb"));
    assert!(l.project.extensions.contains_key("x-common"));
}

#[test]
fn keys_outside_the_spec_are_errors_with_a_suggestion() {
    let e = err("services:\n  web:\n    image: x\n    comand: echo hi\n");
    assert_eq!(
        e.to_string(),
        format!("{FILE}:4: services.web: additional property comand is not allowed; did you mean command?")
    );
    assert_err(
        "services:\n  web:\n    image: x\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      intervall: 5s\n",
        6,
        "services.web.healthcheck: additional property intervall is not allowed; did you mean interval?",
    );
    assert_err(
        "services:\n  web:\n    image: x\n    deploy:\n      replica: 2\n",
        5,
        "did you mean replicas?",
    );
    assert_err(
        "services:\n  web:\n    image: x\nservice: {}\n",
        4,
        "(root): additional property service is not allowed; did you mean services?",
    );
    let far = err("services:\n  web:\n    image: x\n    flavour: spicy\n").to_string();
    assert!(
        far.ends_with("additional property flavour is not allowed"),
        "{far}"
    );
}

#[test]
fn unset_variables_warn() {
    let l = ok("services:\n  a:\n    image: x:${NOPE}\n");
    assert_eq!(
        warning_keys(&l),
        [(
            "services.a.image".to_string(),
            3,
            WarningKind::UnsetVariable {
                variable: "NOPE".into()
            }
        )]
    );
    assert_eq!(l.project.services["a"].image.as_deref(), Some("x:"));
}

#[test]
fn required_env_file_must_exist() {
    let e = err("services:\n  a:\n    image: x\n    env_file: missing.env\n");
    assert!(matches!(e, ComposeError::Read { .. }), "{e}");
    let l = ok("services:\n  a:\n    image: x\n    env_file:\n      - path: missing.env\n        required: false\n");
    assert!(!l.project.services["a"].env_file[0].required);
}

#[test]
fn errors_inside_long_forms_point_at_the_inner_key() {
    let head = "services:\n  web:\n    image: x\n";
    assert_err(
        &format!("{head}    ports:\n      - published: 80\n        protocol: tcp\n"),
        5,
        "missing required key target",
    );
    assert_err(
        &format!("{head}    ports:\n      - target: 80\n        protocol: icmp\n"),
        6,
        "services.web.ports[0].protocol",
    );
    assert_err(
        &format!("{head}    volumes:\n      - type: nfs\n        target: /x\n"),
        5,
        "bind, volume or tmpfs",
    );
    assert_err(
        &format!("{head}    volumes:\n      - type: tmpfs\n        target: /x\n        tmpfs: {{mode: 99999}}\n"),
        7,
        "permission bits",
    );
    assert_err(
        &format!("{head}    volumes:\n      - type: tmpfs\n        target: /x\n        tmpfs: {{size: lots}}\n"),
        7,
        "a size like",
    );
    assert_err(
        &format!("{head}    volumes:\n      - type: volume\n        target: /x\n        tmpfs: {{size: 1m}}\n"),
        5,
        "type: tmpfs only",
    );
    assert_err(
        &format!("{head}    ulimits:\n      nofile:\n        soft: 1\n"),
        5,
        "missing required key hard",
    );
    assert_err(
        &format!("{head}    depends_on: db\n"),
        4,
        "services.web.depends_on",
    );
    assert_err(
        &format!("{head}    networks:\n      default:\n        ipv4_address: 10.0.0\n"),
        6,
        "IPv4",
    );
    assert_err(
        &format!("{head}    deploy:\n      restart_policy:\n        condition: sometimes\n"),
        6,
        "none, on-failure or any",
    );
    assert_err(
        &format!("{head}    deploy:\n      endpoint_mode: rr\n"),
        5,
        "vip or dnsrr",
    );
    assert_err(
        &format!("{head}    deploy:\n      update_config:\n        max_failure_ratio: 2\n"),
        6,
        "ratio",
    );
    assert_err(&format!("{head}    environment: 5\n"), 4, "a mapping");
}

#[test]
fn a_nul_byte_in_an_environment_value_is_refused() {
    assert_err(
        "services:\n  a:\n    image: x\n    environment:\n      B: \"x\\0y\"\n",
        5,
        "services.a.environment.B",
    );
}

#[test]
fn a_host_port_published_by_two_services_is_refused_naming_both() {
    assert_err(
        "services:\n  a:\n    image: x\n    ports: [\"8080:80\"]\n  b:\n    image: x\n    ports:\n      - \"127.0.0.1:8080:81\"\n",
        8,
        "services.b.ports[0]: host port 8080/tcp is published by both service \"a\" and service \"b\"",
    );
    // Other protocol, other address, other port: all fine.
    ok("services:\n  a:\n    image: x\n    ports: [\"8080:80\", \"127.0.0.1:9090:90\"]\n  b:\n    image: x\n    ports: [\"8080:80/udp\", \"127.0.0.2:9090:90\", \"8081:80\"]\n");
}

#[test]
fn build_pull_and_no_cache_are_taken_and_unknown_build_keys_refused() {
    let l = ok(
        "services:\n  web:\n    build:\n      context: .\n      pull: true\n      no_cache: true\n",
    );
    assert!(warning_keys(&l).is_empty(), "{:?}", warning_keys(&l));
    let build = l.project.services["web"].build.clone().unwrap();
    assert!(build.pull && build.no_cache, "{build:?}");
    assert_err(
        "services:\n  web:\n    build:\n      context: .\n      pul: true\n",
        5,
        "services.web.build: additional property pul is not allowed; did you mean pull?",
    );
}

#[test]
fn a_network_mode_outside_its_forms_is_one_error_naming_the_forms() {
    let e = err("services:\n  web:\n    image: x\n    network_mode: bogus\n").to_string();
    assert!(
        e.starts_with(&format!(
            "{FILE}:4: services.web.network_mode: invalid value \"bogus\", expected bridge, host or none"
        )),
        "{e}"
    );
    // The forms rcorch lacks are named as such, with what to use instead.
    assert!(
        e.contains("service:NAME") && e.contains("container:NAME"),
        "{e}"
    );
    assert!(e.contains("networks:"), "{e}");
    for ok_mode in ["bridge", "host", "none"] {
        let l = ok(&format!(
            "services:\n  web:\n    image: x\n    network_mode: {ok_mode}\n"
        ));
        assert_eq!(
            l.project.services["web"].network_mode.as_deref(),
            Some(ok_mode)
        );
    }
    assert_err(
        "services:\n  web:\n    image: x\n    network_mode: \"service:db\"\n",
        4,
        "not supported by rcorch yet",
    );
}

#[test]
fn an_expose_entry_that_is_no_port_is_refused_by_key() {
    assert_err(
        "services:\n  web:\n    image: x\n    expose: [\"3000\", \"abc\"]\n",
        4,
        "services.web.expose[1]: invalid value \"abc\", expected a container port or range",
    );
    for bad in ["\"80-79\"", "\"70000\"", "\"80/icmp\"", "\"\""] {
        let text = format!("services:\n  web:\n    image: x\n    expose: [{bad}]\n");
        assert_err(&text, 4, "services.web.expose[0]");
    }
    let l = ok("services:\n  web:\n    image: x\n    expose: [3000, \"4000-4002\", \"53/udp\"]\n");
    assert_eq!(
        l.project.services["web"].expose,
        ["3000", "4000-4002", "53/udp"]
    );
}
