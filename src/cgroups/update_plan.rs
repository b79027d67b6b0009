//! `update`: a running container's new limits from its current ones and the
//! flags given, with the same rules `run` applies. Pure.

use super::convert::{parse_cpus, parse_memory, parse_pids_limit, ConvertError, Limits};
use super::tuning::{self, TuningRequest};

/// The flags of one `update`, as the user wrote them; None leaves a limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitChanges {
    pub memory: Option<String>,
    pub cpus: Option<String>,
    /// `-1`/`0` lift the limit.
    pub pids_limit: Option<String>,
    pub tuning: TuningRequest,
}

impl LimitChanges {
    pub fn is_empty(&self) -> bool {
        *self == LimitChanges::default()
    }
}

/// What to write: the merged limits, and whether pids.max must go back to
/// "max" (a limit that was set and is now lifted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePlan {
    pub limits: Limits,
    pub lift_pids: bool,
}

/// `current` with `changes` laid over it, checked as `run` checks.
pub fn plan_update(
    current: &Limits,
    changes: &LimitChanges,
    host_cpus: usize,
) -> Result<UpdatePlan, ConvertError> {
    let mut limits = current.clone();
    if let Some(m) = &changes.memory {
        limits.memory = Some(parse_memory(m)?);
    }
    if let Some(c) = &changes.cpus {
        limits.cpu = Some(parse_cpus(c, host_cpus)?);
    }
    let mut lift_pids = false;
    if let Some(p) = &changes.pids_limit {
        limits.pids = parse_pids_limit(p)?;
        lift_pids = limits.pids.is_none() && current.pids.is_some();
    }
    tuning::apply_request(&changes.tuning, &mut limits, host_cpus)?;
    Ok(UpdatePlan { limits, lift_pids })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::tuning::Swap;

    const MIB: u64 = 1 << 20;

    fn current() -> Limits {
        Limits {
            memory: Some(64 * MIB),
            pids: Some(20),
            cpu_shares: Some(512),
            ..Limits::default()
        }
    }

    #[test]
    fn changes_replace_only_what_they_name() {
        let changes = LimitChanges {
            memory: Some("128m".into()),
            cpus: Some("0.5".into()),
            ..LimitChanges::default()
        };
        let plan = plan_update(&current(), &changes, 2).unwrap();
        assert_eq!(plan.limits.memory, Some(128 * MIB));
        assert_eq!(plan.limits.cpu.unwrap().quota_us, 50_000);
        assert_eq!(plan.limits.pids, Some(20));
        assert_eq!(plan.limits.cpu_shares, Some(512));
        assert!(!plan.lift_pids);
    }

    #[test]
    fn a_lifted_pids_limit_is_reset() {
        let changes = LimitChanges {
            pids_limit: Some("-1".into()),
            ..LimitChanges::default()
        };
        let plan = plan_update(&current(), &changes, 2).unwrap();
        assert_eq!(plan.limits.pids, None);
        assert!(plan.lift_pids);
    }

    #[test]
    fn the_merged_limits_are_checked_as_run_checks_them() {
        let with_swap = Limits {
            memory_swap: Some(Swap::Total(96 * MIB)),
            ..current()
        };
        // Raising memory above the existing memory+swap total: refused, as Docker.
        let changes = LimitChanges {
            memory: Some("128m".into()),
            ..LimitChanges::default()
        };
        let e = plan_update(&with_swap, &changes, 2).unwrap_err();
        assert!(matches!(e, ConvertError::SwapBelowMemory { .. }), "{e}");
        let both = LimitChanges {
            tuning: TuningRequest {
                memory_swap: Some("256m".into()),
                ..TuningRequest::default()
            },
            ..changes
        };
        let plan = plan_update(&with_swap, &both, 2).unwrap();
        assert_eq!(plan.limits.memory_swap, Some(Swap::Total(256 * MIB)));
        let bad = LimitChanges {
            cpus: Some("9".into()),
            ..LimitChanges::default()
        };
        assert!(plan_update(&current(), &bad, 2).is_err());
    }
}
