//! Pod volumes as compose mounts: claims as named volumes, emptyDir as an
//! anonymous volume or tmpfs, hostPath as a bind, and each ConfigMap or
//! Secret key as one compose config or secret file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::docs::{Doc, Index};
use super::walk::PlayError;
use super::workload::top;
use super::{Out, FILES_ROOT};
use crate::compose::locate::KeyPath;

type Result<T> = std::result::Result<T, PlayError>;

/// The pod's volumes by name, with where each is defined.
pub type PodVolumes = BTreeMap<String, (KeyPath, Value)>;

const SOURCES: [&str; 5] = [
    "persistentVolumeClaim",
    "emptyDir",
    "configMap",
    "secret",
    "hostPath",
];

/// Kubernetes' default mode for ConfigMap and Secret files.
const DEFAULT_MODE: u32 = 0o644;

pub fn pod_volumes(doc: &Doc, pod: &Value, at: &KeyPath) -> Result<PodVolumes> {
    let mut volumes = PodVolumes::new();
    for (v_at, v) in doc.items(pod, at, "volumes")? {
        let name = doc.required_str(v, &v_at, "name")?.to_string();
        let map = doc.map(v, &v_at)?;
        for key in map.keys().filter(|k| *k != "name") {
            if !SOURCES.contains(&key.as_str()) {
                let message = format!("not supported: use one of {}", SOURCES.join(", "));
                return Err(doc.err(&v_at.key(key), message));
            }
        }
        if map.len() != 2 {
            return Err(doc.err(
                &v_at,
                format!("expected exactly one of {}", SOURCES.join(", ")),
            ));
        }
        volumes.insert(name, (v_at, v.clone()));
    }
    Ok(volumes)
}

/// One volumeMount of the container, added to the compose service.
pub fn mount(
    doc: &Doc,
    index: &Index,
    volumes: &PodVolumes,
    m: &Value,
    at: &KeyPath,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    doc.fields(
        m,
        at,
        &["name", "mountPath", "readOnly", "subPath"],
        &[],
        out,
    )?;
    let name = doc.required_str(m, at, "name")?;
    let target = doc.required_str(m, at, "mountPath")?;
    let read_only = doc.bool(m, at, "readOnly")?;
    let sub_path = doc.str(m, at, "subPath")?;
    let Some((v_at, v)) = volumes.get(name) else {
        return Err(doc.err(
            &at.key("name"),
            format!("no volume {name} in the pod's volumes"),
        ));
    };
    let (source, body) = v
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| *k != "name"))
        .expect("pod_volumes checked one source");
    let s_at = v_at.key(source);
    if sub_path.is_some() && !matches!(source.as_str(), "configMap" | "secret") {
        return Err(doc.err(
            &at.key("subPath"),
            "only configMap and secret volumes take a subPath here",
        ));
    }
    let entry = match source.as_str() {
        "persistentVolumeClaim" => {
            doc.fields(body, &s_at, &["claimName", "readOnly"], &[], out)?;
            let claim = doc.required_str(body, &s_at, "claimName")?;
            out.volumes.entry(claim.to_string()).or_insert(json!({}));
            let ro = read_only || doc.bool(body, &s_at, "readOnly")?;
            json!({"type": "volume", "source": claim, "target": target, "read_only": ro})
        }
        "emptyDir" => empty_dir(doc, body, &s_at, target, out)?,
        "hostPath" => {
            doc.fields(body, &s_at, &["path", "type"], &[], out)?;
            let path = doc.required_str(body, &s_at, "path")?;
            match doc.str(body, &s_at, "type")?.unwrap_or("") {
                "" | "Directory" | "DirectoryOrCreate" | "File" | "Socket" => {}
                other => {
                    return Err(doc.err(&s_at.key("type"), format!("{other} is not supported here")))
                }
            }
            json!({"type": "bind", "source": path, "target": target, "read_only": read_only})
        }
        kind => return file_mounts(doc, index, kind, body, &s_at, target, sub_path, svc, out),
    };
    push(svc, "volumes", entry);
    Ok(())
}

