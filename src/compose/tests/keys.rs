//! Each service key, in each of its forms, and the defaults.

use std::time::Duration;

use super::*;
use crate::compose::model::*;

fn service(body: &str) -> Service {
    let text = format!("services:\n  s:\n    image: busybox\n{body}volumes:\n  data: {{}}\nnetworks:\n  front: {{}}\n");
    // Every profile enabled: a service's `profiles` is one of the keys tested.
    let all = ["*".to_string()];
    let mut loaded = load_profiles(&text, &env(), &all).unwrap();
    loaded.project.services.remove("s").unwrap()
}

#[test]
fn defaults() {
    let s = service("");
    assert_eq!(s.stop_grace_period, Duration::from_secs(10));
    assert_eq!(s.restart, Restart::No);
    assert_eq!(s.replicas(), 1);
    assert_eq!(s.deploy.update_config, UpdateConfig::default());
    let u = &s.deploy.update_config;
    assert_eq!(
        (u.parallelism, u.delay, u.monitor),
        (1, Duration::ZERO, Duration::from_secs(5))
    );
    assert_eq!(
        (u.failure_action, u.order),
        (FailureAction::Pause, UpdateOrder::StopFirst)
    );
    assert_eq!(s.deploy.endpoint_mode, EndpointMode::Vip);
    assert!(s.networks.contains_key("default"));
    assert!(s.healthcheck.is_none());
}

#[test]
fn commands_split_like_compose() {
    let s = service("    command: sh -c 'echo \"$$HOME\"'\n    entrypoint: [\"/init\", \"--\"]\n");
    assert_eq!(s.command.unwrap(), ["sh", "-c", "echo \"$HOME\""]);
    assert_eq!(s.entrypoint.unwrap(), ["/init", "--"]);
}

#[test]
fn environment_map_and_list_forms() {
    let s = service("    environment:\n      A: 1\n      B:\n      SECRET:\n      C: ${TAG}\n");
    assert_eq!(s.environment["A"].as_deref(), Some("1"));
    assert_eq!(s.environment["B"], None);
    assert_eq!(s.environment["SECRET"].as_deref(), Some("s3cret"));
    assert_eq!(s.environment["C"].as_deref(), Some("1.25"));
    let s = service("    environment:\n      - A=1=2\n      - SECRET\n      - NOPE\n");
    assert_eq!(s.environment["A"].as_deref(), Some("1=2"));
    assert_eq!(s.environment["SECRET"].as_deref(), Some("s3cret"));
    assert_eq!(s.environment["NOPE"], None);
}

#[test]
fn env_files_are_relative_to_the_compose_file_and_environment_wins() {
    let files = BTreeMap::from([("/srv/My App/conf/web.env", "A=from-file\nB=from-file\n")]);
    let text = "services:\n  s:\n    image: x\n    env_file: ./conf/web.env\n    environment: {A: inline}\n";
    let s = &load_with(text, &files, None).unwrap().project.services["s"];
    assert_eq!(s.env_file[0].path, Path::new("/srv/My App/conf/web.env"));
    assert_eq!(s.environment["A"].as_deref(), Some("inline"));
    assert_eq!(s.environment["B"].as_deref(), Some("from-file"));
}

#[test]
fn ports_short_and_long() {
    let s = service("    ports:\n      - 80\n      - \"8080:80\"\n      - 127.0.0.1:5353:53/udp\n      - target: 443\n        published: \"8443\"\n        protocol: tcp\n        host_ip: 0.0.0.0\n        mode: host\n");
    assert_eq!(s.ports.len(), 4);
    assert_eq!((s.ports[0].target, s.ports[0].published), (80, None));
    assert_eq!(
        s.ports[1].published,
        Some(PortRange {
            start: 8080,
            end: 8080
        })
    );
    assert_eq!(s.ports[2].protocol, Protocol::Udp);
    assert_eq!(s.ports[3].target, 443);
    assert_eq!(s.ports[3].host_ip, Some("0.0.0.0".parse().unwrap()));
}

