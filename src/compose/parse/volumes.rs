//! Service `volumes` (bind, named, anonymous, tmpfs) and top-level `volumes`.

use std::collections::BTreeMap;

use serde_norway::Value;

use super::value::{key_string, untag};
use super::{Ctx, Result};
use crate::compose::locate::KeyPath;
use crate::compose::model::{Mount, MountKind, TmpfsMount, VolumeDef};

const SHORT_FORM: &str = "[SOURCE:]TARGET[:MODE] with an absolute TARGET";

/// A short-syntax source is a host path if it looks like one.
pub fn is_host_path(source: &str) -> bool {
    source.starts_with(['/', '.', '~'])
}

/// Splits "SRC:DST[:MODE]" / "DST"; None if malformed. Returns (source, target, modes).
pub fn split_short(spec: &str) -> Option<(Option<&str>, &str, Vec<&str>)> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, modes) = match parts.as_slice() {
        [t] => (None, *t, ""),
        [s, t] => (Some(*s), *t, ""),
        [s, t, m] => (Some(*s), *t, *m),
        _ => return None,
    };
    let known = [
        "ro",
        "rw",
        "z",
        "Z",
        "nocopy",
        "cached",
        "delegated",
        "consistent",
    ];
    let modes: Vec<&str> = modes.split(',').filter(|m| !m.is_empty()).collect();
    let ok = target.starts_with('/')
        && source.is_none_or(|s| !s.is_empty())
        && modes.iter().all(|m| {
            known.contains(m)
                || m.ends_with("private")
                || m.ends_with("shared")
                || m.ends_with("slave")
        });
    ok.then_some((source, target, modes))
}

fn short(ctx: &Ctx, spec: &str, at: &KeyPath) -> Result<Mount> {
    let (source, target, modes) =
        split_short(spec).ok_or_else(|| ctx.invalid(at, spec, SHORT_FORM))?;
    let (kind, source) = match source {
        None => (MountKind::Volume, None),
        Some(s) if is_host_path(s) => (
            MountKind::Bind,
            Some(ctx.host_path(s).display().to_string()),
        ),
        Some(s) => (MountKind::Volume, Some(s.to_string())),
    };
    Ok(Mount {
        kind,
        source,
        target: target.to_string(),
        read_only: modes.contains(&"ro"),
        nocopy: modes.contains(&"nocopy"),
        tmpfs: None,
    })
}

fn long(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Mount> {
    let map = ctx.mapping(v, at)?;
    let kind_at = at.key("type");
    let kind_text = ctx.string(
        map.get("type").ok_or_else(|| ctx.missing(at, "type"))?,
        &kind_at,
    )?;
    let kind = match kind_text.as_str() {
        "bind" => MountKind::Bind,
        "volume" => MountKind::Volume,
        "tmpfs" => MountKind::Tmpfs,
        _ => return Err(ctx.invalid(&kind_at, &kind_text, "bind, volume or tmpfs")),
    };
    let mut mount = Mount {
        kind,
        source: None,
        target: String::new(),
        read_only: false,
        nocopy: false,
        tmpfs: None,
    };
    for (k, v) in map {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "type" | "consistency" => {}
            "source" => {
                let s = ctx.string(v, &here)?;
                let bind = kind == MountKind::Bind;
                mount.source = Some(if bind {
                    ctx.host_path(&s).display().to_string()
                } else {
                    s
                });
            }
            "target" => mount.target = ctx.string(v, &here)?,
            "read_only" => mount.read_only = ctx.boolean(v, &here)?,
            "volume" => {
                for (k, v) in ctx.mapping(v, &here)? {
                    let key = key_string(k);
                    match key.as_str() {
                        "nocopy" => mount.nocopy = ctx.boolean(v, &here.key(&key))?,
                        _ => ctx.unhandled(&here.key(&key), &key, &["nocopy"], &["subpath"])?,
                    }
                }
            }
            "tmpfs" if kind == MountKind::Tmpfs => mount.tmpfs = Some(tmpfs(ctx, v, &here)?),
            "tmpfs" => {
                return Err(ctx.invalid(
                    &kind_at,
                    &kind_text,
                    "tmpfs (tmpfs: options are for type: tmpfs only)",
                ))
            }
            _ => ctx.unhandled(
                &here,
                &key,
                &[
                    "type",
                    "consistency",
                    "source",
                    "target",
                    "read_only",
                    "volume",
                    "tmpfs",
                ],
                &["bind", "image"],
            )?,
        }
    }
    if !mount.target.starts_with('/') {
        return Err(ctx.invalid(
            &at.key("target"),
            &mount.target,
            "an absolute container path",
        ));
    }
    if kind == MountKind::Bind && mount.source.is_none() {
        return Err(ctx.missing(at, "source"));
    }
    Ok(mount)
}

