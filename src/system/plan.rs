//! What `system check --repair` does with each unreadable record, decided
//! from the record's kind alone: restore it when what it says can be
//! rebuilt from what survives, remove it when it cannot and it only
//! describes itself, set it aside (renamed `*.damaged`, never deleted)
//! when it held the user's intent.

use std::path::PathBuf;

/// Which record a finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `containers/ID/config.json`: what to run; nothing else says it.
    ContainerConfig { id: String },
    /// `containers/ID/state.json`; `live`: the container still has processes.
    ContainerState { id: String, live: bool },
    /// `projects/NAME/desired.json`: the applied compose model.
    ProjectDesired { project: String },
    /// `projects/NAME/history.json`: the revisions `rollback` goes back to.
    ProjectHistory { project: String },
    /// `projects/NAME/{health,rollouts}.json`: the supervisor rewrites them.
    ProjectCache,
    /// `networks/state.json` of earlier versions: every network at once.
    NetworkState,
    /// `networks/records/NAME.json`: a network, its leases and services;
    /// `recovered`: its copy is whole.
    NetworkRecord { name: String, recovered: bool },
    /// `volumes/NAME/meta.json`; the data is beside it.
    VolumeMeta { name: String },
    /// `images/images.json` of earlier versions: the names of every image.
    ImageIndex,
    /// `images/records/HEX.json`: one image; `recovered`: its copy is whole.
    ImageRecord { id: String, recovered: bool },
    /// A bridge whose alias names a network no record holds.
    OrphanBridge { bridge: String },
    /// An nft table marked as a root's that holds no network state any
    /// more (`network::stale_tables`): its rules would take ports.
    StaleTable { table: String, root: PathBuf },
    /// `images/layers/HEX`: a layer no image, container or build names.
    OrphanLayer { digest: String },
}

/// One unreadable record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    pub path: PathBuf,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// A stopped container's state: rewritten as exited (code unknown).
    RestoreExitedState,
    /// Its processes stopped, its cgroup, network and directory removed.
    RemoveContainer,
    /// Rewritten from its copy: nothing is lost.
    RestoreFromCopy,
    /// The volume's metadata rewritten from its name (labels are lost).
    RestoreVolumeMeta,
    /// Deleted: rewritten by its owner on its next pass.
    Discard,
    /// Renamed `*.damaged` so the next write starts afresh; `then` is what
    /// the user does to get back what it held.
    SetAside { then: String },
    /// Deleted, unless something came to use it meanwhile.
    RemoveLayer,
    /// Deleted once no container is plugged into it.
    RemoveBridge,
    /// Deleted, unless its root came back meanwhile.
    RemoveTable,
    /// Nothing now: the container is running and its monitor rewrites the
    /// state when it exits (or `rm -f` it).
    LeaveRunning,
}

pub fn plan(kind: &Kind) -> Repair {
    match kind {
        Kind::ContainerConfig { .. } => Repair::RemoveContainer,
        Kind::ContainerState { live: false, .. } => Repair::RestoreExitedState,
        Kind::ContainerState { live: true, .. } => Repair::LeaveRunning,
        Kind::ProjectDesired { project } => Repair::SetAside {
            then: format!("run `rcorch up -p {project} -f FILE` again"),
        },
        Kind::ProjectHistory { .. } => Repair::SetAside {
            then: "its earlier revisions are lost; the next `up` starts a new history".into(),
        },
        Kind::ProjectCache => Repair::Discard,
        Kind::NetworkState => Repair::SetAside {
            then: "create your networks again (`rcorch network create`) and restart the containers that used them".into(),
        },
        Kind::NetworkRecord {
            recovered: true, ..
        } => Repair::RestoreFromCopy,
        Kind::NetworkRecord { name, .. } => Repair::SetAside {
            then: format!("create the network again (`rcorch network create {name}`) and restart the containers that used it"),
        },
        Kind::ImageRecord {
            recovered: true, ..
        } => Repair::RestoreFromCopy,
        Kind::ImageRecord { .. } => Repair::SetAside {
            then: "import, load or pull the image again (layers no other image uses go with it)".into(),
        },
        Kind::VolumeMeta { .. } => Repair::RestoreVolumeMeta,
        Kind::OrphanLayer { .. } => Repair::RemoveLayer,
        Kind::OrphanBridge { .. } => Repair::RemoveBridge,
        Kind::StaleTable { .. } => Repair::RemoveTable,
        Kind::ImageIndex => Repair::SetAside {
            then: "import, load or pull your images again (their layers are kept)".into(),
        },
    }
}

