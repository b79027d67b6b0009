//! Each compose → Kubernetes mapping, checked on the generated objects.

use serde_json::{json, Value};

use super::*;
use crate::compose::test_project;

fn gen_with(yaml: &str, contents: &Contents, exposed: ServiceType) -> Vec<Manifest> {
    generate(&test_project(yaml), contents, exposed)
}

fn gen(yaml: &str) -> Vec<Manifest> {
    gen_with(yaml, &Contents::default(), ServiceType::NodePort)
}

/// The object of that kind and name, as JSON (what the API sees).
fn find(ms: &[Manifest], kind: &str, name: &str) -> Value {
    let m = ms
        .iter()
        .find(|m| m.kind() == kind && m.name() == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:?}", names(ms)));
    serde_json::to_value(&m.object).unwrap()
}

fn names(ms: &[Manifest]) -> Vec<String> {
    ms.iter()
        .map(|m| format!("{}/{}", m.kind(), m.name()))
        .collect()
}

fn container(ms: &[Manifest], name: &str) -> Value {
    find(ms, "Deployment", name)["spec"]["template"]["spec"]["containers"][0].clone()
}

fn note_keys(ms: &[Manifest], kind: &str, name: &str) -> Vec<String> {
    let m = ms
        .iter()
        .find(|m| m.kind() == kind && m.name() == name)
        .unwrap();
    m.notes.0.iter().map(|n| n.key.clone()).collect()
}

#[test]
fn a_deployment_per_service_with_replicas_and_selector() {
    let ms = gen("services:\n  web_app:\n    image: nginx\n    deploy: {replicas: 3}\n  db:\n    image: pg\n");
    let d = find(&ms, "Deployment", "web-app");
    assert_eq!(d["apiVersion"], "apps/v1");
    assert_eq!(d["spec"]["replicas"], 3);
    let sel = json!({"app.kubernetes.io/name": "web-app", "app.kubernetes.io/part-of": "app"});
    assert_eq!(d["spec"]["selector"]["matchLabels"], sel);
    assert_eq!(
        d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"],
        "web-app"
    );
    assert_eq!(container(&ms, "web-app")["image"], "nginx");
    assert_eq!(find(&ms, "Deployment", "db")["spec"]["replicas"], 1);
}

#[test]
fn update_config_becomes_surge_and_unavailability() {
    let strat = |u: &str| {
        let ms = gen(&format!(
            "services:\n  s:\n    image: x\n    deploy:\n      update_config: {u}\n"
        ));
        find(&ms, "Deployment", "s")["spec"]["strategy"]["rollingUpdate"].clone()
    };
    assert_eq!(strat("{}"), json!({"maxSurge": 0, "maxUnavailable": 1}));
    assert_eq!(
        strat("{parallelism: 2}"),
        json!({"maxSurge": 0, "maxUnavailable": 2})
    );
    assert_eq!(
        strat("{parallelism: 3, order: start-first}"),
        json!({"maxSurge": 3, "maxUnavailable": 0})
    );
    assert_eq!(
        strat("{parallelism: 0}"),
        json!({"maxSurge": 0, "maxUnavailable": "100%"})
    );
}

#[test]
fn entrypoint_is_command_and_command_is_args() {
    let ms = gen("services:\n  s:\n    image: x\n    entrypoint: [/init, --]\n    command: serve --port 80\n    working_dir: /srv\n");
    let c = container(&ms, "s");
    assert_eq!(c["command"], json!(["/init", "--"]));
    assert_eq!(c["args"], json!(["serve", "--port", "80"]));
    assert_eq!(c["workingDir"], "/srv");
    let ms = gen("services:\n  s:\n    image: x\n    command: [echo, hi]\n");
    assert!(container(&ms, "s").get("command").is_none());
}

#[test]
fn environment_with_values_unset_ones_noted() {
    let ms = gen("services:\n  s:\n    image: x\n    environment:\n      A: '1'\n      B:\n");
    assert_eq!(
        container(&ms, "s")["env"],
        json!([{"name": "A", "value": "1"}])
    );
    assert!(note_keys(&ms, "Deployment", "s").contains(&"environment.B".to_string()));
}

