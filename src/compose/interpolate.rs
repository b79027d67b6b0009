//! Variable interpolation, as compose does it, over every string scalar.
//!
//! `${V}`, `$V`, `${V:-d}`, `${V-d}`, `${V:?e}`, `${V?e}`, `${V:+a}`,
//! `${V+a}` and `$$`. Defaults may themselves hold substitutions.
//! An unset `${V}` becomes "" with a warning, as in docker compose.

use std::collections::BTreeMap;

use serde_norway::Value;

use super::locate::KeyPath;

/// The variables substitutions read: process environment over `.env`.
pub type Env = BTreeMap<String, String>;

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpError {
    /// `${V:?msg}` / `${V?msg}` with V missing.
    Required { variable: String, message: String },
    /// A `$` that starts nothing valid.
    Invalid,
}

/// The result of interpolating one string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interpolated {
    pub value: String,
    /// Variables referenced without a default while unset.
    pub unset: Vec<String>,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Interpolates `template` against `env`.
pub fn interpolate(template: &str, env: &Env) -> Result<Interpolated, InterpError> {
    let mut out = Interpolated::default();
    let chars: Vec<char> = template.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            out.value.push(chars[i]);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.value.push('$');
                i += 2;
            }
            Some('{') => {
                let end = closing_brace(&chars, i + 2).ok_or(InterpError::Invalid)?;
                let inner: String = chars[i + 2..end].iter().collect();
                braced(&inner, env, &mut out)?;
                i = end + 1;
            }
            Some(&c) if is_name_start(c) => {
                let end = (i + 1..chars.len())
                    .find(|&j| !is_name_char(chars[j]))
                    .unwrap_or(chars.len());
                let name: String = chars[i + 1..end].iter().collect();
                substitute_plain(&name, env, &mut out);
                i = end;
            }
            _ => return Err(InterpError::Invalid),
        }
    }
    Ok(out)
}

fn closing_brace(chars: &[char], from: usize) -> Option<usize> {
    let mut depth = 1;
    for (j, &c) in chars.iter().enumerate().skip(from) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

fn substitute_plain(name: &str, env: &Env, out: &mut Interpolated) {
    match env.get(name) {
        Some(v) => out.value.push_str(v),
        None => out.unset.push(name.to_string()),
    }
}

/// Handles the inside of `${...}`.
fn braced(inner: &str, env: &Env, out: &mut Interpolated) -> Result<(), InterpError> {
    let name_len = inner
        .char_indices()
        .find(|&(_, c)| !is_name_char(c))
        .map_or(inner.len(), |(j, _)| j);
    let (name, op) = inner.split_at(name_len);
    if !name.starts_with(is_name_start) {
        return Err(InterpError::Invalid);
    }
    if op.is_empty() {
        substitute_plain(name, env, out);
        return Ok(());
    }
    let value = env.get(name);
    // With a colon, empty counts as unset.
    let (colon, op) = match op.strip_prefix(':') {
        Some(rest) => (true, rest),
        None => (false, op),
    };
    let set = value.is_some_and(|v| !(colon && v.is_empty()));
    let mut chars = op.chars();
    let kind = chars.next().ok_or(InterpError::Invalid)?;
    let word = chars.as_str();
    let nested = |out: &mut Interpolated| -> Result<(), InterpError> {
        let inner = interpolate(word, env)?;
        out.value.push_str(&inner.value);
        out.unset.extend(inner.unset);
        Ok(())
    };
    match (kind, set) {
        ('-', true) | ('?', true) => out.value.push_str(value.map_or("", |v| v)),
        ('-', false) | ('+', true) => nested(out)?,
        ('+', false) => {}
        ('?', false) => {
            return Err(InterpError::Required {
                variable: name.to_string(),
                message: interpolate(word, env)?.value,
            })
        }
        _ => return Err(InterpError::Invalid),
    }
    Ok(())
}

/// A failure inside a tree, with the path of the scalar that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeError {
    pub path: KeyPath,
    pub value: String,
    pub error: InterpError,
}

/// Interpolates every string scalar of `value` in place (mapping keys are
/// left alone, as in compose). Returns the paths of unset variables.
pub fn interpolate_tree(
    value: &mut Value,
    path: &KeyPath,
    env: &Env,
) -> Result<Vec<(KeyPath, String)>, TreeError> {
    let mut unset = Vec::new();
    walk(value, path, env, &mut unset)?;
    Ok(unset)
}

fn walk(
    value: &mut Value,
    path: &KeyPath,
    env: &Env,
    unset: &mut Vec<(KeyPath, String)>,
) -> Result<(), TreeError> {
    match value {
        Value::String(s) => {
            let done = interpolate(s, env).map_err(|error| TreeError {
                path: path.clone(),
                value: s.clone(),
                error,
            })?;
            unset.extend(done.unset.into_iter().map(|v| (path.clone(), v)));
            *s = done.value;
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &path.index(i), env, unset)?;
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = super::parse::key_string(k);
                walk(v, &path.key(&key), env, unset)?;
            }
        }
        Value::Tagged(tagged) => walk(&mut tagged.value, path, env, unset)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

#[cfg(test)]
#[path = "interpolate_tests.rs"]
mod tests;
