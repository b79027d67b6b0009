//! `x-rcorch-autoscale`: a service's autoscaling bounds and targets.

use serde_norway::Value;

use super::value::{key_string, untag};
use super::{Ctx, Result};
use crate::compose::locate::KeyPath;
use crate::compose::model::Autoscale;

/// The service key of rcorch's autoscaler.
pub const KEY: &str = "x-rcorch-autoscale";

/// The key without rcorch's namespace: an extension no tool reads, which a
/// user writes meaning rcorch's (refused, so autoscaling is never silently off).
pub const MISNAMED: &str = "x-autoscale";

const SHAPE: &str = "a mapping with max and target_cpu or target_connections (min, window and interval optional), like {max: 5, target_cpu: 50}";

pub fn autoscale(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Autoscale> {
    let mut a = Autoscale {
        min: 1,
        max: 0,
        target_cpu: None,
        target_connections: None,
        window: Autoscale::DEFAULT_WINDOW,
        interval: Autoscale::DEFAULT_INTERVAL,
    };
    let mut saw_max = false;
    let body = match untag(v) {
        Value::Mapping(m) => m,
        _ => return Err(ctx.wrong_type(at, SHAPE)),
    };
    for (k, v) in body {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "min" => a.min = replicas(ctx, v, &here)?,
            "max" => {
                a.max = replicas(ctx, v, &here)?;
                saw_max = true;
            }
            "target_cpu" => a.target_cpu = Some(positive(ctx, v, &here)?),
            "target_connections" => a.target_connections = Some(positive(ctx, v, &here)?),
            "window" => a.window = ctx.duration(v, &here)?,
            "interval" => {
                a.interval = ctx.duration(v, &here)?;
                if a.interval.is_zero() {
                    return Err(ctx.invalid(&here, "0s", "a positive duration"));
                }
            }
            _ => ctx.unhandled(
                &here,
                &key,
                &[
                    "min",
                    "max",
                    "target_cpu",
                    "target_connections",
                    "window",
                    "interval",
                ],
                &[],
            )?,
        }
    }
    if !saw_max {
        return Err(ctx.missing(at, "max"));
    }
    if a.target_cpu.is_none() && a.target_connections.is_none() {
        return Err(ctx.missing(at, "target_cpu"));
    }
    if a.min > a.max {
        let expected = "a replica count no larger than max";
        return Err(ctx.invalid(&at.key("min"), a.min, expected));
    }
    Ok(a)
}

/// At least one replica: with none there is nothing to measure.
fn replicas(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<u32> {
    let n = ctx.uint(v, at)?;
    if n == 0 {
        return Err(ctx.invalid(at, n, "a replica count of at least 1"));
    }
    Ok(n)
}

fn positive(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<f64> {
    let x = ctx.float(v, at)?;
    if !(x.is_finite() && x > 0.0) {
        return Err(ctx.invalid(at, x, "a positive number"));
    }
    Ok(x)
}
