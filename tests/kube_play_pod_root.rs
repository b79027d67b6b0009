//! Root-only: what `kube play` makes of a pod's container beyond image and
//! command — httpGet/tcpSocket probes as the replica's health check, the
//! downward API's fields in each replica's environment, init containers
//! run in order before the pod, Jobs run to completion with retries. Each
//! scenario runs in its own network namespace (networld).

mod networld;

use networld::{value, world};

const PROBED: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox
    command: [sh, -c, "mkdir -p /www && echo ok > /www/healthz && exec httpd -f -p 8080 -h /www"]
    ports: [{containerPort: 8080, name: http}]
    livenessProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: tcp}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: tcp
    image: busybox
    command: [httpd, -f, -p, "9000"]
    livenessProbe:
      tcpSocket: {port: 9000}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: closed}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: closed
    image: busybox
    command: [sleep, "3600"]
    livenessProbe:
      tcpSocket: {port: 9999}
      periodSeconds: 1
      failureThreshold: 1
"#;

#[test]
fn http_get_and_tcp_socket_probes_decide_the_replicas_health() {
    let Some(w) = world("kube-probes") else {
        return;
    };
    let file = w.root.path().join("pods.yaml");
    std::fs::write(&file, PROBED).unwrap();
    let out = w.run(&format!(
        r#"
F={file}
trap '$R kube down $F >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
$R kube play --wait-timeout 30 $F; echo "play-rc=$?"
health() {{ $R inspect $1 | jq -r '(if type == "array" then .[0] else . end).State.Health.Status'; }}
for i in $(seq 60); do
  [ "$(health pods-web-1)" = healthy ] && [ "$(health pods-tcp-1)" = healthy ] && break
  sleep 0.5
done
echo "web=$(health pods-web-1)"
echo "tcp=$(health pods-tcp-1)"
for i in $(seq 60); do
  $R events -p pods --since 0 --until 0s | grep -q ' closed-1 unhealthy' && break
  sleep 0.5
done
echo "closed=$($R events -p pods --since 0 --until 0s | grep -c ' closed-1 unhealthy')"
echo "web-unhealthy=$($R events -p pods --since 0 --until 0s | grep -c ' web-1 unhealthy')"
"#,
        file = file.display()
    ));
    assert_eq!(value(&out, "play-rc"), "0", "{out}");
    assert_eq!(value(&out, "web"), "healthy", "{out}");
    assert_eq!(value(&out, "tcp"), "healthy", "{out}");
    assert_ne!(value(&out, "closed"), "0", "{out}");
    assert_eq!(value(&out, "web-unhealthy"), "0", "{out}");
}

const FIELDS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: busybox
        command: [sleep, "3600"]
        resources: {limits: {memory: 32Mi}}
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: POD_NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
"#;

#[test]
fn field_refs_give_each_replica_its_name_ip_and_node() {
    let Some(w) = world("kube-fields") else {
        return;
    };
    let file = w.root.path().join("fields.yaml");
    std::fs::write(&file, FIELDS).unwrap();
    let out = w.run(&format!(
        r#"
F={file}
trap '$R kube down $F >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
$R kube play --wait-timeout 30 $F; echo "play-rc=$?"
seen() {{ $R exec $1 sh -c 'tr "\0" "\n" < /proc/1/environ | grep -E "^(POD_|NODE|MEM)" | sort | xargs'; }}
own_ip() {{ $R exec $1 sh -c "ip -o -4 addr show eth0 | awk '{{{{print \$4}}}}' | cut -d/ -f1"; }}
for n in 1 2; do
  echo "env-$n=$(seen fields-web-$n)"
  echo "ip-$n=$(own_ip fields-web-$n)"
done
echo "node=$(hostname)"
"#,
        file = file.display()
    ));
    assert_eq!(value(&out, "play-rc"), "0", "{out}");
    let node = value(&out, "node");
    for n in 1..=2 {
        let ip = value(&out, &format!("ip-{n}"));
        assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{out}");
        let want = format!("MEM=32 NODE={node} POD_IP={ip} POD_NAME=fields-web-{n} POD_NS=shop");
        assert_eq!(value(&out, &format!("env-{n}")), want, "{out}");
    }
}

