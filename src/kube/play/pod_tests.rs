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
