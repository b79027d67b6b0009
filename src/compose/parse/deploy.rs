//! `deploy`, `restart` and `healthcheck`: how replicas are kept alive.

use serde_norway::Value;

use super::value::{key_string, untag};
use super::{Ctx, Result};
use crate::compose::error::WarningKind;
use crate::compose::locate::KeyPath;
use crate::compose::model::{
    Deploy, EndpointMode, FailureAction, HealthTest, Healthcheck, Limits, Placement, Reservations,
    Resources, Restart, RestartCondition, RestartPolicy, UpdateConfig, UpdateOrder,
};
use crate::compose::scalar;

/// A byte size: a number of bytes or "512m".
pub fn bytes(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<u64> {
    let text = ctx.string(v, at)?;
    scalar::parse_bytes(&text).ok_or_else(|| ctx.invalid(at, &text, "a size like 512m or 1g"))
}

/// One of `choices` (as written in the file) mapped to its value.
fn choice<T: Copy>(
    ctx: &Ctx,
    v: &Value,
    at: &KeyPath,
    choices: &[(&str, T)],
    expected: &'static str,
) -> Result<T> {
    let text = ctx.string(v, at)?;
    choices
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, t)| *t)
        .ok_or_else(|| ctx.invalid(at, &text, expected))
}

pub fn restart(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<Restart> {
    // YAML 1.1 readers turn a bare `no` into false.
    if let Value::Bool(false) = untag(v) {
        return Ok(Restart::No);
    }
    let text = ctx.string(v, at)?;
    let expected = "no, always, on-failure[:N] or unless-stopped";
    match text.as_str() {
        "no" => Ok(Restart::No),
        "always" => Ok(Restart::Always),
        "unless-stopped" => Ok(Restart::UnlessStopped),
        "on-failure" => Ok(Restart::OnFailure { max_retries: None }),
        other => match other.strip_prefix("on-failure:").map(str::parse) {
            Some(Ok(n)) => Ok(Restart::OnFailure {
                max_retries: Some(n),
            }),
            _ => Err(ctx.invalid(at, &text, expected)),
        },
    }
}

pub fn healthcheck(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Healthcheck> {
    let mut hc = Healthcheck::default();
    let mut disable = false;
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "test" => hc.test = Some(health_test(ctx, v, &here)?),
            "interval" => hc.interval = ctx.duration(v, &here)?,
            "timeout" => hc.timeout = ctx.duration(v, &here)?,
            "retries" => hc.retries = ctx.uint(v, &here)?,
            "start_period" => hc.start_period = ctx.duration(v, &here)?,
            "start_interval" => hc.start_interval = ctx.duration(v, &here)?,
            "disable" => disable = ctx.boolean(v, &here)?,
            _ => ctx.unhandled(&here, &key, HEALTHCHECK_KEYS, &[])?,
        }
    }
    if disable {
        hc.test = Some(HealthTest::None);
    }
    Ok(hc)
}

fn health_test(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<HealthTest> {
    let words = match untag(v) {
        Value::Sequence(_) => ctx.string_list(v, at)?,
        _ => return Ok(HealthTest::CmdShell(ctx.string(v, at)?)),
    };
    let expected = "[\"CMD\", args...], [\"CMD-SHELL\", command], [\"NONE\"] or a string";
    match words.split_first() {
        Some((first, rest)) if first == "CMD" && !rest.is_empty() => {
            Ok(HealthTest::Cmd(rest.to_vec()))
        }
        Some((first, rest)) if first == "CMD-SHELL" && !rest.is_empty() => {
            Ok(HealthTest::CmdShell(rest.join(" ")))
        }
        Some((first, _)) if first == "NONE" => Ok(HealthTest::None),
        _ => Err(ctx.invalid(at, words.join(" "), expected)),
    }
}

const DEPLOY_KEYS: &[&str] = &[
    "mode",
    "replicas",
    "resources",
    "restart_policy",
    "update_config",
    "rollback_config",
    "endpoint_mode",
    "labels",
    "placement",
];
const DEPLOY_NOT_IMPLEMENTED: &[&str] = &[];
const HEALTHCHECK_KEYS: &[&str] = &[
    "test",
    "interval",
    "timeout",
    "retries",
    "start_period",
    "start_interval",
    "disable",
];
const RESTART_POLICY_KEYS: &[&str] = &["condition", "delay", "max_attempts", "window"];
const UPDATE_CONFIG_KEYS: &[&str] = &[
    "parallelism",
    "delay",
    "monitor",
    "failure_action",
    "max_failure_ratio",
    "order",
];

pub fn deploy(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Deploy> {
    let mut d = Deploy::default();
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "mode" => {
                let global = choice(
                    ctx,
                    v,
                    &here,
                    &[("replicated", false), ("global", true)],
                    "replicated or global",
                )?;
                if global {
                    ctx.warn(&here, WarningKind::NotImplemented);
                }
            }
            "replicas" => d.replicas = Some(ctx.uint(v, &here)?),
            "resources" => d.resources = resources(ctx, v, &here)?,
            "restart_policy" => d.restart_policy = Some(restart_policy(ctx, v, &here)?),
            "update_config" => d.update_config = update_config(ctx, v, &here)?,
            "rollback_config" => d.rollback_config = update_config(ctx, v, &here)?,
            "endpoint_mode" => {
                let modes = [("vip", EndpointMode::Vip), ("dnsrr", EndpointMode::Dnsrr)];
                d.endpoint_mode = choice(ctx, v, &here, &modes, "vip or dnsrr")?;
            }
            "labels" => d.labels = ctx.labels(v, &here)?,
            "placement" => d.placement = placement(ctx, v, &here)?,
            _ => ctx.unhandled(&here, &key, DEPLOY_KEYS, DEPLOY_NOT_IMPLEMENTED)?,
        }
    }
    Ok(d)
}

