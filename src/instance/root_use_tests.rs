use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use super::*;

fn entry(path: &str, kind: Kind) -> Entry {
    Entry {
        path: PathBuf::from(path),
        kind,
    }
}

#[test]
fn lock_names_are_the_stores_lock_files() {
    for name in ["lock", "containers.lock", "volumes.lock", "events.lock"] {
        assert!(is_lock_name(OsStr::new(name)), "{name}");
    }
    for name in [
        ".lock",
        "lockfile",
        "config.json",
        "events.jsonl",
        "lock.json",
    ] {
        assert!(!is_lock_name(OsStr::new(name)), "{name}");
    }
}

#[test]
fn scaffolding_is_removed_children_first() {
    let plan = give_back_plan(vec![
        entry("/r/images", Kind::Dir),
        entry("/r/containers", Kind::Dir),
        entry("/r/images/blobs/sha256", Kind::Dir),
        entry("/r/images/lock", Kind::EmptyLock),
        entry("/r/images/blobs", Kind::Dir),
    ])
    .expect("only scaffolding");
    let order: Vec<&str> = plan.iter().map(|e| e.path.to_str().unwrap()).collect();
    assert_eq!(
        order,
        [
            "/r/images/blobs/sha256",
            "/r/images/blobs",
            "/r/images/lock",
            "/r/containers",
            "/r/images",
        ]
    );
}

#[test]
fn anything_else_keeps_the_whole_root() {
    let plan = give_back_plan(vec![
        entry("/r/volumes", Kind::Dir),
        entry("/r/volumes.lock", Kind::EmptyLock),
        entry("/r/volumes/data/meta.json", Kind::Other),
    ]);
    assert_eq!(plan, None);
}

#[test]
fn missing_dirs_are_the_root_and_its_missing_parents() {
    let exists = |p: &Path| p == Path::new("/") || p == Path::new("/tmp");
    assert_eq!(
        missing_dirs(Path::new("/tmp/a/b/root"), exists),
        [
            PathBuf::from("/tmp/a/b/root"),
            PathBuf::from("/tmp/a/b"),
            PathBuf::from("/tmp/a"),
        ]
    );
    assert_eq!(
        missing_dirs(Path::new("/tmp"), exists),
        Vec::<PathBuf>::new()
    );
    // A relative root stops at the working directory.
    assert_eq!(
        missing_dirs(Path::new("x/root"), |_| false),
        [PathBuf::from("x/root"), PathBuf::from("x")]
    );
}

/// What a first command's stores leave: directories and empty lock files.
fn scaffold(root: &Path) {
    fs::create_dir_all(root.join("images/blobs/sha256")).unwrap();
    fs::create_dir_all(root.join("containers")).unwrap();
    fs::write(root.join("images/lock"), "").unwrap();
    fs::write(root.join("volumes.lock"), "").unwrap();
}

#[test]
fn a_failed_first_command_removes_the_root_and_the_parents_it_made() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("a/b/root");
    let used = RootUse::enter(&root).unwrap();
    scaffold(&root);
    used.give_back();
    assert!(!tmp.path().join("a").exists());
    assert!(tmp.path().is_dir());
}

#[test]
fn an_empty_root_stays_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let used = RootUse::enter(tmp.path()).unwrap();
    scaffold(tmp.path());
    used.give_back();
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn a_root_in_use_before_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("containers")).unwrap();
    let used = RootUse::enter(tmp.path()).unwrap();
    scaffold(tmp.path());
    used.give_back();
    assert!(tmp.path().join("images/lock").exists());
}

#[test]
fn a_root_holding_data_is_left_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let used = RootUse::enter(&root).unwrap();
    scaffold(&root);
    fs::write(root.join("images/index.json"), "{}").unwrap();
    used.give_back();
    assert!(root.join("images/lock").exists());
    assert!(root.join("containers").is_dir());
}

#[test]
fn nothing_goes_while_another_command_is_inside() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let failing = RootUse::enter(&root).unwrap();
    let other = RootUse::enter(&root).unwrap();
    scaffold(&root);
    // The other command holds a store's lock it made under the root.
    let held = Flock::lock(
        File::open(root.join("volumes.lock")).unwrap(),
        FlockArg::LockExclusive,
    )
    .unwrap();
    failing.give_back();
    assert!(root.join("volumes.lock").exists());
    drop(held);
    drop(other);
}

#[test]
fn a_command_entering_after_a_give_back_gets_a_root_again() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let failing = RootUse::enter(&root).unwrap();
    scaffold(&root);
    failing.give_back();
    assert!(!root.exists());
    let next = RootUse::enter(&root).unwrap();
    assert!(root.is_dir());
    assert!(names_locked_dir(&root, &next.lock));
}

#[test]
fn a_root_vanished_between_open_and_lock_is_made_again() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    // A give-back holding the exclusive lock: `enter` waits on it, then
    // finds the path no longer names what it locked, and starts over.
    let first = RootUse::enter(&root).unwrap();
    first.lock.relock(FlockArg::LockExclusive).unwrap();
    let entering = std::thread::spawn({
        let root = root.clone();
        move || RootUse::enter(&root).map(|u| names_locked_dir(&root, &u.lock))
    });
    std::thread::sleep(std::time::Duration::from_millis(50));
    fs::remove_dir(&root).unwrap();
    drop(first);
    assert!(entering.join().unwrap().unwrap());
    assert!(root.is_dir());
}
