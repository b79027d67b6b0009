use super::*;
use crate::compose::test_project as project;

const APP: &str = r#"
name: shop
services:
  web:
    image: busybox
    entrypoint: ["/bin/sh", "-c"]
    command: ["httpd -f"]
    environment: { MODE: prod }
    deploy:
      replicas: 3
      resources: { limits: { memory: 64m, cpus: "0.5", pids: 50 } }
    restart: on-failure:4
    depends_on:
      db: { condition: service_healthy }
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O- localhost"]
      interval: 2s
      retries: 5
  db:
    image: busybox
    command: sleep 1000
    deploy:
      restart_policy: { condition: on-failure, delay: 2s, max_attempts: 3 }
"#;

#[test]
fn services_map_onto_supervisor_specs_and_replica_templates() {
    let record = translate(&project(APP), None);
    let web = record.service("web").unwrap();
    assert_eq!(web.spec.replicas, 3);
    assert_eq!(web.spec.revision, 1);
    assert_eq!(
        web.spec.restart.rule,
        RestartRule::OnFailure {
            max_retries: Some(4)
        }
    );
    assert_eq!(
        web.spec.depends_on,
        [Dependency {
            service: "db".into(),
            condition: Condition::ServiceHealthy
        }]
    );
    assert_eq!(web.spec.health.as_ref().unwrap().retries, 5);
    assert_eq!(
        web.health_command.as_deref().unwrap(),
        ["/bin/sh", "-c", "wget -q -O- localhost"]
    );
    assert_eq!(web.template.entrypoint.as_deref(), Some("/bin/sh"));
    assert_eq!(web.template.command, ["-c", "httpd -f"]);
    assert_eq!(web.template.memory.as_deref(), Some("67108864"));
    assert_eq!(web.template.cpus.as_deref(), Some("0.5"));
    assert_eq!(web.template.pids_limit.as_deref(), Some("50"));
    assert_eq!(web.template.env, ["MODE=prod"]);
    let db = record.service("db").unwrap();
    assert!(matches!(
        db.spec.restart.rule,
        RestartRule::Deploy(DeployRestart {
            max_attempts: Some(3),
            ..
        })
    ));
    assert!(db.health_command.is_none());
}

#[test]
fn revisions_move_only_when_a_definition_changes() {
    let first = translate(&project(APP), None);
    let same = translate(&project(APP), Some(&first));
    assert_eq!(same.service("web").unwrap().spec.revision, 1);
    let scaled = translate(
        &project(&APP.replace("replicas: 3", "replicas: 5")),
        Some(&first),
    );
    assert_eq!(
        scaled.service("web").unwrap().spec.revision,
        1,
        "scaling is not a new revision"
    );
    let changed = translate(
        &project(&APP.replace("MODE: prod", "MODE: canary")),
        Some(&first),
    );
    assert_eq!(changed.service("web").unwrap().spec.revision, 2);
    assert_eq!(changed.service("db").unwrap().spec.revision, 1);
}

const BUILT: &str = r#"
name: shop
services:
  api:
    build: .
    image: shop-api
  web:
    image: busybox
    depends_on:
      api: { condition: service_started, restart: true }
  batch:
    image: busybox
    depends_on: [api]
"#;

#[test]
fn a_rebuilt_image_is_a_new_revision_and_restarts_its_dependents() {
    let ids = |id: &str| BTreeMap::from([("api".to_string(), id.to_string())]);
    let first = translate_built(&project(BUILT), None, &ids("sha256:aa"));
    let same = translate_built(&project(BUILT), Some(&first), &ids("sha256:aa"));
    for s in ["api", "web", "batch"] {
        assert_eq!(same.service(s).unwrap().spec.revision, 1, "{s}");
    }
    let rebuilt = translate_built(&project(BUILT), Some(&first), &ids("sha256:bb"));
    let revision = |s: &str| rebuilt.service(s).unwrap().spec.revision;
    assert_eq!(revision("api"), 2);
    assert_eq!(revision("web"), 2, "restart: true follows its dependency");
    assert_eq!(revision("batch"), 1, "a plain dependent is left alone");
}

#[test]
fn a_pulled_image_is_a_new_revision_as_docker_compose_recreates() {
    let ids = |web: &str| {
        BTreeMap::from([
            ("api".to_string(), "sha256:aa".to_string()),
            ("web".to_string(), web.to_string()),
        ])
    };
    let first = translate_built(&project(BUILT), None, &ids("sha256:01"));
    let same = translate_built(&project(BUILT), Some(&first), &ids("sha256:01"));
    assert_eq!(same.service("web").unwrap().spec.revision, 1);
    let pulled = translate_built(&project(BUILT), Some(&first), &ids("sha256:02"));
    assert_eq!(pulled.service("web").unwrap().spec.revision, 2);
    assert_eq!(pulled.service("api").unwrap().spec.revision, 1);
}

