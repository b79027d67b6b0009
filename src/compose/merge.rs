//! Several `-f` files as one document, by the compose specification's
//! merge rules: mappings merge key by key, scalars are replaced, sequences
//! are appended (each value once), except commands (replaced) and the
//! resources a service has one of per target (volumes, secrets, configs:
//! the later file's entry for a target replaces the earlier one). Lists
//! of `KEY=VALUE` (environment, labels…) merge as the mappings they mean.
//! `!reset` removes a value, `!override` replaces it whole.

use serde_norway::{Mapping, Value};

/// Service keys whose sequence is one command: the later one replaces it.
const REPLACED: &[&str] = &["command", "entrypoint", "test"];
/// Keys whose `KEY=VALUE` lists are mappings.
const KEY_VALUES: &[&str] = &[
    "environment",
    "labels",
    "annotations",
    "sysctls",
    "args",
    "extra_hosts",
];
/// Sequences of mounts: one per target.
const BY_TARGET: &[&str] = &["volumes", "secrets", "configs", "tmpfs"];

fn tag_of(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) => Some(t.tag.to_string()),
        _ => None,
    }
}

/// `over` laid over `base`; `key` is the key both are the values of.
pub fn merge(base: Value, over: Value, key: &str) -> Option<Value> {
    match tag_of(&over).as_deref() {
        Some("!reset") => return None,
        Some("!override") => {
            let Value::Tagged(t) = over else {
                unreachable!()
            };
            return Some(t.value);
        }
        _ => {}
    }
    Some(match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => Value::Mapping(merge_maps(b, o)),
        (b, o) if KEY_VALUES.contains(&key) && (b.is_sequence() || o.is_sequence()) => {
            Value::Mapping(merge_maps(as_mapping(b), as_mapping(o)))
        }
        (Value::Sequence(b), Value::Sequence(o)) if !REPLACED.contains(&key) => {
            Value::Sequence(merge_sequences(b, o, BY_TARGET.contains(&key)))
        }
        (_, o) => o,
    })
}

fn merge_maps(mut base: Mapping, over: Mapping) -> Mapping {
    for (k, v) in over {
        let key = k.as_str().unwrap_or_default().to_string();
        let merged = match base.remove(&k) {
            Some(b) => merge(b, v, &key),
            // A reset of what the base does not have is nothing.
            None if tag_of(&v).as_deref() == Some("!reset") => None,
            None => merge(Value::Null, v, &key),
        };
        if let Some(m) = merged {
            base.insert(k, m);
        }
    }
    base
}

fn merge_sequences(mut base: Vec<Value>, over: Vec<Value>, by_target: bool) -> Vec<Value> {
    for v in over {
        if by_target {
            let t = target(&v);
            base.retain(|b| t.is_none() || target(b) != t);
        }
        if !base.contains(&v) {
            base.push(v);
        }
    }
    base
}

/// Where a mount lands: `target`, or the second field of `src:dst[:mode]`
/// (a short secret or config is its own target).
fn target(v: &Value) -> Option<String> {
    match v {
        Value::Mapping(m) => m
            .get("target")
            .or_else(|| m.get("source"))
            .and_then(Value::as_str)
            .map(str::to_string),
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            Some(parts.get(1).unwrap_or(&parts[0]).to_string())
        }
        _ => None,
    }
}

/// `["K=V", "K2"]` as `{K: V, K2: null}`; a mapping as it is.
fn as_mapping(v: Value) -> Mapping {
    match v {
        Value::Mapping(m) => m,
        Value::Sequence(items) => items
            .into_iter()
            .filter_map(|item| {
                let s = item.as_str()?.to_string();
                let (k, v) = match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), Value::String(v.to_string())),
                    None => (s, Value::Null),
                };
                Some((Value::String(k), v))
            })
            .collect(),
        _ => Mapping::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_norway::from_str(s).unwrap()
    }

    fn merged(base: &str, over: &str) -> Value {
        merge(yaml(base), yaml(over), "").unwrap()
    }

    #[test]
    fn mappings_merge_and_scalars_are_replaced() {
        let m = merged(
            "services:\n  web: {image: a, restart: always}\n",
            "services:\n  web: {image: b}\n  db: {image: c}\n",
        );
        assert_eq!(
            m,
            yaml("services:\n  web: {image: b, restart: always}\n  db: {image: c}\n")
        );
    }

    #[test]
    fn commands_are_replaced_and_other_sequences_appended_once() {
        let m = merged(
            "command: [a, b]\nports: ['80:80', '443:443']\ncap_add: [NET_ADMIN]\nhealthcheck: {test: [CMD, x]}\n",
            "command: [c]\nports: ['443:443', '8080:80']\ncap_add: [SYS_TIME]\nhealthcheck: {test: [CMD, y]}\n",
        );
        let want = "command: [c]\nports: ['80:80', '443:443', '8080:80']\ncap_add: [NET_ADMIN, SYS_TIME]\nhealthcheck: {test: [CMD, y]}\n";
        assert_eq!(m, yaml(want));
    }

    #[test]
    fn key_value_lists_merge_as_mappings() {
        let m = merged(
            "environment: [A=1, B=2]\nlabels: {x: '1'}\n",
            "environment: {B: '3', C: '4'}\nlabels: [y=2]\n",
        );
        assert_eq!(
            m,
            yaml("environment: {A: '1', B: '3', C: '4'}\nlabels: {x: '1', y: '2'}\n")
        );
    }

    #[test]
    fn a_mount_per_target_the_later_one_winning() {
        let m = merged(
            "volumes: ['./a:/data', 'logs:/var/log']\nsecrets: [pw]\n",
            "volumes: [{type: volume, source: big, target: /data}]\nsecrets: [{source: pw, target: pw, mode: 0400}]\n",
        );
        let want = "volumes: ['logs:/var/log', {type: volume, source: big, target: /data}]\nsecrets: [{source: pw, target: pw, mode: 0400}]\n";
        assert_eq!(m, yaml(want));
    }

    #[test]
    fn reset_removes_and_override_replaces() {
        let m = merged(
            "ports: ['80:80']\nenvironment: {A: '1'}\nimage: x\n",
            "ports: !reset []\nenvironment: !override {B: '2'}\nuser: !reset null\n",
        );
        assert_eq!(m, yaml("environment: {B: '2'}\nimage: x\n"));
    }
}
