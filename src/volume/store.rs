//! Volumes on disk: `<root>/volumes/NAME/{meta.json,_data}`. Creation and
//! removal go through a staging name and a rename, so a killed command never
//! leaves half a volume that `ls` shows; every change holds an exclusive
//! flock on `<root>/volumes.lock`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::{users, valid_name, Result, Volume, VolumeError, DRIVER};
use crate::container::names::random_id;
use crate::container::{ContainerConfig, MountKind, MountSpec};

const META: &str = "meta.json";
const DATA: &str = "_data";
const STAGING_PREFIX: &str = ".creating-";
const REMOVING_PREFIX: &str = ".removing-";

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> VolumeError + '_ {
    move |source| VolumeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub struct VolumeStore {
    dir: PathBuf,
    lock_path: PathBuf,
}

/// Proof that the caller holds the volumes lock; released on drop.
pub struct VolumeLock {
    _lock: Flock<File>,
}

impl VolumeStore {
    pub fn open(root: &Path) -> VolumeStore {
        VolumeStore {
            dir: root.join("volumes"),
            lock_path: root.join("volumes.lock"),
        }
    }

    pub fn lock(&self) -> Result<VolumeLock> {
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(io_err(&self.lock_path))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, source)| {
            VolumeError::Lock {
                path: self.lock_path.clone(),
                source,
            }
        })?;
        Ok(VolumeLock { _lock: lock })
    }

    fn volume_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The host directory mounted into containers.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.volume_dir(name).join(DATA)
    }

    /// Creates `name` unless it exists (Docker's `volume create` is
    /// idempotent). Returns the volume and whether it was created now.
    pub fn create(
        &self,
        _lock: &VolumeLock,
        name: &str,
        labels: &BTreeMap<String, String>,
        now: &str,
    ) -> Result<(Volume, bool)> {
        if !valid_name(name) {
            return Err(VolumeError::InvalidName { name: name.into() });
        }
        match self.get(name) {
            Ok(v) => return Ok((v, false)),
            Err(VolumeError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        self.sweep_abandoned();
        let volume = Volume {
            name: name.into(),
            driver: DRIVER.into(),
            mountpoint: self.data_dir(name),
            created: now.into(),
            labels: labels.clone(),
        };
        let staging = self
            .dir
            .join(format!("{STAGING_PREFIX}{}-{name}", std::process::id()));
        let data = staging.join(DATA);
        fs::create_dir_all(&data).map_err(io_err(&data))?;
        write_meta(&staging.join(META), &volume)?;
        let dir = self.volume_dir(name);
        fs::rename(&staging, &dir).map_err(io_err(&dir))?;
        Ok((volume, true))
    }

    pub fn get(&self, name: &str) -> Result<Volume> {
        if !valid_name(name) {
            return Err(VolumeError::NotFound { name: name.into() });
        }
        let path = self.volume_dir(name).join(META);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| VolumeError::Corrupt {
                path: path.clone(),
                source,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(VolumeError::NotFound { name: name.into() })
            }
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Every volume, sorted by name; one with unreadable metadata is left
    /// out (see `damaged`), so it never hides the others.
    pub fn list(&self) -> Result<Vec<Volume>> {
        Ok(self.scan()?.0)
    }

    /// Volumes whose metadata cannot be read: (name, file, problem).
    pub fn damaged(&self) -> Result<Vec<(String, PathBuf, String)>> {
        Ok(self.scan()?.1)
    }

    /// Writes fresh metadata for a volume whose own is unreadable: its
    /// data directory is what matters; labels are lost.
    pub fn restore_meta(&self, name: &str, now: &str) -> Result<()> {
        let dir = self.volume_dir(name);
        let meta = dir.join(META);
        if meta.is_dir() {
            fs::remove_dir_all(&meta).map_err(io_err(&meta))?;
        }
        let volume = Volume {
            name: name.to_string(),
            driver: super::DRIVER.to_string(),
            mountpoint: dir.join(DATA),
            created: now.to_string(),
            labels: BTreeMap::new(),
        };
        write_meta(&dir.join(META), &volume)
    }

    #[allow(clippy::type_complexity)]
    fn scan(&self) -> Result<(Vec<Volume>, Vec<(String, PathBuf, String)>)> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
            Err(e) => return Err(io_err(&self.dir)(e)),
        };
        let (mut volumes, mut damaged) = (Vec::new(), Vec::new());
        for entry in entries {
            let entry = entry.map_err(io_err(&self.dir))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let meta = self.volume_dir(&name).join(META);
            match self.get(&name) {
                Ok(v) => volumes.push(v),
                // Its data without its metadata: a create renames both in
                // at once, so this is damage, not a killed create.
                Err(VolumeError::NotFound { .. })
                    if valid_name(&name) && self.volume_dir(&name).join(DATA).is_dir() =>
                {
                    damaged.push((name, meta, "missing".to_string()))
                }
                // Staging or removal leftovers, or a killed create.
                Err(VolumeError::NotFound { .. }) => {}
                Err(VolumeError::Corrupt { path, source }) => {
                    damaged.push((name, path, source.to_string()))
                }
                // A directory where the file should be, an I/O error: this
                // volume's, never the others'.
                Err(e) => damaged.push((name, meta, e.to_string())),
            }
        }
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((volumes, damaged))
    }

    /// Removes `name` unless a container in `containers` uses it.
    pub fn remove(
        &self,
        _lock: &VolumeLock,
        name: &str,
        containers: &[ContainerConfig],
    ) -> Result<()> {
        self.get(name)?;
        let using = users(name, containers);
        if !using.is_empty() {
            return Err(VolumeError::InUse {
                name: name.into(),
                containers: using.into_iter().map(str::to_string).collect(),
            });
        }
        // Rename first: the volume is gone from `ls` at once, even if
        // deleting its content is interrupted.
        let dir = self.volume_dir(name);
        let doomed = self
            .dir
            .join(format!("{REMOVING_PREFIX}{}-{name}", std::process::id()));
        fs::rename(&dir, &doomed).map_err(io_err(&dir))?;
        fs::remove_dir_all(&doomed).map_err(io_err(&doomed))
    }

    /// Removes staging and removal directories whose process is gone.
    fn sweep_abandoned(&self) {
        crate::container::store::sweep_abandoned(&self.dir, owner_pid);
    }

    /// Fills in the host source of every volume mount, creating volumes
    /// that do not exist yet (Docker does, on first use). A mount with no
    /// name gets a new anonymous volume with a random name and the labels
    /// `anonymous`; their names are returned so a failed `run` can remove
    /// them. On error, the anonymous volumes made here are removed again.
    pub fn attach(
        &self,
        lock: &VolumeLock,
        mounts: &mut [MountSpec],
        anonymous: &BTreeMap<String, String>,
        now: &str,
    ) -> Result<Vec<String>> {
        let mut created = Vec::new();
        for m in mounts.iter_mut().filter(|m| m.kind == MountKind::Volume) {
            let (name, labels) = match &m.volume {
                Some(name) => (name.clone(), BTreeMap::new()),
                None => {
                    let mut labels = anonymous.clone();
                    let destination = m.destination.display().to_string();
                    labels.insert(super::LABEL_DESTINATION.into(), destination);
                    (random_id(), labels)
                }
            };
            match self.create(lock, &name, &labels, now) {
                Ok((volume, _)) => m.source = volume.mountpoint,
                Err(e) => {
                    self.remove_unused(lock, &created, &[]);
                    return Err(e);
                }
            }
            if m.volume.is_none() {
                created.push(name.clone());
                m.volume = Some(name);
            }
        }
        Ok(created)
    }

    /// Removes the anonymous volumes among `mounts` of container `owner`
    /// (`rm -v`, `run --rm`). One another container in `containers` uses
    /// is kept, as in Docker. Returns the names removed.
    pub fn remove_anonymous(
        &self,
        lock: &VolumeLock,
        owner: &str,
        mounts: &[MountSpec],
        containers: &[ContainerConfig],
    ) -> Result<Vec<String>> {
        let volumes = self.list()?;
        let names: Vec<String> = super::anonymous_of(&volumes, mounts)
            .into_iter()
            .map(str::to_string)
            .collect();
        let others: Vec<ContainerConfig> = containers
            .iter()
            .filter(|c| c.id != owner)
            .cloned()
            .collect();
        Ok(self.remove_unused(lock, &names, &others))
    }

    /// Best effort: removes each of `names` that no container uses.
    fn remove_unused(
        &self,
        lock: &VolumeLock,
        names: &[String],
        containers: &[ContainerConfig],
    ) -> Vec<String> {
        names
            .iter()
            .filter(|name| self.remove(lock, name, containers).is_ok())
            .cloned()
            .collect()
    }
}

/// The pid in a staging or removal directory's name (`.creating-PID-NAME`).
fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix(STAGING_PREFIX)
        .or_else(|| name.strip_prefix(REMOVING_PREFIX))?
        .split('-')
        .next()?
        .parse()
        .ok()
}

fn write_meta(path: &Path, volume: &Volume) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(volume).expect("plain data serialises");
    crate::util::atomic::write_atomic(path, &bytes).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_carry_their_owner() {
        assert_eq!(owner_pid(".creating-42-data"), Some(42));
        assert_eq!(owner_pid(".removing-7-x-y"), Some(7));
        assert_eq!(owner_pid("data"), None);
    }
}
