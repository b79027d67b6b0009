//! The image store: import, list, resolve and remove images.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::blobs::{self, HashingReader};
use super::index::{self, Removal};
use super::records::{Index, LostImage};
use super::unpack::{decompress, unpack_layer};
use super::{digest_hex, parse_reference, ImageConfig, ImageError, ImageRecord, DEFAULT_PATH_ENV};
use crate::util::records::Damage;

/// Per-layer metadata written next to the unpacked `rootfs`; its presence
/// marks the layer as complete.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LayerInfo {
    /// sha256 of the uncompressed tar (OCI `diff_id`).
    pub(super) diff_id: String,
    /// Bytes of file content.
    pub(super) size: u64,
}

/// The OCI image config blob; its digest is the image id.
#[derive(Serialize)]
struct ConfigBlob<'a> {
    created: &'a str,
    architecture: &'static str,
    os: &'static str,
    config: &'a ImageConfig,
    rootfs: RootFs,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

/// GOARCH-style name of the running architecture.
fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// Paths created during an import, removed again unless the import succeeds.
pub(super) struct Undo(pub(super) Vec<PathBuf>);

impl Drop for Undo {
    fn drop(&mut self) {
        for path in self.0.iter().rev() {
            let _ = blobs::remove_tree(path);
        }
    }
}

