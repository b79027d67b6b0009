use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use super::copy::{action_for, copy_up, relative_in_root, should_copy, CopyAction};
use super::store::VolumeStore;
use super::*;
use crate::container::build::parse_volume;
use crate::container::MountSpec;
use nix::sys::stat::Mode;

#[test]
fn names_follow_dockers_rule() {
    for good in ["ab", "data", "my_vol-1.2", "0x", "P_db"] {
        assert!(valid_name(good), "{good}");
    }
    for bad in [
        "",
        "a",
        "-ab",
        "_ab",
        ".ab",
        "a/b",
        "a b",
        "a:b",
        "vol\u{e9}",
        "../x",
    ] {
        assert!(!valid_name(bad), "{bad}");
    }
}

#[test]
fn sources_are_paths_or_names() {
    assert_eq!(classify_source("/srv/x"), MountSource::HostPath("/srv/x"));
    assert_eq!(classify_source("data"), MountSource::Named("data"));
    for invalid in ["./x", "../x", "~/x", "a/b", "x", "", "-x"] {
        assert_eq!(classify_source(invalid), MountSource::Invalid, "{invalid}");
    }
}

#[test]
fn run_volumes_become_volume_mounts() {
    let m = parse_volume("data:/var/lib/db:ro,nocopy").unwrap();
    assert_eq!(m.kind, MountKind::Volume);
    assert_eq!(m.volume.as_deref(), Some("data"));
    assert_eq!(m.source, Path::new(""));
    assert!(m.read_only && m.nocopy);
    let bind = parse_volume("/srv:/srv").unwrap();
    assert_eq!((bind.kind, bind.volume), (MountKind::Bind, None));
    for bad in [
        "./rel:/x",
        "x:/data",
        "data:rel",
        "/a:/b:nocopy",
        "data:/d:",
        "data:/",
    ] {
        assert!(parse_volume(bad).is_err(), "{bad}");
    }
}

#[test]
fn labels_parse() {
    let l = parse_labels(&["a=1".into(), "b".into()]).unwrap();
    assert_eq!(l.get("a").map(String::as_str), Some("1"));
    assert_eq!(l.get("b").map(String::as_str), Some(""));
    assert!(parse_labels(&["=x".into()]).is_err());
}

fn container(name: &str, volumes: &[&str]) -> ContainerConfig {
    let mut c: ContainerConfig =
        serde_json::from_str(include_str!("../container/testdata/config.json")).unwrap();
    c.name = name.into();
    c.mounts = volumes
        .iter()
        .map(|v| MountSpec {
            kind: MountKind::Volume,
            source: format!("/r/volumes/{v}/_data").into(),
            destination: "/data".into(),
            read_only: false,
            volume: Some(v.to_string()),
            nocopy: false,
            tmpfs: None,
        })
        .collect();
    c
}

fn volume(name: &str) -> Volume {
    Volume {
        name: name.into(),
        driver: DRIVER.into(),
        mountpoint: format!("/r/volumes/{name}/_data").into(),
        created: "t".into(),
        labels: BTreeMap::new(),
    }
}

#[test]
fn users_and_unused_volumes() {
    let containers = [container("web", &["a1", "b1"]), container("db", &["b1"])];
    assert_eq!(users("b1", &containers), ["web", "db"]);
    assert_eq!(users("a1", &containers), ["web"]);
    assert!(users("c1", &containers).is_empty());
    let vols = [volume("a1"), volume("b1"), volume("c1")];
    assert_eq!(unused(&vols, &containers), ["c1"]);
}

#[test]
fn compose_volumes_are_prefixed_unless_named_or_external() {
    assert_eq!(compose_volume_name("app", "db", None), "app_db");
    let named = ComposeVolume {
        name: Some("shared".into()),
        external: false,
    };
    assert_eq!(compose_volume_name("app", "db", Some(&named)), "shared");
    let external = ComposeVolume {
        name: None,
        external: true,
    };
    assert_eq!(compose_volume_name("app", "db", Some(&external)), "db");
    let labels = compose_labels("app", "db", &BTreeMap::new());
    assert_eq!(labels[LABEL_COMPOSE_PROJECT], "app");
    assert_eq!(labels[crate::container::labels::LABEL_PROJECT], "app");
}

