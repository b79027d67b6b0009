//! Services (names, published ports), the autoscaler and the network
//! policies `kube generate` writes, mapped onto the workloads they select.

use serde_json::{json, Map, Value};

use super::docs::Doc;
use super::walk::{Ignored, PlayError};
use super::workload::top;
use super::Out;
use crate::compose::locate::KeyPath;

type Result<T> = std::result::Result<T, PlayError>;

/// The pod label `kube generate` marks compose network membership with.
const NETWORK_LABEL: &str = "network.rcorch.io/";

impl Out {
    /// `network.rcorch.io/NET: "true"` labels put the workload on NET.
    pub fn networks_of(&mut self, service: &str, labels: &Map<String, Value>) {
        let nets: Vec<String> = labels
            .iter()
            .filter(|(_, v)| v.as_str() == Some("true"))
            .filter_map(|(k, _)| k.strip_prefix(NETWORK_LABEL).map(str::to_string))
            .collect();
        if nets.is_empty() {
            return;
        }
        let attached: Map<String, Value> = nets.iter().map(|n| (n.clone(), json!({}))).collect();
        self.service(service)
            .insert("networks".into(), Value::Object(attached));
        for n in nets {
            self.networks.entry(n).or_insert(json!({}));
        }
    }

    /// The workloads whose pod labels include all of `selector`.
    fn selected(&self, selector: &Map<String, Value>) -> Vec<String> {
        self.pod_labels
            .iter()
            .filter(|(_, labels)| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// After every object: ClusterIP names become aliases on each network of
/// the workloads they select (the project's default network when none).
pub fn finish(out: &mut Out) {
    for (service, names) in std::mem::take(&mut out.aliases) {
        let svc = out.service(&service);
        // On the host's network there is no service address to alias.
        if svc.get("network_mode").is_some() {
            let list = names.join(", ");
            out.warnings.push(format!(
                "{service}: hostNetwork: the Services {list} select it but give it no name here"
            ));
            continue;
        }
        let networks = svc
            .entry("networks")
            .or_insert_with(|| json!({"default": {}}));
        for attachment in networks.as_object_mut().expect("a mapping").values_mut() {
            attachment["aliases"] = json!(names);
        }
    }
}

fn selector(doc: &Doc, spec: &Value, at: &KeyPath) -> Result<Map<String, Value>> {
    let s = doc.string_map(spec, at, "selector")?;
    if s.is_empty() {
        let message = "required: a Service without a selector has no pods here";
        return Err(doc.err(&at.key("selector"), message));
    }
    Ok(s)
}

pub fn service(doc: &Doc, out: &mut Out) -> Result<()> {
    top(doc, &["spec"], out)?;
    let at = KeyPath::root().key("spec");
    let spec = doc
        .get(&doc.value, "spec")
        .ok_or_else(|| doc.err(&at, "required"))?;
    let local = "one host: traffic stays local";
    let ignored: Ignored = &[
        ("clusterIPs", "the address is rcorch's own"),
        ("ipFamilies", "IPv4 only"),
        ("ipFamilyPolicy", "IPv4 only"),
        ("internalTrafficPolicy", local),
        ("externalTrafficPolicy", local),
        ("sessionAffinity", "rcorch balances each connection"),
    ];
    doc.fields(
        spec,
        &at,
        &["selector", "ports", "type", "clusterIP"],
        ignored,
        out,
    )?;
    let kind = doc.str(spec, &at, "type")?.unwrap_or("ClusterIP");
    if !matches!(kind, "ClusterIP" | "NodePort" | "LoadBalancer") {
        let message = format!("{kind}: expected ClusterIP, NodePort or LoadBalancer");
        return Err(doc.err(&at.key("type"), message));
    }
    let chosen = selector(doc, spec, &at)?;
    let workloads = out.selected(&chosen);
    if workloads.is_empty() {
        doc.warn(out, &at.key("selector"), "selects no pod in these files");
    }
    let publish = kind != "ClusterIP";
    if publish && workloads.len() > 1 {
        let message = format!(
            "selects {}: a published port goes to one workload here",
            workloads.join(", ")
        );
        return Err(doc.err(&at.key("selector"), message));
    }
    let headless = doc.str(spec, &at, "clusterIP")? == Some("None");
    for w in &workloads {
        for (p_at, p) in doc.items(spec, &at, "ports")? {
            let (host, target, proto) = port(doc, p, &p_at, kind, w, out)?;
            if publish {
                let entry =
                    json!({"target": target, "published": host.to_string(), "protocol": proto});
                push(out.service(w), "ports", entry);
            } else if host != target {
                let message = format!("port {host} → targetPort {target}: rcorch's service address forwards each port unchanged; set port to {target}");
                return Err(doc.err(&p_at, message));
            } else {
                push(out.service(w), "expose", json!(format!("{target}/{proto}")));
            }
        }
        if publish {
            continue;
        }
        if headless && *w == doc.name {
            let deploy = out.service(w).entry("deploy").or_insert_with(|| json!({}));
            deploy["endpoint_mode"] = json!("dnsrr");
        } else if *w != doc.name {
            if headless {
                doc.warn(
                    out,
                    &at.key("clusterIP"),
                    "an alias resolves to the service address, not to each pod",
                );
            }
            out.aliases
                .entry(w.clone())
                .or_default()
                .push(doc.name.clone());
        }
    }
    Ok(())
}

fn push(svc: &mut Map<String, Value>, key: &str, v: Value) {
    let list = svc.entry(key).or_insert_with(|| json!([]));
    let list = list.as_array_mut().expect("a list");
    if !list.contains(&v) {
        list.push(v);
    }
}

/// (host or service port, container port, protocol) of one Service port:
/// a NodePort Service publishes its nodePort (else its port), a
/// LoadBalancer its port, on the host.
fn port(
    doc: &Doc,
    p: &Value,
    at: &KeyPath,
    kind: &str,
    workload: &str,
    out: &mut Out,
) -> Result<(u16, u16, &'static str)> {
    let ignored: Ignored = &[("appProtocol", "rcorch balances at the transport layer")];
    doc.fields(
        p,
        at,
        &["name", "port", "targetPort", "protocol", "nodePort"],
        ignored,
        out,
    )?;
    let port: u16 = doc
        .uint(p, at, "port")?
        .ok_or_else(|| doc.err(&at.key("port"), "required"))?;
    let proto = super::container::protocol(doc, p, at)?;
    let target = match doc.get(p, "targetPort") {
        None => port,
        Some(Value::String(name)) => match out.port_names.get(workload).and_then(|n| n.get(name)) {
            Some(n) => *n,
            None => {
                let message = format!("{name}: no container port of {workload} has this name");
                return Err(doc.err(&at.key("targetPort"), message));
            }
        },
        Some(_) => doc.uint(p, at, "targetPort")?.expect("present"),
    };
    let node_port: Option<u16> = doc.uint(p, at, "nodePort")?;
    let host = match kind {
        "NodePort" => node_port.unwrap_or(port),
        _ => port,
    };
    Ok((host, target, proto))
}

/// A peer or pod selector that picks only by compose network labels.
fn network_peers(doc: &Doc, v: &Value, at: &KeyPath) -> Result<Vec<String>> {
    doc.fields(v, at, &["podSelector"], &[], &mut Out::default())?;
    let s_at = at.key("podSelector");
    let s = doc
        .get(v, "podSelector")
        .ok_or_else(|| doc.err(&s_at, "required"))?;
    doc.fields(s, &s_at, &["matchLabels"], &[], &mut Out::default())?;
    let labels = doc.string_map(s, &s_at, "matchLabels")?;
    labels
        .keys()
        .map(|k| {
            k.strip_prefix(NETWORK_LABEL)
                .map(str::to_string)
                .ok_or_else(|| doc.err(&s_at.key("matchLabels").key(k), UNSUPPORTED_POLICY))
        })
        .collect()
}

const UNSUPPORTED_POLICY: &str = "only the policies kube generate writes are supported (pods picked by network.rcorch.io/ labels): compose networks isolate by membership";

/// Network membership is in the pods' labels already; a policy that only
/// lets a workload reach its networks (and DNS) makes those networks internal.
pub fn policy(doc: &Doc, out: &mut Out) -> Result<()> {
    top(doc, &["spec"], out)?;
    let at = KeyPath::root().key("spec");
    let spec = doc
        .get(&doc.value, "spec")
        .ok_or_else(|| doc.err(&at, "required"))?;
    doc.fields(
        spec,
        &at,
        &["podSelector", "policyTypes", "ingress", "egress"],
        &[],
        out,
    )?;
    let s_at = at.key("podSelector");
    let pods = doc.string_map(
        doc.get(spec, "podSelector").unwrap_or(&json!({})),
        &s_at,
        "matchLabels",
    )?;
    let by_network = !pods.is_empty() && pods.keys().all(|k| k.starts_with(NETWORK_LABEL));
    if !by_network && (pods.is_empty() || out.selected(&pods).is_empty()) {
        return Err(doc.err(&s_at, UNSUPPORTED_POLICY));
    }
    for (r_at, rule) in doc.items(spec, &at, "ingress")? {
        doc.fields(rule, &r_at, &["from", "ports"], &[], out)?;
        for (p_at, peer) in doc.items(rule, &r_at, "from")? {
            network_peers(doc, peer, &p_at)?;
        }
    }
    let mut internal = Vec::new();
    for (r_at, rule) in doc.items(spec, &at, "egress")? {
        doc.fields(rule, &r_at, &["to", "ports"], &[], out)?;
        for (p_at, peer) in doc.items(rule, &r_at, "to")? {
            internal.extend(network_peers(doc, peer, &p_at)?);
        }
    }
    for net in internal {
        let def = out.networks.entry(net).or_insert(json!({}));
        def["internal"] = json!(true);
    }
    Ok(())
}