/// A local image store rooted at a directory (the CLI uses `<root>/images`).
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    /// Opens the store, creating its directories.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, ImageError> {
        let store = ImageStore { root: root.into() };
        for dir in [store.blob_dir(), store.root.join("layers")] {
            fs::create_dir_all(&dir)
                .map_err(|source| ImageError::CreateDir { path: dir, source })?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn blob_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    fn index(&self) -> Index {
        Index::open(&self.root)
    }

    /// One line per damaged image record: its path, what is wrong, the way out.
    pub fn damage_reports(&self) -> Vec<String> {
        let Ok((recovered, lost)) = self.index().damaged() else {
            return Vec::new();
        };
        let recovered = recovered.into_iter().map(|d| {
            format!(
                "image record {} is unreadable ({}); read from its copy, rewritten by the next change or `rcorch system check --repair`",
                d.path.display(),
                d.problem
            )
        });
        let lost = lost.into_iter().map(|l| {
            format!(
                "image {} has an unreadable record {} ({}): remove it with `rcorch rmi {}` or run `rcorch system check --repair`",
                &digest_hex(&l.id)[..12],
                l.damage.path.display(),
                l.damage.problem,
                &digest_hex(&l.id)[..12],
            )
        });
        recovered.chain(lost).collect()
    }

    /// The damaged records: read from their copy, or lost.
    pub fn damaged(&self) -> Result<(Vec<Damage>, Vec<LostImage>), ImageError> {
        self.index().damaged()
    }

    /// Rewrites every damaged record that its copy still holds.
    pub fn heal(&self) -> Result<(), ImageError> {
        let _lock = blobs::lock(&self.root.join("lock"))?;
        self.save(&self.list()?)
    }

    /// Renames a lost image's record `*.damaged`.
    pub fn set_aside(&self, id: &str) -> Result<(), ImageError> {
        let _lock = blobs::lock(&self.root.join("lock"))?;
        self.index().set_aside(digest_hex(id))
    }

    /// Path of a blob by `sha256:<hex>` digest.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.blob_dir().join(digest_hex(digest))
    }

    pub(super) fn layer_dir(&self, digest: &str) -> PathBuf {
        self.root.join("layers").join(digest_hex(digest))
    }

    /// Overlay lower dirs of `image`, topmost layer first.
    pub fn layer_dirs(&self, image: &ImageRecord) -> Vec<PathBuf> {
        image
            .layers
            .iter()
            .rev()
            .map(|d| self.layer_dir(d).join("rootfs"))
            .collect()
    }

    /// All images in the index.
    pub fn list(&self) -> Result<Vec<ImageRecord>, ImageError> {
        self.index().list()
    }

    /// Looks up an image by `name[:tag]`, full id, `sha256:<hex>` or unique id prefix.
    pub fn resolve(&self, reference_or_id_prefix: &str) -> Result<ImageRecord, ImageError> {
        let images = self.list()?;
        let (idx, _) = index::find(&images, reference_or_id_prefix)?;
        Ok(images[idx].clone())
    }

    /// Imports a (plain or gzip) rootfs tarball as a one-layer image tagged
    /// `reference`, like `podman import`. The tag moves off any older image.
    pub fn import(&self, tarball: &Path, reference: &str) -> Result<ImageRecord, ImageError> {
        let reference = parse_reference(reference)?;
        let _lock = blobs::lock(&self.root.join("lock"))?;
        self.sweep_temps()?;
        let mut undo = Undo(Vec::new());

        let file = File::open(tarball).map_err(|source| ImageError::Open {
            path: tarball.to_path_buf(),
            source,
        })?;
        let (layer, new_blob) = blobs::write_blob(&self.blob_dir(), file, tarball, None)?;
        if new_blob {
            undo.0.push(self.blob_path(&layer));
        }
        let info = self.ensure_layer(&layer, &mut undo)?;

        let config = ImageConfig {
            env: Some(vec![DEFAULT_PATH_ENV.to_string()]),
            ..ImageConfig::default()
        };
        let created = crate::util::time::format_rfc3339_seconds(SystemTime::now());
        let blob = ConfigBlob {
            created: &created,
            architecture: oci_arch(),
            os: "linux",
            config: &config,
            rootfs: RootFs {
                kind: "layers",
                diff_ids: vec![info.diff_id],
            },
        };
        let json = serde_json::to_vec(&blob).expect("config blob serialises");
        let (id, new_config) = blobs::write_blob(&self.blob_dir(), &json[..], tarball, None)?;
        if new_config {
            undo.0.push(self.blob_path(&id));
        }
        let record = ImageRecord {
            id,
            repo_tags: vec![reference.to_string()],
            created,
            size: info.size,
            layers: vec![layer],
            repo_digests: Vec::new(),
            config,
        };
        let mut images = self.list()?;
        index::add_record(&mut images, record.clone());
        self.save(&images)?;
        undo.0.clear();
        Ok(record)
    }

    /// Removes leftovers of interrupted operations; needs the lock held.
    pub(super) fn sweep_temps(&self) -> Result<(), ImageError> {
        for dir in [self.root.clone(), self.blob_dir(), self.root.join("layers")] {
            blobs::sweep_temps(&dir)?;
        }
        self.index().sweep_dead_temps();
        Ok(())
    }

    /// Stores a blob whose content must hash to `expected` (`sha256:<hex>`);
    /// on mismatch nothing is kept. Returns the digest.
    pub fn put_blob(&self, reader: impl io::Read, expected: &str) -> Result<String, ImageError> {
        let _lock = blobs::lock(&self.root.join("lock"))?;
        let source = Path::new("<blob stream>");
        blobs::write_blob(&self.blob_dir(), reader, source, Some(expected))
            .map(|(digest, _)| digest)
    }

    /// Unpacks layer `digest` from its blob unless already present.
    pub(super) fn ensure_layer(
        &self,
        digest: &str,
        undo: &mut Undo,
    ) -> Result<LayerInfo, ImageError> {
        self.ensure_layer_ticking(digest, undo, &|| {})
    }

    /// `ensure_layer`, calling `tick` as the blob is read (a build's clock).
    pub(super) fn ensure_layer_ticking(
        &self,
        digest: &str,
        undo: &mut Undo,
        tick: &dyn Fn(),
    ) -> Result<LayerInfo, ImageError> {
        let dir = self.layer_dir(digest);
        let info_path = dir.join("layer.json");
        if let Ok(data) = fs::read(&info_path) {
            if let Ok(info) = serde_json::from_slice(&data) {
                return Ok(info);
            }
        }
        // Incomplete leftovers (no valid layer.json) are redone.
        blobs::remove_tree(&dir)?;
        let tmp = dir.with_file_name(blobs::temp_name(digest_hex(digest)));
        undo.0.push(tmp.clone());
        let rootfs = tmp.join("rootfs");
        fs::create_dir_all(&rootfs).map_err(|source| ImageError::CreateDir {
            path: rootfs.clone(),
            source,
        })?;

        let blob_path = self.blob_path(digest);
        let blob = File::open(&blob_path).map_err(|source| ImageError::Open {
            path: blob_path,
            source,
        })?;
        let unpack_err = |source| ImageError::Unpack {
            layer: digest.to_string(),
            source,
        };
        let blob = crate::util::ticked::Ticked::new(blob, tick);
        let mut plain = HashingReader::new(decompress(blob).map_err(unpack_err)?);
        let stats = unpack_layer(&mut plain, &rootfs).map_err(unpack_err)?;
        let info = LayerInfo {
            diff_id: plain.digest(),
            size: stats.bytes,
        };

        let json = serde_json::to_vec(&info).expect("layer info serialises");
        let tmp_info = tmp.join("layer.json");
        fs::write(&tmp_info, json).map_err(|source| ImageError::Write {
            path: tmp_info,
            source,
        })?;
        blobs::rename(&tmp, &dir)?;
        undo.0.pop();
        undo.0.push(dir);
        Ok(info)
    }

    pub(super) fn save(&self, images: &[ImageRecord]) -> Result<(), ImageError> {
        self.index().save(images)
    }

    /// Untags or deletes an image like `docker rmi`; `in_use(image_id)` says
    /// whether a container uses it. Returns `Untagged: ...`/`Deleted: ...` lines.
    pub fn remove(
        &self,
        reference: &str,
        in_use: &dyn Fn(&str) -> bool,
        force: bool,
    ) -> Result<Vec<String>, ImageError> {
        self.remove_keeping(reference, in_use, force, &[])
    }

    /// `remove`, where `mentions` (as `orphans` reads them: container
    /// configs, the build cache) keep the layers they name when a lost
    /// record goes.
    pub fn remove_keeping(
        &self,
        reference: &str,
        in_use: &dyn Fn(&str) -> bool,
        force: bool,
        mentions: &[Vec<u8>],
    ) -> Result<Vec<String>, ImageError> {
        let _lock = blobs::lock(&self.root.join("lock"))?;
        let mut images = self.list()?;
        let (idx, tag) = match index::find(&images, reference) {
            Err(ImageError::NotFound { .. }) => {
                return self.remove_lost(&images, reference, in_use, force, mentions);
            }
            found => found?,
        };
        let used = in_use(&images[idx].id);
        let removal: Removal = index::plan_removal(&images[idx], tag.as_deref(), used, force)?;
        let mut report: Vec<String> = removal
            .untag
            .iter()
            .map(|t| format!("Untagged: {t}"))
            .collect();
        let Some(removed) = index::apply_removal(&mut images, idx, &removal) else {
            self.save(&images)?;
            return Ok(report);
        };
        self.save(&images)?;
        report.push(format!("Deleted: {}", removed.id));
        for digest in index::unreferenced(&images, &removed) {
            self.delete_digest(&digest)?;
            if digest != removed.id {
                report.push(format!("Deleted: {digest}"));
            }
        }
        Ok(report)
    }

    /// `rmi` of an image whose record is lost: refused while a container
    /// uses it (unless forced, as Docker's stopped-container conflict);
    /// its record goes, and so do the layers nothing else uses or names
    /// (`mentions`), when no other record is lost (whose layers they
    /// might be). Needs the lock held.
    fn remove_lost(
        &self,
        images: &[ImageRecord],
        reference: &str,
        in_use: &dyn Fn(&str) -> bool,
        force: bool,
        mentions: &[Vec<u8>],
    ) -> Result<Vec<String>, ImageError> {
        let not_found = || ImageError::NotFound {
            reference: reference.to_string(),
        };
        let lost = self.index().damaged()?.1;
        let image = lost
            .iter()
            .find(|l| l.answers_to(reference))
            .ok_or_else(not_found)?;
        if in_use(&image.id) && !force {
            let by_id = digest_hex(&image.id).starts_with(digest_hex(reference));
            return Err(match by_id {
                true => ImageError::InUseById {
                    image: reference.to_string(),
                },
                false => ImageError::InUse {
                    image: reference.to_string(),
                },
            });
        }
        self.index().forget(digest_hex(&image.id))?;
        let mut report = vec![format!("Deleted: {}", image.id)];
        if lost.len() == 1 {
            let layers = super::orphans::orphans(&self.layer_digests()?, images, mentions);
            for layer in layers {
                self.delete_digest(&layer)?;
                report.push(format!("Deleted: {layer}"));
            }
            self.delete_digest(&image.id)?;
        }
        Ok(report)
    }

    /// The digests of the unpacked layers.
    pub(super) fn layer_digests(&self) -> Result<Vec<String>, ImageError> {
        let dir = self.root.join("layers");
        let entries = fs::read_dir(&dir).map_err(|source| ImageError::Read {
            path: dir.clone(),
            source,
        })?;
        Ok(entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|n| format!("sha256:{n}"))
            .collect())
    }

    /// Deletes a layer directory (renamed aside first, so a crash never
    /// leaves a half-deleted layer that looks complete) and its blob.
    pub(super) fn delete_digest(&self, digest: &str) -> Result<(), ImageError> {
        let dir = self.layer_dir(digest);
        if dir.exists() {
            let aside =
                dir.with_file_name(format!("{}.del-{}", digest_hex(digest), std::process::id()));
            blobs::rename(&dir, &aside)?;
            blobs::remove_tree(&aside)?;
        }
        let blob = self.blob_path(digest);
        match fs::remove_file(&blob) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(ImageError::Remove {
                path: blob,
                source: e,
            }),
            _ => Ok(()),
        }
    }
}