/// `tmpfs: {size, mode}` of a `type: tmpfs` mount. A mode written `01777`
/// (or quoted) is octal; a plain number is taken as it is, as compose
/// does (so `0o1777` works too).
fn tmpfs(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<TmpfsMount> {
    let mut out = TmpfsMount::default();
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "size" => out.size = Some(super::deploy::bytes(ctx, v, &here)?),
            "mode" => {
                let text = ctx.string(v, &here)?;
                let mode = match untag(v) {
                    Value::Number(n) => n.as_u64().and_then(|m| u32::try_from(m).ok()),
                    _ => u32::from_str_radix(&text, 8).ok(),
                };
                let mode = mode.filter(|m| *m <= 0o7777);
                out.mode = Some(mode.ok_or_else(|| {
                    ctx.invalid(&here, &text, "permission bits such as 01777 or \"0755\"")
                })?);
            }
            _ => ctx.unhandled(&here, &key, &["size", "mode"], &[])?,
        }
    }
    Ok(out)
}

pub fn mounts(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    for (i, item) in ctx.sequence(v, at)?.iter().enumerate() {
        let here = at.index(i);
        let mount = match untag(item) {
            Value::Mapping(_) => long(ctx, item, &here)?,
            other => short(ctx, &ctx.string(other, &here)?, &here)?,
        };
        out.push(mount);
    }
    Ok(out)
}

pub fn definitions(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<BTreeMap<String, VolumeDef>> {
    let mut out = BTreeMap::new();
    for (k, body) in ctx.mapping(v, at)? {
        let name = key_string(k);
        let here = at.key(&name);
        let mut def = VolumeDef::default();
        for (k, v) in ctx.mapping(body, &here)? {
            let key = key_string(k);
            let there = here.key(&key);
            match key.as_str() {
                "name" => def.name = Some(ctx.string(v, &there)?),
                "driver" => def.driver = Some(ctx.string(v, &there)?),
                "external" => def.external = super::networks::external(ctx, v, &there)?,
                "labels" => def.labels = ctx.labels(v, &there)?,
                _ => ctx.unhandled(
                    &there,
                    &key,
                    &["name", "driver", "external", "labels"],
                    &["driver_opts"],
                )?,
            }
        }
        out.insert(name, def);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_split() {
        assert_eq!(split_short("/data"), Some((None, "/data", vec![])));
        assert_eq!(
            split_short("db:/var/lib/db"),
            Some((Some("db"), "/var/lib/db", vec![]))
        );
        assert_eq!(
            split_short("./x:/x:ro,z"),
            Some((Some("./x"), "/x", vec!["ro", "z"]))
        );
        for bad in ["data", "a:b", "a:/b:bogus", ":/x", "a:/b:ro:x"] {
            assert_eq!(split_short(bad), None, "{bad}");
        }
    }

    #[test]
    fn host_paths_are_recognised() {
        assert!(is_host_path("./data") && is_host_path("/abs") && is_host_path("~/x"));
        assert!(!is_host_path("named") && !is_host_path("db_data"));
    }
}