#[test]
fn volumes_bind_named_anonymous_long() {
    let s = service("    volumes:\n      - ./html:/usr/share/html:ro\n      - ~/cache:/cache\n      - data:/data:nocopy\n      - /scratch\n      - type: bind\n        source: ../shared\n        target: /shared\n        read_only: true\n      - type: tmpfs\n        target: /run\n      - type: volume\n        source: data\n        target: /d2\n        volume: {nocopy: true}\n");
    let v = &s.volumes;
    assert_eq!(
        (v[0].kind, v[0].source.as_deref(), v[0].read_only),
        (MountKind::Bind, Some("/srv/My App/html"), true)
    );
    assert_eq!(v[1].source.as_deref(), Some("/home/u/cache"));
    assert_eq!(
        (v[2].kind, v[2].source.as_deref(), v[2].nocopy),
        (MountKind::Volume, Some("data"), true)
    );
    assert_eq!(
        (v[3].kind, v[3].source.as_deref()),
        (MountKind::Volume, None)
    );
    assert_eq!(
        (v[4].source.as_deref(), v[4].read_only),
        (Some("/srv/shared"), true)
    );
    assert_eq!(v[5].kind, MountKind::Tmpfs);
    assert!(v[6].nocopy);
}

#[test]
fn networks_list_and_map_with_aliases() {
    let s = service("    networks: [front]\n");
    assert_eq!(s.networks.keys().collect::<Vec<_>>(), ["front"]);
    let s = service("    networks:\n      front:\n        aliases: [www]\n        ipv4_address: 10.1.0.5\n      default:\n");
    assert_eq!(s.networks["front"].aliases, ["www"]);
    assert_eq!(
        s.networks["front"].ipv4_address,
        Some("10.1.0.5".parse().unwrap())
    );
    assert!(s.networks.contains_key("default"));
    let s = service("    network_mode: none\n");
    assert!(s.networks.is_empty());
}

#[test]
fn depends_on_short_and_long() {
    let text = "services:\n  db:\n    image: x\n  cache:\n    image: x\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: service_healthy\n        restart: true\n      cache:\n        condition: service_completed_successfully\n  job:\n    image: x\n    depends_on: [db]\n";
    let p = ok(text).project;
    let web = &p.services["web"].depends_on;
    assert_eq!(
        web["db"],
        Dependency {
            condition: Condition::ServiceHealthy,
            restart: true,
            required: true
        }
    );
    assert_eq!(
        web["cache"].condition,
        Condition::ServiceCompletedSuccessfully
    );
    assert_eq!(p.services["job"].depends_on["db"], Dependency::default());
    assert_eq!(
        topological_order(&p).unwrap(),
        ["cache", "db", "job", "web"]
    );
    assert_err(
        &text.replace("service_healthy", "healthy"),
        10,
        "service_healthy",
    );
}

#[test]
fn healthcheck_forms_and_defaults() {
    let s = service("    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost\"]\n      interval: 1m30s\n      start_interval: 500ms\n");
    let h = s.healthcheck.unwrap();
    assert_eq!(
        h.test,
        Some(HealthTest::Cmd(vec![
            "curl".into(),
            "-f".into(),
            "http://localhost".into()
        ]))
    );
    assert_eq!(h.interval, Duration::from_secs(90));
    assert_eq!(
        (h.timeout, h.retries, h.start_period),
        (Duration::from_secs(30), 3, Duration::ZERO)
    );
    assert_eq!(h.start_interval, Duration::from_millis(500));
    let shell = |t: &str| {
        service(&format!("    healthcheck:\n      test: {t}\n"))
            .healthcheck
            .unwrap()
            .test
    };
    assert_eq!(
        shell("[\"CMD-SHELL\", \"pg_isready -U x\"]"),
        Some(HealthTest::CmdShell("pg_isready -U x".into()))
    );
    assert_eq!(
        shell("curl -f localhost || exit 1"),
        Some(HealthTest::CmdShell("curl -f localhost || exit 1".into()))
    );
    assert_eq!(shell("[\"NONE\"]"), Some(HealthTest::None));
    let off = service("    healthcheck:\n      disable: true\n")
        .healthcheck
        .unwrap();
    assert_eq!(off.test, Some(HealthTest::None));
    assert_err(
        "services:\n  s:\n    image: x\n    healthcheck:\n      test: [\"RUN\", \"x\"]\n",
        5,
        "CMD",
    );
}

#[test]
fn restart_policies() {
    let r = |v: &str| service(&format!("    restart: {v}\n")).restart;
    assert_eq!(r("\"no\""), Restart::No);
    assert_eq!(r("always"), Restart::Always);
    assert_eq!(r("on-failure"), Restart::OnFailure { max_retries: None });
    assert_eq!(
        r("on-failure:5"),
        Restart::OnFailure {
            max_retries: Some(5)
        }
    );
    assert_eq!(r("unless-stopped"), Restart::UnlessStopped);
}

