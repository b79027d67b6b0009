use std::path::Path;

use super::*;
use crate::compose::model::{HealthTest, MountKind, Project, UpdateOrder};
use crate::compose::{self, Env, LoadInput};

fn docs(text: &str) -> Vec<Doc> {
    parse_documents(Path::new("/m/app.yaml"), text).unwrap()
}

fn played(text: &str) -> Played {
    let d = docs(text);
    play(&d, &project_name(&d, None, Some(Path::new("/m/app.yaml")))).unwrap()
}

fn error(text: &str) -> String {
    let d = docs(text);
    play(&d, "p").unwrap_err().to_string()
}

/// The compose document loaded as `kube play` loads it.
fn load(p: &Played) -> Project {
    let text = serde_norway::to_string(&p.compose).unwrap();
    let input = LoadInput {
        file: Path::new("/m/app.yaml"),
        text: &text,
        env: &Env::new(),
        project_name: Some(&p.project),
        profiles: &[],
        targeted: &[],
    };
    let none = |_: &Path| Err(std::io::Error::from(std::io::ErrorKind::NotFound));
    match compose::load_str(&input, &none) {
        Ok(l) => l.project,
        Err(e) => panic!("{e}\n{text}"),
    }
}

const APP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers:
      - name: web
        image: busybox
        command: [httpd, -f]
        args: [-p, "8080"]
        env:
        - {name: GREETING, value: "hi $USER"}
        - name: MODE
          valueFrom: {configMapKeyRef: {name: conf, key: mode}}
        envFrom:
        - {secretRef: {name: creds}, prefix: S_}
        ports:
        - {containerPort: 8080, name: http}
        resources:
          limits: {cpu: 500m, memory: 64Mi}
          requests: {cpu: 250m}
        livenessProbe:
          exec: {command: [test, -e, /etc/app/mode]}
          periodSeconds: 5
        volumeMounts:
        - {name: conf, mountPath: /etc/app}
        - {name: creds, mountPath: /run/secrets/pw, subPath: password}
        - {name: data, mountPath: /data}
      volumes:
      - {name: conf, configMap: {name: conf}}
      - name: creds
        secret: {secretName: creds, defaultMode: 0400}
      - {name: data, persistentVolumeClaim: {claimName: data}}
---
apiVersion: v1
kind: Service
metadata: {name: frontend}
spec:
  selector: {app: web}
  ports: [{port: 8080, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-public}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {mode: fast, extra.conf: "x=1\n"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {password: czNjcjN0}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce]}
"#;

#[test]
fn a_deployment_becomes_a_service_with_its_replicas_env_and_rollout() {
    let p = played(APP);
    assert_eq!(p.project, "app");
    let project = load(&p);
    let web = &project.services["web"];
    assert_eq!(web.replicas(), 3);
    assert_eq!(web.image.as_deref(), Some("busybox"));
    assert_eq!(web.entrypoint, Some(vec!["httpd".into(), "-f".into()]));
    assert_eq!(web.command, Some(vec!["-p".into(), "8080".into()]));
    let env = |k: &str| web.environment[k].clone().unwrap();
    // `$` is passed through, as Kubernetes does, not interpolated.
    assert_eq!(env("GREETING"), "hi $USER");
    assert_eq!(env("MODE"), "fast");
    assert_eq!(env("S_password"), "s3cr3t");
    assert_eq!(web.deploy.update_config.order, UpdateOrder::StartFirst);
    assert_eq!(web.deploy.update_config.parallelism, 1);
    assert_eq!(web.deploy.resources.limits.cpus, Some(0.5));
    assert_eq!(web.deploy.resources.limits.memory, Some(64 << 20));
    assert_eq!(web.deploy.resources.reservations.cpus, Some(0.25));
    let hc = web.healthcheck.as_ref().unwrap();
    let test = vec!["test".to_string(), "-e".into(), "/etc/app/mode".into()];
    assert_eq!(hc.test, Some(HealthTest::Cmd(test)));
    assert_eq!(
        (hc.interval.as_secs(), hc.timeout.as_secs(), hc.retries),
        (5, 1, 3)
    );
}

