//! Service `networks` (list or map with aliases) and top-level `networks`.

use std::collections::BTreeMap;

use serde_norway::Value;

use super::value::{key_string, untag};
use super::{Ctx, Result};
use crate::compose::locate::KeyPath;
use crate::compose::model::{NetworkDef, ServiceNetwork};

pub fn attachments(
    ctx: &mut Ctx,
    v: &Value,
    at: &KeyPath,
) -> Result<BTreeMap<String, ServiceNetwork>> {
    let mut out = BTreeMap::new();
    if let Value::Sequence(_) = untag(v) {
        for name in ctx.string_list(v, at)? {
            out.insert(name, ServiceNetwork::default());
        }
        return Ok(out);
    }
    for (k, body) in ctx.mapping(v, at)? {
        let name = key_string(k);
        let here = at.key(&name);
        let mut net = ServiceNetwork::default();
        for (k, v) in ctx.mapping(body, &here)? {
            let key = key_string(k);
            let there = here.key(&key);
            match key.as_str() {
                "aliases" => net.aliases = ctx.string_list(v, &there)?,
                "ipv4_address" => {
                    let text = ctx.string(v, &there)?;
                    let ip = text
                        .parse()
                        .map_err(|_| ctx.invalid(&there, &text, "an IPv4 address"))?;
                    net.ipv4_address = Some(ip);
                }
                _ => ctx.unhandled(
                    &there,
                    &key,
                    &["aliases", "ipv4_address"],
                    &[
                        "ipv6_address",
                        "link_local_ips",
                        "mac_address",
                        "driver_opts",
                        "priority",
                        "gw_priority",
                        "interface_name",
                    ],
                )?,
            }
        }
        out.insert(name, net);
    }
    Ok(out)
}

/// `external: true`, or the legacy `external: {name: x}`.
pub fn external(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<bool> {
    match untag(v) {
        Value::Mapping(_) => Ok(true),
        other => ctx.boolean(other, at),
    }
}

pub fn definitions(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<BTreeMap<String, NetworkDef>> {
    let mut out = BTreeMap::new();
    for (k, body) in ctx.mapping(v, at)? {
        let name = key_string(k);
        let here = at.key(&name);
        let mut def = NetworkDef::default();
        for (k, v) in ctx.mapping(body, &here)? {
            let key = key_string(k);
            let there = here.key(&key);
            match key.as_str() {
                "name" => def.name = Some(ctx.string(v, &there)?),
                "driver" => def.driver = Some(ctx.string(v, &there)?),
                "external" => def.external = external(ctx, v, &there)?,
                "internal" => def.internal = ctx.boolean(v, &there)?,
                "labels" => def.labels = ctx.labels(v, &there)?,
                _ => ctx.unhandled(
                    &there,
                    &key,
                    &["name", "driver", "external", "internal", "labels"],
                    &[
                        "attachable",
                        "driver_opts",
                        "enable_ipv4",
                        "enable_ipv6",
                        "ipam",
                    ],
                )?,
            }
        }
        out.insert(name, def);
    }
    Ok(out)
}