#[test]
fn healthcheck_becomes_probes_and_start_period_a_startup_probe() {
    let yaml = "services:\n  s:\n    image: x\n    healthcheck:\n      test: [CMD, wget, -q, localhost]\n      interval: 10s\n      timeout: 1500ms\n      retries: 4\n      start_period: 30s\n      start_interval: 5s\n";
    let c = container(&gen(yaml), "s");
    let want = json!({"exec": {"command": ["wget", "-q", "localhost"]}, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 4});
    assert_eq!(c["livenessProbe"], want);
    assert_eq!(c["readinessProbe"], want);
    assert_eq!(c["startupProbe"]["failureThreshold"], 6);
    assert_eq!(c["startupProbe"]["periodSeconds"], 5);
    let shell = "services:\n  s:\n    image: x\n    healthcheck:\n      test: curl -f localhost\n";
    let c = container(&gen(shell), "s");
    assert_eq!(
        c["livenessProbe"]["exec"]["command"],
        json!(["/bin/sh", "-c", "curl -f localhost"])
    );
    assert!(c.get("startupProbe").is_none());
    let off = "services:\n  s:\n    image: x\n    healthcheck:\n      disable: true\n";
    assert!(container(&gen(off), "s").get("livenessProbe").is_none());
}

#[test]
fn limits_and_reservations_become_limits_and_requests() {
    let yaml = "services:\n  s:\n    image: x\n    deploy:\n      resources:\n        limits: {cpus: '0.5', memory: 256M, pids: 64}\n        reservations: {cpus: '0.25', memory: 64M}\n";
    let ms = gen(yaml);
    let r = &container(&ms, "s")["resources"];
    assert_eq!(r["limits"], json!({"cpu": "500m", "memory": "268435456"}));
    assert_eq!(r["requests"], json!({"cpu": "250m", "memory": "67108864"}));
    assert!(note_keys(&ms, "Deployment", "s").contains(&"deploy.resources.limits.pids".into()));
}

#[test]
fn ports_give_a_cluster_service_and_a_published_one() {
    let yaml = "services:\n  web:\n    image: x\n    ports: ['30080:80', '8443:443', '9000']\n    expose: ['7000/udp']\n";
    let ms = gen(yaml);
    let svc = find(&ms, "Service", "web");
    let ports: Vec<(Value, Value)> = svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["port"].clone(), p["protocol"].clone()))
        .collect();
    assert_eq!(
        ports,
        [
            (json!(80), json!("TCP")),
            (json!(443), json!("TCP")),
            (json!(9000), json!("TCP")),
            (json!(7000), json!("UDP"))
        ]
    );
    assert!(svc["spec"].get("type").is_none(), "ClusterIP by default");
    let public = find(&ms, "Service", "web-published");
    assert_eq!(public["spec"]["type"], "NodePort");
    let p = &public["spec"]["ports"];
    assert_eq!(
        (
            p[0]["port"].clone(),
            p[0]["targetPort"].clone(),
            p[0]["nodePort"].clone()
        ),
        (json!(30080), json!(80), json!(30080))
    );
    assert!(p[1].get("nodePort").is_none(), "8443 is no node port");
    assert_eq!(p.as_array().unwrap().len(), 2, "9000 is not published");
    let lb = gen_with(yaml, &Contents::default(), ServiceType::LoadBalancer);
    let public = find(&lb, "Service", "web-published");
    assert_eq!(public["spec"]["type"], "LoadBalancer");
    assert!(public["spec"]["ports"][0].get("nodePort").is_none());
}

#[test]
fn a_service_without_ports_is_headless_and_dnsrr_too() {
    let ms = gen("services:\n  w:\n    image: x\n  d:\n    image: x\n    ports: ['80']\n    deploy: {endpoint_mode: dnsrr}\n");
    let w = find(&ms, "Service", "w");
    assert_eq!(w["spec"]["clusterIP"], "None");
    assert!(w["spec"].get("ports").is_none());
    assert_eq!(find(&ms, "Service", "d")["spec"]["clusterIP"], "None");
}