const INIT: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: fetch
    image: busybox
    command: [sh, -c, "sleep 1; echo fetched > /work/page"]
    volumeMounts: [{name: work, mountPath: /work}]
  - name: check
    image: busybox
    command: [sh, -c, "test -s /work/page && echo checked >> /work/page"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: web
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: work, mountPath: /srv}]
  volumes:
  - {name: work, emptyDir: {}}
"#;

#[test]
fn init_containers_run_to_completion_in_order_before_the_pod_and_a_failing_one_holds_it() {
    let Some(w) = world("kube-init") else {
        return;
    };
    let good = w.root.path().join("init.yaml");
    std::fs::write(&good, INIT).unwrap();
    let bad = w.root.path().join("initbad.yaml");
    std::fs::write(&bad, INIT.replace("test -s /work/page", "exit 3; true")).unwrap();
    let out = w.run(&format!(
        r#"
trap '$R kube down --force {good} >/dev/null 2>&1; $R kube down --force {bad} >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
$R kube play --wait-timeout 30 {good}; echo "play-rc=$?"
echo "page=$($R exec init-web-1 cat /srv/page | xargs)"
echo "inits=$($R ps -a --format '{{{{.Names}}}} {{{{.Status}}}}' | grep init-web-init- | sort | cut -d' ' -f1-2 | xargs)"
$R kube play --wait-timeout 5 {bad} > $ROOT/bad.out 2>&1; echo "bad-rc=$?"
echo "bad-web=$($R ps -a --format '{{{{.Names}}}}' | grep -c '^initbad-web-1$')"
echo "bad-init=$($R inspect initbad-web-init-check-1 | jq -r '(if type == "array" then .[0] else . end).State.ExitCode')"
echo "bad-out=$(cat $ROOT/bad.out | xargs)"
"#,
        good = good.display(),
        bad = bad.display()
    ));
    assert_eq!(value(&out, "play-rc"), "0", "{out}");
    assert_eq!(value(&out, "page"), "fetched checked", "{out}");
    assert_eq!(
        value(&out, "inits"),
        "init-web-init-check-1 Exited init-web-init-fetch-1 Exited",
        "{out}"
    );
    assert_ne!(value(&out, "bad-rc"), "0", "{out}");
    assert_eq!(value(&out, "bad-web"), "0", "{out}");
    assert_eq!(value(&out, "bad-init"), "3", "{out}");
}

const JOB_OK: &str = r#"
apiVersion: batch/v1
kind: Job
metadata: {name: ok}
spec:
  completions: 2
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: ok, image: busybox, command: [sh, -c, "echo done"]}
"#;

const JOB_BAD: &str = r#"
apiVersion: batch/v1
kind: Job
metadata: {name: bad}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: OnFailure
      containers:
      - {name: bad, image: busybox, command: [sh, -c, "exit 4"]}
"#;

#[test]
fn a_job_runs_until_success_and_a_failing_one_is_retried_up_to_its_backoff_limit() {
    let Some(w) = world("kube-job") else {
        return;
    };
    let ok = w.root.path().join("ok.yaml");
    std::fs::write(&ok, JOB_OK).unwrap();
    let bad = w.root.path().join("bad.yaml");
    std::fs::write(&bad, JOB_BAD).unwrap();
    let out = w.run(&format!(
        r#"
trap '$R kube down {ok} >/dev/null 2>&1; $R kube down {bad} >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
$R kube play --wait-timeout 20 {ok}; echo "play-rc=$?"
code() {{ $R inspect $1 | jq -r '(if type == "array" then .[0] else . end).State.ExitCode'; }}
echo "ok=$(code ok-ok-1) $(code ok-ok-2)"
$R kube play --wait-timeout 5 {bad} >/dev/null 2>&1
runs() {{ $R events -p bad --since 0 --until 0s | grep -c ' bad-1 start'; }}
for i in $(seq 60); do [ "$(runs)" -ge 2 ] && break; sleep 0.5; done
sleep 3
echo "bad-runs=$(runs)"
echo "bad=$(code bad-bad-1)"
"#,
        ok = ok.display(),
        bad = bad.display()
    ));
    // Completed replicas are done, not short: the play is up.
    assert_eq!(value(&out, "play-rc"), "0", "{out}");
    assert_eq!(value(&out, "ok"), "0 0", "{out}");
    assert_eq!(value(&out, "bad-runs"), "2", "one run and one retry: {out}");
    assert_eq!(value(&out, "bad"), "4", "{out}");
}
