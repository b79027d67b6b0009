//! A service's `build:`: the short form (a context path) or the long one.

use std::collections::BTreeMap;

use serde_norway::Value;

use super::value::key_string;
use super::{Ctx, Result};
use crate::compose::locate::KeyPath;
use crate::compose::model::BuildSpec;

/// Long-form keys rcorch's builder takes.
const BUILD_KEYS: &[&str] = &[
    "context",
    "dockerfile",
    "dockerfile_inline",
    "target",
    "network",
    "no_cache",
    "pull",
    "tags",
    "args",
    "labels",
];

/// Long-form keys compose defines that rcorch's builder ignores.
const NOT_IMPLEMENTED: &[&str] = &[
    "additional_contexts",
    "cache_from",
    "cache_to",
    "entitlements",
    "extra_hosts",
    "isolation",
    "platforms",
    "privileged",
    "secrets",
    "shm_size",
    "ssh",
    "ulimits",
];

pub fn build(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<BuildSpec> {
    if let Value::String(s) = v {
        return Ok(BuildSpec {
            context: ctx.dir.join(s),
            ..BuildSpec::default()
        });
    }
    let mut spec = BuildSpec {
        context: ctx.dir.to_path_buf(),
        ..BuildSpec::default()
    };
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "context" => spec.context = ctx.dir.join(ctx.string(v, &here)?),
            "dockerfile" => spec.dockerfile = Some(ctx.string(v, &here)?),
            "dockerfile_inline" => spec.dockerfile_inline = Some(ctx.string(v, &here)?),
            "target" => spec.target = Some(ctx.string(v, &here)?),
            "network" => spec.network = Some(ctx.string(v, &here)?),
            "no_cache" => spec.no_cache = ctx.boolean(v, &here)?,
            "pull" => spec.pull = ctx.boolean(v, &here)?,
            "tags" => spec.tags = ctx.string_list(v, &here)?,
            "args" => spec.args = values(ctx.map_or_list(v, &here)?, ctx),
            "labels" => spec.labels = values(ctx.map_or_list(v, &here)?, ctx),
            _ => ctx.unhandled(&here, &key, BUILD_KEYS, NOT_IMPLEMENTED)?,
        }
    }
    Ok(spec)
}

/// `KEY` alone takes the environment's value; unset ones are dropped.
fn values(m: BTreeMap<String, Option<String>>, ctx: &Ctx) -> BTreeMap<String, String> {
    m.into_iter()
        .filter_map(|(k, v)| v.or_else(|| ctx.env.get(&k).cloned()).map(|v| (k, v)))
        .collect()
}
