//! Typed reads of YAML values, each failing with the file, line and key.
//!
//! After interpolation every scalar may be a string, so numbers and
//! booleans are also accepted in their string form (`replicas: "${N}"`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_norway::{Mapping, Value};

use super::Ctx;
use crate::compose::error::ComposeError;
use crate::compose::locate::KeyPath;
use crate::compose::scalar;

type Result<T> = std::result::Result<T, ComposeError>;

/// A mapping key as text (compose keys are strings; numbers are tolerated).
pub fn key_string(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => serde_norway::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Strips a YAML tag (compose's `!reset`/`!override` are not supported).
pub fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

/// A scalar as text: strings, numbers and booleans.
pub fn scalar_text(v: &Value) -> Option<String> {
    match untag(v) {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Ctx<'_> {
    pub fn string(&self, v: &Value, at: &KeyPath) -> Result<String> {
        scalar_text(v).ok_or_else(|| self.wrong_type(at, "a string"))
    }

    pub fn mapping<'v>(&self, v: &'v Value, at: &KeyPath) -> Result<&'v Mapping> {
        static EMPTY: std::sync::OnceLock<Mapping> = std::sync::OnceLock::new();
        match untag(v) {
            Value::Mapping(m) => Ok(m),
            // `web:` with nothing under it is an empty block.
            Value::Null => Ok(EMPTY.get_or_init(Mapping::new)),
            _ => Err(self.wrong_type(at, "a mapping")),
        }
    }

    pub fn sequence<'v>(&self, v: &'v Value, at: &KeyPath) -> Result<&'v [Value]> {
        match untag(v) {
            Value::Sequence(s) => Ok(s),
            _ => Err(self.wrong_type(at, "a list")),
        }
    }

    fn parsed<T: std::str::FromStr>(
        &self,
        v: &Value,
        at: &KeyPath,
        expected: &'static str,
    ) -> Result<T> {
        let text = scalar_text(v).ok_or_else(|| self.wrong_type(at, expected))?;
        text.trim()
            .parse()
            .map_err(|_| self.invalid(at, &text, expected))
    }

    pub fn uint(&self, v: &Value, at: &KeyPath) -> Result<u32> {
        self.parsed(v, at, "a non-negative integer")
    }

    pub fn int(&self, v: &Value, at: &KeyPath) -> Result<i64> {
        self.parsed(v, at, "an integer")
    }

    pub fn float(&self, v: &Value, at: &KeyPath) -> Result<f64> {
        self.parsed(v, at, "a number")
    }

    pub fn boolean(&self, v: &Value, at: &KeyPath) -> Result<bool> {
        let text = scalar_text(v).ok_or_else(|| self.wrong_type(at, "a boolean"))?;
        match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Ok(true),
            "false" | "no" | "off" => Ok(false),
            _ => Err(self.invalid(at, &text, "a boolean")),
        }
    }

    /// A duration string ("1m30s"); a bare number counts as seconds.
    pub fn duration(&self, v: &Value, at: &KeyPath) -> Result<Duration> {
        let expected = "a duration like 1m30s, 10s or 500ms";
        if let Value::Number(n) = untag(v) {
            if let Some(secs) = n.as_f64().filter(|s| *s >= 0.0) {
                return Ok(Duration::from_secs_f64(secs));
            }
        }
        let text = self.string(v, at)?;
        scalar::parse_duration(&text).ok_or_else(|| self.invalid(at, &text, expected))
    }

    /// A string or a list of strings.
    pub fn string_list(&self, v: &Value, at: &KeyPath) -> Result<Vec<String>> {
        match untag(v) {
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.string(item, &at.index(i)))
                .collect(),
            other => Ok(vec![self.string(other, at)?]),
        }
    }

    /// A command: a list, or a string split like a shell would.
    pub fn command(&self, v: &Value, at: &KeyPath) -> Result<Vec<String>> {
        match untag(v) {
            Value::Sequence(_) => self.string_list(v, at),
            _ => {
                let text = self.string(v, at)?;
                scalar::shell_split(&text)
                    .ok_or_else(|| self.invalid(at, &text, "a command with balanced quotes"))
            }
        }
    }

    /// `{K: V}` or `["K=V", "K"]`; a missing value is None.
    pub fn map_or_list(&self, v: &Value, at: &KeyPath) -> Result<BTreeMap<String, Option<String>>> {
        let mut out = BTreeMap::new();
        match untag(v) {
            Value::Sequence(items) => {
                for (i, item) in items.iter().enumerate() {
                    let text = self.string(item, &at.index(i))?;
                    match text.split_once('=') {
                        Some((k, val)) => out.insert(k.to_string(), Some(val.to_string())),
                        None => out.insert(text, None),
                    };
                }
            }
            _ => {
                for (k, val) in self.mapping(v, at)? {
                    let key = key_string(k);
                    let value = match untag(val) {
                        Value::Null => None,
                        other => Some(self.string(other, &at.key(&key))?),
                    };
                    out.insert(key, value);
                }
            }
        }
        Ok(out)
    }

    /// Labels: like `map_or_list`, with a missing value meaning "".
    pub fn labels(&self, v: &Value, at: &KeyPath) -> Result<BTreeMap<String, String>> {
        Ok(self
            .map_or_list(v, at)?
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect())
    }
}
