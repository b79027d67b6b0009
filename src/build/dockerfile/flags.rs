//! Instruction flags (`--from=stage`, `--link`, `--mount=type=cache,...`):
//! taking them off the front of an instruction and checking each.

use std::time::Duration;

use super::{ErrorKind, Mount, MountType, Sharing};

/// One `--name[=value]` flag as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
}

/// Takes leading `--flags` off `rest`; returns them and the remaining text.
pub fn take_flags(rest: &str) -> (Vec<Flag>, &str) {
    let mut flags = Vec::new();
    let mut rest = rest.trim_start();
    while let Some(body) = rest.strip_prefix("--") {
        let end = word_end(body);
        let word = &body[..end];
        if word.is_empty() {
            break;
        }
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n, Some(unquote(v))),
            None => (word, None),
        };
        flags.push(Flag {
            name: name.to_string(),
            value,
        });
        rest = body[end..].trim_start();
    }
    (flags, rest)
}

/// End of the first whitespace-delimited word, honouring quotes.
fn word_end(s: &str) -> usize {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c.is_whitespace() => return i,
            None => {}
        }
    }
    s.len()
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    v.to_string()
}

/// The flags an instruction accepts: (name, takes a value, repeatable).
pub struct Allowed<'a>(pub &'a [(&'a str, bool)]);

/// Checks every flag is known and has (or lacks) a value as it should.
pub fn check(instruction: &'static str, flags: &[Flag], allowed: Allowed) -> Result<(), ErrorKind> {
    for flag in flags {
        let Some(&(_, valued)) = allowed.0.iter().find(|(n, _)| *n == flag.name) else {
            return Err(ErrorKind::UnknownFlag {
                instruction,
                flag: flag.name.clone(),
            });
        };
        if valued && flag.value.is_none() {
            return Err(ErrorKind::BadFlag {
                instruction,
                flag: flag.name.clone(),
                message: "needs a value (--NAME=VALUE)".into(),
            });
        }
    }
    Ok(())
}

/// The last value of a flag.
pub fn value(flags: &[Flag], name: &str) -> Option<String> {
    flags
        .iter()
        .rev()
        .find(|f| f.name == name)
        .and_then(|f| f.value.clone())
}

/// A boolean flag: `--link`, `--link=true`, `--link=false`.
pub fn boolean(instruction: &'static str, flags: &[Flag], name: &str) -> Result<bool, ErrorKind> {
    match flags.iter().rev().find(|f| f.name == name) {
        None => Ok(false),
        Some(Flag { value: None, .. }) => Ok(true),
        Some(Flag { value: Some(v), .. }) => parse_bool(v).ok_or_else(|| ErrorKind::BadFlag {
            instruction,
            flag: name.to_string(),
            message: format!("expected true or false, got {v:?}"),
        }),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// `--mount=type=cache,target=/root/.cache,sharing=locked`.
pub fn parse_mount(spec: &str) -> Result<Mount, ErrorKind> {
    let bad = |message: String| ErrorKind::BadMount {
        spec: spec.to_string(),
        message,
    };
    let mut m = Mount {
        kind: MountType::Bind,
        target: None,
        source: None,
        from: None,
        readonly: false,
        id: None,
        sharing: Sharing::Shared,
        mode: None,
        uid: None,
        gid: None,
        size: None,
        required: false,
        env: None,
    };
    let mut readonly = None;
    for field in spec.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(unquote(v))),
            None => (field.to_ascii_lowercase(), None),
        };
        let need = |v: Option<String>| v.ok_or_else(|| bad(format!("{key} needs a value")));
        let number = |v: Option<String>, radix| -> Result<u64, ErrorKind> {
            let v = need(v)?;
            u64::from_str_radix(&v, radix).map_err(|_| bad(format!("{key}={v} is not a number")))
        };
        match key.as_str() {
            "type" => {
                m.kind = match need(value)?.as_str() {
                    "bind" => MountType::Bind,
                    "cache" => MountType::Cache,
                    "tmpfs" => MountType::Tmpfs,
                    "secret" => MountType::Secret,
                    "ssh" => MountType::Ssh,
                    other => return Err(bad(format!("unknown mount type {other:?}"))),
                }
            }
            "target" | "dst" | "destination" => m.target = Some(need(value)?),
            "source" | "src" => m.source = Some(need(value)?),
            "from" => m.from = Some(need(value)?),
            "id" => m.id = Some(need(value)?),
            "env" => m.env = Some(need(value)?),
            "ro" | "readonly" => {
                readonly = Some(
                    value
                        .as_deref()
                        .map_or(Some(true), parse_bool)
                        .ok_or_else(|| bad(format!("{key} expects true or false")))?,
                )
            }
            "rw" | "readwrite" => {
                readonly = Some(
                    !value
                        .as_deref()
                        .map_or(Some(true), parse_bool)
                        .ok_or_else(|| bad(format!("{key} expects true or false")))?,
                )
            }
            "required" => {
                m.required = value
                    .as_deref()
                    .map_or(Some(true), parse_bool)
                    .ok_or_else(|| bad("required expects true or false".into()))?
            }
            "sharing" => {
                m.sharing = match need(value)?.as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    other => {
                        return Err(bad(format!(
                            "unknown sharing {other:?}: use shared, private or locked"
                        )))
                    }
                }
            }
            "mode" => m.mode = Some(number(value, 8)? as u32),
            "uid" => m.uid = Some(number(value, 10)? as u32),
            "gid" => m.gid = Some(number(value, 10)? as u32),
            "size" => {
                m.size = Some(
                    parse_size(&need(value)?).ok_or_else(|| bad("size must be like 64m".into()))?,
                )
            }
            _ => return Err(bad(format!("unknown key {key:?}"))),
        }
    }
    // Bind mounts are read-only unless asked; the others writable.
    m.readonly = readonly.unwrap_or(m.kind == MountType::Bind);
    let needs_target = matches!(
        m.kind,
        MountType::Bind | MountType::Cache | MountType::Tmpfs
    );
    if needs_target && m.target.is_none() {
        return Err(bad("target= is required".into()));
    }
    if m.kind == MountType::Secret && m.id.is_none() && m.target.is_none() {
        return Err(bad("a secret mount needs id= or target=".into()));
    }
    Ok(m)
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.to_ascii_lowercase();
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match &s[digits.len()..] {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        _ => return None,
    };
    digits.parse::<u64>().ok().map(|n| n * unit)
}

/// A Go duration as HEALTHCHECK takes it: `30s`, `1m30s`, `500ms`, `1h`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    crate::util::time::parse_go_duration(s)
}
