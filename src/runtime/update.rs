//! `update`: new limits on a container's live cgroup and in its record (so
//! `inspect` shows them), as `docker update` does. A stopped container only
//! gets its record changed. If the cgroup refuses a value, the old limits
//! are written back and the record is left as it was.

use thiserror::Error;

use super::control::observed_status;
use crate::cgroups::update_plan::{plan_update, LimitChanges};
use crate::cgroups::{CgroupError, ConvertError};
use crate::container::restart::RestartPolicy;
use crate::container::store::{write_json_atomic, Record, StoreError};
use crate::container::Status;
use crate::instance::{Instance, InstanceError};

#[derive(Debug, Error)]
pub enum UpdateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Instance(#[from] InstanceError),
    #[error("updating {name}: {source}")]
    Limit { name: String, source: ConvertError },
    #[error("updating {name}: {source}")]
    Cgroup { name: String, source: CgroupError },
    #[error(
        "cannot update the restart policy of {name}: it was started with --rm \
         (remove it and run it again without --rm)"
    )]
    AutoRemove { name: String },
}

/// Applies `changes` (and a new restart policy, which its monitor reads at
/// the next exit) to the container `reference`; returns its new record.
pub fn update(
    instance: &Instance,
    reference: &str,
    (changes, restart): (&LimitChanges, Option<RestartPolicy>),
    host_cpus: usize,
) -> Result<Record, UpdateError> {
    let store = &instance.containers;
    let _lock = store.lock()?;
    let mut record = store.load(&store.resolve(reference)?)?;
    let name = record.config.name.clone();
    if restart.is_some_and(|r| !r.is_no()) && record.config.auto_remove {
        return Err(UpdateError::AutoRemove { name });
    }
    let plan = plan_update(&record.config.limits, changes, host_cpus).map_err(|source| {
        UpdateError::Limit {
            name: name.clone(),
            source,
        }
    })?;
    if !changes.is_empty() && observed_status(&record.state) == Status::Running {
        let config = &record.config;
        let cgroup = instance.container_cgroup(config)?;
        let applied = cgroup
            .apply_limits(&plan.limits)
            .and_then(|()| match plan.lift_pids {
                true => cgroup.lift_pids_limit(),
                false => Ok(()),
            });
        if let Err(source) = applied {
            let _ = cgroup.apply_limits(&config.limits);
            return Err(UpdateError::Cgroup { name, source });
        }
    }
    record.config.limits = plan.limits;
    if let Some(policy) = restart {
        record.config.restart = policy;
    }
    let path = store.container_dir(&record.config.id).join("config.json");
    write_json_atomic(&path, &record.config)?;
    Ok(record)
}