#[test]
fn deploy_block() {
    let s = service("    deploy:\n      mode: replicated\n      replicas: ${TAG:+3}\n      endpoint_mode: dnsrr\n      labels: [tier=web]\n      resources:\n        limits: {cpus: \"0.5\", memory: 64M, pids: 100}\n      restart_policy:\n        condition: on-failure\n        delay: 2s\n        max_attempts: 3\n        window: 1m\n      update_config:\n        parallelism: 2\n        delay: 10s\n        failure_action: rollback\n        monitor: 30s\n        max_failure_ratio: 0.25\n        order: start-first\n      rollback_config:\n        parallelism: 0\n");
    let d = &s.deploy;
    assert_eq!(d.replicas, Some(3));
    assert_eq!(d.endpoint_mode, EndpointMode::Dnsrr);
    assert_eq!(d.labels["tier"], "web");
    assert_eq!(
        d.resources.limits,
        Limits {
            cpus: Some(0.5),
            memory: Some(64 << 20),
            pids: Some(100)
        }
    );
    let rp = d.restart_policy.as_ref().unwrap();
    assert_eq!(
        (rp.condition, rp.delay, rp.max_attempts, rp.window),
        (
            RestartCondition::OnFailure,
            Duration::from_secs(2),
            Some(3),
            Some(Duration::from_secs(60))
        )
    );
    let u = &d.update_config;
    assert_eq!(
        (
            u.parallelism,
            u.failure_action,
            u.order,
            u.max_failure_ratio
        ),
        (2, FailureAction::Rollback, UpdateOrder::StartFirst, 0.25)
    );
    assert_eq!(d.rollback_config.parallelism, 0);
    assert_eq!(d.rollback_config.monitor, Duration::from_secs(5));
    let defaults = service("    deploy:\n      restart_policy: {}\n")
        .deploy
        .restart_policy
        .unwrap();
    assert_eq!(defaults, RestartPolicy::default());
    assert_eq!(defaults.delay, Duration::from_secs(5));
    assert_err(
        "services:\n  s:\n    image: x\n    deploy:\n      update_config:\n        order: random\n",
        6,
        "start-first",
    );
}

#[test]
fn legacy_resource_keys_map_to_limits() {
    let s = service("    mem_limit: 1g\n    cpus: 1.5\n    pids_limit: 50\n");
    assert_eq!(
        s.deploy.resources.limits,
        Limits {
            cpus: Some(1.5),
            memory: Some(1 << 30),
            pids: Some(50)
        }
    );
}

