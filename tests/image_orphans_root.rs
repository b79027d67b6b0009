//! Root-only: layers no image record names (a crash between writing the
//! layers and the record, a deleted record) are counted by `system df` and
//! reclaimed by `image prune` and `system prune`, as Docker reclaims its
//! space; `rmi` of an image whose record is lost refuses while a container
//! uses it (naming it), and `-f` never takes the container's layers.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::TestEnv;

/// A tarball of one 2 MB file: its layer dominates `system df`'s figures.
fn big_tar(env: &TestEnv) -> String {
    let content = env.scratch.join("big");
    fs::create_dir_all(&content).unwrap();
    let noise: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(content.join("blob"), noise).unwrap();
    let tar = env.scratch.join("big.tar");
    common::tar_dir(&content, &tar);
    tar.display().to_string()
}

fn layers(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(root.join("images/layers"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// `system df`'s Images SIZE in bytes (it prints "3.982MB").
fn images_size(env: &TestEnv) -> f64 {
    let df = env.rcorch(&["system", "df"]).ok();
    let line = df.lines().find(|l| l.trim_start().starts_with("Images"));
    let size = line.and_then(|l| l.split_whitespace().nth(3)).unwrap_or("");
    let (number, unit) = size.split_at(size.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(0));
    let scale = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => panic!("unit {other:?} in {df}"),
    };
    number.parse::<f64>().unwrap_or_else(|_| panic!("{df}")) * scale
}

/// Deletes image `id`'s record and copy: what a crash before the record
/// was written leaves (its layers, no image).
fn drop_record(root: &Path, id: &str) {
    let hex = id.trim().trim_start_matches("sha256:");
    for dir in ["records", "copies"] {
        let _ = fs::remove_file(root.join("images").join(dir).join(format!("{hex}.json")));
    }
}

#[test]
fn orphan_layers_are_counted_and_pruned() {
    let Some(env) = TestEnv::new() else { return };
    let tar = big_tar(&env);
    for prune in [&["image", "prune"][..], &["system", "prune", "-f"][..]] {
        let before = layers(&env.root);
        let id = env.rcorch(&["import", &tar, "big:1"]).ok();
        let size = images_size(&env);
        drop_record(&env.root, &id);
        assert_eq!(layers(&env.root).len(), before.len() + 1, "{prune:?}");
        assert!(
            (images_size(&env) - size).abs() < 0.01 * size,
            "{prune:?}: df must count the orphan layer"
        );
        let out = env.rcorch(prune);
        assert_eq!(out.code, 0, "{prune:?}: {out:?}");
        assert_eq!(layers(&env.root), before, "{prune:?}: {out:?}");
        assert!(
            out.stdout.contains("Deleted: sha256:"),
            "{prune:?}: {out:?}"
        );
        assert!(
            images_size(&env) < size - 1.5e6,
            "{prune:?}: the space is not reclaimed"
        );
        let check = env.rcorch(&["system", "check"]);
        assert_eq!(check.code, 0, "{prune:?}: {check:?}");
        let images = env.rcorch(&["images", "--format", "{{.Repository}}"]).ok();
        assert!(images.contains("busybox"), "{prune:?}: {images}");
    }
}

/// A layer a container or a lost image record names is not an orphan.
#[test]
fn prune_keeps_the_layers_of_containers_and_lost_images() {
    let Some(env) = TestEnv::new() else { return };
    let tar = big_tar(&env);
    let id = env.rcorch(&["import", &tar, "big:1"]).ok();
    let hex = id.trim().trim_start_matches("sha256:").to_string();
    let c = env
        .rcorch(&["create", "--network", "none", "big:1", "/blob"])
        .ok();
    let c = c.trim().to_string();
    let before = layers(&env.root);
    for dir in ["records", "copies"] {
        let path = env
            .root
            .join("images")
            .join(dir)
            .join(format!("{hex}.json"));
        fs::write(path, b"\x00garbage").unwrap();
    }
    // (`system prune` would remove the stopped container first.)
    let out = env.rcorch(&["image", "prune"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(layers(&env.root), before, "{out:?}");

    // rmi of the lost image: refused while the container uses it, naming it.
    let rmi = env.rcorch(&["rmi", &hex[..12]]);
    assert_eq!(rmi.code, 1, "{rmi:?}");
    assert!(rmi.stderr.contains("conflict"), "{rmi:?}");
    assert!(rmi.stderr.contains(&c[..12]), "{rmi:?}");
    assert!(rmi.stderr.contains("-f"), "{rmi:?}");
    // Forced: the record goes, the container's layers stay.
    let forced = env.rcorch(&["rmi", "-f", &hex[..12]]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert!(forced.stdout.contains(&hex), "{forced:?}");
    assert_eq!(layers(&env.root), before, "{forced:?}");
    let copy = env.scratch.join("copied");
    let cp = env.rcorch(&["cp", &format!("{c}:/blob"), copy.to_str().unwrap()]);
    assert_eq!(cp.code, 0, "the container still reads its layer: {cp:?}");
    assert_eq!(fs::metadata(&copy).map(|m| m.len()).ok(), Some(2_000_000));

    // Once the container is gone, its layer is an orphan and goes.
    env.rcorch(&["rm", "-f", &c]).ok();
    let out = env.rcorch(&["image", "prune"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(layers(&env.root).len(), before.len() - 1, "{out:?}");
    assert_eq!(env.rcorch(&["system", "check"]).code, 0);
    assert!(env.leftovers().is_empty(), "{:?}", env.leftovers());
}
