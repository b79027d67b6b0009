//! The on-disk container store: `<root>/containers/<id>/`, one directory per
//! container holding its config, its state and its log. Name allocation is
//! serialised by an exclusive lock on `<root>/containers.lock`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use thiserror::Error;

/// The image id of a container, written once at create beside its config.
const IMAGE_ID_FILE: &str = "image-id";

/// `sha256:` and 64 lowercase hex digits.
fn is_image_id(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

pub use super::damage::{image_clue, parse_record, Broken, ImageClue, Problem, Scan};
use super::{ContainerConfig, ContainerState};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot access {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: nix::Error },
    #[error("unreadable record {path} ({problem}); run `rcorch system check --repair`")]
    Unreadable { path: PathBuf, problem: Problem },
    #[error("the container name \"{name}\" is already in use by container {id}; remove it or pick another --name")]
    NameInUse { name: String, id: String },
    #[error("no such container: {reference}")]
    NotFound { reference: String },
    #[error("container reference \"{reference}\" is ambiguous: it matches {count} containers; give more of the id")]
    Ambiguous { reference: String, count: usize },
}

type Result<T> = std::result::Result<T, StoreError>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One container as stored: its fixed config and its last observed state.
#[derive(Debug, Clone)]
pub struct Record {
    pub config: ContainerConfig,
    pub state: ContainerState,
}

pub struct ContainerStore {
    dir: PathBuf,
    lock_path: PathBuf,
}

/// Held while the store's set of names may change.
pub struct StoreLock {
    _lock: Flock<File>,
}

impl ContainerStore {
    pub fn open(root: &Path) -> Result<Self> {
        let dir = root.join("containers");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(ContainerStore {
            dir,
            lock_path: root.join("containers.lock"),
        })
    }

