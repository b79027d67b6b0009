//! `batch/v1` Job as a one-shot service: `completions` replicas, each run
//! until it exits 0, a failed one retried up to `backoffLimit` times
//! (`deploy.restart_policy` on-failure with that many attempts).

use serde_json::{json, Map, Value};

use super::docs::Doc;
use super::walk::{Ignored, PlayError};
use super::workload::insert;
use super::Out;
use crate::compose::locate::KeyPath;

type Result<T> = std::result::Result<T, PlayError>;

/// The Job controller's default retries.
const BACKOFF_LIMIT: u32 = 6;

pub fn job(
    doc: &Doc,
    spec: &Value,
    at: &KeyPath,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    let supported = [
        "template",
        "selector",
        "manualSelector",
        "completions",
        "parallelism",
        "backoffLimit",
    ];
    let ignored: Ignored = &[(
        "ttlSecondsAfterFinished",
        "a finished Job's replicas are kept until kube down",
    )];
    doc.fields(spec, at, &supported, ignored, out)?;
    let count = |key: &str| -> Result<u32> {
        match doc.uint::<u32>(spec, at, key)? {
            None => Ok(1),
            Some(0) => Err(doc.err(&at.key(key), "0 runs nothing (suspend is not run here)")),
            Some(n) => Ok(n),
        }
    };
    let completions = count("completions")?;
    let parallelism = count("parallelism")?;
    if parallelism < completions {
        let reason =
            format!("all {completions} completions run at once here, not {parallelism} at a time");
        doc.warn(out, &at.key("parallelism"), &reason);
    }
    let backoff = doc
        .uint::<u32>(spec, at, "backoffLimit")?
        .unwrap_or(BACKOFF_LIMIT);
    // Each completion is its own replica; its retries count for it alone.
    let policy = json!({"condition": "on-failure", "max_attempts": backoff});
    insert(
        svc,
        "deploy",
        json!({"replicas": completions, "restart_policy": policy}),
    );
    Ok(())
}
