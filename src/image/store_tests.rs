//! Round trips through `ImageStore` on small tarballs built in the test.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{digest_hex, ImageError, ImageStore};

/// Writes a gzip (or plain) tarball with `files` to `path`.
fn tarball(path: &Path, files: &[(&str, &[u8])], gzip: bool) -> PathBuf {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, *data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let bytes = if gzip {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    } else {
        tar
    };
    fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

fn count(dir: &Path) -> usize {
    fs::read_dir(dir).unwrap().count()
}

#[test]
fn import_list_resolve_layer_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path().join("images")).unwrap();
    let tb = tarball(&tmp.path().join("a.tar.gz"), &[("bin/hello", b"hi")], true);
    let img = store.import(&tb, "hello").unwrap();
    assert_eq!(img.repo_tags, ["hello:latest"]);
    assert_eq!(img.layers.len(), 1);
    assert_eq!(img.size, 2);
    assert!(
        img.created.ends_with('Z') && img.created.len() == 20,
        "{}",
        img.created
    );
    assert_eq!(
        img.config.env.as_deref(),
        Some(&[super::DEFAULT_PATH_ENV.to_string()][..])
    );
    assert_eq!(img.config.cmd, None);
    // Blob digests are verified against the file content.
    let blob = fs::read(store.blob_path(&img.layers[0])).unwrap();
    assert_eq!(
        format!("sha256:{}", super::sha256::digest_hex(&blob)),
        img.layers[0]
    );
    let config = fs::read(store.blob_path(&img.id)).unwrap();
    assert_eq!(
        format!("sha256:{}", super::sha256::digest_hex(&config)),
        img.id
    );

    assert_eq!(store.list().unwrap(), std::slice::from_ref(&img));
    for q in [
        "hello",
        "hello:latest",
        &img.id,
        &img.id[7..],
        &img.id[7..12],
        &img.id[..12],
    ] {
        assert_eq!(store.resolve(q).unwrap().id, img.id, "{q}");
    }
    let err = store.resolve("nope").unwrap_err();
    assert!(matches!(err, ImageError::NotFound { .. }));
    let dirs = store.layer_dirs(&img);
    assert_eq!(dirs.len(), 1);
    assert_eq!(fs::read(dirs[0].join("bin/hello")).unwrap(), b"hi");
}

#[test]
fn reimport_moves_tag_and_shares_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path().join("images")).unwrap();
    let a = tarball(&tmp.path().join("a.tar"), &[("a", b"1")], false);
    let b = tarball(&tmp.path().join("b.tar"), &[("b", b"2")], false);
    let first = store.import(&a, "app:v1").unwrap();
    let second = store.import(&b, "app:v1").unwrap();
    assert_ne!(first.id, second.id);
    let images = store.list().unwrap();
    assert_eq!(images.len(), 2);
    assert!(images
        .iter()
        .find(|i| i.id == first.id)
        .unwrap()
        .repo_tags
        .is_empty());
    assert_eq!(store.resolve("app:v1").unwrap().id, second.id);
    // Same tarball again under another tag: its layer is not unpacked twice.
    let third = store.import(&a, "other").unwrap();
    assert_eq!(third.layers, first.layers);
    assert_eq!(count(&tmp.path().join("images/layers")), 2);
}

#[test]
fn remove_untags_then_deletes_and_respects_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("images");
    let store = ImageStore::open(&root).unwrap();
    let a = tarball(&tmp.path().join("a.tar"), &[("a", b"1")], false);
    let img = store.import(&a, "app:1").unwrap();
    store.import(&a, "app:2").unwrap(); // same content, possibly same id
    let img2 = store.resolve("app:2").unwrap();

    let never = |_: &str| false;
    let always = |_: &str| true;
    if img2.id == img.id {
        // Two tags on one image: the first removal only untags.
        assert_eq!(
            store.remove("app:1", &always, false).unwrap(),
            ["Untagged: app:1"]
        );
    } else {
        store.remove("app:1", &never, false).unwrap();
    }
    let err = store.remove("app:2", &always, false).unwrap_err();
    assert!(matches!(err, ImageError::InUse { .. }), "{err}");
    assert!(err.to_string().contains("app:2") && err.to_string().contains("-f"));

    let out = store.remove("app:2", &never, false).unwrap();
    assert_eq!(out[0], "Untagged: app:2");
    assert_eq!(out[1], format!("Deleted: {}", img2.id));
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(store.list().unwrap().is_empty());
    assert_eq!(count(&root.join("layers")), 0);
    assert_eq!(count(&root.join("blobs/sha256")), 0);
    assert!(matches!(
        store.remove("app:2", &never, false),
        Err(ImageError::NotFound { .. })
    ));
}

