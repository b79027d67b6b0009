//! Root-only: `kube play` runs Kubernetes YAML as a project — replicas,
//! environment, ConfigMap and Secret files, a NodePort answering on the
//! host, a ClusterIP name — and `kube down` of the same file removes all
//! of it; `kube generate` of a compose app played back serves what `up`
//! served. Each scenario runs in its own network namespace (networld).

mod networld;

use networld::{value, world};

const MANIFEST: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: site}
data:
  index.html: "hello from kube play"
  mode: fast
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cr3t-kube-9f2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
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
        command: [httpd, -f, -p, "8080", -h, /www]
        env:
        - {name: GREETING, value: "hi $HOME"}
        - name: MODE
          valueFrom: {configMapKeyRef: {name: site, key: mode}}
        ports: [{containerPort: 8080, name: http}]
        volumeMounts:
        - {name: site, mountPath: /www}
        - {name: creds, mountPath: /etc/creds}
      volumes:
      - {name: site, configMap: {name: site}}
      - {name: creds, secret: {secretName: creds, defaultMode: 0400}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: http, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: frontend}
spec:
  selector: {app: web}
  ports: [{port: 8080}]
"#;

#[test]
fn kube_play_runs_a_deployment_with_its_service_configmap_and_secret_and_down_removes_it() {
    let Some(w) = world("kube-play") else { return };
    let file = w.root.path().join("app.yaml");
    std::fs::write(&file, MANIFEST).unwrap();
    let out = w.run(&format!(
        r#"
F={file}
trap '$R kube down $F >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
$R kube play --wait-timeout 30 $F; echo "play-rc=$?"
echo "replicas=$($R ps --format '{{{{.Names}}}}' | grep -c '^app-web-')"
echo "env=$($R exec app-web-2 sh -c 'echo "$MODE/$GREETING"')"
echo "page=$($R exec app-web-1 cat /www/index.html)"
echo "secret=$($R exec app-web-1 cat /etc/creds/password)"
echo "secret-mode=$($R exec app-web-1 stat -c %a /etc/creds/password)"
echo "curl=$(curl -s --max-time 5 http://127.0.0.1:30080/index.html)"
echo "alias=$($R exec app-web-1 timeout 3 wget -qO- http://frontend:8080/index.html)"
echo "secret-copies=$(grep -rl s3cr3t-kube-9f2 $ROOT/projects 2>/dev/null | wc -l)"
$R kube down $F; echo "down-rc=$?"
echo "containers=$($R ps -aq | wc -l)"
echo "project-dir=$([ -e $ROOT/projects/app ] && echo yes || echo no)"
echo "secret-left=$(grep -rl s3cr3t-kube-9f2 $ROOT 2>/dev/null | grep -vc '/app.yaml$')"
echo "curl-after=$(curl -s --max-time 2 http://127.0.0.1:30080/index.html || echo refused)"
"#,
        file = file.display()
    ));
    assert_eq!(value(&out, "play-rc"), "0", "{out}");
    assert_eq!(value(&out, "replicas"), "2", "{out}");
    assert_eq!(value(&out, "env"), "fast/hi $HOME", "{out}");
    assert_eq!(value(&out, "page"), "hello from kube play", "{out}");
    assert_eq!(value(&out, "secret"), "s3cr3t-kube-9f2", "{out}");
    assert_eq!(value(&out, "secret-mode"), "400", "{out}");
    assert_eq!(value(&out, "curl"), "hello from kube play", "{out}");
    assert_eq!(value(&out, "alias"), "hello from kube play", "{out}");
    // Only the project's owner-only store holds the secret.
    assert_eq!(value(&out, "secret-copies"), "1", "{out}");
    assert_eq!(value(&out, "down-rc"), "0", "{out}");
    assert_eq!(value(&out, "containers"), "0", "{out}");
    assert_eq!(value(&out, "project-dir"), "no", "{out}");
    assert_eq!(value(&out, "secret-left"), "0", "{out}");
    assert_eq!(value(&out, "curl-after"), "refused", "{out}");
}

