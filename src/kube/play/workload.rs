//! Pods and Deployments as compose services: replicas, rollout strategy,
//! restart policy and the pod-level fields.

use serde_json::{json, Map, Value};

use super::docs::{Doc, Index};
use super::walk::{Ignored, PlayError};
use super::Out;
use crate::compose::locate::KeyPath;

type Result<T> = std::result::Result<T, PlayError>;

pub const SET_BY_CLUSTER: &str = "written by the API server: ignored";
const SCHEDULING: &str = "one host has no scheduler: ignored";

/// Object metadata: name and labels used; the rest has no effect here.
pub fn metadata(doc: &Doc, out: &mut Out) -> Result<()> {
    let at = KeyPath::root().key("metadata");
    let ignored: Ignored = &[
        ("creationTimestamp", SET_BY_CLUSTER),
        ("uid", SET_BY_CLUSTER),
        ("resourceVersion", SET_BY_CLUSTER),
        ("generation", SET_BY_CLUSTER),
        ("managedFields", SET_BY_CLUSTER),
        ("selfLink", SET_BY_CLUSTER),
    ];
    let meta = &doc.value["metadata"];
    let supported = ["name", "labels", "annotations", "namespace"];
    doc.fields(meta, &at, &supported, ignored, out)?;
    // Only a namespace other than the default one is worth a word.
    if let Some(ns) = doc
        .str(meta, &at, "namespace")?
        .filter(|ns| *ns != "default")
    {
        let reason = format!("{ns}: one host has no namespaces: ignored");
        doc.warn(out, &at.key("namespace"), &reason);
    }
    doc.string_map(meta, &at, "labels")?;
    Ok(())
}

/// The top level of any object: `apiVersion`, `kind`, `metadata`, and the
/// keys of its kind.
pub fn top(doc: &Doc, keys: &[&str], out: &mut Out) -> Result<()> {
    let mut all = vec!["apiVersion", "kind", "metadata"];
    all.extend_from_slice(keys);
    doc.fields(
        &doc.value,
        &KeyPath::root(),
        &all,
        &[("status", SET_BY_CLUSTER)],
        out,
    )?;
    metadata(doc, out)
}

/// A Deployment or bare Pod as compose service `metadata.name`.
pub fn workload(doc: &Doc, index: &Index, out: &mut Out) -> Result<()> {
    top(doc, &["spec"], out)?;
    let root = KeyPath::root();
    if out.services.contains_key(&doc.name) {
        let message = "another Pod, Deployment, StatefulSet, DaemonSet or Job has this name: each becomes the service of its name";
        return Err(doc.err(&root.key("metadata").key("name"), message));
    }
    let spec_at = root.key("spec");
    let spec = doc
        .get(&doc.value, "spec")
        .ok_or_else(|| doc.err(&spec_at, "required"))?;
    let mut svc = Map::new();
    let (pod, pod_at, labels, annotations) = if doc.kind != "Pod" {
        let template_at = spec_at.key("template");
        match doc.kind.as_str() {
            "Deployment" => deployment(doc, spec, &spec_at, &mut svc, out)?,
            "StatefulSet" => super::sets::stateful_set(doc, spec, &spec_at, &mut svc, out)?,
            "Job" => super::job::job(doc, spec, &spec_at, &mut svc, out)?,
            _ => super::sets::daemon_set(doc, spec, &spec_at, &mut svc, out)?,
        }
        let template = doc
            .get(spec, "template")
            .ok_or_else(|| doc.err(&template_at, "required"))?;
        doc.fields(template, &template_at, &["metadata", "spec"], &[], out)?;
        let meta = template.get("metadata").unwrap_or(&Value::Null);
        let meta_at = template_at.key("metadata");
        if !meta.is_null() {
            let ignored: Ignored = &[("name", "pods are named by their Deployment: ignored")];
            doc.fields(meta, &meta_at, &["labels", "annotations"], ignored, out)?;
        }
        let labels = doc.string_map(meta, &meta_at, "labels")?;
        // A Job's selector is generated unless given.
        if doc.kind != "Job" || doc.get(spec, "selector").is_some() {
            check_selector(doc, spec, &spec_at, &labels)?;
        }
        let annotations = doc.string_map(meta, &meta_at, "annotations")?;
        let pod = doc
            .get(template, "spec")
            .ok_or_else(|| doc.err(&template_at.key("spec"), "required"))?;
        (pod, template_at.key("spec"), labels, annotations)
    } else {
        let meta_at = root.key("metadata");
        let labels = doc.string_map(&doc.value["metadata"], &meta_at, "labels")?;
        (spec, spec_at, labels, Map::new())
    };
    if !annotations.is_empty() {
        svc.insert("labels".into(), Value::Object(annotations));
    }
    pod_spec(doc, index, pod, &pod_at, &mut svc, out)?;
    out.services.insert(doc.name.clone(), Value::Object(svc));
    out.networks_of(&doc.name, &labels);
    out.pod_labels.insert(doc.name.clone(), labels);
    Ok(())
}

