//! The image index as one record per image (`images/records/HEX.json`,
//! its copy under `copies/`, `util::records`): a damaged record takes at
//! most its own image, never the names of the others. The single
//! `images.json` of earlier versions is read until the first locked write
//! splits it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{digest_hex, parse_reference, valid_digest, ImageError, ImageRecord};
use crate::util::records::{parse_record, Damage, Records};

#[derive(Debug, Clone)]
pub(super) struct Index {
    records: Records,
    legacy: PathBuf,
}

/// An image whose record and copy are both unreadable.
#[derive(Debug, Clone)]
pub struct LostImage {
    /// `sha256:<hex>`, from the record's file name.
    pub id: String,
    pub damage: Damage,
    /// The record's bytes, for the names a cut-short record still holds.
    bytes: Vec<u8>,
}

impl LostImage {
    /// What is left of its record.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether `query` names it: its id (or a prefix of 12 or more hex
    /// digits), or a tag whose whole string survives in its bytes.
    pub fn answers_to(&self, query: &str) -> bool {
        let hex = digest_hex(query);
        if hex.len() >= 12 && digest_hex(&self.id).starts_with(hex) {
            return true;
        }
        let Ok(reference) = parse_reference(query) else {
            return false;
        };
        let quoted = format!("\"{reference}\"");
        String::from_utf8_lossy(&self.bytes).contains(&quoted)
    }
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> ImageError + '_ {
    move |source| ImageError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// Keeps each tag on the newest image that claims it: a tag moves by two
/// record writes, and a crash between them leaves it on both. Newest by
/// creation time, then (images made in one second) by when the record was
/// last written: the one that gained the tag was written, the one a crash
/// kept from losing it was not. Each comes with its record's mtime.
fn dedupe_tags(mut images: Vec<(ImageRecord, Option<SystemTime>)>) -> Vec<ImageRecord> {
    // As times: "…:47Z" and "…:47.1Z" compare the wrong way as strings.
    let created = |im: &ImageRecord| crate::util::time::parse_rfc3339(&im.created);
    images.sort_by(|(a, at), (b, bt)| {
        (created(a).cmp(&created(b)))
            .then(at.cmp(bt))
            .then(a.id.cmp(&b.id))
    });
    let mut seen = BTreeSet::new();
    for (image, _) in images.iter_mut().rev() {
        image.repo_tags.retain(|t| seen.insert(t.clone()));
    }
    images.into_iter().map(|(image, _)| image).collect()
}

impl Index {
    pub(super) fn open(root: &Path) -> Index {
        Index {
            records: Records::new(root.join("records"), root.join("copies")),
            legacy: root.join("images.json"),
        }
    }

    /// Temporaries of record writes a kill cut short (lock held).
    pub(super) fn sweep_dead_temps(&self) {
        self.records.sweep_dead_temps();
    }

    fn legacy(&self) -> Vec<ImageRecord> {
        std::fs::read(&self.legacy)
            .ok()
            .and_then(|bytes| parse_record::<Vec<ImageRecord>>(&bytes).ok())
            .unwrap_or_default()
    }

    /// Every readable image (from its copy where its record is damaged).
    pub(super) fn list(&self) -> Result<Vec<ImageRecord>, ImageError> {
        let dir = self.records.path("");
        let scan = self.records.scan::<ImageRecord>().map_err(read_err(&dir))?;
        // Digests become file names, so a record naming anything else is
        // left out as damaged (`damaged` reports it).
        let mut images: Vec<ImageRecord> = scan
            .records
            .into_iter()
            .filter(|(hex, im)| whole(hex, im))
            .map(|(_, im)| im)
            .collect();
        let known: BTreeSet<String> = images.iter().map(|im| im.id.clone()).collect();
        images.extend(
            self.legacy()
                .into_iter()
                .filter(|im| !known.contains(&im.id) && whole(digest_hex(&im.id), im)),
        );
        let written = |im: &ImageRecord| {
            let path = self.records.path(digest_hex(&im.id));
            std::fs::metadata(path).and_then(|m| m.modified()).ok()
        };
        let dated = images.into_iter().map(|im| (written(&im), im));
        Ok(dedupe_tags(dated.map(|(t, im)| (im, t)).collect()))
    }