#[test]
fn autoscale_becomes_an_hpa() {
    let yaml = "services:\n  s:\n    image: x\n    deploy: {replicas: 1}\n    x-rcorch-autoscale: {min: 2, max: 6, target_cpu: 70, target_connections: 50, window: 60s}\n";
    let ms = gen(yaml);
    let h = find(&ms, "HorizontalPodAutoscaler", "s");
    assert_eq!(h["apiVersion"], "autoscaling/v2");
    assert_eq!(
        (
            h["spec"]["minReplicas"].clone(),
            h["spec"]["maxReplicas"].clone()
        ),
        (json!(2), json!(6))
    );
    assert_eq!(
        h["spec"]["scaleTargetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "s"})
    );
    let cpu = &h["spec"]["metrics"][0]["resource"];
    assert_eq!(
        (cpu["name"].clone(), cpu["target"]["averageValue"].clone()),
        (json!("cpu"), json!("700m"))
    );
    assert_eq!(
        h["spec"]["metrics"][1]["pods"]["metric"]["name"],
        CONNECTIONS_METRIC
    );
    assert_eq!(
        h["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        60
    );
    assert_eq!(
        find(&ms, "Deployment", "s")["spec"]["replicas"],
        2,
        "inside the HPA's bounds"
    );
}

#[test]
fn named_volumes_become_claims_anonymous_and_tmpfs_empty_dirs() {
    let yaml = "services:\n  s:\n    image: x\n    volumes: [data:/var/lib, /cache, ./conf:/etc/app]\n    tmpfs: [/run:size=1m]\n  t:\n    image: x\n    volumes: [shared:/s]\n    deploy: {replicas: 2}\n  u:\n    image: x\n    volumes: [ext:/e]\nvolumes:\n  data: {}\n  shared: {}\n  ext: {external: true, name: pre-made}\n  unused: {}\n";
    let ms = gen(yaml);
    let pvc = find(&ms, "PersistentVolumeClaim", "data");
    assert_eq!(pvc["spec"]["accessModes"], json!(["ReadWriteOnce"]));
    assert_eq!(
        pvc["spec"]["resources"]["requests"]["storage"],
        DEFAULT_CLAIM_SIZE
    );
    assert_eq!(
        find(&ms, "PersistentVolumeClaim", "shared")["spec"]["accessModes"],
        json!(["ReadWriteMany"])
    );
    let claims: Vec<String> = names(&ms)
        .into_iter()
        .filter(|n| n.starts_with("PersistentVolumeClaim"))
        .collect();
    assert_eq!(
        claims,
        ["PersistentVolumeClaim/data", "PersistentVolumeClaim/shared"]
    );
    let pod = &find(&ms, "Deployment", "s")["spec"]["template"]["spec"];
    let vols = pod["volumes"].as_array().unwrap();
    assert_eq!(vols[0]["persistentVolumeClaim"]["claimName"], "data");
    assert_eq!(vols[1]["emptyDir"], json!({}));
    assert_eq!(vols[2]["emptyDir"], json!({"medium": "Memory"}));
    let mounts: Vec<&str> = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert_eq!(mounts, ["/var/lib", "/cache", "/run"]);
    assert!(note_keys(&ms, "Deployment", "s").contains(&"volumes./etc/app".into()));
    let u = &find(&ms, "Deployment", "u")["spec"]["template"]["spec"]["volumes"][0];
    assert_eq!(u["persistentVolumeClaim"]["claimName"], "pre-made");
}

#[test]
fn secrets_and_configs_become_objects_mounted_as_files() {
    let yaml = "services:\n  s:\n    image: x\n    secrets: [{source: db_pw, target: pw, mode: 0o400, uid: '7'}]\n    configs: [app]\nsecrets:\n  db_pw: {file: ./pw}\nconfigs:\n  app: {content: 'k=v'}\n";
    let contents = Contents {
        secrets: [("db_pw".to_string(), b"hunter2".to_vec())].into(),
        configs: [("app".to_string(), b"k=v".to_vec())].into(),
    };
    let ms = gen_with(yaml, &contents, ServiceType::NodePort);
    let secret = find(&ms, "Secret", "db-pw");
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"]["db_pw"], "aHVudGVyMg==");
    assert_eq!(find(&ms, "ConfigMap", "app")["data"]["app"], "k=v");
    let pod = &find(&ms, "Deployment", "s")["spec"]["template"]["spec"];
    let v = &pod["volumes"][0]["secret"];
    assert_eq!(v["secretName"], "db-pw");
    assert_eq!(
        v["items"],
        json!([{"key": "db_pw", "path": "db_pw", "mode": 0o400, "user": 7}])
    );
    let m = &pod["containers"][0]["volumeMounts"];
    assert_eq!(
        m[0],
        json!({"name": "secret-db-pw", "mountPath": "/run/secrets/pw", "subPath": "db_pw", "readOnly": true})
    );
    assert_eq!(m[1]["mountPath"], "/app");
    assert_eq!(pod["volumes"][1]["configMap"]["name"], "app");
    assert!(note_keys(&ms, "Deployment", "s").contains(&"secrets.db_pw.uid".into()));
}

#[test]
fn network_policies_reproduce_compose_isolation() {
    let yaml = "services:\n  web:\n    image: x\n    networks: [front]\n    ports: ['8080:80']\n  api:\n    image: x\n    networks: [front, back]\n  db:\n    image: x\n    networks: [back]\nnetworks:\n  front: {}\n  back: {internal: true}\n";
    let ms = gen(yaml);
    let front = find(&ms, "NetworkPolicy", "net-front");
    let members = json!({"matchLabels": {"network.rcorch.io/front": "true"}});
    assert_eq!(front["spec"]["podSelector"], members);
    assert_eq!(
        front["spec"]["ingress"],
        json!([{"from": [{"podSelector": members}]}])
    );
    let labels =
        |s: &str| find(&ms, "Deployment", s)["spec"]["template"]["metadata"]["labels"].clone();
    assert_eq!(labels("api")["network.rcorch.io/back"], "true");
    assert_eq!(labels("api")["network.rcorch.io/front"], "true");
    assert!(labels("db").get("network.rcorch.io/front").is_none());
    let published = find(&ms, "NetworkPolicy", "web-published");
    assert_eq!(
        published["spec"]["ingress"],
        json!([{"ports": [{"port": 80, "protocol": "TCP"}]}])
    );
    let internal = find(&ms, "NetworkPolicy", "db-internal");
    assert_eq!(internal["spec"]["policyTypes"], json!(["Egress"]));
    assert_eq!(
        internal["spec"]["egress"][0]["to"][0]["podSelector"]["matchLabels"]
            ["network.rcorch.io/back"],
        "true"
    );
    assert!(
        names(&ms).iter().all(|n| n != "NetworkPolicy/api-internal"),
        "api also reaches out through front"
    );
    let ext = gen("services:\n  a:\n    image: x\n    networks: [n]\nnetworks:\n  n: {external: true, driver: macvlan}\n");
    assert_eq!(
        note_keys(&ext, "NetworkPolicy", "net-n"),
        ["driver", "external"]
    );
}

#[test]
fn security_context_from_user_read_only_and_caps() {
    let yaml = "services:\n  s:\n    image: x\n    user: '1000:1001'\n    read_only: true\n    cap_add: [CAP_NET_ADMIN]\n    cap_drop: [ALL]\n  n:\n    image: x\n    user: nobody\n";
    let ms = gen(yaml);
    let sc = &container(&ms, "s")["securityContext"];
    assert_eq!(
        sc,
        &json!({"runAsUser": 1000, "runAsGroup": 1001, "readOnlyRootFilesystem": true, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}})
    );
    assert!(note_keys(&ms, "Deployment", "n").contains(&"user".into()));
}

#[test]
fn keys_without_equivalent_are_annotated_and_commented() {
    let yaml = "services:\n  s:\n    image: x\n    container_name: solo\n    stop_signal: SIGINT\n    stop_grace_period: 42s\n    init: true\n    depends_on: [t]\n    restart: always\n  t:\n    image: x\n    restart: always\n";
    let ms = gen(yaml);
    let keys = note_keys(&ms, "Deployment", "s");
    for k in ["container_name", "stop_signal", "init", "depends_on"] {
        assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
    }
    assert!(note_keys(&ms, "Deployment", "t").is_empty());
    let d = find(&ms, "Deployment", "s");
    assert!(
        d["metadata"]["annotations"]["compose.rcorch.io/stop_signal"]
            .as_str()
            .unwrap()
            .contains("STOPSIGNAL")
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
        42
    );
    let text = render(&ms);
    assert!(text.contains("# stop_signal: SIGINT: "), "{text}");
    assert_eq!(text.matches("\n---\n").count() + 1, ms.len());
}

#[test]
fn names_and_annotation_keys_are_valid_for_the_api() {
    assert_eq!(dns_name("My_App.v2"), "my-app-v2");
    assert_eq!(dns_name("__"), "x");
    assert_eq!(dns_name(&"a".repeat(70)).len(), 63);
    assert_eq!(annotation_name("volumes./etc/app"), "volumes.-etc-app");
    assert_eq!(annotation_name("_x_"), "x");
}

#[test]
fn keys_the_loader_ignored_are_noted_on_their_deployment() {
    let mut ms = gen("services:\n  web_1:\n    image: x\n  db:\n    image: y\n");
    let keys = ["services.web_1.sysctls".to_string(), "include".to_string()];
    note_ignored(&mut ms, &keys);
    assert!(note_keys(&ms, "Deployment", "web-1").contains(&"sysctls".into()));
    let d = find(&ms, "Deployment", "web-1");
    assert!(d["metadata"]["annotations"]["compose.rcorch.io/sysctls"].is_string());
    assert!(ms[0].notes.0.iter().any(|n| n.key == "include"));
}

#[test]
fn names_that_become_one_kubernetes_name_are_found() {
    let p = test_project("services:\n  web_1:\n    image: x\n  web-1:\n    image: x\n");
    let clash = name_clash(&p).unwrap();
    assert_eq!(
        clash,
        ("service", "web-1".into(), "web_1".into(), "web-1".into())
    );
    let ok =
        test_project("services:\n  a:\n    image: x\n    volumes: [a:/a]\nvolumes:\n  a: {}\n");
    assert_eq!(name_clash(&ok), None, "kinds have their own names");
}

#[test]
fn default_drivers_are_not_worth_a_note() {
    let yaml = "services:\n  a:\n    image: x\n    volumes: [l:/l, n:/n]\nvolumes:\n  l: {driver: local}\n  n: {driver: nfs}\n";
    let ms = gen(yaml);
    assert_eq!(note_keys(&ms, "PersistentVolumeClaim", "l"), ["size"]);
    assert_eq!(
        note_keys(&ms, "PersistentVolumeClaim", "n"),
        ["size", "driver"]
    );
}

#[test]
fn host_keys_become_pod_fields_or_notes() {
    let ms = gen("services:\n  web:\n    image: x\n    extra_hosts: {db: 10.0.0.2, cache: 10.0.0.2, gw: host-gateway}\n    dns: [10.0.0.53]\n    sysctls: {net.core.somaxconn: 1024}\n    shm_size: 128m\n    devices: [/dev/null]\n");
    let pod = &find(&ms, "Deployment", "web")["spec"]["template"]["spec"];
    assert_eq!(
        pod["hostAliases"],
        serde_json::json!([{"ip": "10.0.0.2", "hostnames": ["db", "cache"]}])
    );
    assert_eq!(pod["dnsPolicy"], "None");
    assert_eq!(
        pod["dnsConfig"]["nameservers"],
        serde_json::json!(["10.0.0.53"])
    );
    assert_eq!(
        pod["securityContext"]["sysctls"],
        serde_json::json!([{"name": "net.core.somaxconn", "value": "1024"}])
    );
    let notes = note_keys(&ms, "Deployment", "web");
    for key in ["extra_hosts", "shm_size", "devices"] {
        assert!(notes.contains(&key.to_string()), "{key}: {notes:?}");
    }
}
