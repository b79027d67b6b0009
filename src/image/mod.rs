//! Local image store: content-addressed blobs, one unpacked directory per
//! layer (used as overlayfs lower dirs) and an index of one record per image.
//!
//! Layout under the store root:
//! - `blobs/sha256/<hex>`: layer tarballs as given and config JSON blobs
//! - `layers/<hex>/rootfs`: a layer unpacked once per layer digest, plus
//!   `layers/<hex>/layer.json` (diff id and size), written before the
//!   directory is renamed into place
//! - `records/HEX.json` (and `copies/`): one image each (`records`); `lock`: flock serialising writers

pub mod archive;
mod archive_save;
mod blobs;
mod built;
mod commit;
pub mod docker_config;
mod fsat;
pub mod index;
pub mod oci;
pub mod orphans;
mod records;
pub mod reference;
pub mod registry;
pub mod registry_io;
pub mod registry_login;

pub mod sha256;
mod store;
pub use records::LostImage;
pub mod unpack;
mod unpack_entry;
mod unpack_meta;
mod whiteout;
pub mod xattr;

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use reference::{parse_reference, Reference, ReferenceError};
pub use store::ImageStore;
pub use unpack::{unpack_layer, UnpackError, UnpackStats};

/// The PATH given to imported images, as `podman import` does.
pub const DEFAULT_PATH_ENV: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runtime defaults of an image (the `config` object of an OCI image config).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `"80/tcp": {}` map, as in OCI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `"/data": {}` map (Dockerfile VOLUME): each gets an anonymous volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    /// Docker extension (`Test`, `Interval`, ...), kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
}

/// One image in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `sha256:<hex>` digest of the config blob.
    pub id: String,
    /// `name:tag` references; empty for a dangling image.
    pub repo_tags: Vec<String>,
    /// RFC 3339 creation time.
    pub created: String,
    /// Unpacked size in bytes (sum of file contents over all layers).
    pub size: u64,
    /// Layer blob digests, bottom-most first (OCI order).
    pub layers: Vec<String>,
    /// `name@sha256:<manifest digest>` of each registry manifest this image
    /// was pulled by (Docker's RepoDigests): run/inspect/rmi accept them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repo_digests: Vec<String>,
    pub config: ImageConfig,
}

impl ImageRecord {
    /// The first 12 hex digits of the id, as `docker images` shows it.
    pub fn short_id(&self) -> &str {
        let hex = digest_hex(&self.id);
        &hex[..hex.len().min(12)]
    }
}

/// The hex part of a `sha256:<hex>` digest.
pub fn digest_hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// Whether `digest` is `sha256:` followed by 64 lowercase hex digits
/// (and so safe to use as a file name).
pub fn valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Errors of the image store.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// Nothing matches the reference or id.
    #[error("image {reference:?} not found; import one with 'rcorch import TARBALL {reference}'")]
    NotFound { reference: String },
    /// An id prefix matches several images.
    #[error("image id prefix {prefix:?} is ambiguous: it matches {count} images")]
    Ambiguous { prefix: String, count: usize },
    /// Deleting the image needs force because a container uses it.
    #[error("conflict: unable to remove repository reference {image:?} (must force): a container is using its referenced image; use -f to untag it anyway")]
    InUse { image: String },
    /// The same, named by id (Docker's wording differs).
    #[error("conflict: unable to delete {image} (must be forced): a container is using it; use -f to remove it anyway")]
    InUseById { image: String },
    /// A forced removal found an image that is in use and has no tags left.
    #[error(
        "image {image} is in use by a container and has no tags left; remove the container first"
    )]
    InUseUntagged { image: String },
    /// Removing by id an image with several tags needs force.
    #[error("image {image} is referenced by several tags ({tags}); remove them by name or use -f")]
    MultipleTags { image: String, tags: String },
    /// A blob's content does not match the digest it was announced with.
    #[error("blob digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },
    /// The index holds a malformed digest.
    #[error("index {path} holds an invalid digest {digest:?}")]
    InvalidDigest { path: PathBuf, digest: String },
    #[error("cannot create directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot open {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot rename {from} to {to}: {source}")]
    Rename {
        from: PathBuf,
        to: PathBuf,
        source: io::Error,
    },
    #[error("cannot remove {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },
    #[error("cannot lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: nix::errno::Errno,
    },
    #[error("cannot parse {path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// A layer's uncompressed digest differs from the config's `diff_ids`.
    #[error("layer {layer}: uncompressed digest {actual} does not match the config's diff_id {expected}")]
    DiffIdMismatch {
        layer: String,
        expected: String,
        actual: String,
    },
    /// The config lists a different number of diff_ids than there are layers.
    #[error("image config {config} lists {diff_ids} diff_ids for {layers} layers")]
    LayerCount {
        config: String,
        diff_ids: usize,
        layers: usize,
    },
    /// An image config blob is not valid JSON of the expected shape.
    #[error("image config {digest} is invalid: {source}")]
    BadConfig {
        digest: String,
        source: serde_json::Error,
    },
    #[error("cannot unpack layer {layer}: {source}")]
    Unpack { layer: String, source: UnpackError },
}

#[cfg(test)]
mod archive_tests;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod unpack_root_tests;
#[cfg(test)]
mod unpack_tests;
