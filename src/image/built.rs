//! What `rcorch build` adds to the store: a layer from a tar file (kept
//! unpacked for the next steps), and an image from a config the builder
//! wrote with its layers.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::blobs;
use super::store::Undo;
use super::{ImageError, ImageRecord, ImageStore};

impl ImageStore {
    /// Stores layer tar `tar` as a blob and unpacks it; returns its digest
    /// and unpacked rootfs (an overlay lower dir). `tick` is called as the
    /// tar is read (the live build view's clock).
    pub fn add_layer_file(
        &self,
        tar: &Path,
        tick: &dyn Fn(),
    ) -> Result<(String, PathBuf), ImageError> {
        let _lock = blobs::lock(&self.root().join("lock"))?;
        let mut undo = Undo(Vec::new());
        let file = File::open(tar).map_err(|source| ImageError::Open {
            path: tar.to_path_buf(),
            source,
        })?;
        let file = crate::util::ticked::Ticked::new(file, tick);
        let (digest, new_blob) = blobs::write_blob(&self.blob_dir(), file, tar, None)?;
        if new_blob {
            undo.0.push(self.blob_path(&digest));
        }
        self.ensure_layer_ticking(&digest, &mut undo, tick)?;
        undo.0.clear();
        let dir = self.layer_dir(&digest).join("rootfs");
        Ok((digest, dir))
    }

    /// Adds the image whose config blob is `config` over `layers` (all in
    /// the store), tagged `tags` (moved off older images).
    pub fn commit_built(
        &self,
        config: &[u8],
        layers: &[String],
        tags: &[String],
    ) -> Result<ImageRecord, ImageError> {
        let _lock = blobs::lock(&self.root().join("lock"))?;
        let mut undo = Undo(Vec::new());
        let (id, new_config) =
            blobs::write_blob(&self.blob_dir(), config, Path::new("<build>"), None)?;
        if new_config {
            undo.0.push(self.blob_path(&id));
        }
        let record = self.commit_image(&id, layers, tags.to_vec(), &mut undo)?;
        self.add_records(std::slice::from_ref(&record))?;
        undo.0.clear();
        self.resolve(&record.id)
    }

    /// The unpacked rootfs of layer `digest`, if the store has it complete.
    pub fn existing_layer(&self, digest: &str) -> Option<PathBuf> {
        if !super::valid_digest(digest) {
            return None;
        }
        let dir = self.layer_dir(digest);
        dir.join("layer.json").exists().then(|| dir.join("rootfs"))
    }

    /// Deletes those of `digests` no image references (the build cache's
    /// layers, on `builder prune`); returns how many went.
    pub fn forget_layers(&self, digests: &[String]) -> Result<usize, ImageError> {
        let _lock = blobs::lock(&self.root().join("lock"))?;
        let images = self.list()?;
        let mut gone = 0;
        for d in digests {
            let used = images.iter().any(|im| im.layers.contains(d));
            if !used && super::valid_digest(d) && self.blob_path(d).exists() {
                self.delete_digest(d)?;
                gone += 1;
            }
        }
        Ok(gone)
    }
}