#[test]
fn a_record_without_image_ids_adopts_them_without_a_new_revision() {
    let old = translate(&project(BUILT), None);
    let ids = BTreeMap::from([
        ("api".to_string(), "sha256:aa".to_string()),
        ("web".to_string(), "sha256:01".to_string()),
    ]);
    let now = translate_built(&project(BUILT), Some(&old), &ids);
    for s in ["api", "web", "batch"] {
        assert_eq!(now.service(s).unwrap().spec.revision, 1, "{s}");
    }
    assert_eq!(
        now.service("web").unwrap().image_id.as_deref(),
        Some("sha256:01")
    );
}

#[test]
fn named_volumes_get_the_projects_names() {
    let p = project(
        r#"
name: shop
services:
  db:
    image: busybox
    volumes:
      - data:/var/lib/db
      - type: volume
        source: cache
        target: /cache
        read_only: true
        volume: { nocopy: true }
      - ext:/ext
      - /srv/conf:/conf:ro
      - /anon
      - type: tmpfs
        target: /tmp
      - type: tmpfs
        target: /scratch
        read_only: true
        tmpfs: { size: 1m, mode: 01777 }
      - type: tmpfs
        target: /run/x
        tmpfs: { size: 4096, mode: "0700" }
volumes:
  data: {}
  cache: { name: shared-cache }
  ext: { external: true }
"#,
    );
    let record = translate(&p, None);
    let t = &record.service("db").unwrap().template;
    assert_eq!(
        t.volumes,
        [
            "shop_data:/var/lib/db",
            "shared-cache:/cache:ro,nocopy",
            "ext:/ext",
            "/srv/conf:/conf:ro",
            "/anon"
        ]
    );
    assert_eq!(
        t.tmpfs,
        [
            "/tmp",
            "/scratch:ro,size=1048576,mode=1777",
            "/run/x:size=4096,mode=700"
        ]
    );
}

#[test]
fn autoscaled_services_start_within_bounds_and_keep_the_chosen_count() {
    let yaml = APP.replace(
        "    restart: on-failure:4\n",
        "    restart: on-failure:4\n    x-rcorch-autoscale: { min: 1, max: 2, target_cpu: 50, window: 30s }\n",
    );
    let first = translate(&project(&yaml), None);
    let web = first.service("web").unwrap();
    assert_eq!(web.spec.replicas, 2, "replicas 3 clamped to max 2");
    let policy = web.autoscale.as_ref().unwrap();
    assert_eq!(policy.target_cpu, Some(0.5), "percent of one CPU");
    assert_eq!(policy.scale_down_window, std::time::Duration::from_secs(30));
    assert!(first.service("db").unwrap().autoscale.is_none());
    let mut scaled = first.clone();
    for s in scaled.services.iter_mut() {
        s.spec.replicas = if s.spec.name == "web" { 1 } else { 7 };
    }
    let again = translate(&project(&yaml), Some(&scaled));
    assert_eq!(again.service("web").unwrap().spec.replicas, 1);
    assert_eq!(
        again.service("db").unwrap().spec.replicas,
        1,
        "not autoscaled: the file's count"
    );
    // Records written before autoscaling existed still load.
    let mut old = serde_json::to_value(&first).unwrap();
    old["services"][0]
        .as_object_mut()
        .unwrap()
        .remove("autoscale");
    let back: ProjectRecord = serde_json::from_value(old).unwrap();
    assert!(back.services[0].autoscale.is_none());
}

#[test]
fn replicas_join_every_network_of_their_service() {
    let p = project(
        r#"
name: shop
services:
  front:
    image: busybox
    networks:
      public: { aliases: [www] }
      internal: { aliases: [edge] }
  back:
    image: busybox
    networks: [internal]
  lone:
    image: busybox
    network_mode: host
networks:
  public: {}
  internal: { internal: true }
  unused: {}
"#,
    );
    let record = translate(&p, None);
    let front = &record.service("front").unwrap().template;
    // The first network (by key) at `run`, the others connected after.
    assert_eq!(front.network.as_deref(), Some("shop_internal"));
    assert_eq!(front.network_aliases, ["edge"]);
    assert_eq!(
        front.extra_networks,
        [("shop_public".to_string(), vec!["www".to_string()])]
    );
    let back = &record.service("back").unwrap().template;
    assert_eq!(back.network.as_deref(), Some("shop_internal"));
    assert!(back.extra_networks.is_empty());
    let lone = &record.service("lone").unwrap().template;
    assert_eq!(lone.network.as_deref(), Some("host"));
    assert!(lone.extra_networks.is_empty());
    // Networks only joined after start are created by `up` too.
    let names: Vec<&str> = record.networks.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["shop_internal", "shop_public"]);
}