    pub fn lock(&self) -> Result<StoreLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(io_err(&self.lock_path))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, source)| StoreError::Lock {
                path: self.lock_path.clone(),
                source,
            })?;
        Ok(StoreLock { _lock: lock })
    }

    /// The instance's root directory (the store lives in `containers/`).
    pub fn root(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Writes a new container's directory, config and initial state. The
    /// caller holds the lock, so the name check and the write are atomic.
    pub fn create(&self, _lock: &StoreLock, config: &ContainerConfig) -> Result<PathBuf> {
        if let Some(other) = self
            .list()?
            .into_iter()
            .find(|r| r.config.name == config.name)
        {
            return Err(StoreError::NameInUse {
                name: config.name.clone(),
                id: other.config.id,
            });
        }
        self.sweep_abandoned_staging();
        // Build the directory under a staging name and rename it into place,
        // so a `run` killed mid-way never leaves a half-written container
        // that `ps -a` cannot see.
        let staging = self.dir.join(format!(
            "{STAGING_PREFIX}{}-{}",
            std::process::id(),
            config.id
        ));
        fs::create_dir_all(&staging).map_err(io_err(&staging))?;
        write_json_atomic(&staging.join("config.json"), config)?;
        write_json_atomic(&staging.join("state.json"), &ContainerState::default())?;
        // Apart from the config, so `rmi` still knows the image when the
        // config is torn and its tag has moved on (`image_clue`).
        let image_id = staging.join(IMAGE_ID_FILE);
        crate::util::atomic::write_atomic(&image_id, config.image_id.as_bytes())
            .map_err(io_err(&image_id))?;
        let dir = self.container_dir(&config.id);
        fs::rename(&staging, &dir).map_err(io_err(&dir))?;
        Ok(dir)
    }

    /// Removes staging directories whose creating process is gone.
    fn sweep_abandoned_staging(&self) {
        sweep_abandoned(&self.dir, staging_owner);
    }

    pub fn ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            if let Some(name) = entry.file_name().to_str() {
                if name.len() == 64 && !name.starts_with('.') {
                    ids.push(name.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Every container with a readable record. Unreadable ones are left out
    /// (see `scan`): one damaged record never hides the others.
    pub fn list(&self) -> Result<Vec<Record>> {
        Ok(self.scan()?.records)
    }

    /// Every container directory, read: the whole records, and the ones
    /// that cannot be read, with the file at fault.
    pub fn scan(&self) -> Result<Scan> {
        let mut scan = Scan::default();
        for id in self.ids()? {
            match self.load(&id) {
                Ok(record) => scan.records.push(record),
                // Removed between the listing and the read.
                Err(_) if !self.container_dir(&id).exists() => {}
                Err(e) => scan.broken.push(Broken::from_error(&id, e)),
            }
        }
        Ok(scan)
    }

    /// Every container's configuration (what the volume store asks about
    /// when deciding which volumes are still in use).
    pub fn configs(&self) -> Result<Vec<ContainerConfig>> {
        Ok(self.list()?.into_iter().map(|r| r.config).collect())
    }

    pub fn load(&self, id: &str) -> Result<Record> {
        let dir = self.container_dir(id);
        let config = read_record(&dir.join("config.json"))?;
        let state = read_record(&dir.join("state.json"))?;
        Ok(Record { config, state })
    }

    /// What survives of a damaged container's state (its processes' pids),
    /// for removing it.
    pub fn surviving_state(&self, id: &str) -> Option<ContainerState> {
        read_json(&self.container_dir(id).join("state.json")).ok()
    }

    /// A damaged container's configuration, if that record still reads
    /// (which cgroup manager and parent made its cgroup).
    pub fn surviving_config(&self, id: &str) -> Option<ContainerConfig> {
        read_json(&self.container_dir(id).join("config.json")).ok()
    }

    /// What a damaged container's records still say about its image: the
    /// id in its config, else the id written beside it at create, else the
    /// reference its config still holds.
    pub fn image_clue(&self, id: &str) -> ImageClue {
        let dir = self.container_dir(id);
        let from_config = match fs::read(dir.join("config.json")) {
            Ok(bytes) => image_clue(&bytes),
            Err(_) => ImageClue::Unknown,
        };
        if matches!(from_config, ImageClue::Id(_)) {
            return from_config;
        }
        match fs::read_to_string(dir.join(IMAGE_ID_FILE)) {
            Ok(image) if is_image_id(image.trim()) => ImageClue::Id(image.trim().to_string()),
            _ => from_config,
        }
    }

    pub fn save_state(&self, id: &str, state: &ContainerState) -> Result<()> {
        write_json_atomic(&self.container_dir(id).join("state.json"), state)
    }

    /// Marks that the user stopped the container: its monitor does not
    /// restart it (Docker's "manually stopped"). A file beside the state,
    /// so the monitor's own state writes never lose it.
    pub fn request_stop(&self, id: &str) -> Result<()> {
        let path = self.container_dir(id).join(STOP_REQUESTED);
        fs::write(&path, b"").map_err(io_err(&path))
    }

    pub fn stop_requested(&self, id: &str) -> bool {
        self.container_dir(id).join(STOP_REQUESTED).exists()
    }

    /// For a new start of the container (`start`): its policy applies again.
    pub fn clear_stop_request(&self, id: &str) -> Result<()> {
        let path = self.container_dir(id).join(STOP_REQUESTED);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&path)(e)),
            _ => Ok(()),
        }
    }

    /// Finds a container by exact name, exact id, or unique id prefix; a
    /// damaged one (whose name is unknown) by its id.
    pub fn resolve(&self, reference: &str) -> Result<String> {
        let scan = self.scan()?;
        let names: Vec<(&str, &str)> = scan
            .records
            .iter()
            .map(|r| (r.config.id.as_str(), r.config.name.as_str()))
            .chain(scan.broken.iter().map(|b| (b.id.as_str(), "")))
            .collect();
        resolve_reference(&names, reference).map(str::to_string)
    }

    pub fn remove_dir(&self, id: &str) -> Result<()> {
        let dir = self.container_dir(id);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&dir)(e)),
            _ => Ok(()),
        }
    }
}

const STAGING_PREFIX: &str = ".creating-";
/// The marker `request_stop` leaves in a container's directory.
const STOP_REQUESTED: &str = "stop-requested";