fn empty_dir(doc: &Doc, body: &Value, at: &KeyPath, target: &str, out: &mut Out) -> Result<Value> {
    doc.fields(body, at, &["medium", "sizeLimit"], &[], out)?;
    let size = match doc.get(body, "sizeLimit") {
        Some(q) => {
            let text = q
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| q.to_string());
            let bytes = super::quantity::bytes(&text).ok_or_else(|| {
                doc.err(&at.key("sizeLimit"), format!("{text:?} is not a quantity"))
            })?;
            Some(bytes)
        }
        None => None,
    };
    match doc.str(body, at, "medium")?.unwrap_or("") {
        "Memory" => {
            let mut t = json!({"type": "tmpfs", "target": target});
            if let Some(b) = size {
                t["tmpfs"] = json!({"size": b});
            }
            Ok(t)
        }
        "" => {
            if size.is_some() {
                doc.warn(
                    out,
                    &at.key("sizeLimit"),
                    "a disk volume has no size limit here",
                );
            }
            Ok(json!({"type": "volume", "target": target}))
        }
        other => Err(doc.err(
            &at.key("medium"),
            format!("{other:?}: expected \"\" or Memory"),
        )),
    }
}

/// A file mode: an integer, or YAML 1.1's octal `0400` (which Kubernetes'
/// YAML reader takes as octal and this one leaves a string).
fn mode(doc: &Doc, v: &Value, at: &KeyPath, key: &str) -> Result<Option<u32>> {
    let octal = match doc.get(v, key) {
        Some(Value::String(s)) => s.strip_prefix("0o").or_else(|| s.strip_prefix('0')),
        _ => None,
    };
    let m = match octal {
        Some(digits) => u32::from_str_radix(digits, 8).ok(),
        None => doc.uint(v, at, key)?,
    };
    match m {
        Some(m) if m <= 0o777 => Ok(Some(m)),
        None if doc.get(v, key).is_none() => Ok(None),
        _ => Err(doc.err(&at.key(key), "expected a file mode of at most 0777")),
    }
}

fn push(svc: &mut Map<String, Value>, key: &str, v: Value) {
    let list = svc.entry(key).or_insert_with(|| json!([]));
    list.as_array_mut().expect("a list").push(v);
}

/// A configMap or secret volume: one compose config/secret per key used,
/// at `mountPath/path` (or at `mountPath` itself for a subPath mount).
#[allow(clippy::too_many_arguments)]
fn file_mounts(
    doc: &Doc,
    index: &Index,
    source: &str,
    body: &Value,
    at: &KeyPath,
    target: &str,
    sub_path: Option<&str>,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    let (kind, name_key, section) = match source {
        "configMap" => ("ConfigMap", "name", "configs"),
        _ => ("Secret", "secretName", "secrets"),
    };
    doc.fields(
        body,
        at,
        &[name_key, "items", "defaultMode", "optional"],
        &[],
        out,
    )?;
    let name = doc.required_str(body, at, name_key)?;
    let default_mode = mode(doc, body, at, "defaultMode")?.unwrap_or(DEFAULT_MODE);
    let Some(obj) = index.get(kind, name) else {
        if doc.bool(body, at, "optional")? {
            return Ok(());
        }
        return Err(doc.err(
            &at.key(name_key),
            format!("{kind} {name} is not in the files"),
        ));
    };
    let data: BTreeMap<String, Vec<u8>> = data(obj)?.into_iter().collect();
    // (key, path in the volume, mode, owner)
    let mut files: Vec<(String, String, u32, Option<u32>)> = Vec::new();
    let items = doc.items(body, at, "items")?;
    if items.is_empty() {
        files.extend(
            data.keys()
                .map(|k| (k.clone(), k.clone(), default_mode, None)),
        );
    }
    for (i_at, item) in items {
        doc.fields(
            &item.clone(),
            &i_at,
            &["key", "path", "mode", "user"],
            &[],
            out,
        )?;
        let key = doc.required_str(item, &i_at, "key")?;
        if !data.contains_key(key) {
            return Err(doc.err(&i_at.key("key"), format!("{kind} {name} has no key {key}")));
        }
        let path = doc.required_str(item, &i_at, "path")?;
        let mode = mode(doc, item, &i_at, "mode")?.unwrap_or(default_mode);
        files.push((
            key.into(),
            path.into(),
            mode,
            doc.uint(item, &i_at, "user")?,
        ));
    }
    if let Some(sub) = sub_path {
        files.retain(|(_, path, _, _)| path == sub);
        if files.is_empty() {
            return Err(doc.err(at, format!("no key of {kind} {name} is at subPath {sub}")));
        }
    }
    for (key, path, mode, uid) in files {
        let compose_name = format!("{name}__{key}");
        let virtual_path = PathBuf::from(FILES_ROOT)
            .join(section)
            .join(name)
            .join(&key);
        out.files.insert(virtual_path.clone(), data[&key].clone());
        let defs = if section == "secrets" {
            &mut out.secrets
        } else {
            &mut out.configs
        };
        defs.insert(compose_name.clone(), json!({"file": virtual_path}));
        let file_target = match sub_path {
            Some(_) => target.to_string(),
            None => format!("{}/{path}", target.trim_end_matches('/')),
        };
        let mut r =
            json!({"source": compose_name, "target": file_target, "mode": format!("0{mode:o}")});
        if let Some(uid) = uid {
            r["uid"] = json!(uid.to_string());
        }
        push(svc, section, r);
    }
    Ok(())
}

