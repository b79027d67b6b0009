//! Root-only: image records lost by hand. Layers whose image record and
//! copy are both gone are reported and removed by `system check --repair`
//! (never one a container still uses); a tag a crash left on two images
//! resolves to the newer one and the next write puts it right.

mod common;

use std::fs;
use std::path::PathBuf;

use common::Output;

use common::TestEnv;

fn image(env: &TestEnv, reference: &str) -> serde_json::Value {
    let out = env.rcorch(&["image", "inspect", reference]).ok();
    serde_json::from_str::<serde_json::Value>(&out).unwrap()[0].clone()
}

fn id_hex(env: &TestEnv, reference: &str) -> String {
    let id = image(env, reference)["Id"].as_str().unwrap().to_string();
    id.trim_start_matches("sha256:").to_string()
}

/// An image one layer over busybox holding `/marker` = `text`.
fn commit(env: &TestEnv, reference: &str, text: &str) {
    let name = format!("mk{}", reference.replace(':', ""));
    let script = format!("echo {text} > /marker");
    let run = ["run", "--name", &name, "--network", "none", "busybox"];
    env.rcorch(&[&run[..], &["sh", "-c", &script]].concat())
        .ok();
    env.rcorch(&["commit", &name, reference]).ok();
    env.rcorch(&["rm", &name]).ok();
}

/// The record and its copy of image `hex`.
fn record_files(env: &TestEnv, hex: &str) -> [PathBuf; 2] {
    ["records", "copies"].map(|d| env.root.join("images").join(d).join(format!("{hex}.json")))
}

/// The layer digests (hex) image `reference`'s record lists.
fn layers(env: &TestEnv, reference: &str) -> Vec<String> {
    let rec = fs::read(&record_files(env, &id_hex(env, reference))[0]).unwrap();
    let rec: serde_json::Value = serde_json::from_slice(&rec).unwrap();
    let layers = rec["layers"].as_array().unwrap().iter();
    layers
        .map(|d| {
            d.as_str()
                .unwrap()
                .trim_start_matches("sha256:")
                .to_string()
        })
        .collect()
}

/// The layer `reference` has over busybox.
fn top_layer(env: &TestEnv, reference: &str) -> String {
    let base = layers(env, "busybox:latest");
    let mine = layers(env, reference).into_iter();
    mine.into_iter().find(|d| !base.contains(d)).unwrap()
}

#[test]
fn layers_of_a_lost_image_are_reported_and_removed_but_never_one_in_use() {
    let Some(env) = TestEnv::new() else { return };
    commit(&env, "gone:1", "gone");
    commit(&env, "used:1", "used");
    let (gone, used) = (top_layer(&env, "gone:1"), top_layer(&env, "used:1"));
    let base = layers(&env, "busybox:latest");
    let run = ["run", "-d", "--network", "none", "used:1", "sleep", "60"];
    let user = env.rcorch(&run).ok();
    for hex in [id_hex(&env, "gone:1"), id_hex(&env, "used:1")] {
        for f in record_files(&env, &hex) {
            fs::remove_file(f).unwrap();
        }
    }
    let dir = env.root.join("images/layers");
    // While a build runs (its work dir, named by a live pid), its layers
    // are in no image yet: nothing is reported or removed.
    let build = env.root.join("build").join(std::process::id().to_string());
    fs::create_dir_all(&build).unwrap();
    let check = env.rcorch(&["system", "check", "--repair"]);
    assert!(!check.stdout.contains(&gone), "{check:?}");
    assert!(dir.join(&gone).exists(), "{check:?}");
    fs::remove_dir(&build).unwrap();

    let check = env.rcorch(&["system", "check"]);
    assert_eq!(check.code, 1, "{check:?}");
    let gone_path = dir.join(&gone).display().to_string();
    let line = check.stdout.lines().find(|l| l.contains(&gone_path));
    assert!(line.is_some_and(|l| l.contains("--repair")), "{check:?}");
    assert!(!check.stdout.contains(&used), "in use: {check:?}");
    assert!(!base.iter().any(|b| check.stdout.contains(b)), "{check:?}");

    let repair = env.rcorch(&["system", "check", "--repair"]);
    assert_eq!(repair.code, 0, "{repair:?}");
    assert!(!dir.join(&gone).exists(), "{repair:?}");
    assert!(dir.join(&used).exists(), "{repair:?}");
    assert!(base.iter().all(|b| dir.join(b).exists()), "{repair:?}");
    let marker = env.rcorch(&["exec", &user, "cat", "/marker"]);
    assert_eq!(marker.stdout.trim(), "used", "{marker:?}");
    env.run_busybox(&["--network", "none"], &["true"]).ok();
    assert_eq!(env.rcorch(&["system", "check"]).code, 0);
    env.rcorch(&["rm", "-f", &user]).ok();
}

fn lines(out: &Output, prefix: &str) -> Vec<String> {
    let text = out.ok();
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(String::from)
        .collect()
}

/// A tag moves by writing two records; a crash between them leaves it on
/// both. Written here by hand: busybox's record (and copy) still claims
/// `app:1`, which the newer image also holds.
#[test]
fn a_tag_a_crash_left_on_two_images_resolves_to_the_newer_and_is_repaired() {
    let Some(env) = TestEnv::new() else { return };
    commit(&env, "app:1", "new");
    let (old, new) = (id_hex(&env, "busybox:latest"), id_hex(&env, "app:1"));
    for f in record_files(&env, &old) {
        let mut rec: serde_json::Value = serde_json::from_slice(&fs::read(&f).unwrap()).unwrap();
        rec["repo_tags"]
            .as_array_mut()
            .unwrap()
            .push("app:1".into());
        fs::write(&f, serde_json::to_vec(&rec).unwrap()).unwrap();
        // As a crash leaves it: the record that should have lost the tag
        // was last written before the one that gained it.
        let gained = fs::metadata(&record_files(&env, &new)[0]).unwrap();
        let before = gained.modified().unwrap() - std::time::Duration::from_secs(1);
        let file = fs::File::options().write(true).open(&f).unwrap();
        file.set_modified(before).unwrap();
    }

    let images = env.rcorch(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    let app = lines(&images, "app:1 ");
    assert_eq!(app, vec![format!("app:1 {}", &new[..12])], "{images:?}");
    let run = env.rcorch(&[
        "run",
        "--rm",
        "--network",
        "none",
        "app:1",
        "cat",
        "/marker",
    ]);
    assert_eq!(run.stdout.trim(), "new", "{run:?}");

    let rmi = env.rcorch(&["rmi", "app:1"]);
    assert_eq!(rmi.code, 0, "{rmi:?}");
    // The next write left the tag nowhere: not back on the older image.
    let images = env.rcorch(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(lines(&images, "app:").is_empty(), "{images:?}");
    let run = env.rcorch(&["run", "--rm", "--network", "none", "app:1", "true"]);
    assert_eq!(run.code, 125, "{run:?}");
    for f in record_files(&env, &old) {
        let text = fs::read_to_string(&f).unwrap();
        assert!(!text.contains("app:1"), "{}: {text}", f.display());
    }
    assert_eq!(env.rcorch(&["images", "-q"]).ok().lines().count(), 1);
}
