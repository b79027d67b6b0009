//! One rcorch instance: everything under a root directory (images,
//! containers, logs, state) plus the cgroup parent its containers live in.
//! Tests open their own instance; nothing here is global.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::cgroups::{self, CgroupError, CgroupManager, Layout};
use crate::container::store::{ContainerStore, StoreError};
use crate::container::ContainerConfig;
use crate::image::{ImageError, ImageStore};

pub mod root_use;

pub const DEFAULT_ROOT: &str = "/var/lib/rcorch";
pub const DEFAULT_CGROUP_PARENT: &str = "rcorch";
const MOUNTINFO: &str = "/proc/self/mountinfo";

#[derive(Debug, Error)]
pub enum InstanceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("cannot resolve the state root {path}: {source}")]
    Root {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct Instance {
    pub root: PathBuf,
    pub cgroup_parent: String,
    /// Who makes new containers' cgroups (`--cgroup-manager`); existing
    /// containers keep the one in their record.
    pub cgroup_manager: cgroups::systemd::Driver,
    pub containers: ContainerStore,
}

impl Instance {
    /// The root is made absolute and canonical first: bridge aliases,
    /// lock and socket paths and the monitors' `--root` all derive from
    /// it, so `--root ./x` and `--root /abs/x` must be one instance.
    pub fn open(root: &Path, cgroup_parent: &str) -> Result<Instance, InstanceError> {
        ContainerStore::open(root)?;
        let root = root.canonicalize().map_err(|source| InstanceError::Root {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(Instance {
            containers: ContainerStore::open(&root)?,
            root,
            cgroup_parent: cgroup_parent.to_string(),
            cgroup_manager: cgroups::systemd::Driver::Cgroupfs,
        })
    }

    pub fn images(&self) -> Result<ImageStore, InstanceError> {
        Ok(ImageStore::open(self.root.join("images"))?)
    }

    pub fn cgroup_layout(&self) -> Result<Layout, InstanceError> {
        Ok(cgroups::layout::detect(Path::new(MOUNTINFO))?)
    }

    /// The cgroup of container `id` made by cgroupfs under `parent` (a
    /// leftover whose record is gone).
    pub fn cgroup(&self, parent: &str, id: &str) -> Result<Box<dyn CgroupManager>, InstanceError> {
        Ok(cgroups::manager_for(&self.cgroup_layout()?, parent, id)?)
    }

    /// A container's cgroup, made by the manager and under the parent its
    /// record names.
    pub fn container_cgroup(
        &self,
        config: &ContainerConfig,
    ) -> Result<Box<dyn CgroupManager>, InstanceError> {
        Ok(cgroups::container_manager(
            &self.cgroup_layout()?,
            config.cgroup_manager,
            &config.cgroup_parent,
            &config.id,
        )?)
    }
}