#[test]
fn process_and_security_keys() {
    let s = service("    user: \"1000:1000\"\n    working_dir: /app\n    hostname: box\n    read_only: true\n    init: true\n    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    tmpfs: /tmp\n    stop_grace_period: 1m30s\n    stop_signal: SIGINT\n    labels:\n      a.b: c\n    ulimits:\n      nproc: 65535\n      nofile: {soft: 20000, hard: 40000}\n    profiles: [debug]\n    expose: [\"3000\"]\n");
    assert_eq!(s.user.as_deref(), Some("1000:1000"));
    assert_eq!(
        (s.working_dir.as_deref(), s.hostname.as_deref()),
        (Some("/app"), Some("box"))
    );
    assert!(s.read_only && s.init);
    assert_eq!(
        (s.cap_add, s.cap_drop),
        (vec!["NET_ADMIN".to_string()], vec!["ALL".to_string()])
    );
    assert_eq!(s.tmpfs, ["/tmp"]);
    assert_eq!(s.stop_grace_period, Duration::from_secs(90));
    assert_eq!(s.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(s.labels["a.b"], "c");
    assert_eq!(
        s.ulimits["nproc"],
        Ulimit {
            soft: 65535,
            hard: 65535
        }
    );
    assert_eq!(
        s.ulimits["nofile"],
        Ulimit {
            soft: 20000,
            hard: 40000
        }
    );
    assert_eq!(s.profiles, ["debug"]);
}

#[test]
fn anchors_and_merge_keys_work() {
    let text = "x-base: &base\n  image: busybox\n  restart: always\nservices:\n  a:\n    <<: *base\n    command: [\"true\"]\n";
    let s = &ok(text).project.services["a"];
    assert_eq!(
        (s.image.as_deref(), s.restart),
        (Some("busybox"), Restart::Always)
    );
}

#[test]
fn config_output_round_trips_through_yaml() {
    let l = ok("services:\n  a:\n    image: x\n    healthcheck:\n      test: curl x\n    restart: on-failure:3\n");
    let yaml = serde_norway::to_string(&l.project).unwrap();
    assert!(yaml.contains("interval: 30s"), "{yaml}");
    assert!(yaml.contains("restart: on-failure:3"), "{yaml}");
    assert!(yaml.contains("stop_grace_period: 10s"), "{yaml}");
    let back: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
    assert_eq!(back["name"].as_str(), Some("myapp"));
}

#[test]
fn profiles_select_active_services() {
    let text = "services:\n  app:\n    image: x\n  debug:\n    image: x\n    profiles: [debug]\n  test:\n    image: x\n    profiles: [test, ci]\n";
    let p = load_profiles(text, &env(), &["*".to_string()])
        .unwrap()
        .project;
    assert_eq!(p.active_services(&[]), ["app"]);
    assert_eq!(p.active_services(&["ci".to_string()]), ["app", "test"]);
    assert_eq!(
        p.active_services(&["*".to_string()]),
        ["app", "debug", "test"]
    );
}

#[test]
fn pull_policy_values_and_their_spellings() {
    let policy = |v: &str| service(&format!("    pull_policy: {v}\n")).pull_policy;
    assert_eq!(policy("always"), Some(PullPolicy::Always));
    assert_eq!(policy("never"), Some(PullPolicy::Never));
    assert_eq!(policy("missing"), Some(PullPolicy::Missing));
    assert_eq!(policy("if_not_present"), Some(PullPolicy::Missing));
    // Refresh intervals pull only a missing image, with a warning.
    assert_eq!(policy("daily"), Some(PullPolicy::Missing));
    assert_eq!(policy("every_12h"), Some(PullPolicy::Missing));
    assert_eq!(service("").pull_policy, None);
    let text = "services:\n  s:\n    image: busybox\n    pull_policy: sometimes\n";
    let e = err(text).to_string();
    assert!(e.contains("pull_policy") && e.contains("sometimes"), "{e}");
    let e = err("services:\n  s:\n    image: busybox\n    pull_policy: build\n").to_string();
    assert!(e.contains("without build:"), "{e}");
    let warned = load("services:\n  s:\n    image: busybox\n    pull_policy: weekly\n").unwrap();
    assert_eq!(warned.warnings.len(), 1, "{:?}", warned.warnings);
}

#[test]
fn host_facing_keys_in_each_of_their_forms() {
    let s = service("    dns: 10.0.0.53\n    extra_hosts: [\"db:10.0.0.2\", \"gw=host-gateway\"]\n    sysctls: [\"net.core.somaxconn=1024\"]\n    shm_size: 128m\n    devices: [\"/dev/null:/dev/mynull:rw\"]\n");
    assert_eq!(s.dns, ["10.0.0.53"]);
    assert_eq!(s.extra_hosts, ["db:10.0.0.2", "gw=host-gateway"]);
    assert_eq!(s.sysctls["net.core.somaxconn"], "1024");
    assert_eq!(s.shm_size.as_deref(), Some("128m"));
    assert_eq!(s.devices, ["/dev/null:/dev/mynull:rw"]);
    // The mapping forms; a bare number of bytes; the long device syntax.
    let s = service("    dns: [1.1.1.1, 8.8.8.8]\n    extra_hosts:\n      db: 10.0.0.2\n      multi: [\"10.0.0.3\", \"::1\"]\n    sysctls:\n      net.ipv4.ip_forward: 1\n    shm_size: 1048576\n    devices:\n      - source: /dev/null\n        target: /dev/mynull\n        permissions: r\n      - source: /dev/zero\n");
    assert_eq!(s.dns, ["1.1.1.1", "8.8.8.8"]);
    assert_eq!(
        s.extra_hosts,
        ["db=10.0.0.2", "multi=10.0.0.3", "multi=::1"]
    );
    assert_eq!(s.sysctls["net.ipv4.ip_forward"], "1");
    assert_eq!(s.shm_size.as_deref(), Some("1048576"));
    assert_eq!(s.devices, ["/dev/null:/dev/mynull:r", "/dev/zero"]);
}

#[test]
fn mapped_host_keys_no_longer_warn_and_unmapped_ones_still_do() {
    let text = "services:\n  s:\n    image: x\n    dns: 1.1.1.1\n    extra_hosts: [\"a:1.2.3.4\"]\n    sysctls: {net.core.somaxconn: 1}\n    shm_size: 1m\n    devices: [/dev/null]\n    dns_search: example.com\n    dns_opt: [ndots:2]\n    pid: host\n";
    let keys: Vec<String> = warning_keys(&ok(text)).into_iter().map(|w| w.0).collect();
    assert_eq!(
        keys,
        [
            "services.s.dns_search",
            "services.s.dns_opt",
            "services.s.pid"
        ]
    );
    assert_err(
        "services:\n  s:\n    image: x\n    devices:\n      - target: /dev/x\n",
        5,
        "missing required key source",
    );
    assert_err(
        "services:\n  s:\n    image: x\n    sysctls: 5\n",
        4,
        "services.s.sysctls",
    );
}