const COMPOSE: &str = r#"
name: shop
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo \"$$COLOR shop\" > /www/index.html && exec httpd -f -p 80 -h /www"]
    environment: {COLOR: blue}
    ports: ["18081:80"]
    stop_grace_period: 1s
    deploy: {replicas: 3}
  worker:
    image: busybox
    command: ["sh", "-c", "exec sleep 3600"]
    environment: {QUEUE: orders}
    secrets: [token]
    stop_grace_period: 1s
secrets:
  token: {file: ./token.txt}
"#;

#[test]
fn kube_generate_then_kube_play_brings_the_same_app_up_again() {
    let Some(w) = world("kube-roundtrip") else {
        return;
    };
    let dir = w.root.path().join("app");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("compose.yaml"), COMPOSE).unwrap();
    std::fs::write(dir.join("token.txt"), "tok-77").unwrap();
    let out = w.run(&format!(
        r#"
cd {dir}
trap '$R kube down k8s.yaml >/dev/null 2>&1; $R down -p shop >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
state() {{
  echo "$1-names=$($R ps --format '{{{{.Names}}}}' | sort | xargs)"
  echo "$1-page=$(curl -s --max-time 5 http://127.0.0.1:18081/)"
  echo "$1-env=$($R exec shop-worker-1 sh -c 'echo $QUEUE')"
  echo "$1-token=$($R exec shop-worker-1 cat /run/secrets/token)"
}}
$R up -d --wait-timeout 30 >/dev/null; echo "up-rc=$?"
state up
$R down >/dev/null
$R kube generate -o - > k8s.yaml; echo "generate-rc=$?"
$R kube play --wait-timeout 30 k8s.yaml; echo "play-rc=$?"
state play
$R kube down k8s.yaml >/dev/null; echo "down-rc=$?"
echo "left=$($R ps -aq | wc -l)"
"#,
        dir = dir.display()
    ));
    assert_eq!(value(&out, "up-rc"), "0", "{out}");
    assert_eq!(value(&out, "generate-rc"), "0", "{out}");
    assert_eq!(value(&out, "play-rc"), "0", "{out}");
    let names = "shop-web-1 shop-web-2 shop-web-3 shop-worker-1";
    assert_eq!(value(&out, "up-names"), names, "{out}");
    for key in ["names", "page", "env", "token"] {
        assert_eq!(
            value(&out, &format!("play-{key}")),
            value(&out, &format!("up-{key}")),
            "{key}\n{out}"
        );
    }
    assert_eq!(value(&out, "play-page"), "blue shop", "{out}");
    assert_eq!(value(&out, "down-rc"), "0", "{out}");
    assert_eq!(value(&out, "left"), "0", "{out}");
}

#[test]
fn an_unsupported_field_is_one_error_with_its_line_and_starts_nothing() {
    let Some(w) = world("kube-play-bad") else {
        return;
    };
    let file = w.root.path().join("bad.yaml");
    let bad = MANIFEST.replace(
        "        ports: [{containerPort",
        "        stdin: true\n        ports: [{containerPort",
    );
    std::fs::write(&file, bad).unwrap();
    let out = w.run(&format!(
        r#"
$R kube play {file} 2>$ROOT/err; echo "play-rc=$?"
echo "lines=$(wc -l < $ROOT/err)"
echo "err=$(cat $ROOT/err)"
echo "containers=$($R ps -aq | wc -l)"
echo "projects=$(ls $ROOT/projects 2>/dev/null | wc -l)"
"#,
        file = file.display()
    ));
    assert_eq!(value(&out, "play-rc"), "1", "{out}");
    assert_eq!(value(&out, "lines"), "1", "{out}");
    let want = format!(
        "rcorch: {}:32: Deployment web: spec.template.spec.containers[0].stdin: not supported by rcorch kube play",
        file.display()
    );
    assert_eq!(value(&out, "err"), want, "{out}");
    assert_eq!(value(&out, "containers"), "0", "{out}");
    assert_eq!(value(&out, "projects"), "0", "{out}");
}
