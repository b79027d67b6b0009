//! A probe's action as the command rcorch's health check runs in the
//! replica: `exec` as is; `httpGet` and `tcpSocket` through the image's
//! `wget` and `nc` (busybox has both), since the check runs inside the
//! container, not from the host as the kubelet probes.

use serde_json::Value;

use super::docs::Doc;
use super::walk::PlayError;
use super::Out;
use crate::compose::locate::KeyPath;

type Result<T> = std::result::Result<T, PlayError>;

/// The pod's own listeners, reached from inside its network namespace
/// (the kubelet's default host is the pod IP, which reaches the same).
const DEFAULT_HOST: &str = "127.0.0.1";

/// The command of the probe `p` at `at` of container `c`; `timeout` bounds
/// the TCP connect (wget's is the check's own deadline).
pub fn command(
    doc: &Doc,
    p: &Value,
    at: &KeyPath,
    c: &Value,
    out: &mut Out,
) -> Result<Vec<String>> {
    if doc.get(p, "grpc").is_some() {
        let message = "grpc probes are not run here: use exec with a client the image has";
        return Err(doc.err(&at.key("grpc"), message));
    }
    let timeout = doc
        .uint::<u64>(p, at, "timeoutSeconds")?
        .unwrap_or(1)
        .max(1);
    let actions = [
        ("exec", doc.get(p, "exec")),
        ("httpGet", doc.get(p, "httpGet")),
        ("tcpSocket", doc.get(p, "tcpSocket")),
    ];
    let mut present = actions.into_iter().filter_map(|(k, v)| Some((k, v?)));
    let (first, second) = (present.next(), present.next());
    if second.is_some() {
        return Err(doc.err(at, "exec, httpGet and tcpSocket exclude each other"));
    }
    match first {
        Some(("exec", e)) => exec(doc, e, &at.key("exec"), out),
        Some(("httpGet", h)) => http_get(doc, h, &at.key("httpGet"), c, out),
        Some((_, t)) => tcp_socket(doc, t, &at.key("tcpSocket"), c, timeout, out),
        None => Err(doc.err(at, "needs one of exec, httpGet, tcpSocket")),
    }
}

fn exec(doc: &Doc, exec: &Value, at: &KeyPath, out: &mut Out) -> Result<Vec<String>> {
    doc.fields(exec, at, &["command"], &[], out)?;
    doc.strings(exec, at, "command")?
        .filter(|c| !c.is_empty())
        .ok_or_else(|| doc.err(&at.key("command"), "required"))
}

/// `wget` exits 0 for 2xx (after following redirects) and non-zero for
/// 4xx/5xx or no answer: the kubelet's 200–399 rule, redirects included.
fn http_get(doc: &Doc, h: &Value, at: &KeyPath, c: &Value, out: &mut Out) -> Result<Vec<String>> {
    let supported = ["path", "port", "host", "scheme", "httpHeaders"];
    doc.fields(h, at, &supported, &[], out)?;
    let port = port(doc, h, at, c)?;
    let host = doc.str(h, at, "host")?.unwrap_or(DEFAULT_HOST);
    let path = doc.str(h, at, "path")?.unwrap_or("/");
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let mut argv: Vec<String> = ["wget", "-q", "-O", "/dev/null"].map(String::from).into();
    let scheme = match doc.str(h, at, "scheme")?.unwrap_or("HTTP") {
        "HTTP" => "http",
        "HTTPS" => {
            // The kubelet does not verify a probe's certificate either.
            argv.push("--no-check-certificate".into());
            "https"
        }
        other => {
            let message = format!("{other:?}: expected HTTP or HTTPS");
            return Err(doc.err(&at.key("scheme"), message));
        }
    };
    for (h_at, header) in doc.items(h, at, "httpHeaders")? {
        doc.fields(header, &h_at, &["name", "value"], &[], out)?;
        let name = doc.required_str(header, &h_at, "name")?;
        let value = doc.str(header, &h_at, "value")?.unwrap_or("");
        argv.extend(["--header".to_string(), format!("{name}: {value}")]);
    }
    argv.push(format!("{scheme}://{}:{port}{path}", bracket(host)));
    Ok(argv)
}

/// `nc -e true` connects, then runs `true` on the socket and so exits 0 at
/// once, whether or not the server speaks first or closes.
fn tcp_socket(
    doc: &Doc,
    t: &Value,
    at: &KeyPath,
    c: &Value,
    timeout: u64,
    out: &mut Out,
) -> Result<Vec<String>> {
    doc.fields(t, at, &["port", "host"], &[], out)?;
    let port = port(doc, t, at, c)?;
    let host = doc.str(t, at, "host")?.unwrap_or(DEFAULT_HOST);
    let argv = [
        "nc",
        "-w",
        &timeout.to_string(),
        host,
        &port.to_string(),
        "-e",
        "true",
    ];
    Ok(argv.map(String::from).into())
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// A port number, or the name of one of the container's ports.
fn port(doc: &Doc, v: &Value, at: &KeyPath, c: &Value) -> Result<u16> {
    let port_at = at.key("port");
    match doc.get(v, "port") {
        None => Err(doc.err(&port_at, "required")),
        Some(Value::String(name)) => named_port(c, name)
            .ok_or_else(|| doc.err(&port_at, format!("no container port is named {name:?}"))),
        Some(_) => match doc.uint::<u16>(v, at, "port")? {
            Some(n) if n > 0 => Ok(n),
            _ => Err(doc.err(&port_at, "expected a port from 1 to 65535 or a port name")),
        },
    }
}

fn named_port(c: &Value, name: &str) -> Option<u16> {
    c.get("ports")?
        .as_array()?
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))?
        .get("containerPort")?
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
}
