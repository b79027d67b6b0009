//! Top-level `secrets` / `configs` and a service's `secrets` / `configs`.

use std::collections::BTreeMap;

use serde_norway::Value;

use super::value::{key_string, untag};
use super::{Ctx, Result};
use crate::compose::locate::KeyPath;
use crate::compose::model::{FileObjectDef, FileRef, FileSource, DEFAULT_FILE_MODE};

/// Secrets or configs: they differ in where they land and in `content`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Secret,
    Config,
}

impl Kind {
    fn def_keys(self) -> &'static [&'static str] {
        match self {
            Kind::Secret => &["file", "environment", "external", "name"],
            Kind::Config => &["file", "environment", "content", "external", "name"],
        }
    }

    /// Where a relative (or absent) target lands.
    fn target(self, source: &str, target: Option<&str>) -> String {
        let rel = target.unwrap_or(source);
        match (self, rel.starts_with('/')) {
            (_, true) => rel.to_string(),
            (Kind::Secret, false) => format!("/run/secrets/{rel}"),
            (Kind::Config, false) => format!("/{rel}"),
        }
    }
}

const DEF_NOT_IMPLEMENTED: &[&str] = &["labels", "driver", "driver_opts", "template_driver"];
const REF_KEYS: &[&str] = &["source", "target", "uid", "gid", "mode"];

/// The top-level `secrets:` or `configs:` block.
pub fn definitions(
    ctx: &mut Ctx,
    v: &Value,
    at: &KeyPath,
    kind: Kind,
) -> Result<BTreeMap<String, FileObjectDef>> {
    let mut out = BTreeMap::new();
    for (k, body) in ctx.mapping(v, at)? {
        let name = key_string(k);
        let here = at.key(&name);
        // The compose schema's pattern; also what keeps the stored copy's
        // path inside the project's directory.
        let valid = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !valid || name.chars().all(|c| c == '.') {
            return Err(ctx.invalid(&here, &name, "a name of letters, digits, '.', '_' and '-'"));
        }
        out.insert(name, definition(ctx, body, &here, kind)?);
    }
    Ok(out)
}

fn definition(ctx: &mut Ctx, v: &Value, at: &KeyPath, kind: Kind) -> Result<FileObjectDef> {
    let mut def = FileObjectDef {
        source: None,
        name: None,
        external: false,
        at: Some(ctx.at(at)),
    };
    let mut sources = 0;
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "file" => def.source = Some(FileSource::File(ctx.host_path(&ctx.string(v, &here)?))),
            "environment" => def.source = Some(FileSource::Environment(ctx.string(v, &here)?)),
            "content" if kind == Kind::Config => {
                def.source = Some(FileSource::Content(ctx.string(v, &here)?))
            }
            "external" => def.external = ctx.boolean(v, &here)?,
            "name" => def.name = Some(ctx.string(v, &here)?),
            _ => {
                ctx.unhandled(&here, &key, kind.def_keys(), DEF_NOT_IMPLEMENTED)?;
                continue;
            }
        }
        sources += usize::from(matches!(key.as_str(), "file" | "environment" | "content"));
    }
    let expected = match kind {
        Kind::Secret => "exactly one of file, environment or external: true",
        Kind::Config => "exactly one of file, environment, content or external: true",
    };
    if sources + usize::from(def.external) != 1 {
        return Err(ctx.invalid(at, format!("{sources} sources"), expected));
    }
    Ok(def)
}

/// A service's `secrets:` or `configs:` list (short names or long mappings).
pub fn references(ctx: &mut Ctx, v: &Value, at: &KeyPath, kind: Kind) -> Result<Vec<FileRef>> {
    let mut out = Vec::new();
    for (i, item) in ctx.sequence(v, at)?.iter().enumerate() {
        let here = at.index(i);
        let r = match untag(item) {
            Value::Mapping(_) => long_reference(ctx, item, &here, kind)?,
            _ => {
                let source = ctx.string(item, &here)?;
                FileRef {
                    target: kind.target(&source, None),
                    source,
                    uid: None,
                    gid: None,
                    mode: DEFAULT_FILE_MODE,
                }
            }
        };
        out.push(r);
    }
    Ok(out)
}

fn long_reference(ctx: &mut Ctx, v: &Value, at: &KeyPath, kind: Kind) -> Result<FileRef> {
    let (mut source, mut target) = (None, None);
    let (mut uid, mut gid, mut mode) = (None, None, DEFAULT_FILE_MODE);
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "source" => source = Some(ctx.string(v, &here)?),
            "target" => target = Some(ctx.string(v, &here)?),
            "uid" => uid = Some(ctx.uint(v, &here)?),
            "gid" => gid = Some(ctx.uint(v, &here)?),
            "mode" => mode = file_mode(ctx, v, &here)?,
            _ => ctx.unhandled(&here, &key, REF_KEYS, &[])?,
        }
    }
    let source = source.ok_or_else(|| ctx.missing(at, "source"))?;
    Ok(FileRef {
        target: kind.target(&source, target.as_deref()),
        source,
        uid,
        gid,
        mode,
    })
}

/// A permission mode: a YAML integer (`0440` reads as octal, as in compose's
/// YAML 1.1 reader, and so does `0o440`) or an octal string ("0440").
fn file_mode(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<u32> {
    // No setuid, setgid or sticky bits: a secret is data, never a program.
    let expected = "an octal file mode such as 0440, at most 0777";
    let text = ctx.string(v, at)?;
    let parsed = match untag(v) {
        // A plain number that YAML read as decimal: compose means octal when
        // it starts with 0 (already lost here) — so take what YAML gave.
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        _ => {
            let digits = text.strip_prefix("0o").unwrap_or(&text);
            u32::from_str_radix(digits, 8).ok()
        }
    };
    parsed
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| ctx.invalid(at, &text, expected))
}