/// The pid in a staging directory's name (`.creating-PID-ID`).
/// Removes the entries of `dir` that `owner` names as belonging to a
/// process that is gone (a staging or removal directory left by a crash).
pub fn sweep_abandoned(dir: &Path, owner: fn(&str) -> Option<u32>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn staging_owner(name: &str) -> Option<u32> {
    name.strip_prefix(STAGING_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Pure lookup: exact name, then exact id, then unique id prefix.
pub fn resolve_reference<'a>(
    containers: &[(&'a str, &'a str)],
    reference: &str,
) -> Result<&'a str> {
    let not_found = || StoreError::NotFound {
        reference: reference.to_string(),
    };
    if reference.is_empty() {
        return Err(not_found());
    }
    if let Some((id, _)) = containers.iter().find(|(_, name)| *name == reference) {
        return Ok(id);
    }
    if let Some((id, _)) = containers.iter().find(|(id, _)| *id == reference) {
        return Ok(id);
    }
    let matches: Vec<&str> = containers
        .iter()
        .filter(|(id, _)| id.starts_with(reference))
        .map(|(id, _)| *id)
        .collect();
    match matches.len() {
        0 => Err(not_found()),
        1 => Ok(matches[0]),
        count => Err(StoreError::Ambiguous {
            reference: reference.to_string(),
            count,
        }),
    }
}

pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    parse_record(&bytes).map_err(|problem| StoreError::Unreadable {
        path: path.to_path_buf(),
        problem,
    })
}

/// A record every container has: missing is as damaged as garbage.
fn read_record<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let unreadable = |problem| StoreError::Unreadable {
        path: path.to_path_buf(),
        problem,
    };
    match fs::read(path) {
        Ok(bytes) => parse_record(&bytes).map_err(unreadable),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(unreadable(Problem::Missing)),
        // Damage too (not a passing I/O error): `rm -f` and the repair
        // remove it like any unreadable record.
        Err(e) if e.kind() == io::ErrorKind::IsADirectory => Err(unreadable(Problem::Garbage(
            "a directory where the file should be".into(),
        ))),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Replaces the record at `path` whole (`util::atomic`): readers and a crash
/// see the old value or the new one.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).expect("plain data serialises");
    crate::util::atomic::write_atomic(path, &bytes).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaa1111";
    const B: &str = "aaaa2222";

    #[test]
    fn resolves_names_ids_and_prefixes() {
        let list = [(A, "web"), (B, "db")];
        assert_eq!(resolve_reference(&list, "web").unwrap(), A);
        assert_eq!(resolve_reference(&list, B).unwrap(), B);
        assert_eq!(resolve_reference(&list, "aaaa1").unwrap(), A);
        assert!(matches!(
            resolve_reference(&list, "aaaa"),
            Err(StoreError::Ambiguous { count: 2, .. })
        ));
        assert!(matches!(
            resolve_reference(&list, "zz"),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            resolve_reference(&list, ""),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn staging_dirs_name_their_owner() {
        assert_eq!(staging_owner(".creating-42-abcd"), Some(42));
        assert_eq!(staging_owner("abcd"), None);
        assert_eq!(staging_owner(".creating-x-abcd"), None);
    }

    #[test]
    fn a_killed_creation_is_swept_and_a_finished_one_is_listed() {
        let root = tempfile::tempdir().unwrap();
        let store = ContainerStore::open(root.path()).unwrap();
        let abandoned = root.path().join("containers/.creating-999999999-x");
        fs::create_dir_all(&abandoned).unwrap();
        let lock = store.lock().unwrap();
        let mut config: ContainerConfig =
            serde_json::from_str(include_str!("testdata/config.json")).unwrap();
        config.id = "a".repeat(64);
        store.create(&lock, &config).unwrap();
        assert!(!abandoned.exists());
        assert_eq!(store.list().unwrap().len(), 1);
        let leftovers: Vec<_> = fs::read_dir(root.path().join("containers"))
            .unwrap()
            .collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn a_name_wins_over_an_id_prefix() {
        let list = [(A, "x"), (B, "aaaa1")];
        assert_eq!(resolve_reference(&list, "aaaa1").unwrap(), B);
    }
}
