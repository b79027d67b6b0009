//! Probes as the compose healthcheck: liveness (else readiness) is the
//! check, a startup probe (or an initial delay) its start period; the
//! action's command comes from [`super::probe_action`].

use serde_json::{json, Map, Value};

use super::docs::Doc;
use super::walk::{Ignored, PlayError};
use super::workload::insert;
use super::Out;
use crate::compose::locate::KeyPath;

type Result<T> = std::result::Result<T, PlayError>;

/// A probe's command and timing, Kubernetes' defaults applied.
#[derive(Debug, PartialEq)]
struct Probe {
    command: Vec<String>,
    period: u64,
    timeout: u64,
    failures: u64,
    delay: u64,
}

fn probe(doc: &Doc, p: &Value, at: &KeyPath, c: &Value, out: &mut Out) -> Result<Probe> {
    let ignored: Ignored = &[
        (
            "successThreshold",
            "one passing check makes a replica healthy",
        ),
        (
            "terminationGracePeriodSeconds",
            "the pod's grace period applies",
        ),
    ];
    let supported = [
        "exec",
        "httpGet",
        "tcpSocket",
        "grpc",
        "periodSeconds",
        "timeoutSeconds",
        "failureThreshold",
        "initialDelaySeconds",
    ];
    doc.fields(p, at, &supported, ignored, out)?;
    let command = super::probe_action::command(doc, p, at, c, out)?;
    let secs = |key: &str, default: u64| -> Result<u64> {
        Ok(doc.uint::<u64>(p, at, key)?.unwrap_or(default))
    };
    Ok(Probe {
        command,
        period: secs("periodSeconds", 10)?.max(1),
        timeout: secs("timeoutSeconds", 1)?.max(1),
        failures: secs("failureThreshold", 3)?.max(1),
        delay: secs("initialDelaySeconds", 0)?,
    })
}

pub fn healthcheck(
    doc: &Doc,
    c: &Value,
    at: &KeyPath,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    let mut read = |key: &str| -> Result<Option<Probe>> {
        doc.get(c, key)
            .map(|p| probe(doc, p, &at.key(key), c, out))
            .transpose()
    };
    let (live, ready, startup) = (
        read("livenessProbe")?,
        read("readinessProbe")?,
        read("startupProbe")?,
    );
    let check = match (live, ready) {
        (Some(l), Some(r)) => {
            if l.command != r.command {
                let reason = "rcorch runs one check: the liveness probe's decides readiness too";
                doc.warn(out, &at.key("readinessProbe"), reason);
            }
            l
        }
        (Some(l), None) => l,
        (None, Some(r)) => {
            let reason =
                "the only probe becomes the healthcheck, which also restarts an unhealthy replica";
            doc.warn(out, &at.key("readinessProbe"), reason);
            r
        }
        (None, None) => {
            if startup.is_some() {
                return Err(doc.err(&at.key("startupProbe"), "needs a livenessProbe here"));
            }
            return Ok(());
        }
    };
    let mut hc = json!({
        "test": std::iter::once("CMD".to_string()).chain(check.command).collect::<Vec<_>>(),
        "interval": format!("{}s", check.period),
        "timeout": format!("{}s", check.timeout),
        "retries": check.failures,
    });
    let (mut start, mut interval) = (check.delay, None);
    if let Some(s) = startup {
        start += s.period * s.failures;
        interval = Some(s.period);
    }
    if start > 0 {
        hc["start_period"] = json!(format!("{start}s"));
    }
    if let Some(i) = interval {
        hc["start_interval"] = json!(format!("{i}s"));
    }
    insert(svc, "healthcheck", hc);
    Ok(())
}
