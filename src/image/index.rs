//! Pure operations on the list of image records: tagging, lookup and
//! planning removals. The store applies them under its lock.

use std::collections::HashSet;

use super::{digest_hex, parse_reference, ImageError, ImageRecord};

const MIN_ID_PREFIX: usize = 4;

/// Adds `record` (whose tags move away from any other image). If an image
/// with the same id exists, its tags are merged instead.
pub fn add_record(images: &mut Vec<ImageRecord>, record: ImageRecord) {
    for image in images.iter_mut() {
        image.repo_tags.retain(|t| !record.repo_tags.contains(t));
    }
    match images.iter_mut().find(|i| i.id == record.id) {
        Some(existing) => {
            existing.repo_tags.extend(record.repo_tags);
            for digest in record.repo_digests {
                if !existing.repo_digests.contains(&digest) {
                    existing.repo_digests.push(digest);
                }
            }
        }
        None => images.push(record),
    }
}

/// The image `name@sha256:<hex>` names, by its repo digests (the name as
/// pulled, or its short local form: `busybox` for docker.io/library/busybox).
fn find_by_digest(images: &[ImageRecord], query: &str) -> Option<usize> {
    let local = crate::image::oci::local_name(query);
    images
        .iter()
        .position(|im| im.repo_digests.iter().any(|d| *d == query || *d == local))
}

