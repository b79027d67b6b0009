//! Environment variables whose values only exist once the container runs
//! (Kubernetes' downward API `fieldRef`s that `kube play` cannot know):
//! the replica's name, its IP, the node's name. `kube play` names them in
//! the label [`LABEL`]; the runtime fills them in for the container's
//! process as it starts.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// `{"ENV_NAME": "status.podIP", …}` (JSON).
pub const LABEL: &str = "io.rcorch.kube.field-env";

/// The fields the runtime gives (the others are known when playing).
pub const FIELDS: [&str; 3] = ["metadata.name", "status.podIP", "spec.nodeName"];

/// What the container is, as the fields read it.
pub struct Facts<'a> {
    pub name: &'a str,
    /// None: no network of its own (the field is then empty).
    pub ip: Option<Ipv4Addr>,
    pub node: &'a str,
}

/// The `NAME=value` entries the label asks for (none if the label is
/// absent or not the JSON `kube play` writes; unknown fields are skipped).
pub fn env(labels: &BTreeMap<String, String>, facts: &Facts) -> Vec<String> {
    let Some(spec) = labels.get(LABEL) else {
        return Vec::new();
    };
    let Ok(wanted) = serde_json::from_str::<BTreeMap<String, String>>(spec) else {
        return Vec::new();
    };
    wanted
        .into_iter()
        .filter_map(|(name, field)| {
            let value = match field.as_str() {
                "metadata.name" => facts.name.to_string(),
                "status.podIP" => facts.ip.map(|ip| ip.to_string()).unwrap_or_default(),
                "spec.nodeName" => facts.node.to_string(),
                _ => return None,
            };
            Some(format!("{name}={value}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_the_named_fields_from_the_running_container() {
        let spec =
            r#"{"POD":"metadata.name","IP":"status.podIP","NODE":"spec.nodeName","X":"odd"}"#;
        let labels = BTreeMap::from([(LABEL.to_string(), spec.to_string())]);
        let facts = Facts {
            name: "app-web-2",
            ip: Some(Ipv4Addr::new(10, 89, 0, 3)),
            node: "host1",
        };
        let env = env(&labels, &facts);
        assert_eq!(env, ["IP=10.89.0.3", "NODE=host1", "POD=app-web-2"]);
        let none = Facts { ip: None, ..facts };
        assert!(super::env(&labels, &none).contains(&"IP=".to_string()));
        assert!(super::env(&BTreeMap::new(), &none).is_empty());
    }
}
