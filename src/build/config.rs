//! A stage's image config as instructions change it, written the way Docker
//! writes it (PascalCase `config`, `history` with `empty_layer`). Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::dockerfile::{CommandLine, HealthOptions, Healthcheck};

/// The `config` object, with the fields the Dockerfile can set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
}

/// One `history` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The whole config blob of a built image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub created: String,
    pub architecture: String,
    pub os: String,
    pub config: RunConfig,
    pub rootfs: RootFs,
    #[serde(default)]
    pub history: Vec<History>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<String>,
}

/// The shell of shell-form instructions.
pub fn shell_of(config: &RunConfig) -> Vec<String> {
    config
        .shell
        .clone()
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
}

/// CMD/ENTRYPOINT/RUN argv: exec form as is, shell form through the shell.
pub fn argv(config: &RunConfig, line: &CommandLine) -> Vec<String> {
    match line {
        CommandLine::Exec(v) => v.clone(),
        CommandLine::Shell(s) => {
            let mut v = shell_of(config);
            v.push(s.clone());
            v
        }
    }
}

/// Sets `KEY=VALUE` in an env list, replacing an earlier KEY.
pub fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
        Some(e) => *e = entry,
        None => env.push(entry),
    }
}

/// An env list's value for `key`.
pub fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter()
        .find_map(|e| e.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// Docker's `Healthcheck` object (durations in nanoseconds, zero left out).
pub fn healthcheck_json(config: &RunConfig, h: &Healthcheck) -> Value {
    let (test, o): (Vec<String>, HealthOptions) = match h {
        Healthcheck::None => return serde_json::json!({ "Test": ["NONE"] }),
        Healthcheck::Check { test, options } => {
            let test = match test {
                CommandLine::Exec(v) => std::iter::once("CMD".to_string())
                    .chain(v.iter().cloned())
                    .collect(),
                CommandLine::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
            };
            (test, options.clone())
        }
    };
    let _ = config;
    let mut m = serde_json::Map::new();
    m.insert("Test".into(), Value::from(test));
    let nanos = |d: Option<std::time::Duration>| d.map(|d| d.as_nanos() as u64).filter(|n| *n > 0);
    for (key, d) in [
        ("Interval", o.interval),
        ("Timeout", o.timeout),
        ("StartPeriod", o.start_period),
        ("StartInterval", o.start_interval),
    ] {
        if let Some(n) = nanos(d) {
            m.insert(key.into(), Value::from(n));
        }
    }
    if let Some(r) = o.retries.filter(|r| *r > 0) {
        m.insert("Retries".into(), Value::from(r));
    }
    Value::Object(m)
}

/// EXPOSE's `80`, `80/TCP`, `8000-8002/udp` as `ExposedPorts` keys.
pub fn exposed_ports(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid protocol {proto:?} in EXPOSE {spec}"));
    }
    let bad =
        || format!("invalid port {spec:?} in EXPOSE: expected PORT[/PROTO] or START-END[/PROTO]");
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = ports.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if start > end {
        return Err(bad());
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// WORKDIR against the previous one, cleaned like a path.
pub fn join_workdir(current: Option<&str>, dir: &str) -> String {
    let joined = if dir.starts_with('/') {
        dir.to_string()
    } else {
        format!("{}/{dir}", current.unwrap_or("/"))
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_form_goes_through_the_shell() {
        let mut c = RunConfig::default();
        assert_eq!(
            argv(&c, &CommandLine::Shell("echo hi".into())),
            vec!["/bin/sh", "-c", "echo hi"]
        );
        c.shell = Some(vec!["/bin/bash".into(), "-ec".into()]);
        assert_eq!(
            argv(&c, &CommandLine::Shell("x".into())),
            vec!["/bin/bash", "-ec", "x"]
        );
        assert_eq!(argv(&c, &CommandLine::Exec(vec!["a".into()])), vec!["a"]);
    }

    #[test]
    fn env_replaces_in_place() {
        let mut env = vec!["PATH=/bin".to_string(), "A=1".into()];
        set_env(&mut env, "PATH", "/x");
        set_env(&mut env, "B", "2");
        assert_eq!(env, vec!["PATH=/x", "A=1", "B=2"]);
        assert_eq!(env_value(&env, "A"), Some("1"));
        assert_eq!(env_value(&env, "PAT"), None);
    }

    #[test]
    fn healthcheck_as_docker_writes_it() {
        let c = RunConfig::default();
        let h = Healthcheck::Check {
            test: CommandLine::Shell("curl -f x".into()),
            options: HealthOptions {
                interval: Some(std::time::Duration::from_secs(30)),
                retries: Some(3),
                ..Default::default()
            },
        };
        assert_eq!(
            healthcheck_json(&c, &h),
            serde_json::json!({"Test": ["CMD-SHELL", "curl -f x"], "Interval": 30_000_000_000u64, "Retries": 3})
        );
        assert_eq!(
            healthcheck_json(&c, &Healthcheck::None),
            serde_json::json!({"Test": ["NONE"]})
        );
    }

    #[test]
    fn exposed_ports_normalise() {
        assert_eq!(exposed_ports("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(exposed_ports("53/UDP").unwrap(), vec!["53/udp"]);
        assert_eq!(
            exposed_ports("8000-8002").unwrap(),
            vec!["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(exposed_ports("http").is_err());
        assert!(exposed_ports("80/foo").is_err());
    }

    #[test]
    fn workdirs_join_and_clean() {
        assert_eq!(join_workdir(None, "app"), "/app");
        assert_eq!(join_workdir(Some("/a"), "b/../c"), "/a/c");
        assert_eq!(join_workdir(Some("/a"), "/x/"), "/x");
    }
}
