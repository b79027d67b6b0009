//! A pod's container as the compose service's process: image, command,
//! environment, ports, resources, probes and security context.

use serde_json::{json, Map, Value};

use super::docs::{Doc, Index};
use super::downward::Field;
use super::files::PodVolumes;
use super::walk::{Ignored, PlayError};
use super::workload::insert;
use super::Out;
use crate::compose::locate::KeyPath;

type Result<T> = std::result::Result<T, PlayError>;

pub fn container(
    doc: &Doc,
    index: &Index,
    c: &Value,
    at: &KeyPath,
    volumes: &PodVolumes,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    let supported = [
        "name",
        "image",
        "command",
        "args",
        "workingDir",
        "env",
        "envFrom",
        "ports",
        "resources",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "securityContext",
        "volumeMounts",
    ];
    let ignored: Ignored = &[
        (
            "imagePullPolicy",
            "rcorch runs the image of its local store (pull or import it first)",
        ),
        ("terminationMessagePath", "no termination message is kept"),
        ("terminationMessagePolicy", "no termination message is kept"),
    ];
    doc.fields(c, at, &supported, ignored, out)?;
    insert(svc, "image", json!(doc.required_str(c, at, "image")?));
    // Kubernetes' command replaces ENTRYPOINT and args replaces CMD, as
    // compose's entrypoint and command do.
    if let Some(cmd) = doc.strings(c, at, "command")? {
        insert(svc, "entrypoint", json!(cmd));
    }
    if let Some(args) = doc.strings(c, at, "args")? {
        insert(svc, "command", json!(args));
    }
    if let Some(dir) = doc.str(c, at, "workingDir")? {
        insert(svc, "working_dir", json!(dir));
    }
    let (env, at_start) = environment(doc, index, c, at, out)?;
    if !env.is_empty() {
        insert(svc, "environment", Value::Object(env));
    }
    if !at_start.is_empty() {
        let spec = Value::Object(at_start).to_string();
        let labels = svc.entry("labels").or_insert_with(|| json!({}));
        labels[crate::container::downward::LABEL] = json!(spec);
    }
    ports(doc, c, at, svc, out)?;
    if let Some(r) = doc.get(c, "resources") {
        resources(doc, r, &at.key("resources"), svc, out)?;
    }
    super::probes::healthcheck(doc, c, at, svc, out)?;
    if let Some(sc) = doc.get(c, "securityContext") {
        security(doc, sc, &at.key("securityContext"), svc, out)?;
    }
    for (m_at, m) in doc.items(c, at, "volumeMounts")? {
        super::files::mount(doc, index, volumes, m, &m_at, svc, out)?;
    }
    Ok(())
}

/// `envFrom` first, then `env`, which wins (as the kubelet does); and the
/// variables the runtime fills at start (name → field).
fn environment(
    doc: &Doc,
    index: &Index,
    c: &Value,
    at: &KeyPath,
    out: &mut Out,
) -> Result<(Map<String, Value>, Map<String, Value>)> {
    let (mut env, mut at_start) = (Map::new(), Map::new());
    for (from_at, from) in doc.items(c, at, "envFrom")? {
        doc.fields(
            from,
            &from_at,
            &["configMapRef", "secretRef", "prefix"],
            &[],
            out,
        )?;
        let prefix = doc.str(from, &from_at, "prefix")?.unwrap_or("");
        for (key, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
            let Some(r) = doc.get(from, key) else {
                continue;
            };
            let r_at = from_at.key(key);
            doc.fields(r, &r_at, &["name", "optional"], &[], out)?;
            let name = doc.required_str(r, &r_at, "name")?;
            let Some(obj) = index.get(kind, name) else {
                if doc.bool(r, &r_at, "optional")? {
                    continue;
                }
                return Err(doc.err(
                    &r_at.key("name"),
                    format!("{kind} {name} is not in the files"),
                ));
            };
            for (k, bytes) in super::files::data(obj)? {
                env.insert(format!("{prefix}{k}"), json!(text(doc, &r_at, &k, bytes)?));
            }
        }
    }
    for (e_at, e) in doc.items(c, at, "env")? {
        doc.fields(e, &e_at, &["name", "value", "valueFrom"], &[], out)?;
        let name = doc.required_str(e, &e_at, "name")?;
        let value = match doc.get(e, "valueFrom") {
            Some(from) => match downward(doc, c, from, &e_at.key("valueFrom"), out)? {
                Some(Field::AtStart(field)) => {
                    env.remove(name);
                    at_start.insert(name.to_string(), json!(field));
                    continue;
                }
                Some(Field::Text(text)) => Some(text),
                None => value_from(doc, index, from, &e_at.key("valueFrom"), out)?,
            },
            None => Some(doc.str(e, &e_at, "value")?.unwrap_or("").to_string()),
        };
        if let Some(value) = value {
            at_start.remove(name);
            env.insert(name.to_string(), json!(value));
        }
    }
    Ok((env, at_start))
}