fn deployment(
    doc: &Doc,
    spec: &Value,
    at: &KeyPath,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    let ignored: Ignored = &[
        (
            "revisionHistoryLimit",
            "rcorch keeps its own revision history (rcorch history): ignored",
        ),
        (
            "progressDeadlineSeconds",
            "a rollout is watched by rcorch's update_config monitor: ignored",
        ),
        (
            "minReadySeconds",
            "a replica counts as ready when it runs (or is healthy): ignored",
        ),
    ];
    doc.fields(
        spec,
        at,
        &["replicas", "selector", "template", "strategy"],
        ignored,
        out,
    )?;
    let replicas: u32 = doc.uint(spec, at, "replicas")?.unwrap_or(1);
    let mut deploy = Map::new();
    deploy.insert("replicas".into(), json!(replicas));
    if let Some(strategy) = doc.get(spec, "strategy") {
        let update = update_config(doc, strategy, &at.key("strategy"), replicas, out)?;
        deploy.insert("update_config".into(), update);
    }
    svc.insert("deploy".into(), Value::Object(deploy));
    svc.insert("restart".into(), json!("always"));
    Ok(())
}

/// `matchLabels` must pick the template's pods, as the API server demands.
fn check_selector(
    doc: &Doc,
    spec: &Value,
    at: &KeyPath,
    labels: &Map<String, Value>,
) -> Result<()> {
    let at = at.key("selector");
    let selector = doc
        .get(spec, "selector")
        .ok_or_else(|| doc.err(&at, "required"))?;
    doc.fields(selector, &at, &["matchLabels"], &[], &mut Out::default())?;
    let wanted = doc.string_map(selector, &at, "matchLabels")?;
    if wanted.is_empty() {
        return Err(doc.err(&at.key("matchLabels"), "required"));
    }
    for (k, v) in &wanted {
        if labels.get(k) != Some(v) {
            return Err(doc.err(
                &at.key("matchLabels").key(k),
                "does not match spec.template.metadata.labels",
            ));
        }
    }
    Ok(())
}

/// An int or a percentage of `replicas` (rounded up for a surge, down for
/// unavailability, as the Deployment controller does).
fn count(doc: &Doc, v: &Value, at: &KeyPath, replicas: u32, up: bool) -> Result<u32> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| doc.err(at, format!("{n} is out of range"))),
        Value::String(s) => {
            let pct: u32 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| doc.err(at, format!("{s:?} is neither a count nor a percentage")))?;
            let scaled = u64::from(pct) * u64::from(replicas);
            let n = if up {
                scaled.div_ceil(100)
            } else {
                scaled / 100
            };
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        }
        _ => Err(doc.err(at, "expected a count or a percentage")),
    }
}

/// RollingUpdate → compose's `update_config`: no surge means stop-first
/// batches of maxUnavailable; any surge means start-first batches of
/// maxSurge. Recreate stops all first. Parallelism 0 is "all at once".
fn update_config(
    doc: &Doc,
    strategy: &Value,
    at: &KeyPath,
    replicas: u32,
    out: &mut Out,
) -> Result<Value> {
    doc.fields(strategy, at, &["type", "rollingUpdate"], &[], out)?;
    if doc.str(strategy, at, "type")? == Some("Recreate") {
        return Ok(json!({"parallelism": 0, "order": "stop-first"}));
    }
    let ru_at = at.key("rollingUpdate");
    let ru = doc
        .get(strategy, "rollingUpdate")
        .cloned()
        .unwrap_or(json!({}));
    doc.fields(&ru, &ru_at, &["maxSurge", "maxUnavailable"], &[], out)?;
    let quarter = json!("25%");
    let surge = count(
        doc,
        ru.get("maxSurge").unwrap_or(&quarter),
        &ru_at.key("maxSurge"),
        replicas,
        true,
    )?;
    let unavailable = count(
        doc,
        ru.get("maxUnavailable").unwrap_or(&quarter),
        &ru_at.key("maxUnavailable"),
        replicas,
        false,
    )?;
    let all = |n: u32| if n >= replicas { 0 } else { n };
    Ok(match (surge, unavailable) {
        (0, 0) => return Err(doc.err(&ru_at, "maxSurge and maxUnavailable cannot both be 0")),
        (0, n) => json!({"parallelism": all(n), "order": "stop-first"}),
        (n, _) => json!({"parallelism": all(n), "order": "start-first"}),
    })
}

