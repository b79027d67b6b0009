//! load/save on hand-built docker-save and OCI archives (no root needed).

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use serde_json::json;

use super::archive::{load, save, ArchiveError};
use super::archive_save::{describes, original_manifest};
use super::oci::host_arch;
use super::sha256::Sha256;
use super::{ImageError, ImageStore};

fn digest(data: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(data);
    format!("sha256:{}", h.finalize_hex())
}

fn hex(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap()
}

/// A layer tar holding `files` (path, content).
fn layer(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1);
        b.append_data(&mut h, path, content.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn config(diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "created": "2024-01-02T03:04:05Z", "architecture": "amd64", "os": "linux",
        "config": {"Env": ["A=1"], "Cmd": ["/bin/app"], "WorkingDir": "/srv"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .unwrap()
}

/// An archive from (name, content) pairs.
fn archive(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

fn two_layers() -> (Vec<u8>, Vec<u8>) {
    (
        layer(&[("etc/a", "a"), ("bin/app", "x")]),
        layer(&[("etc/b", "b")]),
    )
}

#[test]
fn loads_docker_save_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path().join("store")).unwrap();
    let (l1, l2) = two_layers();
    let cfg = config(&[digest(&l1), digest(&l2)]);
    let manifest = json!([{"Config": format!("{}.json", hex(&digest(&cfg))),
        "RepoTags": ["docker.io/library/app:1"], "Layers": ["l1/layer.tar", "l2/layer.tar"]}]);
    let tar = archive(&[
        ("l1/layer.tar".into(), l1.clone()),
        ("l2/layer.tar".into(), l2.clone()),
        (format!("{}.json", hex(&digest(&cfg))), cfg.clone()),
        (
            "manifest.json".into(),
            serde_json::to_vec(&manifest).unwrap(),
        ),
    ]);
    let path = write(tmp.path(), "a.tar", &tar);
    let records = load(&store, &path).unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.id, digest(&cfg));
    assert_eq!(r.repo_tags, ["app:1"]);
    assert_eq!(r.layers, [digest(&l1), digest(&l2)]);
    assert_eq!(r.config.working_dir.as_deref(), Some("/srv"));
    assert_eq!(r.created, "2024-01-02T03:04:05Z");
    let dirs = store.layer_dirs(&store.resolve("app:1").unwrap());
    assert!(dirs[0].join("etc/b").exists() && dirs[1].join("bin/app").exists());
}

/// An OCI layout with gzip layers behind a multi-arch index.
fn oci_archive(l1: &[u8], l2: &[u8], cfg: &[u8]) -> Vec<u8> {
    let (g1, g2) = (gzip(l1), gzip(l2));
    let desc = |mt: &str, d: &[u8]| json!({"mediaType": mt, "digest": digest(d), "size": d.len()});
    let gz = "application/vnd.oci.image.layer.v1.tar+gzip";
    let manifest = serde_json::to_vec(&json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", cfg),
        "layers": [desc(gz, &g1), desc(gz, &g2)]}))
    .unwrap();
    let other = b"{\"not\":\"used\"}".to_vec();
    let mut m = desc("application/vnd.oci.image.manifest.v1+json", &manifest);
    m["platform"] = json!({"os": "linux", "architecture": host_arch()});
    let mut o = desc("application/vnd.oci.image.manifest.v1+json", &other);
    o["platform"] = json!({"os": "linux", "architecture": "riscv64-none"});
    let inner = serde_json::to_vec(&json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [o, m]}))
    .unwrap();
    let mut top = desc("application/vnd.oci.image.index.v1+json", &inner);
    top["annotations"] = json!({"org.opencontainers.image.ref.name": "app:oci"});
    let index = json!({"schemaVersion": 2, "manifests": [top]});
    let blob = |d: &[u8]| (format!("blobs/sha256/{}", hex(&digest(d))), d.to_vec());
    archive(&[
        (
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".into(), serde_json::to_vec(&index).unwrap()),
        blob(&inner),
        blob(&manifest),
        blob(&other),
        blob(cfg),
        blob(&g1),
        blob(&g2),
    ])
}

#[test]
fn loads_gzipped_oci_archive_with_index_and_saves_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path().join("store")).unwrap();
    let (l1, l2) = two_layers();
    let cfg = config(&[digest(&l1), digest(&l2)]);
    let path = write(tmp.path(), "o.tar.gz", &gzip(&oci_archive(&l1, &l2, &cfg)));
    let records = load(&store, &path).unwrap();
    assert_eq!(records[0].repo_tags, ["app:oci"]);
    assert_eq!(records[0].id, digest(&cfg));
    // Only the config and the two layers stay; manifests and indexes go.
    let blobs = std::fs::read_dir(store.blob_path("sha256:x").parent().unwrap()).unwrap();
    assert_eq!(blobs.count(), 3);

    let out = tmp.path().join("saved.tar");
    save(&store, &["app:oci".to_string()], &out).unwrap();
    let other = ImageStore::open(tmp.path().join("store2")).unwrap();
    let again = load(&other, &out).unwrap();
    assert_eq!(again[0].id, records[0].id);
    assert_eq!(again[0].layers, records[0].layers);
    assert_eq!(again[0].repo_tags, ["app:oci"]);
}

