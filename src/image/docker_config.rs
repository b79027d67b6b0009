//! Credentials as Docker's CLI keeps them: `$DOCKER_CONFIG/config.json`
//! (default `~/.docker/config.json`), `auths.{registry}.auth` holding
//! base64 of `user:password`, the file readable by its owner only.
//! `login` and `logout` edit the file; `pull` and `push` read it below
//! rcorch's own registry config. Every other key of the file is kept as is.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::registry::{read_config, RegistryConfig, RegistryError};
use crate::util::atomic::{write_atomic_with, AtomicFs, RealFs};

/// The key Docker files Docker Hub's credentials under.
pub const DOCKER_HUB: &str = "https://index.docker.io/v1/";

#[derive(Debug, thiserror::Error)]
pub enum DockerConfigError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{path} is not a JSON object; fix or remove it")]
    NotAnObject { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
pub fn config_path(docker_config: Option<&OsStr>, home: Option<&OsStr>) -> PathBuf {
    match docker_config.filter(|d| !d.is_empty()) {
        Some(dir) => Path::new(dir).join("config.json"),
        None => Path::new(home.unwrap_or(OsStr::new("/root")))
            .join(".docker")
            .join("config.json"),
    }
}

/// The file this process's environment names.
pub fn path_from_env() -> PathBuf {
    config_path(
        std::env::var_os("DOCKER_CONFIG").as_deref(),
        std::env::var_os("HOME").as_deref(),
    )
}

/// The registry a `login`/`logout` operand names, as Docker files it:
/// Docker Hub (also no operand) as its v1 URL, others as `host[:port]`.
pub fn server_key(operand: Option<&str>) -> String {
    let Some(operand) = operand else {
        return DOCKER_HUB.into();
    };
    let host = operand
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.into(),
        _ => host.to_string(),
    }
}

/// The host to reach for `key` (Docker Hub's API lives on registry-1).
pub fn server_host(key: &str) -> &str {
    if key == DOCKER_HUB {
        "registry-1.docker.io"
    } else {
        key
    }
}

/// `doc` with `auths.{key}` set to Docker's entry for `user:password`.
pub fn with_login(mut doc: Value, key: &str, user: &str, password: &str) -> Value {
    let auth = encode_base64(format!("{user}:{password}").as_bytes());
    let object = doc
        .as_object_mut()
        .expect("the caller checked it is an object");
    let auths = object.entry("auths").or_insert_with(|| json!({}));
    if !auths.is_object() {
        *auths = json!({});
    }
    auths[key] = json!({ "auth": auth });
    doc
}

/// `doc` without `auths.{key}`; whether there was one.
pub fn without_login(mut doc: Value, key: &str) -> (Value, bool) {
    let removed = doc
        .get_mut("auths")
        .and_then(Value::as_object_mut)
        .is_some_and(|auths| auths.remove(key).is_some());
    (doc, removed)
}

/// The file's JSON (an empty object when it does not exist).
pub fn read_doc(path: &Path) -> Result<Value, DockerConfigError> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Value::Object(Map::new())),
        Err(source) => {
            let path = path.to_path_buf();
            return Err(RegistryError::ConfigRead { path, source }.into());
        }
    };
    let doc: Value = serde_json::from_slice(&text).map_err(|source| {
        let path = path.to_path_buf();
        RegistryError::ConfigParse { path, source }
    })?;
    if !doc.is_object() {
        let path = path.to_path_buf();
        return Err(DockerConfigError::NotAnObject { path });
    }
    Ok(doc)
}

/// Creates the temporary file mode 0600, so the credentials are never
/// readable by others, not even before the rename.
struct PrivateFs;

impl AtomicFs for PrivateFs {
    type File = File;
    fn create(&self, path: &Path) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true).mode(0o600);
        options.open(path)
    }
    fn sync(&self, file: &mut File) -> io::Result<()> {
        RealFs.sync(file)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        RealFs.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        RealFs.remove(path)
    }
}

/// Replaces the file with `doc` (its directory made 0700 if missing, as
/// Docker makes `~/.docker`).
pub fn write_doc(path: &Path, doc: &Value) -> Result<(), DockerConfigError> {
    let fail = |source| DockerConfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
    }
    let mut text = serde_json::to_vec_pretty(doc).expect("JSON values serialise");
    text.push(b'\n');
    write_atomic_with(&PrivateFs, path, &text).map_err(fail)
}

/// `primary` (rcorch's registry config) with the Docker file's `auths`
/// added for the registries it has no entry for.
pub fn merged(
    mut primary: RegistryConfig,
    docker_file: &Path,
) -> Result<RegistryConfig, RegistryError> {
    for (key, entry) in read_config(docker_file)?.auths {
        primary.auths.entry(key).or_insert(entry);
    }
    Ok(primary)
}

/// Standard base64 with padding.
pub fn encode_base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let mut acc = [0u8; 3];
        acc[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from_be_bytes([0, acc[0], acc[1], acc[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "docker_config_tests.rs"]
mod tests;
