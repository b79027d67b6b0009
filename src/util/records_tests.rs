use super::*;
use std::os::unix::fs::MetadataExt;

fn records(dir: &Path) -> Records {
    Records::new(dir.join("r"), dir.join("c"))
}

fn damage(path: &Path, how: &str) {
    match how {
        "truncate" => std::fs::write(path, br#"{"n": "#).unwrap(),
        "garbage" => std::fs::write(path, b"\x00\xffnot json").unwrap(),
        "empty" => std::fs::write(path, b"").unwrap(),
        _ => std::fs::remove_file(path).unwrap(),
    }
}

const KINDS: [&str; 4] = ["truncate", "garbage", "empty", "missing"];

#[test]
fn a_damaged_record_is_read_from_its_copy_and_the_next_write_heals_it() {
    for how in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let r = records(dir.path());
        r.write("a", br#"{"n":1}"#).unwrap();
        r.write("b", br#"{"n":2}"#).unwrap();
        damage(&r.path("a"), how);
        let scan = r.scan::<serde_json::Value>().unwrap();
        assert_eq!(scan.records.len(), 2, "{how}");
        assert_eq!(scan.records["a"]["n"], 1, "{how}");
        let d = &scan.damaged["a"];
        assert!(d.recovered, "{how}");
        assert_eq!(d.path, r.path("a"));
        assert_eq!(scan.lost().count(), 0);
        r.write("a", br#"{"n":1}"#).unwrap();
        assert!(r.scan::<serde_json::Value>().unwrap().damaged.is_empty());
    }
}

#[test]
fn only_the_record_whose_both_files_are_unreadable_is_lost() {
    for how in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let r = records(dir.path());
        r.write("a", br#"{"n":1}"#).unwrap();
        r.write("b", br#"{"n":2}"#).unwrap();
        damage(&r.path("a"), "garbage");
        damage(&r.copy_path("a"), how);
        let scan = r.scan::<serde_json::Value>().unwrap();
        assert_eq!(scan.records.keys().collect::<Vec<_>>(), ["b"], "{how}");
        let lost: Vec<_> = scan.lost().map(|(n, _)| n.as_str()).collect();
        assert_eq!(lost, ["a"], "{how}");
        assert!(scan.damaged["a"].problem.contains("not a valid record"));
    }
}

#[test]
fn removal_and_set_aside_free_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let r = records(dir.path());
    r.write("a", br#"{"n":1}"#).unwrap();
    r.remove("a").unwrap();
    assert!(!r.exists("a"));
    r.write("b", b"torn").unwrap();
    r.set_aside("b").unwrap();
    assert!(!r.exists("b"));
    assert!(dir.path().join("r/b.json.damaged").exists());
    let scan = r.scan::<serde_json::Value>().unwrap();
    assert!(scan.records.is_empty() && scan.damaged.is_empty());
}

#[test]
fn a_write_leaves_alone_a_file_that_already_holds_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let r = records(dir.path());
    r.write("a", b"{}").unwrap();
    let before = std::fs::metadata(r.path("a")).unwrap().ino();
    r.write("a", b"{}").unwrap();
    assert_eq!(std::fs::metadata(r.path("a")).unwrap().ino(), before);
}

#[test]
fn a_directory_in_place_of_a_record_is_its_damage_alone() {
    let dir = tempfile::tempdir().unwrap();
    let r = records(dir.path());
    r.write("a", br#"{"n":1}"#).unwrap();
    r.write("b", br#"{"n":2}"#).unwrap();
    for path in [r.path("a"), r.copy_path("a")] {
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
    }
    let scan = r.scan::<serde_json::Value>().unwrap();
    assert_eq!(scan.records.len(), 1);
    assert_eq!(scan.records["b"]["n"], 2);
    assert!(scan.damaged["a"].problem.contains("directory"));
    assert_eq!(scan.lost().count(), 1);
    r.set_aside("a").unwrap();
    assert!(r.scan::<serde_json::Value>().unwrap().damaged.is_empty());
}