fn assert_store_empty(store: &ImageStore) {
    assert!(store.list().unwrap().is_empty());
    let blobs = store.blob_path("sha256:x").parent().unwrap().to_path_buf();
    assert_eq!(std::fs::read_dir(blobs).unwrap().count(), 0);
    let layers = store.root().join("layers");
    assert_eq!(std::fs::read_dir(layers).unwrap().count(), 0);
}

#[test]
fn bad_digests_leave_the_store_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path().join("store")).unwrap();
    let (l1, l2) = two_layers();
    // A layer whose content differs from the config's diff_id.
    let cfg = config(&[digest(&l1), digest(b"something else")]);
    let path = write(tmp.path(), "o.tar", &oci_archive(&l1, &l2, &cfg));
    let err = load(&store, &path).unwrap_err();
    assert!(
        matches!(err, ArchiveError::Image(ImageError::DiffIdMismatch { .. })),
        "{err}"
    );
    assert_store_empty(&store);

    // A blob whose name is not its digest.
    let good = config(&[digest(&l1), digest(&l2)]);
    let mut tar = oci_archive(&l1, &l2, &good);
    let pos = tar.windows(6).position(|w| w == b"/srv\"}").unwrap();
    tar[pos + 1] = b'S';
    let path = write(tmp.path(), "p.tar", &tar);
    let err = load(&store, &path).unwrap_err();
    assert!(
        matches!(err, ArchiveError::Image(ImageError::DigestMismatch { .. })),
        "{err}"
    );
    assert_store_empty(&store);

    // Truncated archive.
    let path = write(tmp.path(), "t.tar", &oci_archive(&l1, &l2, &good)[..3000]);
    assert!(load(&store, &path).is_err());
    assert_store_empty(&store);
}

#[test]
fn tag_and_prune() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path().join("store")).unwrap();
    let (l1, l2) = two_layers();
    let cfg = config(&[digest(&l1), digest(&l2)]);
    let path = write(tmp.path(), "o.tar", &oci_archive(&l1, &l2, &cfg));
    load(&store, &path).unwrap();
    store.tag("app:oci", "other/name:2").unwrap();
    assert_eq!(store.resolve("other/name:2").unwrap().id, digest(&cfg));
    store.remove("app:oci", &|_| false, false).unwrap();
    store.remove("other/name:2", &|_| true, true).unwrap();
    // Untagged but in use: kept.
    assert!(store.prune(&|_| true).unwrap().is_empty());
    assert_eq!(store.prune(&|_| false).unwrap().len(), 1);
    assert_store_empty(&store);
}

#[test]
fn a_kept_manifest_is_handed_out_as_is_only_while_it_describes_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path().join("store")).unwrap();
    let (l1, l2) = two_layers();
    let cfg = config(&[digest(&l1), digest(&l2)]);
    let manifest = json!([{"Config": "c.json", "RepoTags": ["app:1"],
        "Layers": ["l1/layer.tar", "l2/layer.tar"]}]);
    let tar = archive(&[
        ("l1/layer.tar".into(), l1.clone()),
        ("l2/layer.tar".into(), l2.clone()),
        ("c.json".into(), cfg.clone()),
        (
            "manifest.json".into(),
            serde_json::to_vec(&manifest).unwrap(),
        ),
    ]);
    load(&store, &write(tmp.path(), "a.tar", &tar)).unwrap();
    let mut image = store.resolve("app:1").unwrap();
    assert!(original_manifest(&store, &image).is_none(), "nothing kept");
    // A registry's manifest, formatted as rcorch never would.
    let desc = |mt: &str, d: &[u8]| json!({"mediaType": mt, "size": d.len(), "digest": digest(d)});
    let layer_mt = "application/vnd.docker.image.rootfs.diff.tar";
    let kept = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": desc("application/vnd.docker.container.image.v1+json", &cfg),
        "layers": [desc(layer_mt, &l1), desc(layer_mt, &l2)],
    }))
    .unwrap();
    std::fs::write(store.blob_path(&digest(&kept)), &kept).unwrap();
    image.repo_digests = vec![format!("reg:5000/app@{}", digest(&kept))];
    let (m, json, d) = original_manifest(&store, &image).expect("kept manifest");
    assert_eq!((json, d), (kept.clone(), digest(&kept)));
    assert!(describes(&m, &image));
    // Not this image's layers (e.g. the record changed): generated instead.
    image.layers.reverse();
    assert!(original_manifest(&store, &image).is_none());
}
