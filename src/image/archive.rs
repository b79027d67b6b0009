//! `load` and `save`: image archives in `docker save` format (manifest.json,
//! layer tars, config JSON) and OCI image-layout format (oci-layout,
//! index.json, blobs/sha256/...), whole archive plain or gzip.
//!
//! Loading streams every file of the archive once: blobs go straight into
//! the store (those named by digest are verified), small JSON files stay in
//! memory. Then the images are resolved and committed under the store lock;
//! any failure removes what the load added.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::archive_save::read_blob;
use super::blobs;
use super::oci::{self, ConfigFile, Descriptor, DockerEntry, Index, Manifest};
use super::store::Undo;
use super::unpack::{decompress, UnpackError};
use super::{valid_digest, ImageError, ImageRecord, ImageStore};

pub use super::archive_save::save;

/// JSON files larger than this are not archive metadata.
const MAX_JSON: u64 = 16 << 20;
/// Nested indexes followed before giving up.
const MAX_INDEX_DEPTH: usize = 4;

/// Errors of `load` and `save`.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The archive is not a readable (gzip) tar.
    #[error("{path}: corrupt or truncated archive: {}", super::unpack::tar_reason(.source))]
    Corrupt {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Compression { path: PathBuf, source: UnpackError },
    /// Neither `manifest.json` nor `index.json` is in the archive.
    #[error("{path} is neither a docker-save nor an OCI image-layout archive")]
    UnknownFormat { path: PathBuf },
    /// The archive's metadata names a file it does not contain.
    #[error("archive entry {entry:?} is referenced but missing")]
    Missing { entry: String },
    #[error("archive entry {entry:?} is not valid JSON of the expected shape: {source}")]
    Json {
        entry: String,
        source: serde_json::Error,
    },
    /// An index has no manifest for linux on this architecture or amd64.
    #[error("index {digest} has no manifest for linux/{arch} or linux/amd64")]
    NoPlatform { digest: String, arch: &'static str },
    #[error("indexes nested too deeply at {digest}")]
    TooDeep { digest: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Files read from an archive: blob digests by path, small JSON in memory.
#[derive(Default)]
struct Staged {
    blobs: HashMap<String, String>,
    json: HashMap<String, Vec<u8>>,
    links: HashMap<String, String>,
    new_blobs: Vec<String>,
}

impl Staged {
    fn follow<'a>(&'a self, path: &'a str) -> &'a str {
        let mut path = path.trim_start_matches("./");
        for _ in 0..8 {
            match self.links.get(path) {
                Some(target) => path = target,
                None => break,
            }
        }
        path
    }
}

/// An image found in an archive, its blobs already in the store.
struct Found {
    config: String,
    layers: Vec<String>,
    tags: Vec<String>,
}

/// Loads every image of a docker-save or OCI archive at `path`.
pub fn load(store: &ImageStore, path: &Path) -> Result<Vec<ImageRecord>, ArchiveError> {
    let _lock = blobs::lock(&store.root().join("lock"))?;
    store.sweep_temps()?;
    let mut undo = Undo(Vec::new());
    let staged = stage(store, path, &mut undo)?;
    let found = if staged.json.contains_key("manifest.json") {
        docker_images(store, &staged, &mut undo)?
    } else if staged.json.contains_key("index.json") {
        oci_images(store, &staged)?
    } else {
        return Err(ArchiveError::UnknownFormat {
            path: path.to_path_buf(),
        });
    };
    let mut records = Vec::new();
    for image in found {
        records.push(store.commit_image(&image.config, &image.layers, image.tags, &mut undo)?);
    }
    store.add_records(&records)?;
    undo.0.clear();
    store.drop_unreferenced(&staged.new_blobs)?;
    Ok(records)
}

/// Normalises an archive path (`./x`, `/x` -> `x`).
fn clean(path: &[u8]) -> String {
    let s = String::from_utf8_lossy(path);
    s.trim_start_matches("./")
        .trim_start_matches('/')
        .to_string()
}

/// Reads the archive once, storing blobs and keeping JSON.
fn stage(store: &ImageStore, path: &Path, undo: &mut Undo) -> Result<Staged, ArchiveError> {
    let corrupt = |source| ArchiveError::Corrupt {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|source| ArchiveError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = decompress(file).map_err(|source| ArchiveError::Compression {
        path: path.to_path_buf(),
        source,
    })?;
    let mut archive = tar::Archive::new(reader);
    let mut staged = Staged::default();
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let name = clean(&entry.path_bytes());
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            if let Some(target) = entry.link_name_bytes() {
                let target = clean(&target);
                let base = Path::new(&name).parent().unwrap_or(Path::new(""));
                let resolved = if kind.is_symlink() {
                    clean(base.join(&target).to_string_lossy().as_bytes())
                } else {
                    target
                };
                staged.links.insert(name, resolve_dots(&resolved));
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let size = entry.size();
        if (name.ends_with(".json") || name == "oci-layout") && size <= MAX_JSON {
            let mut data = Vec::with_capacity(size as usize);
            std::io::Read::read_to_end(&mut entry, &mut data).map_err(corrupt)?;
            staged.json.insert(name, data);
            continue;
        }
        // `blobs/sha256/<hex>` names its digest: verify it.
        let expected = name
            .strip_prefix("blobs/")
            .map(|rest| rest.replacen('/', ":", 1))
            .filter(|d| valid_digest(d));
        let (digest, new) =
            blobs::write_blob(&store.blob_dir(), &mut entry, path, expected.as_deref())?;
        if new {
            undo.0.push(store.blob_path(&digest));
            staged.new_blobs.push(digest.clone());
        }
        staged.blobs.insert(name, digest);
    }
    Ok(staged)
}

/// Collapses `a/../b` in a symlink target resolved against its directory.
fn resolve_dots(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.join("/")
}

fn parse<T: serde::de::DeserializeOwned>(entry: &str, data: &[u8]) -> Result<T, ArchiveError> {
    serde_json::from_slice(data).map_err(|source| ArchiveError::Json {
        entry: entry.to_string(),
        source,
    })
}

/// Images of a `docker save` archive, from its `manifest.json`.
fn docker_images(
    store: &ImageStore,
    staged: &Staged,
    undo: &mut Undo,
) -> Result<Vec<Found>, ArchiveError> {
    let entries: Vec<DockerEntry> = parse("manifest.json", &staged.json["manifest.json"])?;
    let mut found = Vec::new();
    for entry in entries {
        let config = docker_config(store, staged, &entry.config, undo)?;
        let layers = entry
            .layers
            .iter()
            .map(|l| {
                staged
                    .blobs
                    .get(staged.follow(l))
                    .cloned()
                    .ok_or_else(|| ArchiveError::Missing { entry: l.clone() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tags = entry.repo_tags.unwrap_or_default();
        let tags = tags.iter().map(|t| oci::local_name(t)).collect();
        found.push(Found {
            config,
            layers,
            tags,
        });
    }
    Ok(found)
}

/// Stores a docker archive's config JSON (`<hex>.json`, verified) as a blob.
fn docker_config(
    store: &ImageStore,
    staged: &Staged,
    path: &str,
    undo: &mut Undo,
) -> Result<String, ArchiveError> {
    let path = staged.follow(path);
    if let Some(digest) = staged.blobs.get(path) {
        return Ok(digest.clone());
    }
    let data = staged.json.get(path).ok_or_else(|| ArchiveError::Missing {
        entry: path.to_string(),
    })?;
    parse::<ConfigFile>(path, data)?;
    let stem = Path::new(path).file_stem().map(|s| s.to_string_lossy());
    let expected = stem
        .map(|s| format!("sha256:{s}"))
        .filter(|d| valid_digest(d));
    let (digest, new) = blobs::write_blob(
        &store.blob_dir(),
        &data[..],
        Path::new(path),
        expected.as_deref(),
    )?;
    if new {
        undo.0.push(store.blob_path(&digest));
    }
    Ok(digest)
}

/// Images of an OCI layout archive, from its `index.json`.
fn oci_images(store: &ImageStore, staged: &Staged) -> Result<Vec<Found>, ArchiveError> {
    let index: Index = parse("index.json", &staged.json["index.json"])?;
    let mut found: Vec<Found> = Vec::new();
    for desc in &index.manifests {
        let manifest = resolve_manifest(store, staged, desc, 0)?;
        let tags: Vec<String> = oci::annotated_name(&desc.annotations).into_iter().collect();
        let layers: Vec<String> = manifest.layers.iter().map(|l| l.digest.clone()).collect();
        // One image listed under several names becomes one record.
        match found
            .iter_mut()
            .find(|f| f.config == manifest.config.digest)
        {
            Some(same) => same.tags.extend(tags),
            None => found.push(Found {
                config: manifest.config.digest,
                layers,
                tags,
            }),
        }
    }
    for digest in found
        .iter()
        .flat_map(|f| f.layers.iter().chain([&f.config]))
    {
        require_blob(staged, digest)?;
    }
    Ok(found)
}

fn require_blob(staged: &Staged, digest: &str) -> Result<(), ArchiveError> {
    let entry = format!("blobs/{}", digest.replacen(':', "/", 1));
    match staged.blobs.get(&entry) {
        Some(_) => Ok(()),
        None => Err(ArchiveError::Missing { entry }),
    }
}

/// Follows index entries down to the manifest for this platform.
fn resolve_manifest(
    store: &ImageStore,
    staged: &Staged,
    desc: &Descriptor,
    depth: usize,
) -> Result<Manifest, ArchiveError> {
    if depth > MAX_INDEX_DEPTH {
        return Err(ArchiveError::TooDeep {
            digest: desc.digest.clone(),
        });
    }
    require_blob(staged, &desc.digest)?;
    let data = read_blob(store, &desc.digest)?;
    let value: serde_json::Value = parse(&desc.digest, &data)?;
    if !oci::is_index(&desc.media_type) && value.get("manifests").is_none() {
        return parse(&desc.digest, &data);
    }
    let index: Index = parse(&desc.digest, &data)?;
    let arch = oci::host_arch();
    let chosen =
        oci::pick_platform(&index.manifests, arch).ok_or_else(|| ArchiveError::NoPlatform {
            digest: desc.digest.clone(),
            arch,
        })?;
    resolve_manifest(store, staged, chosen, depth + 1)
}
