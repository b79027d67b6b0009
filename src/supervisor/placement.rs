//! `deploy.placement` on one host, with Swarm's syntax and semantics:
//! constraints `node.labels.X==Y`, `!=`, `node.hostname`, `node.role`,
//! `node.platform.arch`/`os`, `node.id`, `engine.labels.X`; preferences
//! `spread=node.labels.X` (one node: every spread is already even). Pure.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// This host as the placement sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub hostname: String,
    /// Swarm's role: one host is its own manager.
    pub role: String,
    /// Swarm spells them as Go does: "x86_64" (uname -m) and "linux".
    pub arch: String,
    pub os: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Eq,
    Ne,
}

/// One parsed constraint: `key op value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    pub key: String,
    pub op: Op,
    pub value: String,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Eq => "==",
            Op::Ne => "!=",
        };
        write!(f, "{}{op}{}", self.key, self.value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error(
        "invalid placement constraint {text:?}: {reason}; expected KEY==VALUE or KEY!=VALUE \
         with KEY one of node.id, node.hostname, node.role, node.platform.arch, \
         node.platform.os, node.labels.NAME, engine.labels.NAME"
    )]
    Constraint { text: String, reason: &'static str },
    #[error(
        "invalid placement preference {text:?}: expected spread=node.labels.NAME \
         (or spread=engine.labels.NAME)"
    )]
    Preference { text: String },
}

const KEYS: &[&str] = &[
    "node.id",
    "node.hostname",
    "node.role",
    "node.platform.arch",
    "node.platform.os",
];

/// Parses `node.labels.zone == east` (spaces allowed around the operator).
pub fn parse_constraint(text: &str) -> Result<Constraint, PlacementError> {
    let bad = |reason| PlacementError::Constraint {
        text: text.to_string(),
        reason,
    };
    let (key, op, value) = match (text.find("=="), text.find("!=")) {
        (Some(i), None) => (&text[..i], Op::Eq, &text[i + 2..]),
        (None, Some(i)) => (&text[..i], Op::Ne, &text[i + 2..]),
        (Some(_), Some(_)) => return Err(bad("more than one operator")),
        (None, None) => return Err(bad("no == or != operator")),
    };
    let (key, value) = (key.trim(), value.trim());
    if value.is_empty() || value.contains("==") || value.contains("!=") {
        return Err(bad("no value after the operator"));
    }
    let label = ["node.labels.", "engine.labels."]
        .iter()
        .any(|p| key.strip_prefix(p).is_some_and(|name| !name.is_empty()));
    if !label && !KEYS.contains(&key.to_ascii_lowercase().as_str()) {
        return Err(bad("unknown key"));
    }
    Ok(Constraint {
        key: key.to_string(),
        op,
        value: value.to_string(),
    })
}

/// Parses `spread=node.labels.zone`.
pub fn parse_preference(text: &str) -> Result<String, PlacementError> {
    let bad = || PlacementError::Preference {
        text: text.to_string(),
    };
    let target = text.trim().strip_prefix("spread=").ok_or_else(bad)?.trim();
    let ok = ["node.labels.", "engine.labels."]
        .iter()
        .any(|p| target.strip_prefix(p).is_some_and(|n| !n.is_empty()));
    ok.then(|| target.to_string()).ok_or_else(bad)
}

impl Constraint {
    /// Swarm's semantics: values compare case-insensitively except labels'
    /// (exact); a missing label equals nothing, so `!=` holds for it.
    pub fn matches(&self, node: &Node) -> bool {
        let key = self.key.to_ascii_lowercase();
        let (actual, exact) = match key.as_str() {
            "node.id" => (Some(node.id.as_str()), false),
            "node.hostname" => (Some(node.hostname.as_str()), false),
            "node.role" => (Some(node.role.as_str()), false),
            "node.platform.arch" => (Some(node.arch.as_str()), false),
            "node.platform.os" => (Some(node.os.as_str()), false),
            _ => {
                let name = self.key.split_once(".labels.").map_or("", |(_, name)| name);
                (node.labels.get(name).map(String::as_str), true)
            }
        };
        let equal = actual.is_some_and(|a| match exact {
            true => a == self.value,
            false => a.eq_ignore_ascii_case(&self.value),
        });
        equal == (self.op == Op::Eq)
    }
}

/// The first constraint this host does not satisfy, as a pending reason.
pub fn unmet(constraints: &[Constraint], node: &Node) -> Option<String> {
    constraints.iter().find(|c| !c.matches(node)).map(|c| {
        format!(
            "unsatisfied placement constraint {c} on node {}",
            node.hostname
        )
    })
}

/// Node labels from a `KEY=VALUE` per line text (`#` comments).
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                labels.insert(k.trim().to_string(), v.trim().to_string());
            }
            _ => {
                return Err(format!(
                    "invalid node label line {line:?}: expected KEY=VALUE"
                ))
            }
        }
    }
    Ok(labels)
}

#[cfg(test)]
#[path = "placement_tests.rs"]
mod tests;