fn pod_spec(
    doc: &Doc,
    index: &Index,
    pod: &Value,
    at: &KeyPath,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    let ignored: Ignored = &[
        ("nodeSelector", SCHEDULING),
        ("nodeName", SCHEDULING),
        ("affinity", SCHEDULING),
        ("tolerations", SCHEDULING),
        ("topologySpreadConstraints", SCHEDULING),
        ("schedulerName", SCHEDULING),
        ("priorityClassName", SCHEDULING),
        ("priority", SCHEDULING),
        ("preemptionPolicy", SCHEDULING),
        ("serviceAccountName", "no service accounts here: ignored"),
        ("serviceAccount", "no service accounts here: ignored"),
        (
            "automountServiceAccountToken",
            "no service account token is mounted",
        ),
        (
            "enableServiceLinks",
            "no service environment variables are set",
        ),
        (
            "dnsPolicy",
            "replicas use the project's DNS, which forwards the rest",
        ),
    ];
    let supported = [
        "containers",
        "initContainers",
        "volumes",
        "restartPolicy",
        "hostname",
        "terminationGracePeriodSeconds",
        "hostNetwork",
    ];
    doc.fields(pod, at, &supported, ignored, out)?;
    let restart = doc.str(pod, at, "restartPolicy")?;
    match (doc.kind.as_str(), restart) {
        ("Pod", None | Some("Always")) => insert(svc, "restart", json!("always")),
        ("Pod", Some("OnFailure")) => insert(svc, "restart", json!("on-failure")),
        ("Pod", Some("Never")) => insert(svc, "restart", json!("no")),
        ("Job", Some("OnFailure" | "Never")) => {}
        ("Job", _) => {
            let message = "a Job's pods need restartPolicy OnFailure or Never";
            return Err(doc.err(&at.key("restartPolicy"), message));
        }
        (_, None | Some("Always")) => {}
        (kind, Some(other)) if kind != "Pod" => {
            let message = format!("{other}: a {kind}'s pods always restart (Always)");
            return Err(doc.err(&at.key("restartPolicy"), message));
        }
        (_, Some(other)) => {
            let message = format!("{other:?}: expected Always, OnFailure or Never");
            return Err(doc.err(&at.key("restartPolicy"), message));
        }
    }
    if let Some(h) = doc.str(pod, at, "hostname")? {
        insert(svc, "hostname", json!(h));
    }
    if let Some(s) = doc.uint::<u64>(pod, at, "terminationGracePeriodSeconds")? {
        insert(svc, "stop_grace_period", json!(format!("{s}s")));
    }
    if doc.bool(pod, at, "hostNetwork")? {
        insert(svc, "network_mode", json!("host"));
    }
    let containers = doc.items(pod, at, "containers")?;
    let Some((c_at, c)) = containers.first() else {
        return Err(doc.err(&at.key("containers"), "required: one container"));
    };
    if let Some((extra_at, _)) = containers.get(1) {
        return Err(doc.err(
            extra_at,
            "rcorch runs one container per pod: give each container its own Deployment",
        ));
    }
    let mut volumes = super::files::pod_volumes(doc, pod, at)?;
    let inits = doc.items(pod, at, "initContainers")?;
    if !inits.is_empty() {
        super::init::share_empty_dirs(&doc.name, &mut volumes);
        let never = restart == Some("Never");
        super::init::services(doc, index, &inits, &volumes, never, svc, out)?;
    }
    super::container::container(doc, index, c, c_at, &volumes, svc, out)
}

pub fn insert(svc: &mut Map<String, Value>, key: &str, v: Value) {
    svc.insert(key.to_string(), v);
}