#[test]
fn forced_remove_of_in_use_image_only_untags() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path().join("images")).unwrap();
    let a = tarball(&tmp.path().join("a.tar"), &[("a", b"1")], false);
    let img = store.import(&a, "app").unwrap();
    let out = store.remove("app", &|id: &str| id == img.id, true).unwrap();
    assert_eq!(out, ["Untagged: app:latest"]);
    let left = store.list().unwrap();
    assert_eq!(left.len(), 1);
    assert!(store.layer_dirs(&left[0])[0].join("a").exists());
}

#[test]
fn corrupt_import_leaves_store_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("images");
    let store = ImageStore::open(&root).unwrap();
    let good = tarball(&tmp.path().join("g.tar"), &[("x", b"x")], false);
    store.import(&good, "good").unwrap();
    let index_before = store.list().unwrap();

    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let full = tarball(&tmp.path().join("t.tar.gz"), &[("big", &big)], true);
    let bytes = fs::read(&full).unwrap();
    let truncated = tmp.path().join("trunc.tar.gz");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = store.import(&truncated, "bad").unwrap_err();
    assert!(matches!(err, ImageError::Unpack { .. }), "{err}");
    assert!(err.to_string().contains("corrupt"), "{err}");

    assert_eq!(store.list().unwrap(), index_before);
    assert_eq!(count(&root.join("layers")), 1);
    assert_eq!(count(&root.join("blobs/sha256")), 2);
    assert!(store.import(&truncated, "Bad").is_err());
}

#[test]
fn put_blob_verifies_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("images");
    let store = ImageStore::open(&root).unwrap();
    let good = format!("sha256:{}", super::sha256::digest_hex(b"abc"));
    assert_eq!(store.put_blob(&b"abc"[..], &good).unwrap(), good);
    assert_eq!(fs::read(store.blob_path(&good)).unwrap(), b"abc");
    let err = store.put_blob(&b"abd"[..], &good).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert_eq!(count(&root.join("blobs/sha256")), 1);
}

/// A damaged image record takes at most its own image: read from its copy
/// (and healed), else lost, listed by `damaged`, and removable by id.
#[test]
fn a_damaged_image_record_takes_only_its_own_image() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("images");
    let store = ImageStore::open(&root).unwrap();
    let a = store
        .import(
            &tarball(&tmp.path().join("a.tar"), &[("a", b"a")], false),
            "a",
        )
        .unwrap();
    let b = store
        .import(
            &tarball(&tmp.path().join("b.tar"), &[("b", b"b")], false),
            "b",
        )
        .unwrap();
    let hex = digest_hex(&a.id).to_string();
    let record = root.join("records").join(format!("{hex}.json"));
    let bytes = fs::read(&record).unwrap();
    fs::write(&record, &bytes[..bytes.len() / 3]).unwrap();
    assert_eq!(store.list().unwrap().len(), 2, "read from its copy");
    assert_eq!(store.damage_reports().len(), 1);
    store.heal().unwrap();
    assert!(store.damage_reports().is_empty());

    fs::write(&record, &bytes[..bytes.len() / 3]).unwrap();
    fs::write(root.join("copies").join(format!("{hex}.json")), b"").unwrap();
    assert_eq!(store.list().unwrap(), vec![b.clone()]);
    assert_eq!(store.resolve("b").unwrap(), b);
    let (_, lost) = store.damaged().unwrap();
    assert_eq!(lost.len(), 1);
    assert!(lost[0].answers_to(&hex[..12]) && lost[0].answers_to("a"));
    assert!(!lost[0].answers_to("b"));
    let report = store.remove("a", &|_| false, false).unwrap();
    assert_eq!(report[0], format!("Deleted: {}", a.id));
    assert!(!record.exists());
    assert_eq!(count(&root.join("layers")), 1, "its layer went with it");
    assert_eq!(store.list().unwrap(), vec![b]);
}

#[test]
fn the_single_index_file_of_earlier_versions_is_split_by_the_next_write() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("images");
    let store = ImageStore::open(&root).unwrap();
    let a = store
        .import(
            &tarball(&tmp.path().join("a.tar"), &[("a", b"a")], false),
            "a",
        )
        .unwrap();
    fs::remove_dir_all(root.join("records")).unwrap();
    fs::remove_dir_all(root.join("copies")).unwrap();
    fs::write(root.join("images.json"), serde_json::to_vec(&[&a]).unwrap()).unwrap();
    assert_eq!(store.list().unwrap(), vec![a.clone()]);
    let b = store
        .import(
            &tarball(&tmp.path().join("b.tar"), &[("b", b"b")], false),
            "b",
        )
        .unwrap();
    assert!(!root.join("images.json").exists());
    let mut ids: Vec<String> = store.list().unwrap().into_iter().map(|i| i.id).collect();
    ids.sort();
    let mut want = vec![a.id, b.id];
    want.sort();
    assert_eq!(ids, want);
}
