//! A pod's container fields beyond the basics: probe actions, field refs,
//! init containers.

use std::path::Path;

use super::*;
use crate::compose::model::{HealthTest, Project, Service};
use crate::compose::{self, Env, LoadInput};

fn docs(text: &str) -> Vec<Doc> {
    parse_documents(Path::new("/m/pod.yaml"), text).unwrap()
}

fn error(text: &str) -> String {
    play(&docs(text), "p").unwrap_err().to_string()
}

fn project(text: &str) -> Project {
    let played = play(&docs(text), "p").unwrap();
    let yaml = serde_norway::to_string(&played.compose).unwrap();
    let input = LoadInput {
        file: Path::new("/m/pod.yaml"),
        text: &yaml,
        env: &Env::new(),
        project_name: Some("p"),
        profiles: &[],
        targeted: &[],
    };
    let none = |_: &Path| Err(std::io::Error::from(std::io::ErrorKind::NotFound));
    match compose::load_str(&input, &none) {
        Ok(l) => l.project,
        Err(e) => panic!("{e}\n{yaml}"),
    }
}

/// A Pod named `web` whose one container has `body` (indented 4) after its image.
fn pod(body: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: shop}}\nspec:\n  \
         containers:\n  - name: c\n    image: busybox\n    ports:\n    \
         - {{containerPort: 8080, name: http}}\n{body}"
    )
}

fn service(text: &str) -> Service {
    project(text).services["web"].clone()
}

fn words(w: &[&str]) -> Option<HealthTest> {
    Some(HealthTest::Cmd(w.iter().map(|s| s.to_string()).collect()))
}

#[test]
fn http_get_probes_run_wget_against_the_named_port_with_headers() {
    let body = "    livenessProbe:
      httpGet:
        path: healthz
        port: http
        httpHeaders: [{name: X-Probe, value: kube}]
      initialDelaySeconds: 4
      periodSeconds: 7
      timeoutSeconds: 2
      failureThreshold: 5
";
    let hc = service(&pod(body)).healthcheck.unwrap();
    let want = [
        "wget",
        "-q",
        "-O",
        "/dev/null",
        "--header",
        "X-Probe: kube",
        "http://127.0.0.1:8080/healthz",
    ];
    assert_eq!(hc.test, words(&want));
    let timing = (hc.start_period, hc.interval, hc.timeout, hc.retries);
    let secs = std::time::Duration::from_secs;
    assert_eq!(timing, (secs(4), secs(7), secs(2), 5));
}

#[test]
fn https_skips_certificate_checks_and_a_host_is_kept() {
    let body = "    readinessProbe:\n      httpGet: {port: 8443, host: 10.0.0.9, scheme: HTTPS}\n";
    let hc = service(&pod(body)).healthcheck.unwrap();
    let want = [
        "wget",
        "-q",
        "-O",
        "/dev/null",
        "--no-check-certificate",
        "https://10.0.0.9:8443/",
    ];
    assert_eq!(hc.test, words(&want));
}

#[test]
fn tcp_socket_probes_connect_with_nc_within_the_timeout() {
    let body = "    livenessProbe:\n      tcpSocket: {port: 8080}\n      timeoutSeconds: 3\n";
    let hc = service(&pod(body)).healthcheck.unwrap();
    let want = ["nc", "-w", "3", "127.0.0.1", "8080", "-e", "true"];
    assert_eq!(hc.test, words(&want));
    assert_eq!((hc.interval.as_secs(), hc.retries), (10, 3));
}

#[test]
fn bad_probe_actions_are_named() {
    let grpc = error(&pod("    livenessProbe:\n      grpc: {port: 9000}\n"));
    assert!(
        grpc.contains("livenessProbe.grpc: grpc probes are not run"),
        "{grpc}"
    );
    let name = error(&pod("    livenessProbe:\n      tcpSocket: {port: web}\n"));
    assert!(
        name.contains("tcpSocket.port: no container port is named \"web\""),
        "{name}"
    );
    let both = "    livenessProbe:\n      tcpSocket: {port: 1}\n      exec: {command: [true]}\n";
    assert!(error(&pod(both)).contains("exclude each other"));
    let scheme = error(&pod(
        "    livenessProbe:\n      httpGet: {port: 1, scheme: FTP}\n",
    ));
    assert!(
        scheme.contains("httpGet.scheme: \"FTP\": expected HTTP or HTTPS"),
        "{scheme}"
    );
}

const FIELDS: &str = "    resources:
      limits: {cpu: 1500m, memory: 64Mi}
      requests: {cpu: 250m}
    env:
    - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name, apiVersion: v1}}}
    - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
    - {name: MCPU, valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {containerName: c, resource: limits.memory, divisor: 1Mi}}}
    - {name: MEMREQ, valueFrom: {resourceFieldRef: {resource: requests.memory}}}
";

#[test]
fn field_refs_known_when_playing_are_written_and_the_others_filled_at_start() {
    let s = service(&pod(FIELDS));
    let env = |k: &str| s.environment.get(k).cloned().flatten();
    assert_eq!(env("NS").as_deref(), Some("shop"));
    assert_eq!(env("NAME").as_deref(), Some("web"), "a bare Pod's own name");
    // Rounded up to whole cores, as the kubelet does; requests default to limits.
    assert_eq!(env("CPU").as_deref(), Some("2"));
    assert_eq!(env("MCPU").as_deref(), Some("250"));
    assert_eq!(env("MEM").as_deref(), Some("64"));
    assert_eq!(
        env("MEMREQ").as_deref(),
        Some((64u64 << 20).to_string().as_str())
    );
    assert_eq!(env("IP"), None);
    let label = &s.labels[crate::container::downward::LABEL];
    let want = r#"{"IP":"status.podIP","NODE":"spec.nodeName"}"#;
    assert_eq!(label, want);
}

