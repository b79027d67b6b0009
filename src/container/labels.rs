//! Labels that tie a container to its project, service, slot and revision.
//! They live with the container (not the project module) because the layers
//! below the project — the runtime and volumes — read them too.

pub const LABEL_PROJECT: &str = "rcorch.project";
pub const LABEL_SERVICE: &str = "rcorch.service";
pub const LABEL_SLOT: &str = "rcorch.slot";
pub const LABEL_REVISION: &str = "rcorch.revision";

/// What a replica reserves (compose deploy.resources.reservations), kept on
/// the container so every supervisor on the host can sum what is taken.
pub const LABEL_RESERVE_CPUS: &str = "rcorch.reserve.cpus";
pub const LABEL_RESERVE_MEMORY: &str = "rcorch.reserve.memory";
pub const LABEL_RESERVE_PIDS: &str = "rcorch.reserve.pids";
