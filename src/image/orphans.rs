//! Layers no image or container uses: an image whose record and copy are
//! both deleted leaves its unpacked layers behind. `system check` reports
//! them and `--repair` removes them, each decided again under the store's
//! lock so a layer something came to use meanwhile stays.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::blobs;
use super::store::ImageStore;
use super::{digest_hex, ImageError, ImageRecord};

/// The layers in `on_disk` (`sha256:<hex>`) that no whole image lists and
/// whose hex digits no other record names: `mentions` holds the raw bytes
/// of lost image records, container configs and the build cache, read as
/// text so a torn one still protects the layers it names.
pub fn orphans(on_disk: &[String], images: &[ImageRecord], mentions: &[Vec<u8>]) -> Vec<String> {
    let listed: BTreeSet<&str> = images
        .iter()
        .flat_map(|im| im.layers.iter().map(|d| digest_hex(d)))
        .collect();
    let texts: Vec<String> = mentions
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    on_disk
        .iter()
        .filter(|d| {
            let hex = digest_hex(d);
            !listed.contains(hex) && !texts.iter().any(|t| t.contains(hex))
        })
        .cloned()
        .collect()
}

impl ImageStore {
    /// The directory of layer `digest` (what `system check` reports).
    pub fn layer_path(&self, digest: &str) -> PathBuf {
        self.layer_dir(digest)
    }

    /// Layers nothing uses; `mentions` as in `orphans`, without the lost
    /// image records (read here).
    pub fn orphan_layers(&self, mentions: &[Vec<u8>]) -> Result<Vec<String>, ImageError> {
        let images = self.list()?;
        let mut mentions = mentions.to_vec();
        mentions.extend(self.damaged()?.1.into_iter().map(|l| l.bytes().to_vec()));
        Ok(orphans(&self.layer_digests()?, &images, &mentions))
    }

    /// Deletes layer `digest` if it is still an orphan under the lock and
    /// no build is `building` (a build's layers join an image only at its
    /// end); returns whether it did.
    pub fn remove_orphan_layer(
        &self,
        digest: &str,
        mentions: &[Vec<u8>],
        building: &dyn Fn() -> bool,
    ) -> Result<bool, ImageError> {
        let _lock = blobs::lock(&self.root().join("lock"))?;
        if building() || !self.orphan_layers(mentions)?.iter().any(|d| d == digest) {
            return Ok(false);
        }
        self.delete_digest(digest)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn image(layers: &[char]) -> ImageRecord {
        let mut im: ImageRecord = serde_json::from_value(serde_json::json!({
            "id": digest('f'), "repo_tags": [], "layers": [], "created": "", "size": 0, "config": {}
        }))
        .unwrap();
        im.layers = layers.iter().map(|c| digest(*c)).collect();
        im
    }

    #[test]
    fn only_layers_nothing_names_are_orphans() {
        let on_disk: Vec<String> = ['a', 'b', 'c', 'd'].iter().map(|c| digest(*c)).collect();
        let torn_config = format!(r#"{{"layers":["/r/images/layers/{}/roo"#, "c".repeat(64));
        let found = orphans(&on_disk, &[image(&['a'])], &[torn_config.into_bytes()]);
        assert_eq!(found, vec![digest('b'), digest('d')]);
        assert!(orphans(&[], &[], &[]).is_empty());
    }
}