/// Finds an image by `name:tag`, `name` (= `name:latest`), full id,
/// `sha256:<hex>` or a unique id prefix of at least 4 hex digits. Returns
/// its index and the tag when it matched by tag.
pub fn find(images: &[ImageRecord], query: &str) -> Result<(usize, Option<String>), ImageError> {
    if query.contains('@') {
        return find_by_digest(images, query)
            .map(|i| (i, None))
            .ok_or_else(|| ImageError::NotFound {
                reference: query.to_string(),
            });
    }
    let parsed = parse_reference(query);
    if let Ok(reference) = &parsed {
        let tag = reference.to_string();
        if let Some(i) = images.iter().position(|im| im.repo_tags.contains(&tag)) {
            return Ok((i, Some(tag)));
        }
    }
    let hex = digest_hex(query);
    let id_like = hex.len() >= MIN_ID_PREFIX
        && hex.len() <= 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if id_like {
        let mut matches = images
            .iter()
            .enumerate()
            .filter(|(_, im)| digest_hex(&im.id).starts_with(hex));
        match (matches.next(), matches.count()) {
            (Some((i, _)), 0) => return Ok((i, None)),
            (Some(_), more) => {
                return Err(ImageError::Ambiguous {
                    prefix: hex.to_string(),
                    count: more + 1,
                })
            }
            (None, _) => {}
        }
    }
    match parsed {
        Ok(reference) => Err(ImageError::NotFound {
            reference: reference.to_string(),
        }),
        Err(_) if id_like || query.starts_with("sha256:") => Err(ImageError::NotFound {
            reference: query.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// What `remove` will do to one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub untag: Vec<String>,
    /// Delete the record (and then unreferenced layers/blobs).
    pub delete: bool,
}

/// Decides a removal like `docker rmi`: a tag of a multi-tag image is just
/// untagged; otherwise the image is deleted, refused while in use (forcing
/// then only untags, keeping the image for its container).
pub fn plan_removal(
    image: &ImageRecord,
    matched_tag: Option<&str>,
    in_use: bool,
    force: bool,
) -> Result<Removal, ImageError> {
    if let Some(tag) = matched_tag {
        if image.repo_tags.len() > 1 {
            return Ok(Removal {
                untag: vec![tag.to_string()],
                delete: false,
            });
        }
    } else if image.repo_tags.len() > 1 && !force {
        return Err(ImageError::MultipleTags {
            image: image.short_id().to_string(),
            tags: image.repo_tags.join(", "),
        });
    }
    let untag = image.repo_tags.clone();
    if !in_use {
        return Ok(Removal {
            untag,
            delete: true,
        });
    }
    let name = matched_tag.unwrap_or(image.short_id()).to_string();
    match (force, untag.is_empty()) {
        (false, _) if matched_tag.is_none() => Err(ImageError::InUseById { image: name }),
        (false, _) => Err(ImageError::InUse { image: name }),
        (true, true) => Err(ImageError::InUseUntagged { image: name }),
        (true, false) => Ok(Removal {
            untag,
            delete: false,
        }),
    }
}

/// Applies `removal` to `images[idx]`; returns the removed record if deleted.
pub fn apply_removal(
    images: &mut Vec<ImageRecord>,
    idx: usize,
    removal: &Removal,
) -> Option<ImageRecord> {
    images[idx].repo_tags.retain(|t| !removal.untag.contains(t));
    removal.delete.then(|| images.remove(idx))
}

/// Digests (layers and config) of `removed` that no remaining image uses.
pub fn unreferenced(images: &[ImageRecord], removed: &ImageRecord) -> Vec<String> {
    let used: HashSet<&str> = images
        .iter()
        .flat_map(|im| im.layers.iter().map(String::as_str).chain([im.id.as_str()]))
        .collect();
    let used_manifests: HashSet<&str> = images
        .iter()
        .flat_map(|im| im.repo_digests.iter().filter_map(|d| manifest_digest(d)))
        .collect();
    let mut out: Vec<String> = Vec::new();
    // Manifests kept from a pull go with the last image pulled by them.
    let manifests = (removed.repo_digests.iter())
        .filter_map(|d| manifest_digest(d))
        .filter(|d| !used_manifests.contains(d) && !used.contains(d))
        .map(str::to_string)
        .collect::<Vec<_>>();
    for d in removed.layers.iter().chain([&removed.id]).chain(&manifests) {
        if !used.contains(d.as_str()) && !out.contains(d) {
            out.push(d.clone());
        }
    }
    out
}

/// The `sha256:...` part of a `name@sha256:...` repo digest.
fn manifest_digest(repo_digest: &str) -> Option<&str> {
    repo_digest.rsplit_once('@').map(|(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageConfig;

    fn rec(id_char: char, tags: &[&str], layers: &[char]) -> ImageRecord {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        ImageRecord {
            id: d(id_char),
            repo_tags: tags.iter().map(|s| s.to_string()).collect(),
            created: "2024-01-01T00:00:00Z".into(),
            size: 1,
            layers: layers.iter().map(|&c| d(c)).collect(),
            repo_digests: Vec::new(),
            config: ImageConfig::default(),
        }
    }

    #[test]
    fn add_moves_tags_and_merges_same_id() {
        let mut images = vec![rec('a', &["foo:latest", "foo:1"], &['1'])];
        add_record(&mut images, rec('b', &["foo:latest"], &['2']));
        assert_eq!(images[0].repo_tags, ["foo:1"]);
        assert_eq!(images[1].repo_tags, ["foo:latest"]);
        add_record(&mut images, rec('b', &["bar:x"], &['2']));
        assert_eq!(images.len(), 2);
        assert_eq!(images[1].repo_tags, ["foo:latest", "bar:x"]);
    }

    #[test]
    fn find_by_tag_id_and_prefix() {
        let mut b = rec('b', &["bar:1"], &['2']);
        b.id = format!("sha256:abcd{}", "0".repeat(60));
        let mut c = rec('c', &[], &['2']);
        c.id = format!("sha256:abce{}", "0".repeat(60));
        let images = vec![rec('a', &["foo:latest"], &['1']), b, c];
        assert_eq!(
            find(&images, "foo").unwrap(),
            (0, Some("foo:latest".into()))
        );
        assert_eq!(find(&images, "foo:latest").unwrap().0, 0);
        assert_eq!(find(&images, "bar:1").unwrap().0, 1);
        assert_eq!(find(&images, &"a".repeat(64)).unwrap(), (0, None));
        assert_eq!(
            find(&images, &format!("sha256:{}", "a".repeat(64)))
                .unwrap()
                .0,
            0
        );
        assert_eq!(find(&images, "abcd").unwrap().0, 1);
        assert_eq!(find(&images, "sha256:abce").unwrap().0, 2);
        assert!(matches!(
            find(&images, "abc"),
            Err(ImageError::NotFound { .. })
        ));
        assert!(matches!(
            find(&images, "abc0"),
            Err(ImageError::NotFound { .. })
        ));
        assert!(matches!(
            find(&images, "sha256:ab"),
            Err(ImageError::NotFound { .. })
        ));
        let mut amb = images.clone();
        amb[0].id = format!("sha256:abcd{}", "1".repeat(60));
        assert!(matches!(
            find(&amb, "abcd"),
            Err(ImageError::Ambiguous { count: 2, .. })
        ));
        let err = find(&images, "bar").unwrap_err();
        assert_eq!(
            err.to_string(),
            "image \"bar:latest\" not found; import one with 'rcorch import TARBALL bar:latest'"
        );
        assert!(matches!(
            find(&images, "Bar"),
            Err(ImageError::Reference(_))
        ));
    }

    #[test]
    fn removal_plans() {
        let multi = rec('a', &["foo:1", "foo:2"], &['1']);
        let plan = plan_removal(&multi, Some("foo:1"), true, false).unwrap();
        assert_eq!(
            plan,
            Removal {
                untag: vec!["foo:1".into()],
                delete: false
            }
        );
        assert!(matches!(
            plan_removal(&multi, None, false, false),
            Err(ImageError::MultipleTags { .. })
        ));
        assert!(plan_removal(&multi, None, false, true).unwrap().delete);

        let single = rec('a', &["foo:1"], &['1']);
        assert!(
            plan_removal(&single, Some("foo:1"), false, false)
                .unwrap()
                .delete
        );
        let err = plan_removal(&single, Some("foo:1"), true, false).unwrap_err();
        assert!(
            err.to_string().contains("foo:1") && err.to_string().contains("-f"),
            "{err}"
        );
        let forced = plan_removal(&single, Some("foo:1"), true, true).unwrap();
        assert_eq!(
            forced,
            Removal {
                untag: vec!["foo:1".into()],
                delete: false
            }
        );
        let dangling = rec('a', &[], &['1']);
        assert!(matches!(
            plan_removal(&dangling, None, true, true),
            Err(ImageError::InUseUntagged { .. })
        ));
    }

    #[test]
    fn apply_and_unreferenced() {
        let mut images = vec![
            rec('a', &["foo:1"], &['1', '2']),
            rec('b', &["bar:1"], &['2', '3']),
        ];
        let removal = plan_removal(&images[0], Some("foo:1"), false, false).unwrap();
        let removed = apply_removal(&mut images, 0, &removal).unwrap();
        assert_eq!(images.len(), 1);
        let gone = unreferenced(&images, &removed);
        assert_eq!(
            gone,
            [format!("sha256:{}", "1".repeat(64)), removed.id.clone()]
        );
    }

    #[test]
    fn a_kept_manifest_goes_with_the_last_image_pulled_by_it() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let mut a = rec('a', &["foo:1"], &['1']);
        a.repo_digests = vec![format!("reg/foo@{}", d('m')), format!("reg/foo@{}", d('n'))];
        let mut b = rec('b', &["bar:1"], &['2']);
        b.repo_digests = vec![format!("reg/bar@{}", d('n'))];
        let images = vec![b];
        let gone = unreferenced(&images, &a);
        assert_eq!(gone, [d('1'), d('a'), d('m')], "n still names bar");
    }

    #[test]
    fn digest_references_find_by_repo_digest() {
        let mut a = rec('a', &[], &['1']);
        a.repo_digests = vec!["reg:5000/x/y@sha256:11".into(), "busybox@sha256:22".into()];
        let images = vec![rec('b', &["x:1"], &['2']), a];
        assert_eq!(find(&images, "reg:5000/x/y@sha256:11").unwrap(), (1, None));
        assert_eq!(
            find(&images, "docker.io/library/busybox@sha256:22").unwrap(),
            (1, None)
        );
        assert!(matches!(
            find(&images, "reg:5000/x/y@sha256:33"),
            Err(ImageError::NotFound { .. })
        ));
        // Pulling the same image again by another digest merges, no duplicates.
        let mut images = images;
        let mut again = rec('a', &["y:2"], &['1']);
        again.repo_digests = vec!["busybox@sha256:22".into(), "z@sha256:44".into()];
        add_record(&mut images, again);
        assert_eq!(images.len(), 2);
        assert_eq!(images[1].repo_tags, ["y:2"]);
        assert_eq!(images[1].repo_digests.len(), 3);
    }
}