#[test]
fn services_publish_ports_and_become_aliases() {
    let project = load(&played(APP));
    let web = &project.services["web"];
    let published: Vec<(u16, Option<u16>)> = web
        .ports
        .iter()
        .map(|p| (p.target, p.published.map(|r| r.start)))
        .collect();
    // NodePort: the node port on the host, to the target port.
    assert_eq!(published, [(8080, Some(30080))]);
    assert!(
        web.expose.contains(&"8080/tcp".to_string()),
        "{:?}",
        web.expose
    );
    assert_eq!(web.networks["default"].aliases, ["frontend"]);
}

#[test]
fn configmap_and_secret_keys_become_files_with_their_modes() {
    let p = played(APP);
    let project = load(&p);
    let web = &project.services["web"];
    let configs: Vec<(&str, u32)> = web
        .configs
        .iter()
        .map(|r| (r.target.as_str(), r.mode))
        .collect();
    assert_eq!(
        configs,
        [("/etc/app/extra.conf", 0o644), ("/etc/app/mode", 0o644)]
    );
    let secrets: Vec<(&str, u32)> = web
        .secrets
        .iter()
        .map(|r| (r.target.as_str(), r.mode))
        .collect();
    assert_eq!(secrets, [("/run/secrets/pw", 0o400)]);
    // The bytes are served from memory by path; no file exists there.
    let def = &project.secrets[&web.secrets[0].source];
    let Some(compose::model::FileSource::File(path)) = &def.source else {
        panic!("{def:?}")
    };
    assert!(path.starts_with(FILES_ROOT), "{}", path.display());
    assert_eq!(p.files[path], b"s3cr3t");
    let data = web.volumes.iter().find(|m| m.target == "/data").unwrap();
    assert_eq!(
        (data.kind, data.source.as_deref()),
        (MountKind::Volume, Some("data"))
    );
    assert!(project.volumes.contains_key("data"));
}

#[test]
fn unsupported_fields_are_one_error_naming_object_field_and_line() {
    let base = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: busybox\n";
    let e = error(&format!("{base}    stdin: true\n"));
    assert_eq!(
        e,
        "/m/app.yaml:8: Pod p: spec.containers[0].stdin: not supported by rcorch kube play"
    );
    let e = error(&format!(
        "{base}    livenessProbe:\n      grpc: {{port: 80}}\n"
    ));
    assert!(
        e.starts_with(
            "/m/app.yaml:9: Pod p: spec.containers[0].livenessProbe.grpc: grpc probes are not run"
        ),
        "{e}"
    );
    let e = error(&format!("{base}  - name: d\n    image: busybox\n"));
    assert!(
        e.contains("spec.containers[1]: rcorch runs one container per pod"),
        "{e}"
    );
    let e = error(&format!("{base}  ephemeralContainers: []\n"));
    assert!(e.contains("spec.ephemeralContainers: not supported"), "{e}");
    let e = error(&format!(
        "{base}    volumeMounts: [{{name: nope, mountPath: /x}}]\n"
    ));
    assert!(
        e.contains("spec.containers[0].volumeMounts[0].name: no volume nope"),
        "{e}"
    );
    let svc = "---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {app: x}\n  ports: [{port: 80, targetPort: 8080}]\n";
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: x}}\nspec:\n  containers:\n  - {name: c, image: busybox}\n";
    let e = error(&format!("{pod}{svc}"));
    assert!(
        e.contains("/m/app.yaml:13: Service s: spec.ports[0]: port 80 → targetPort 8080"),
        "{e}"
    );
}

#[test]
fn ignored_fields_are_warnings_that_say_why() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  nodeSelector: {disk: ssd}\n  restartPolicy: Never\n  containers:\n  - {name: c, image: busybox, imagePullPolicy: Always}\n";
    let p = played(text);
    let w = p.warnings.join("\n");
    assert!(
        w.contains("Pod p: metadata.namespace: shop: one host has no namespaces"),
        "{w}"
    );
    assert!(
        w.contains("Pod p: spec.nodeSelector: one host has no scheduler"),
        "{w}"
    );
    assert!(
        w.contains("spec.containers[0].imagePullPolicy: rcorch runs the image of its local store"),
        "{w}"
    );
    assert_eq!(load(&p).services["p"].restart, compose::model::Restart::No);
}

