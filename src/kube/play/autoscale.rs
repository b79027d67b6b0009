//! A HorizontalPodAutoscaler as the target workload's `x-rcorch-autoscale`.

use serde_json::{json, Value};

use super::docs::Doc;
use super::walk::{Ignored, PlayError};
use super::workload::top;
use super::Out;
use crate::compose::locate::KeyPath;

type Result<T> = std::result::Result<T, PlayError>;

pub fn autoscaler(doc: &Doc, out: &mut Out) -> Result<()> {
    top(doc, &["spec"], out)?;
    let at = KeyPath::root().key("spec");
    let spec = doc
        .get(&doc.value, "spec")
        .ok_or_else(|| doc.err(&at, "required"))?;
    let supported = [
        "scaleTargetRef",
        "minReplicas",
        "maxReplicas",
        "metrics",
        "behavior",
    ];
    doc.fields(spec, &at, &supported, &[], out)?;
    let t_at = at.key("scaleTargetRef");
    let target = doc
        .get(spec, "scaleTargetRef")
        .ok_or_else(|| doc.err(&t_at, "required"))?;
    doc.fields(target, &t_at, &["apiVersion", "kind", "name"], &[], out)?;
    let name = doc.required_str(target, &t_at, "name")?;
    let kind = doc.str(target, &t_at, "kind")?.unwrap_or_default();
    if !matches!(kind, "Deployment" | "StatefulSet") || !out.services.contains_key(name) {
        let message = format!("no Deployment or StatefulSet {name} in these files");
        return Err(doc.err(&t_at, message));
    }
    let min: u32 = doc.uint(spec, &at, "minReplicas")?.unwrap_or(1);
    let max: u32 = doc
        .uint(spec, &at, "maxReplicas")?
        .ok_or_else(|| doc.err(&at.key("maxReplicas"), "required"))?;
    let mut a = json!({"min": min, "max": max});
    let request = out.services[name]
        .pointer("/deploy/resources/reservations/cpus")
        .and_then(Value::as_f64);
    let metrics = doc.items(spec, &at, "metrics")?;
    if metrics.is_empty() {
        // The controller's default: 80% of the requested CPU.
        a["target_cpu"] = json!(utilization(doc, &at.key("metrics"), 80.0, request)?);
    }
    for (m_at, m) in metrics {
        let (key, value) = metric(doc, m, &m_at, request, out)?;
        a[key] = json!(value);
    }
    if let Some(b) = doc.get(spec, "behavior") {
        let b_at = at.key("behavior");
        doc.fields(
            b,
            &b_at,
            &["scaleDown"],
            &[(
                "scaleUp",
                "rcorch scales up as soon as the target is passed",
            )],
            out,
        )?;
        if let Some(down) = doc.get(b, "scaleDown") {
            let d_at = b_at.key("scaleDown");
            let ignored: Ignored = &[
                ("policies", "rcorch steps one decision at a time"),
                ("selectPolicy", "rcorch steps one decision at a time"),
            ];
            doc.fields(down, &d_at, &["stabilizationWindowSeconds"], ignored, out)?;
            if let Some(w) = doc.uint::<u64>(down, &d_at, "stabilizationWindowSeconds")? {
                a["window"] = json!(format!("{w}s"));
            }
        }
    }
    out.service(name).insert("x-rcorch-autoscale".into(), a);
    Ok(())
}

/// rcorch's CPU target is a percent of one CPU per replica.
fn utilization(doc: &Doc, at: &KeyPath, percent: f64, request: Option<f64>) -> Result<f64> {
    match request {
        Some(cpus) if cpus > 0.0 => Ok(percent * cpus),
        _ => Err(doc.err(
            at,
            "a CPU utilization target needs the container's resources.requests.cpu",
        )),
    }
}

fn metric(
    doc: &Doc,
    m: &Value,
    at: &KeyPath,
    request: Option<f64>,
    out: &mut Out,
) -> Result<(&'static str, f64)> {
    doc.fields(m, at, &["type", "resource", "pods"], &[], out)?;
    let target_of =
        |v: &Value, v_at: &KeyPath, out: &mut Out| -> Result<(String, Option<f64>, Option<f64>)> {
            let t_at = v_at.key("target");
            let t = doc
                .get(v, "target")
                .ok_or_else(|| doc.err(&t_at, "required"))?;
            doc.fields(
                t,
                &t_at,
                &["type", "averageValue", "averageUtilization"],
                &[],
                out,
            )?;
            let kind = doc.required_str(t, &t_at, "type")?.to_string();
            let avg = match doc.get(t, "averageValue") {
                Some(q) => Some(
                    super::quantity::cpus(q.as_str().unwrap_or(&q.to_string()))
                        .ok_or_else(|| doc.err(&t_at.key("averageValue"), "not a quantity"))?,
                ),
                None => None,
            };
            let util = doc.int(t, &t_at, "averageUtilization")?.map(|u| u as f64);
            Ok((kind, avg, util))
        };
    match doc.required_str(m, at, "type")? {
        "Resource" => {
            let r_at = at.key("resource");
            let r = doc
                .get(m, "resource")
                .ok_or_else(|| doc.err(&r_at, "required"))?;
            doc.fields(r, &r_at, &["name", "target"], &[], out)?;
            if doc.required_str(r, &r_at, "name")? != "cpu" {
                return Err(doc.err(
                    &r_at.key("name"),
                    "rcorch scales on cpu and on connections only",
                ));
            }
            match target_of(r, &r_at, out)? {
                (k, Some(cores), _) if k == "AverageValue" => Ok(("target_cpu", cores * 100.0)),
                (k, _, Some(pct)) if k == "Utilization" => Ok(("target_cpu", utilization(doc, &r_at, pct, request)?)),
                _ => Err(doc.err(&r_at.key("target"), "expected AverageValue with averageValue, or Utilization with averageUtilization")),
            }
        }
        "Pods" => {
            let p_at = at.key("pods");
            let p = doc
                .get(m, "pods")
                .ok_or_else(|| doc.err(&p_at, "required"))?;
            doc.fields(p, &p_at, &["metric", "target"], &[], out)?;
            let name = p
                .pointer("/metric/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if name != crate::kube::CONNECTIONS_METRIC {
                let message = format!(
                    "{name:?}: the only pod metric here is {}",
                    crate::kube::CONNECTIONS_METRIC
                );
                return Err(doc.err(&p_at.key("metric"), message));
            }
            match target_of(p, &p_at, out)? {
                (k, Some(n), _) if k == "AverageValue" => Ok(("target_connections", n)),
                _ => Err(doc.err(
                    &p_at.key("target"),
                    "expected AverageValue with averageValue",
                )),
            }
        }
        other => Err(doc.err(
            &at.key("type"),
            format!("{other}: expected Resource or Pods"),
        )),
    }
}