/// A `fieldRef` or `resourceFieldRef` value (None: neither is there).
fn downward(
    doc: &Doc,
    c: &Value,
    from: &Value,
    at: &KeyPath,
    out: &mut Out,
) -> Result<Option<Field>> {
    let (field, resource) = (doc.get(from, "fieldRef"), doc.get(from, "resourceFieldRef"));
    if field.is_none() && resource.is_none() {
        return Ok(None);
    }
    doc.fields(from, at, &["fieldRef", "resourceFieldRef"], &[], out)?;
    match (field, resource) {
        (Some(f), None) => super::downward::field_ref(doc, f, &at.key("fieldRef"), out).map(Some),
        (None, Some(r)) => {
            let at = at.key("resourceFieldRef");
            let text = super::downward::resource_field_ref(doc, c, r, &at, out)?;
            Ok(Some(Field::Text(text)))
        }
        _ => Err(doc.err(at, "fieldRef and resourceFieldRef exclude each other")),
    }
}

fn text(doc: &Doc, at: &KeyPath, key: &str, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| {
        doc.err(
            at,
            format!("key {key} is not UTF-8 text: it cannot be an environment value"),
        )
    })
}

/// A ConfigMap or Secret key's value (None: an optional one that is missing).
fn value_from(
    doc: &Doc,
    index: &Index,
    from: &Value,
    at: &KeyPath,
    out: &mut Out,
) -> Result<Option<String>> {
    doc.fields(from, at, &["configMapKeyRef", "secretKeyRef"], &[], out)?;
    for (key, kind) in [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")] {
        let Some(r) = doc.get(from, key) else {
            continue;
        };
        let r_at = at.key(key);
        doc.fields(r, &r_at, &["name", "key", "optional"], &[], out)?;
        let name = doc.required_str(r, &r_at, "name")?;
        let k = doc.required_str(r, &r_at, "key")?;
        let optional = doc.bool(r, &r_at, "optional")?;
        let found = match index.get(kind, name) {
            Some(obj) => super::files::data(obj)?
                .into_iter()
                .find(|(have, _)| have == k),
            None => None,
        };
        return match (found, optional) {
            (Some((_, bytes)), _) => text(doc, &r_at, k, bytes).map(Some),
            (None, true) => Ok(None),
            (None, false) => Err(doc.err(
                &r_at,
                format!("{kind} {name} with key {k} is not in the files"),
            )),
        };
    }
    Err(doc.err(at, "expected configMapKeyRef or secretKeyRef"))
}

/// `hostPort` publishes (as podman does); a bare `containerPort` is only
/// exposed to the project's networks. Port names are kept for Services.
fn ports(
    doc: &Doc,
    c: &Value,
    at: &KeyPath,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    let (mut published, mut exposed) = (Vec::new(), Vec::new());
    for (p_at, p) in doc.items(c, at, "ports")? {
        doc.fields(
            p,
            &p_at,
            &["containerPort", "hostPort", "hostIP", "protocol", "name"],
            &[],
            out,
        )?;
        let port: u16 = doc
            .uint(p, &p_at, "containerPort")?
            .ok_or_else(|| doc.err(&p_at.key("containerPort"), "required"))?;
        let proto = protocol(doc, p, &p_at)?;
        if let Some(name) = doc.str(p, &p_at, "name")? {
            let names = out.port_names.entry(doc.name.clone()).or_default();
            names.insert(name.to_string(), port);
        }
        match doc.uint::<u16>(p, &p_at, "hostPort")? {
            Some(host) => {
                let mut entry =
                    json!({"target": port, "published": host.to_string(), "protocol": proto});
                if let Some(ip) = doc.str(p, &p_at, "hostIP")? {
                    entry["host_ip"] = json!(ip);
                }
                published.push(entry);
            }
            None => exposed.push(json!(format!("{port}/{proto}"))),
        }
    }
    if !published.is_empty() {
        insert(svc, "ports", Value::Array(published));
    }
    if !exposed.is_empty() {
        insert(svc, "expose", Value::Array(exposed));
    }
    Ok(())
}