#[test]
fn strategies_map_to_update_config() {
    let deployment = |strategy: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec:\n  replicas: 4\n  selector: {{matchLabels: {{a: b}}}}\n  strategy: {strategy}\n  template:\n    metadata: {{labels: {{a: b}}}}\n    spec:\n      containers: [{{name: c, image: busybox}}]\n")
    };
    let update = |s: &str| {
        let u = load(&played(&deployment(s))).services["d"]
            .deploy
            .update_config
            .clone();
        (u.parallelism, u.order)
    };
    assert_eq!(update("{type: Recreate}"), (0, UpdateOrder::StopFirst));
    assert_eq!(
        update("{rollingUpdate: {maxSurge: 0, maxUnavailable: 2}}"),
        (2, UpdateOrder::StopFirst)
    );
    // Kubernetes' default 25%/25% of 4: one extra replica at a time.
    assert_eq!(update("{}"), (1, UpdateOrder::StartFirst));
    assert_eq!(
        update("{rollingUpdate: {maxSurge: 100%}}"),
        (0, UpdateOrder::StartFirst)
    );
    let e = error(&deployment(
        "{rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}",
    ));
    assert!(e.contains("cannot both be 0"), "{e}");
}

const COMPOSE: &str = r#"
name: shop
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "80"]
    environment: {COLOR: blue, PRICE: "5$$"}
    ports: ["8080:80"]
    deploy:
      replicas: 2
      update_config: {parallelism: 1, order: start-first}
    x-rcorch-autoscale: {min: 2, max: 4, target_cpu: 50}
  db:
    image: busybox
    command: ["sleep", "3600"]
    secrets: [db_pw]
    configs: [{source: conf, target: /etc/db.conf, mode: 0440}]
    volumes: ["dbdata:/var/lib/db"]
    expose: ["5432"]
    networks: [back]
    healthcheck:
      test: ["CMD-SHELL", "test -e /etc/db.conf"]
      interval: 5s
      start_period: 10s
secrets:
  db_pw: {file: ./pw.txt}
configs:
  conf: {content: "max=10\n"}
volumes:
  dbdata: {}
networks:
  back: {internal: true}
"#;

fn compose_project(text: &str) -> Project {
    let input = LoadInput {
        file: Path::new("/c/compose.yaml"),
        text,
        env: &Env::new(),
        project_name: None,
        profiles: &[],
        targeted: &[],
    };
    compose::load_str(&input, &|_| Err(std::io::ErrorKind::NotFound.into()))
        .unwrap()
        .project
}

#[test]
fn kube_generate_output_plays_back_as_the_same_app() {
    let original = compose_project(COMPOSE);
    let contents = crate::kube::Contents {
        secrets: [("db_pw".to_string(), b"pw-1".to_vec())].into(),
        configs: [("conf".to_string(), b"max=10\n".to_vec())].into(),
    };
    let manifests = crate::kube::generate(&original, &contents, crate::kube::ServiceType::NodePort);
    let text = crate::kube::render(&manifests);
    let d = docs(&text);
    let p = play(&d, &project_name(&d, None, None)).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(p.project, "shop");
    let back = load(&p);
    assert_eq!(back.services.keys().collect::<Vec<_>>(), ["db", "web"]);
    let (web, web0) = (&back.services["web"], &original.services["web"]);
    assert_eq!(web.replicas(), 2);
    assert_eq!(web.environment, web0.environment);
    assert_eq!(web.command, web0.command);
    let ports: Vec<_> = web.ports.iter().map(|p| (p.target, p.published)).collect();
    let ports0: Vec<_> = web0.ports.iter().map(|p| (p.target, p.published)).collect();
    assert_eq!(ports, ports0);
    assert_eq!(web.deploy.update_config.order, UpdateOrder::StartFirst);
    let a = web.autoscale.as_ref().unwrap();
    assert_eq!((a.min, a.max, a.target_cpu), (2, 4, Some(50.0)));
    let db = &back.services["db"];
    assert!(db.networks.contains_key("back"), "{:?}", db.networks);
    assert!(back.networks["back"].internal);
    let hc = db.healthcheck.as_ref().unwrap();
    assert_eq!((hc.interval.as_secs(), hc.start_period.as_secs()), (5, 10));
    let targets: Vec<(&str, u32)> = db
        .secrets
        .iter()
        .chain(&db.configs)
        .map(|r| (r.target.as_str(), r.mode))
        .collect();
    assert_eq!(
        targets,
        [("/run/secrets/db_pw", 0o444), ("/etc/db.conf", 0o440)]
    );
    let bytes: Vec<&[u8]> = p.files.values().map(Vec::as_slice).collect();
    assert!(bytes.contains(&&b"pw-1"[..]) && bytes.contains(&&b"max=10\n"[..]));
    let vol = &db.volumes[0];
    assert_eq!(
        (vol.source.as_deref(), vol.target.as_str()),
        (Some("dbdata"), "/var/lib/db")
    );
}