/// The keys of a ConfigMap or Secret with their bytes (Secret `data` is
/// base64, `stringData` plain text and wins, as the API server merges them).
pub fn data(obj: &Doc) -> Result<Vec<(String, Vec<u8>)>> {
    let root = KeyPath::root();
    let (plain, encoded) = match obj.kind.as_str() {
        "ConfigMap" => ("data", "binaryData"),
        _ => ("stringData", "data"),
    };
    let mut out: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if let Some(m) = obj.get(&obj.value, encoded) {
        for (k, v) in obj.map(m, &root.key(encoded))? {
            let bytes: k8s_openapi::ByteString = serde_json::from_value(v.clone())
                .map_err(|e| obj.err(&root.key(encoded).key(k), format!("not base64: {e}")))?;
            out.insert(k.clone(), bytes.0);
        }
    }
    for (k, v) in obj.string_map(&obj.value, &root, plain)? {
        out.insert(k, v.as_str().unwrap_or_default().as_bytes().to_vec());
    }
    Ok(out.into_iter().collect())
}

/// A ConfigMap or Secret on its own: its fields and data are checked even
/// when no pod uses it.
pub fn check_data_object(doc: &Doc, out: &mut Out) -> Result<()> {
    let root = KeyPath::root();
    match doc.kind.as_str() {
        "ConfigMap" => top(doc, &["data", "binaryData", "immutable"], out)?,
        _ => {
            top(doc, &["data", "stringData", "type", "immutable"], out)?;
            if doc.str(&doc.value, &root, "type")? == Some("kubernetes.io/service-account-token") {
                return Err(doc.err(&root.key("type"), "no service accounts here"));
            }
        }
    }
    data(doc).map(|_| ())
}

/// A claim is a named volume of the project (sizes and classes do not apply).
pub fn claim(doc: &Doc, out: &mut Out) -> Result<()> {
    top(doc, &["spec"], out)?;
    let at = KeyPath::root().key("spec");
    let spec = doc.get(&doc.value, "spec").cloned().unwrap_or(json!({}));
    let ignored = &[
        (
            "resources",
            "rcorch volumes are host directories with no size",
        ),
        ("storageClassName", "rcorch has one volume driver (local)"),
    ];
    doc.fields(&spec, &at, &["accessModes", "volumeMode"], ignored, out)?;
    if let Some(mode) = doc
        .str(&spec, &at, "volumeMode")?
        .filter(|m| *m != "Filesystem")
    {
        return Err(doc.err(
            &at.key("volumeMode"),
            format!("{mode}: only Filesystem volumes here"),
        ));
    }
    out.volumes.insert(doc.name.clone(), json!({}));
    Ok(())
}
