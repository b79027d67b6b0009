//! The service keys `run` has host-facing flags for: `dns` (`--dns`),
//! `extra_hosts` (`--add-host`), `sysctls` (`--sysctl`), `shm_size`
//! (`--shm-size`), `devices` (`--device`). Parsed here into those flags'
//! own syntax; their values are checked as `run` checks the flags.

use serde_norway::Value;

use super::value::{key_string, scalar_text, untag};
use super::{Ctx, Result};
use crate::compose::locate::KeyPath;

/// `["NAME:IP", "NAME=IP"]` as written, or `{NAME: IP}` / `{NAME: [IP, …]}`
/// as `NAME=IP` (an IPv6 address keeps its colons).
pub fn extra_hosts(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<Vec<String>> {
    let Value::Mapping(m) = untag(v) else {
        return ctx.string_list(v, at);
    };
    let mut out = Vec::new();
    for (k, addresses) in m {
        let name = key_string(k);
        for ip in ctx.string_list(addresses, &at.key(&name))? {
            out.push(format!("{name}={ip}"));
        }
    }
    Ok(out)
}

/// `{KEY: VALUE}` or `["KEY=VALUE"]`, as `--sysctl KEY=VALUE`.
pub fn sysctls(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<Vec<(String, String)>> {
    let entries = ctx.map_or_list(v, at)?;
    let mut out = Vec::new();
    for (key, value) in entries {
        let Some(value) = value else {
            return Err(ctx.invalid(&at.key(&key), &key, "KEY=VALUE"));
        };
        out.push((key, value));
    }
    Ok(out)
}

/// A size ("128m") or a number of bytes, as `--shm-size` takes either.
pub fn shm_size(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<String> {
    scalar_text(v)
        .filter(|_| !matches!(untag(v), Value::Bool(_)))
        .ok_or_else(|| ctx.wrong_type(at, "a size like 64m, or a number of bytes"))
}

/// `HOST[:CONTAINER[:PERMS]]` strings, or `{source, target, permissions}`,
/// as `--device` takes them.
pub fn devices(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, item) in ctx.sequence(v, at)?.iter().enumerate() {
        let here = at.index(i);
        let Value::Mapping(_) = untag(item) else {
            out.push(ctx.string(item, &here)?);
            continue;
        };
        let (mut source, mut target, mut permissions) = (None, None, None);
        for (k, value) in ctx.mapping(item, &here)? {
            let key = key_string(k);
            let there = here.key(&key);
            match key.as_str() {
                "source" => source = Some(ctx.string(value, &there)?),
                "target" => target = Some(ctx.string(value, &there)?),
                "permissions" => permissions = Some(ctx.string(value, &there)?),
                _ => ctx.unhandled(&there, &key, &["source", "target", "permissions"], &[])?,
            }
        }
        let source = source.ok_or_else(|| ctx.missing(&here, "source"))?;
        let spec = match (target, permissions) {
            (None, None) => source,
            (target, None) => format!("{source}:{}", target.unwrap_or_default()),
            (target, Some(p)) => {
                let target = target.unwrap_or_else(|| source.clone());
                format!("{source}:{target}:{p}")
            }
        };
        out.push(spec);
    }
    Ok(out)
}