fn controller(kind: &str, spec: &str) -> String {
    format!("apiVersion: apps/v1\nkind: {kind}\nmetadata: {{name: s}}\nspec:\n{spec}  selector: {{matchLabels: {{a: b}}}}\n  template:\n    metadata: {{labels: {{a: b}}}}\n    spec:\n      containers: [{{name: c, image: busybox}}]\n")
}

#[test]
fn a_stateful_set_is_replicated_and_updated_one_at_a_time() {
    let p = played(&controller(
        "StatefulSet",
        "  replicas: 3\n  serviceName: s\n",
    ));
    let w = p.warnings.join("\n");
    assert!(
        w.contains("StatefulSet s: spec.podManagementPolicy: replicas start together"),
        "{w}"
    );
    let s = &load(&p).services["s"];
    assert_eq!(s.replicas(), 3);
    let u = &s.deploy.update_config;
    assert_eq!((u.parallelism, u.order), (1, UpdateOrder::StopFirst));
    let e = error(&controller("StatefulSet", "  volumeClaimTemplates: []\n"));
    assert!(
        e.contains("StatefulSet s: spec.volumeClaimTemplates: not supported"),
        "{e}"
    );
    let e = error(&controller(
        "StatefulSet",
        "  updateStrategy: {rollingUpdate: {partition: 2}}\n",
    ));
    assert!(
        e.contains("spec.updateStrategy.rollingUpdate.partition: a partial rollout"),
        "{e}"
    );
}

#[test]
fn a_daemon_set_runs_one_replica_on_the_one_node() {
    let p = played(&controller("DaemonSet", ""));
    let s = &load(&p).services["s"];
    assert_eq!(s.replicas(), 1);
    assert_eq!(s.restart, compose::model::Restart::Always);
    assert_eq!(s.deploy.update_config.order, UpdateOrder::StopFirst);
    let surge = controller(
        "DaemonSet",
        "  updateStrategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}\n",
    );
    let order = load(&played(&surge)).services["s"]
        .deploy
        .update_config
        .order;
    assert_eq!(order, UpdateOrder::StartFirst);
    let e = error(&controller("DaemonSet", "  replicas: 2\n"));
    assert!(
        e.contains("DaemonSet s: spec.replicas: not supported"),
        "{e}"
    );
}

#[test]
fn two_workloads_of_one_name_are_an_error() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: s, labels: {a: b}}\nspec:\n  containers: [{name: c, image: busybox}]\n---\n";
    let e = error(&format!("{pod}{}", controller("Deployment", "")));
    assert!(
        e.contains("/m/app.yaml:9: Deployment s: metadata.name: another Pod"),
        "{e}"
    );
}

#[test]
fn an_autoscaler_becomes_x_rcorch_autoscale() {
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n      - {name: c, image: busybox, resources: {requests: {cpu: 500m}}}\n---\n";
    let hpa = |metrics: &str| {
        format!("{deployment}apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{name: h}}\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: d}}\n  minReplicas: 2\n  maxReplicas: 5\n  metrics: {metrics}\n  behavior: {{scaleDown: {{stabilizationWindowSeconds: 60}}}}\n")
    };
    let util = "[{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}}]";
    let a = load(&played(&hpa(util))).services["d"]
        .autoscale
        .clone()
        .unwrap();
    // 60% of a 0.5 CPU request is 30% of one CPU, as rcorch measures.
    assert_eq!(
        (a.min, a.max, a.target_cpu, a.window.as_secs()),
        (2, 5, Some(30.0), 60)
    );
    let conns = "[{type: Pods, pods: {metric: {name: rcorch_established_connections}, target: {type: AverageValue, averageValue: '20'}}}]";
    let a = load(&played(&hpa(conns))).services["d"]
        .autoscale
        .clone()
        .unwrap();
    assert_eq!(a.target_connections, Some(20.0));
    let memory = "[{type: Resource, resource: {name: memory, target: {type: AverageValue, averageValue: 1Gi}}}]";
    let e = error(&hpa(memory));
    assert!(e.contains("HorizontalPodAutoscaler h: spec.metrics[0].resource.name: rcorch scales on cpu and on connections only"), "{e}");
}