    /// The damaged records: read from their copy, or lost (with their bytes).
    pub(super) fn damaged(&self) -> Result<(Vec<Damage>, Vec<LostImage>), ImageError> {
        let dir = self.records.path("");
        let scan = self.records.scan::<ImageRecord>().map_err(read_err(&dir))?;
        let mut recovered = Vec::new();
        let mut lost = Vec::new();
        for (hex, damage) in scan.damaged {
            if damage.recovered {
                recovered.push(damage);
                continue;
            }
            let bytes = std::fs::read(&damage.path).unwrap_or_default();
            lost.push(LostImage {
                id: format!("sha256:{hex}"),
                damage,
                bytes,
            });
        }
        for (hex, im) in &scan.records {
            if !whole(hex, im) {
                let path = self.records.path(hex);
                lost.push(LostImage {
                    id: format!("sha256:{hex}"),
                    bytes: std::fs::read(&path).unwrap_or_default(),
                    damage: Damage {
                        path,
                        problem: "not a valid record (a digest that is not one)".into(),
                        recovered: false,
                    },
                });
            }
        }
        Ok((recovered, lost))
    }

    /// Writes the record of every image that changed and removes those of
    /// images gone from `images`; a lost record stays until `rmi` or
    /// `system check` deals with it. Needs the store's lock.
    pub(super) fn save(&self, images: &[ImageRecord]) -> Result<(), ImageError> {
        let mut names = BTreeSet::new();
        for image in images {
            let hex = digest_hex(&image.id).to_string();
            let json = serde_json::to_vec_pretty(image).expect("record serialises");
            let path = self.records.path(&hex);
            self.records
                .write(&hex, &json)
                .map_err(|source| ImageError::Write { path, source })?;
            names.insert(hex);
        }
        let dir = self.records.path("");
        let on_disk = self
            .records
            .scan::<serde_json::Value>()
            .map_err(read_err(&dir))?;
        let lost: BTreeSet<&String> = on_disk.lost().map(|(n, _)| n).collect();
        for name in on_disk.records.keys().chain(on_disk.damaged.keys()) {
            if !names.contains(name) && !lost.contains(name) {
                self.forget(name)?;
            }
        }
        // Split now; a damaged one is left for `system check` to set aside.
        let split =
            std::fs::read(&self.legacy).is_ok_and(|b| parse_record::<Vec<ImageRecord>>(&b).is_ok());
        match split {
            true => std::fs::remove_file(&self.legacy).map_err(|source| ImageError::Write {
                path: self.legacy.clone(),
                source,
            }),
            false => Ok(()),
        }
    }

    /// Deletes image `hex`'s record and copy.
    pub(super) fn forget(&self, hex: &str) -> Result<(), ImageError> {
        let path = self.records.path(hex);
        self.records
            .remove(hex)
            .map_err(|source| ImageError::Write { path, source })
    }

    /// Renames a lost record `*.damaged` (`system check --repair`).
    pub(super) fn set_aside(&self, hex: &str) -> Result<(), ImageError> {
        let path = self.records.path(hex);
        self.records
            .set_aside(hex)
            .map_err(|source| ImageError::Write { path, source })
    }
}

fn whole(hex: impl AsRef<str>, image: &ImageRecord) -> bool {
    digest_hex(&image.id) == hex.as_ref()
        && image
            .layers
            .iter()
            .chain([&image.id])
            .all(|d| valid_digest(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn image(id: char, created: &str, tags: &[&str]) -> ImageRecord {
        let mut im: ImageRecord = serde_json::from_value(serde_json::json!({
            "id": format!("sha256:{}", id.to_string().repeat(64)),
            "repo_tags": tags, "layers": [], "created": created, "size": 0, "config": {}
        }))
        .unwrap();
        im.created = created.to_string();
        im
    }

    #[test]
    fn a_tag_on_two_images_stays_on_the_newer_then_the_later_written() {
        let t = |s| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        let tags = |v: &[ImageRecord]| v.iter().map(|i| i.repo_tags.clone()).collect::<Vec<_>>();
        let older = image('a', "2026-01-01T00:00:00Z", &["x:1", "a:1"]);
        let newer = image('b', "2026-01-02T00:00:00Z", &["x:1"]);
        let kept = dedupe_tags(vec![(newer.clone(), t(1)), (older.clone(), t(2))]);
        assert_eq!(
            tags(&kept),
            [vec!["a:1".to_string()], vec!["x:1".to_string()]]
        );
        // Fractions of a second count.
        let whole = image('a', "2026-01-01T00:00:00Z", &["x:1"]);
        let later = image('0', "2026-01-01T00:00:00.5Z", &["x:1"]);
        let kept = dedupe_tags(vec![(later.clone(), t(1)), (whole, t(2))]);
        assert_eq!(kept[1].id, later.id);
        // Made at once: the record written last keeps it, whatever the ids.
        let same = |id| image(id, "2026-01-01T00:00:00Z", &["x:1"]);
        let kept = dedupe_tags(vec![(same('f'), t(1)), (same('0'), t(2))]);
        assert_eq!(kept[1].id, same('0').id);
        assert_eq!(tags(&kept), [Vec::<String>::new(), vec!["x:1".to_string()]]);
    }
}
