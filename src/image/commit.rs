//! Store operations shared by `load`, `pull`, `tag` and `prune`: turning
//! blobs already in the store into an image record, and index edits.

use std::fs;

use super::blobs;
use super::index;
use super::oci::ConfigFile;
use super::store::Undo;
use super::{parse_reference, ImageError, ImageRecord, ImageStore};

/// The creation time given to configs that carry none.
const EPOCH: &str = "1970-01-01T00:00:00Z";

impl ImageStore {
    /// Builds the record of an image whose config and layer blobs are in
    /// the store: unpacks missing layers and checks each layer's
    /// uncompressed digest against the config's `diff_ids`. The caller holds
    /// the lock and adds the record to the index.
    pub(super) fn commit_image(
        &self,
        config_digest: &str,
        layers: &[String],
        tags: Vec<String>,
        undo: &mut Undo,
    ) -> Result<ImageRecord, ImageError> {
        let path = self.blob_path(config_digest);
        let data = fs::read(&path).map_err(|source| ImageError::Read { path, source })?;
        let config: ConfigFile =
            serde_json::from_slice(&data).map_err(|source| ImageError::BadConfig {
                digest: config_digest.to_string(),
                source,
            })?;
        if config.rootfs.diff_ids.len() != layers.len() {
            return Err(ImageError::LayerCount {
                config: config_digest.to_string(),
                diff_ids: config.rootfs.diff_ids.len(),
                layers: layers.len(),
            });
        }
        let mut size = 0;
        for (layer, expected) in layers.iter().zip(&config.rootfs.diff_ids) {
            let info = self.ensure_layer(layer, undo)?;
            if info.diff_id != *expected {
                return Err(ImageError::DiffIdMismatch {
                    layer: layer.clone(),
                    expected: expected.clone(),
                    actual: info.diff_id,
                });
            }
            size += info.size;
        }
        let repo_tags = tags
            .iter()
            .map(|t| parse_reference(t).map(|r| r.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ImageRecord {
            id: config_digest.to_string(),
            repo_tags,
            created: config.created.unwrap_or_else(|| EPOCH.to_string()),
            size,
            layers: layers.to_vec(),
            repo_digests: Vec::new(),
            config: config.config.unwrap_or_default(),
        })
    }

    /// Adds records to the index under the lock the caller holds.
    pub(super) fn add_records(&self, records: &[ImageRecord]) -> Result<(), ImageError> {
        let mut images = self.list()?;
        for record in records {
            index::add_record(&mut images, record.clone());
        }
        self.save(&images)
    }

    /// Deletes blobs written during an operation (manifests, indexes, other
    /// platforms' layers) that no image in the index references.
    pub(super) fn drop_unreferenced(&self, new_blobs: &[String]) -> Result<(), ImageError> {
        let images = self.list()?;
        for digest in new_blobs {
            let used = images
                .iter()
                .any(|im| im.id == *digest || im.layers.contains(digest));
            if !used {
                self.delete_digest(digest)?;
            }
        }
        Ok(())
    }

    /// Adds tag `target` to the image `source` names (`docker tag`).
    pub fn tag(&self, source: &str, target: &str) -> Result<ImageRecord, ImageError> {
        let target = parse_reference(target)?.to_string();
        let _lock = blobs::lock(&self.root().join("lock"))?;
        let mut images = self.list()?;
        let (idx, _) = index::find(&images, source)?;
        let mut record = images[idx].clone();
        record.repo_tags = vec![target];
        index::add_record(&mut images, record.clone());
        self.save(&images)?;
        Ok(record)
    }

    /// Deletes untagged images no container uses (`image prune`), with the
    /// layers and blobs only they referenced. Returns `Deleted: ...` lines.
    pub fn prune(&self, in_use: &dyn Fn(&str) -> bool) -> Result<Vec<String>, ImageError> {
        let _lock = blobs::lock(&self.root().join("lock"))?;
        let mut images = self.list()?;
        let (gone, kept): (Vec<_>, Vec<_>) = images
            .drain(..)
            .partition(|im| im.repo_tags.is_empty() && !in_use(&im.id));
        self.save(&kept)?;
        let mut report = Vec::new();
        for removed in &gone {
            report.push(format!("Deleted: {}", removed.id));
            for digest in index::unreferenced(&kept, removed) {
                self.delete_digest(&digest)?;
            }
        }
        Ok(report)
    }
}