impl Repair {
    /// What was (or, without --repair, would be) done, for the report.
    pub fn describe(&self) -> String {
        match self {
            Repair::RestoreExitedState => "restored: recorded as exited".into(),
            Repair::RemoveContainer => {
                "removed: its configuration cannot be restored (processes stopped)".into()
            }
            Repair::RestoreVolumeMeta => "restored: metadata rewritten (labels lost)".into(),
            Repair::RestoreFromCopy => "restored from its copy".into(),
            Repair::Discard => "removed: rebuilt by the project's supervisor".into(),
            Repair::RemoveLayer => "removed: no image or container uses it".into(),
            Repair::RemoveBridge => "removed: no network or container uses it".into(),
            Repair::RemoveTable => {
                "removed: its root is gone (with that root's bridges nothing uses)".into()
            }
            Repair::SetAside { then } => format!("set aside as *.damaged: {then}"),
            Repair::LeaveRunning => {
                "left: the container is running; its monitor rewrites the state when it exits (or `rcorch rm -f` it)".into()
            }
        }
    }

    /// Whether the record is whole (or gone) after the repair.
    pub fn resolves(&self) -> bool {
        !matches!(self, Repair::LeaveRunning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_survives_is_restored_and_what_cannot_be_is_removed_or_set_aside() {
        let id = || "c".repeat(64);
        assert_eq!(
            plan(&Kind::ContainerConfig { id: id() }),
            Repair::RemoveContainer
        );
        assert_eq!(
            plan(&Kind::ContainerState {
                id: id(),
                live: false
            }),
            Repair::RestoreExitedState
        );
        assert_eq!(
            plan(&Kind::ContainerState {
                id: id(),
                live: true
            }),
            Repair::LeaveRunning
        );
        assert_eq!(
            plan(&Kind::VolumeMeta {
                name: "data".into()
            }),
            Repair::RestoreVolumeMeta
        );
        assert_eq!(plan(&Kind::ProjectCache), Repair::Discard);
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(plan(&Kind::OrphanLayer { digest }), Repair::RemoveLayer);
        let bridge = "rcorch3".to_string();
        assert_eq!(plan(&Kind::OrphanBridge { bridge }), Repair::RemoveBridge);
        let stale = Kind::StaleTable {
            table: "rcorch-0123abcd".into(),
            root: "/tmp/gone".into(),
        };
        assert_eq!(plan(&stale), Repair::RemoveTable);
        assert_eq!(
            plan(&Kind::NetworkRecord {
                name: "a".into(),
                recovered: true
            }),
            Repair::RestoreFromCopy
        );
    }

    #[test]
    fn the_users_intent_is_never_deleted_and_the_way_back_is_named() {
        for kind in [
            Kind::ProjectDesired {
                project: "shop".into(),
            },
            Kind::ProjectHistory {
                project: "shop".into(),
            },
            Kind::NetworkState,
            Kind::NetworkRecord {
                name: "a".into(),
                recovered: false,
            },
            Kind::ImageIndex,
        ] {
            let repair = plan(&kind);
            assert!(matches!(repair, Repair::SetAside { .. }), "{kind:?}");
            assert!(repair.describe().contains(".damaged"), "{kind:?}");
        }
        let desired = plan(&Kind::ProjectDesired {
            project: "shop".into(),
        });
        assert!(desired.describe().contains("rcorch up -p shop"));
    }

    #[test]
    fn only_a_running_container_is_left_unresolved() {
        assert!(!Repair::LeaveRunning.resolves());
        assert!(Repair::RemoveContainer.resolves());
        assert!(Repair::Discard.resolves());
    }
}
