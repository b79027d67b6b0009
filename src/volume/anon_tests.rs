//! Anonymous volumes: `-v /path`, an image's VOLUME, their labels, who
//! removes them and when a recreated replica gets them back.

use std::collections::BTreeMap;
use std::path::Path;

use super::store::VolumeStore;
use super::*;
use crate::container::build::parse_volume;
use crate::container::MountSpec;

fn mount(destination: &str, volume: Option<&str>) -> MountSpec {
    MountSpec {
        kind: MountKind::Volume,
        source: Default::default(),
        destination: destination.into(),
        read_only: false,
        volume: volume.map(str::to_string),
        nocopy: false,
        tmpfs: None,
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn volume(name: &str, labels: BTreeMap<String, String>) -> Volume {
    Volume {
        name: name.into(),
        driver: DRIVER.into(),
        mountpoint: format!("/r/volumes/{name}/_data").into(),
        created: "t".into(),
        labels,
    }
}

fn container(id: &str, mounts: Vec<MountSpec>) -> ContainerConfig {
    let mut c: ContainerConfig =
        serde_json::from_str(include_str!("../container/testdata/config.json")).unwrap();
    c.id = id.into();
    c.name = id.into();
    c.mounts = mounts;
    c
}

#[test]
fn a_container_path_alone_is_an_anonymous_volume() {
    assert_eq!(parse_volume("/data").unwrap(), mount("/data", None));
    // Docker's rules: no options without a source, and never the root.
    for bad in ["/", "/data:ro", "/data:nocopy", "data", "", "rel/x"] {
        assert!(parse_volume(bad).is_err(), "{bad}");
    }
}

#[test]
fn image_volumes_skip_paths_already_mounted() {
    let mounts = [mount("/db", Some("mine")), mount("/logs/", None)];
    let declared: Vec<String> = ["/db/", "/cache", "/logs", "/cache/.", "relative", "/"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let got = image_volume_mounts(&declared, &mounts);
    assert_eq!(got, [mount("/cache", None)]);
    assert!(image_volume_mounts(&[], &mounts).is_empty());
}

#[test]
fn anonymous_labels_mark_owner_and_replica() {
    let plain = anonymous_labels("c1", &BTreeMap::new());
    assert_eq!(plain, labels(&[(LABEL_ANONYMOUS, ""), (LABEL_OWNER, "c1")]));
    let replica = labels(&[
        ("rcorch.project", "p"),
        ("rcorch.service", "db"),
        ("rcorch.slot", "2"),
        ("other", "x"),
    ]);
    let got = anonymous_labels("c2", &replica);
    assert_eq!(got[LABEL_COMPOSE_PROJECT], "p");
    assert_eq!(got["rcorch.project"], "p");
    assert_eq!(got["rcorch.service"], "db");
    assert_eq!(got["rcorch.slot"], "2");
    assert!(!got.contains_key("other"));
    assert!(is_anonymous(&volume("v", got)));
}

#[test]
fn only_anonymous_volumes_go_with_their_container() {
    let anon = labels(&[(LABEL_ANONYMOUS, "")]);
    let vols = [
        volume("named", BTreeMap::new()),
        volume("a1", anon.clone()),
        volume("a2", anon),
    ];
    let mounts = [
        mount("/n", Some("named")),
        mount("/a", Some("a1")),
        mount("/t", None),
    ];
    assert_eq!(anonymous_of(&vols, &mounts), ["a1"]);
}

#[test]
fn a_recreated_replica_gets_its_unused_anonymous_volume_back() {
    let slot = |n: &str, dest: &str| {
        let mut l = anonymous_labels(
            "old",
            &labels(&[
                ("rcorch.project", "p"),
                ("rcorch.service", "db"),
                ("rcorch.slot", n),
            ]),
        );
        l.insert(LABEL_DESTINATION.into(), dest.into());
        l
    };
    let vols = [
        volume("s1", slot("1", "/data")),
        volume("s2", slot("2", "/data")),
        volume("s1other", slot("1", "/other")),
    ];
    let replica = labels(&[
        ("rcorch.project", "p"),
        ("rcorch.service", "db"),
        ("rcorch.slot", "1"),
    ]);
    assert_eq!(
        reusable_anonymous(&vols, &[], &replica, "/data"),
        Some("s1")
    );
    assert_eq!(
        reusable_anonymous(&vols, &[], &replica, "/other"),
        Some("s1other")
    );
    assert_eq!(reusable_anonymous(&vols, &[], &replica, "/x"), None);
    // Still used (start-first rollout): the new replica gets a fresh one.
    let user = container("c", vec![mount("/data", Some("s1"))]);
    assert_eq!(reusable_anonymous(&vols, &[user], &replica, "/data"), None);
    // A plain container is never a replica.
    assert_eq!(
        reusable_anonymous(&vols, &[], &BTreeMap::new(), "/data"),
        None
    );
}

#[test]
fn attach_names_anonymous_mounts_and_remove_anonymous_spares_the_rest() {
    let root = tempfile::tempdir().unwrap();
    let store = VolumeStore::open(root.path());
    let lock = store.lock().unwrap();
    let mut mounts = vec![mount("/n", Some("named")), mount("/a", None)];
    let owner = anonymous_labels("c1", &BTreeMap::new());
    let created = store.attach(&lock, &mut mounts, &owner, "t").unwrap();
    assert_eq!(created.len(), 1);
    let anon = &created[0];
    assert_eq!(anon.len(), 64);
    assert_eq!(mounts[1].volume.as_deref(), Some(anon.as_str()));
    assert_eq!(mounts[1].source, store.data_dir(anon));
    assert!(Path::new(&mounts[1].source).is_dir());
    let v = store.get(anon).unwrap();
    assert!(is_anonymous(&v));
    assert_eq!(v.labels[LABEL_OWNER], "c1");
    assert_eq!(v.labels[LABEL_DESTINATION], "/a");

    // Another container sharing it keeps it.
    let other = container("c2", mounts.clone());
    let kept = store
        .remove_anonymous(&lock, "c1", &mounts, &[other])
        .unwrap();
    assert!(kept.is_empty());
    let removed = store.remove_anonymous(&lock, "c1", &mounts, &[]).unwrap();
    assert_eq!(removed, [anon.as_str()]);
    let left: Vec<String> = store.list().unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(left, ["named"]);
}