#[test]
fn a_workload_pods_name_is_its_replicas() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  \
                selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    \
                spec:\n      containers:\n      - name: c\n        image: busybox\n        env:\n        \
                - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}\n";
    let s = service(text);
    assert!(!s.environment.contains_key("POD"));
    let label = &s.labels[crate::container::downward::LABEL];
    assert_eq!(label, r#"{"POD":"metadata.name"}"#);
}

#[test]
fn other_field_paths_and_unset_limits_are_refused_by_name() {
    let env = |from: &str| pod(&format!("    env:\n    - {{name: X, valueFrom: {from}}}\n"));
    let uid = error(&env("{fieldRef: {fieldPath: metadata.uid}}"));
    assert!(
        uid.contains("valueFrom.fieldRef.fieldPath: metadata.uid: not given here"),
        "{uid}"
    );
    let unset = error(&env("{resourceFieldRef: {resource: limits.memory}}"));
    assert!(
        unset.contains("resourceFieldRef.resource: the container sets no limits.memory"),
        "{unset}"
    );
    let other = error(&env(
        "{resourceFieldRef: {resource: limits.cpu, containerName: d}}",
    ));
    assert!(
        other.contains("containerName: d: only the container's own"),
        "{other}"
    );
    let storage = error(&env(
        "{resourceFieldRef: {resource: limits.ephemeral-storage}}",
    ));
    assert!(storage.contains("expected limits.cpu"), "{storage}");
}

const INIT: &str = "apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  initContainers:
  - {name: fetch, image: busybox, command: [sh, -c, 'echo hi > /work/page'], volumeMounts: [{name: work, mountPath: /work}]}
  - {name: check, image: busybox, command: [test, -s, /work/page], volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - {name: c, image: busybox, volumeMounts: [{name: work, mountPath: /srv}, {name: fast, mountPath: /fast}]}
  volumes:
  - {name: work, emptyDir: {}}
  - {name: fast, emptyDir: {medium: Memory}}
";

#[test]
fn init_containers_run_in_order_before_the_pod_and_share_its_empty_dirs() {
    use crate::compose::model::{Condition, MountKind};
    let p = project(INIT);
    let (fetch, check, web) = (
        &p.services["web-init-fetch"],
        &p.services["web-init-check"],
        &p.services["web"],
    );
    let dep = |s: &Service, on: &str| s.depends_on.get(on).map(|d| d.condition);
    assert!(fetch.depends_on.is_empty());
    let done = Some(Condition::ServiceCompletedSuccessfully);
    assert_eq!(dep(check, "web-init-fetch"), done);
    assert_eq!(dep(web, "web-init-check"), done);
    assert_eq!(web.depends_on.len(), 1);
    // Never: a failed init container is not retried (else on-failure).
    assert_eq!(format!("{:?}", fetch.restart), format!("{:?}", web.restart));
    assert_eq!(fetch.stop_grace_period, web.stop_grace_period);
    let volume = |s: &Service, target: &str| {
        let m = s.volumes.iter().find(|m| m.target == target).unwrap();
        (m.kind, m.source.clone())
    };
    let shared = (MountKind::Volume, Some("web-emptydir-work".to_string()));
    assert_eq!(volume(fetch, "/work"), shared);
    assert_eq!(volume(web, "/srv"), shared);
    assert!(p.volumes.contains_key("web-emptydir-work"));
    assert_eq!(volume(web, "/fast").0, MountKind::Tmpfs);
}

#[test]
fn init_containers_of_a_restarting_pod_are_retried_on_failure() {
    let text = INIT.replace("  restartPolicy: Never\n", "");
    let p = project(&text);
    let restart = format!("{:?}", p.services["web-init-fetch"].restart);
    assert!(restart.contains("OnFailure"), "{restart}");
}

fn job(spec: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: web}}\nspec:\n{spec}  template:\n    \
         spec:\n      restartPolicy: Never\n      containers:\n      - {{name: c, image: busybox}}\n"
    )
}

#[test]
fn a_job_runs_its_completions_each_retried_up_to_the_backoff_limit() {
    use crate::compose::model::RestartCondition;
    let s = service(&job(
        "  completions: 3\n  parallelism: 3\n  backoffLimit: 2\n",
    ));
    assert_eq!(s.deploy.replicas, Some(3));
    let policy = s.deploy.restart_policy.unwrap();
    assert_eq!(policy.condition, RestartCondition::OnFailure);
    assert_eq!(policy.max_attempts, Some(2));
    let default = service(&job("")).deploy;
    assert_eq!(default.replicas, Some(1));
    assert_eq!(default.restart_policy.unwrap().max_attempts, Some(6));
}

#[test]
fn a_job_needs_a_terminating_restart_policy_and_says_what_it_does_not_keep() {
    let always = job("").replace("restartPolicy: Never", "restartPolicy: Always");
    let e = error(&always);
    assert!(
        e.contains("restartPolicy: a Job's pods need restartPolicy OnFailure or Never"),
        "{e}"
    );
    let e = error(&job("  parallelism: 0\n"));
    assert!(e.contains("spec.parallelism: 0 runs nothing"), "{e}");
    let e = error(&job("  completionMode: Indexed\n"));
    assert!(e.contains("spec.completionMode: not supported"), "{e}");
    let played = play(&docs(&job("  completions: 4\n  parallelism: 2\n")), "p").unwrap();
    let warned = played
        .warnings
        .iter()
        .any(|w| w.contains("all 4 completions run at once"));
    assert!(warned, "{:?}", played.warnings);
}