#[test]
fn copy_planning() {
    assert_eq!(action_for(0o040755), CopyAction::Dir);
    assert_eq!(action_for(0o100644), CopyAction::File);
    assert_eq!(action_for(0o120777), CopyAction::Symlink);
    assert!(matches!(action_for(0o010644), CopyAction::Node(_)));
    assert!(matches!(action_for(0o020666), CopyAction::Node(_)));
    assert_eq!(action_for(0o140755), CopyAction::Skip);
    assert!(should_copy(false, true, true));
    assert!(!should_copy(true, true, true), "nocopy");
    assert!(!should_copy(false, false, true), "volume has data");
    assert!(!should_copy(false, true, false), "nothing in the image");
    assert_eq!(
        relative_in_root(Path::new("/a/../b/./c")),
        Path::new("a/b/c")
    );
}

#[test]
fn store_creates_lists_and_removes() {
    let root = tempfile::tempdir().unwrap();
    let store = VolumeStore::open(root.path());
    assert!(store.list().unwrap().is_empty());
    let lock = store.lock().unwrap();
    let labels = BTreeMap::from([("k".to_string(), "v".to_string())]);
    let (v, created) = store.create(&lock, "data", &labels, "now").unwrap();
    assert!(created && v.mountpoint.is_dir());
    assert_eq!(v.mountpoint, root.path().join("volumes/data/_data"));
    let (again, created) = store
        .create(&lock, "data", &BTreeMap::new(), "later")
        .unwrap();
    assert!(!created);
    assert_eq!(
        again, v,
        "create is idempotent and keeps the first metadata"
    );
    assert!(matches!(
        store.create(&lock, "-bad", &labels, "now"),
        Err(VolumeError::InvalidName { .. })
    ));
    assert_eq!(store.list().unwrap(), std::slice::from_ref(&v));
    let used = [container("web", &["data"])];
    match store.remove(&lock, "data", &used) {
        Err(VolumeError::InUse { containers, .. }) => assert_eq!(containers, ["web"]),
        other => panic!("expected in use, got {other:?}"),
    }
    store.remove(&lock, "data", &[]).unwrap();
    assert!(store.list().unwrap().is_empty());
    assert!(matches!(
        store.remove(&lock, "data", &[]),
        Err(VolumeError::NotFound { .. })
    ));
    let names: Vec<_> = std::fs::read_dir(root.path().join("volumes"))
        .unwrap()
        .collect();
    assert!(names.is_empty(), "no staging leftovers");
}

#[test]
fn attach_creates_missing_volumes_and_fills_sources() {
    let root = tempfile::tempdir().unwrap();
    let store = VolumeStore::open(root.path());
    let lock = store.lock().unwrap();
    let mut mounts = vec![
        parse_volume("cache:/c").unwrap(),
        parse_volume("/srv:/s").unwrap(),
    ];
    store
        .attach(&lock, &mut mounts, &BTreeMap::new(), "now")
        .unwrap();
    assert_eq!(mounts[0].source, store.data_dir("cache"));
    assert_eq!(mounts[1].source, Path::new("/srv"));
    assert_eq!(store.get("cache").unwrap().name, "cache");
}

fn open_dir(p: &Path) -> std::os::fd::OwnedFd {
    std::fs::File::open(p).unwrap().into()
}

#[test]
fn copy_up_copies_the_tree_once_and_stays_in_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("image");
    let etc = image.join("etc");
    std::fs::create_dir_all(etc.join("sub")).unwrap();
    std::fs::write(etc.join("conf"), "x=1").unwrap();
    std::fs::set_permissions(etc.join("conf"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", etc.join("abs")).unwrap();
    std::os::unix::fs::symlink("/etc", image.join("link")).unwrap();
    nix::unistd::mkfifo(&etc.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    std::fs::File::options()
        .write(true)
        .open(etc.join("conf"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // Through an absolute symlink: still the image's /etc, never the host's.
    assert!(copy_up(&open_dir(&image), Path::new("/link"), &data).unwrap());
    assert_eq!(std::fs::read_to_string(data.join("conf")).unwrap(), "x=1");
    let meta = std::fs::metadata(data.join("conf")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o640);
    assert_eq!(meta.modified().unwrap(), old);
    assert_eq!(std::fs::metadata(&data).unwrap().mode() & 0o7777, 0o750);
    assert!(data.join("sub").is_dir());
    assert_eq!(
        std::fs::read_link(data.join("abs")).unwrap(),
        Path::new("/etc/passwd")
    );
    assert!(std::fs::symlink_metadata(data.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    // Not empty any more: a second start copies nothing and changes nothing.
    std::fs::write(data.join("conf"), "mine").unwrap();
    assert!(!copy_up(&open_dir(&image), Path::new("/etc"), &data).unwrap());
    assert_eq!(std::fs::read_to_string(data.join("conf")).unwrap(), "mine");
    // Nothing at the target: nothing to copy.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(!copy_up(&open_dir(&image), Path::new("/nope"), &empty).unwrap());
}