fn resources(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Resources> {
    let mut r = Resources::default();
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "limits" => r.limits = limits(ctx, v, &here)?,
            "reservations" => r.reservations = reservations(ctx, v, &here)?,
            _ => ctx.unhandled(&here, &key, &["limits", "reservations"], &[])?,
        }
    }
    Ok(r)
}

fn limits(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Limits> {
    let mut limits = Limits::default();
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let there = at.key(&key);
        match key.as_str() {
            "cpus" => limits.cpus = Some(ctx.float(v, &there)?),
            "memory" => limits.memory = Some(bytes(ctx, v, &there)?),
            "pids" => limits.pids = Some(ctx.int(v, &there)?),
            _ => ctx.unhandled(&there, &key, &["cpus", "memory", "pids"], &["devices"])?,
        }
    }
    Ok(limits)
}

fn reservations(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Reservations> {
    let mut r = Reservations::default();
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let there = at.key(&key);
        match key.as_str() {
            "cpus" => r.cpus = Some(ctx.float(v, &there)?),
            "memory" => r.memory = Some(bytes(ctx, v, &there)?),
            "pids" => r.pids = Some(u64::from(ctx.uint(v, &there)?)),
            _ => ctx.unhandled(
                &there,
                &key,
                &["cpus", "memory", "pids"],
                &["devices", "generic_resources"],
            )?,
        }
    }
    Ok(r)
}

/// `constraints: [..]` and `preferences: [{spread: X}]`, kept as text.
fn placement(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Placement> {
    let mut p = Placement::default();
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "constraints" => p.constraints = ctx.string_list(v, &here)?,
            "preferences" => {
                for (i, item) in ctx.sequence(v, &here)?.iter().enumerate() {
                    let there = here.key(&i.to_string());
                    for (pk, pv) in ctx.mapping(item, &there)? {
                        let kind = key_string(pk);
                        let value = ctx.string(pv, &there.key(&kind))?;
                        p.preferences.push(format!("{kind}={value}"));
                    }
                }
            }
            _ => ctx.unhandled(
                &here,
                &key,
                &["constraints", "preferences"],
                &["max_replicas_per_node"],
            )?,
        }
    }
    Ok(p)
}

fn restart_policy(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<RestartPolicy> {
    let mut p = RestartPolicy::default();
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "condition" => {
                let conditions = [
                    ("none", RestartCondition::None),
                    ("on-failure", RestartCondition::OnFailure),
                    ("any", RestartCondition::Any),
                ];
                p.condition = choice(ctx, v, &here, &conditions, "none, on-failure or any")?;
            }
            "delay" => p.delay = ctx.duration(v, &here)?,
            // 0 means "no limit", as in Swarm.
            "max_attempts" => p.max_attempts = Some(ctx.uint(v, &here)?).filter(|n| *n > 0),
            "window" => p.window = Some(ctx.duration(v, &here)?).filter(|w| !w.is_zero()),
            _ => ctx.unhandled(&here, &key, RESTART_POLICY_KEYS, &[])?,
        }
    }
    Ok(p)
}

fn update_config(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<UpdateConfig> {
    let mut u = UpdateConfig::default();
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "parallelism" => u.parallelism = ctx.uint(v, &here)?,
            "delay" => u.delay = ctx.duration(v, &here)?,
            "monitor" => u.monitor = ctx.duration(v, &here)?,
            "failure_action" => {
                let actions = [
                    ("pause", FailureAction::Pause),
                    ("continue", FailureAction::Continue),
                    ("rollback", FailureAction::Rollback),
                ];
                u.failure_action = choice(ctx, v, &here, &actions, "pause, continue or rollback")?;
            }
            "max_failure_ratio" => {
                u.max_failure_ratio = ctx.float(v, &here)?;
                if !(0.0..=1.0).contains(&u.max_failure_ratio) {
                    return Err(ctx.invalid(&here, u.max_failure_ratio, "a ratio between 0 and 1"));
                }
            }
            "order" => {
                let orders = [
                    ("stop-first", UpdateOrder::StopFirst),
                    ("start-first", UpdateOrder::StartFirst),
                ];
                u.order = choice(ctx, v, &here, &orders, "stop-first or start-first")?;
            }
            _ => ctx.unhandled(&here, &key, UPDATE_CONFIG_KEYS, &[])?,
        }
    }
    Ok(u)
}