#[test]
fn the_strategy_label_and_the_vip_ports_reach_the_record() {
    let p = project(
        r#"
name: lb
services:
  web:
    image: busybox
    ports: ["8080:80", "5353:53/udp"]
    expose: ["3000", "4000-4002/tcp", "9999/udp"]
    labels: { rcorch.lb.strategy: least-connections }
  api:
    image: busybox
    deploy: { labels: { rcorch.lb.strategy: fastest } }
  db:
    image: busybox
"#,
    );
    let record = translate(&p, None);
    let web = record.service("web").unwrap();
    assert_eq!(web.lb_strategy(), Ok(Strategy::LeastConnections));
    assert_eq!(web.vip_ports, vec![80, 3000, 4000]);
    assert!(record.service("api").unwrap().lb_strategy().is_err());
    assert_eq!(
        record.service("db").unwrap().lb_strategy(),
        Ok(Strategy::RoundRobin)
    );
}

#[test]
fn secrets_and_configs_become_template_files_by_name() {
    let yaml = "services:\n  s:\n    image: x\n    secrets: [pw, {source: tok, target: /etc/tok, uid: '7', gid: '8', mode: 0o400}]\n    configs: [conf]\nsecrets:\n  pw: {file: ./pw}\n  tok: {environment: TOK}\nconfigs:\n  conf: {content: x}\n";
    let record = translate(&project(yaml), None);
    let files = &record.service("s").unwrap().template.files;
    let got: Vec<(&str, &str, &str, u32, u32, u32)> = files
        .iter()
        .map(|f| {
            (
                f.kind.as_str(),
                f.name.as_str(),
                f.target.as_str(),
                f.uid,
                f.gid,
                f.mode,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("secret", "pw", "/run/secrets/pw", 0, 0, 0o444),
            ("secret", "tok", "/etc/tok", 7, 8, 0o400),
            ("config", "conf", "/conf", 0, 0, 0o444),
        ]
    );
    // Only names and places are kept: the record holds no secret's bytes.
    let json = serde_json::to_string(&record).unwrap();
    assert!(!json.contains("TOK\""), "{json}");
}

#[test]
fn host_facing_keys_reach_the_replica_as_runs_flags_would() {
    let p = project("services:\n  web:\n    image: busybox\n    dns: [10.0.0.53]\n    extra_hosts: {db: 10.0.0.2}\n    sysctls: {net.core.somaxconn: 1024}\n    shm_size: 128m\n    devices: [\"/dev/null:/dev/mynull\"]\n");
    let record = translate(&p, None);
    let web = record.service("web").unwrap();
    let request = crate::project::replicas::replica_request("p", web, 1, "p-web-1".into());
    assert_eq!(request.dns, ["10.0.0.53"]);
    assert_eq!(request.extras.add_host, ["db=10.0.0.2"]);
    assert_eq!(request.extras.sysctl, ["net.core.somaxconn=1024"]);
    assert_eq!(request.extras.shm_size.as_deref(), Some("128m"));
    assert_eq!(request.extras.device, ["/dev/null:/dev/mynull"]);
    // A template recorded before these keys existed still loads.
    let mut old = serde_json::to_value(&web.template).unwrap();
    for key in ["dns", "extra_hosts", "sysctls", "shm_size", "devices"] {
        old.as_object_mut().unwrap().remove(key);
    }
    let back: ReplicaTemplate = serde_json::from_value(old).unwrap();
    assert!(back.dns.is_empty() && back.shm_size.is_none());
}

#[test]
fn cpu_placement_pins_the_whole_cpus_a_service_asks_for() {
    let with = |extra: &str| project(&format!("services:\n  web:\n    image: busybox\n{extra}"));
    let spread = "    x-rcorch-cpu-placement: spread\n";
    let two = "    deploy: {resources: {reservations: {cpus: '2'}}}\n";
    let pinned = |p: &crate::compose::model::Project| {
        translate(p, None)
            .service("web")
            .unwrap()
            .template
            .cpu_placement
    };
    let p = with(&format!("{spread}{two}"));
    assert_eq!(pinned(&p), Some(2));
    // The limit stands in for a missing reservation.
    let p = with(&format!(
        "{spread}    deploy: {{resources: {{limits: {{cpus: '1'}}}}}}\n"
    ));
    assert_eq!(pinned(&p), Some(1));
    let p = with(&format!("    x-rcorch-cpu-placement: none\n{two}"));
    assert_eq!(pinned(&p), None);
    let p = with(two);
    assert_eq!(pinned(&p), None);
    let p = with(&format!(
        "{spread}    deploy: {{resources: {{reservations: {{cpus: '1.5'}}}}}}\n"
    ));
    let e = cpu_placement_of(&p.services["web"]).unwrap_err();
    assert!(e.contains("whole number"), "{e}");
    let p = with("    x-rcorch-cpu-placement: 3\n");
    let e = cpu_placement_of(&p.services["web"]).unwrap_err();
    assert!(e.contains("spread or none, not 3"), "{e}");
}