/// `TCP` (the default), `UDP` or `SCTP`, as compose writes them.
pub fn protocol(doc: &Doc, p: &Value, at: &KeyPath) -> Result<&'static str> {
    match doc.str(p, at, "protocol")? {
        None | Some("TCP") => Ok("tcp"),
        Some("UDP") => Ok("udp"),
        Some("SCTP") => Ok("sctp"),
        Some(other) => Err(doc.err(
            &at.key("protocol"),
            format!("{other:?}: expected TCP, UDP or SCTP"),
        )),
    }
}

fn resources(
    doc: &Doc,
    r: &Value,
    at: &KeyPath,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    doc.fields(r, at, &["limits", "requests"], &[], out)?;
    let mut deploy = svc.get("deploy").cloned().unwrap_or(json!({}));
    let mut res = Map::new();
    for (key, compose) in [("limits", "limits"), ("requests", "reservations")] {
        let Some(q) = doc.get(r, key) else { continue };
        let q_at = at.key(key);
        doc.fields(q, &q_at, &["cpu", "memory"], &[], out)?;
        let mut m = Map::new();
        if let Some(cpu) = quantity_str(doc, q, &q_at, "cpu")? {
            let cpus = super::quantity::cpus(&cpu).ok_or_else(|| {
                doc.err(&q_at.key("cpu"), format!("{cpu:?} is not a CPU quantity"))
            })?;
            m.insert("cpus".into(), json!(cpus));
        }
        if let Some(mem) = quantity_str(doc, q, &q_at, "memory")? {
            let bytes = super::quantity::bytes(&mem).ok_or_else(|| {
                doc.err(
                    &q_at.key("memory"),
                    format!("{mem:?} is not a memory quantity"),
                )
            })?;
            m.insert("memory".into(), json!(bytes));
        }
        if !m.is_empty() {
            res.insert(compose.into(), Value::Object(m));
        }
    }
    if !res.is_empty() {
        deploy["resources"] = Value::Object(res);
        insert(svc, "deploy", deploy);
    }
    Ok(())
}

/// A quantity may be written as a YAML number (`cpu: 2`).
fn quantity_str(doc: &Doc, v: &Value, at: &KeyPath, key: &str) -> Result<Option<String>> {
    match doc.get(v, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(doc.err(&at.key(key), format!("expected a quantity, found {other}"))),
    }
}

fn security(
    doc: &Doc,
    sc: &Value,
    at: &KeyPath,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    let supported = [
        "runAsUser",
        "runAsGroup",
        "readOnlyRootFilesystem",
        "capabilities",
        "allowPrivilegeEscalation",
        "privileged",
        "runAsNonRoot",
    ];
    doc.fields(sc, at, &supported, &[], out)?;
    let uid: Option<u32> = doc.uint(sc, at, "runAsUser")?;
    let gid: Option<u32> = doc.uint(sc, at, "runAsGroup")?;
    match (uid, gid) {
        (Some(u), Some(g)) => insert(svc, "user", json!(format!("{u}:{g}"))),
        (Some(u), None) => insert(svc, "user", json!(u.to_string())),
        (None, Some(_)) => {
            return Err(doc.err(
                &at.key("runAsGroup"),
                "needs runAsUser here (compose's user is uid[:gid])",
            ))
        }
        (None, None) => {}
    }
    if doc.bool(sc, at, "runAsNonRoot")? {
        match uid {
            Some(0) => return Err(doc.err(&at.key("runAsNonRoot"), "contradicts runAsUser: 0")),
            Some(_) => {}
            None => doc.warn(
                out,
                &at.key("runAsNonRoot"),
                "not checked against the image's user: set runAsUser",
            ),
        }
    }
    if doc.bool(sc, at, "privileged")? {
        return Err(doc.err(
            &at.key("privileged"),
            "privileged containers are not run by rcorch",
        ));
    }
    if doc.bool(sc, at, "allowPrivilegeEscalation")? {
        doc.warn(
            out,
            &at.key("allowPrivilegeEscalation"),
            "rcorch always sets no_new_privs",
        );
    }
    if doc.bool(sc, at, "readOnlyRootFilesystem")? {
        insert(svc, "read_only", json!(true));
    }
    if let Some(caps) = doc.get(sc, "capabilities") {
        let c_at = at.key("capabilities");
        doc.fields(caps, &c_at, &["add", "drop"], &[], out)?;
        for (key, compose) in [("add", "cap_add"), ("drop", "cap_drop")] {
            if let Some(list) = doc.strings(caps, &c_at, key)? {
                insert(svc, compose, json!(list));
            }
        }
    }
    Ok(())
}
