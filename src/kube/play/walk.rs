//! Reading one manifest's JSON tree: typed getters and the field check
//! that refuses what is not understood, each naming the field and its line.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::docs::Doc;
use super::Out;
use crate::compose::locate::KeyPath;

#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    /// The text is not YAML.
    #[error("{}:{line}: {source}", file.display())]
    Yaml {
        file: PathBuf,
        line: usize,
        source: serde_norway::Error,
    },
    /// A field rcorch cannot run, or a value of the wrong shape.
    #[error("{}:{line}: {object}: {field}: {message}", file.display())]
    Field {
        file: PathBuf,
        line: usize,
        object: String,
        field: String,
        message: String,
    },
}

/// A key's reason for having no effect on one host.
pub type Ignored<'a> = &'a [(&'a str, &'a str)];

impl Doc {
    /// `Deployment web`: how messages name the object.
    pub fn object(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }

    fn line(&self, at: &KeyPath) -> usize {
        self.first_line + crate::compose::locate::line_of(&self.text, at) - 1
    }

    pub fn err(&self, at: &KeyPath, message: impl Into<String>) -> PlayError {
        PlayError::Field {
            file: self.file.to_path_buf(),
            line: self.line(at),
            object: self.object(),
            field: at.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn warn(&self, out: &mut Out, at: &KeyPath, reason: &str) {
        out.warnings.push(format!(
            "{}:{}: {}: {at}: {reason}",
            self.file.display(),
            self.line(at),
            self.object()
        ));
    }

    /// Every key of `v` is `supported`, or `ignored` (a warning with its
    /// reason); anything else is the error, named by its path.
    pub(crate) fn fields(
        &self,
        v: &Value,
        at: &KeyPath,
        supported: &[&str],
        ignored: Ignored,
        out: &mut Out,
    ) -> Result<(), PlayError> {
        let map = self.map(v, at)?;
        for key in map.keys() {
            let here = at.key(key);
            if supported.contains(&key.as_str()) {
                continue;
            }
            match ignored.iter().find(|(k, _)| k == key) {
                Some((_, reason)) => self.warn(out, &here, reason),
                None => return Err(self.err(&here, "not supported by rcorch kube play")),
            }
        }
        Ok(())
    }

    pub fn map<'v>(&self, v: &'v Value, at: &KeyPath) -> Result<&'v Map<String, Value>, PlayError> {
        v.as_object()
            .ok_or_else(|| self.err(at, format!("expected a mapping, found {v}")))
    }

    /// `v[key]` when present and not null.
    pub fn get<'v>(&self, v: &'v Value, key: &str) -> Option<&'v Value> {
        v.get(key).filter(|x| !x.is_null())
    }

    pub fn str<'v>(
        &self,
        v: &'v Value,
        at: &KeyPath,
        key: &str,
    ) -> Result<Option<&'v str>, PlayError> {
        match self.get(v, key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(&at.key(key), format!("expected a string, found {other}"))),
        }
    }

    pub fn required_str<'v>(
        &self,
        v: &'v Value,
        at: &KeyPath,
        key: &str,
    ) -> Result<&'v str, PlayError> {
        self.str(v, at, key)?
            .ok_or_else(|| self.err(&at.key(key), "required"))
    }

    pub fn int(&self, v: &Value, at: &KeyPath, key: &str) -> Result<Option<i64>, PlayError> {
        match self.get(v, key) {
            None => Ok(None),
            Some(x) => x
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.err(&at.key(key), format!("expected an integer, found {x}"))),
        }
    }

    /// A non-negative integer that fits `T` (a port, a count, a mode).
    pub fn uint<T: TryFrom<i64>>(
        &self,
        v: &Value,
        at: &KeyPath,
        key: &str,
    ) -> Result<Option<T>, PlayError> {
        match self.int(v, at, key)? {
            None => Ok(None),
            Some(n) => T::try_from(n)
                .map(Some)
                .map_err(|_| self.err(&at.key(key), format!("{n} is out of range"))),
        }
    }

    pub fn bool(&self, v: &Value, at: &KeyPath, key: &str) -> Result<bool, PlayError> {
        match self.get(v, key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.err(
                &at.key(key),
                format!("expected true or false, found {other}"),
            )),
        }
    }

    pub fn strings(
        &self,
        v: &Value,
        at: &KeyPath,
        key: &str,
    ) -> Result<Option<Vec<String>>, PlayError> {
        let Some(items) = self.get(v, key) else {
            return Ok(None);
        };
        let list = items
            .as_array()
            .ok_or_else(|| self.err(&at.key(key), "expected a list of strings"))?;
        list.iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| self.err(&at.key(key).index(i), "expected a string"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The items of list `key` with their paths (none when absent).
    pub fn items<'v>(
        &self,
        v: &'v Value,
        at: &KeyPath,
        key: &str,
    ) -> Result<Vec<(KeyPath, &'v Value)>, PlayError> {
        match self.get(v, key) {
            None => Ok(Vec::new()),
            Some(Value::Array(list)) => Ok(list
                .iter()
                .enumerate()
                .map(|(i, x)| (at.key(key).index(i), x))
                .collect()),
            Some(_) => Err(self.err(&at.key(key), "expected a list")),
        }
    }

    /// A string map such as labels (absent: empty).
    pub fn string_map(
        &self,
        v: &Value,
        at: &KeyPath,
        key: &str,
    ) -> Result<Map<String, Value>, PlayError> {
        let Some(m) = self.get(v, key) else {
            return Ok(Map::new());
        };
        let here = at.key(key);
        let m = self.map(m, &here)?;
        for (k, x) in m {
            if !x.is_string() {
                return Err(self.err(&here.key(k), "expected a string value"));
            }
        }
        Ok(m.clone())
    }
}
