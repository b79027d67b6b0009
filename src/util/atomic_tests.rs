//! Fault injection into the atomic write: every step and every byte offset
//! of the write fails in turn (a full disk, an I/O error, a crash), and the
//! record must hold the old content or the new one, never anything else.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    Create,
    /// The disk fills after this many bytes of the temporary file.
    WriteAt(usize),
    Sync,
    Rename,
}

type Files = Rc<RefCell<BTreeMap<PathBuf, Vec<u8>>>>;

/// An in-memory filesystem that fails at one step. `crashed`: after the
/// fault nothing else reaches the disk (the process died), so not even
/// the clean-up of the temporary file happens.
struct FaultyFs {
    files: Files,
    fault: Fault,
    crash: bool,
    failed: Cell<bool>,
}

struct FaultyFile {
    files: Files,
    path: PathBuf,
    room: Option<usize>,
}

fn full() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOSPC)
}

impl io::Write for FaultyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match self.room {
            Some(0) => return Err(full()),
            Some(room) => buf.len().min(room),
            None => buf.len(),
        };
        self.room = self.room.map(|r| r - n);
        let mut files = self.files.borrow_mut();
        files
            .get_mut(&self.path)
            .unwrap()
            .extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl FaultyFs {
    fn new(old: &[u8], fault: Fault, crash: bool) -> FaultyFs {
        let files = Rc::new(RefCell::new(BTreeMap::new()));
        files
            .borrow_mut()
            .insert(PathBuf::from("/r/state.json"), old.to_vec());
        FaultyFs {
            files,
            fault,
            crash,
            failed: Cell::new(false),
        }
    }

    fn fail_if(&self, step: Fault) -> io::Result<()> {
        if self.fault == step {
            self.failed.set(true);
            return Err(io::Error::other("injected"));
        }
        Ok(())
    }

    fn record(&self) -> Option<Vec<u8>> {
        self.files.borrow().get(Path::new("/r/state.json")).cloned()
    }

    fn temporaries(&self) -> usize {
        self.files
            .borrow()
            .keys()
            .filter(|p| p.to_string_lossy().contains(".tmp"))
            .count()
    }
}

impl AtomicFs for FaultyFs {
    type File = FaultyFile;
    fn create(&self, path: &Path) -> io::Result<FaultyFile> {
        self.fail_if(Fault::Create)?;
        self.files
            .borrow_mut()
            .insert(path.to_path_buf(), Vec::new());
        let room = match self.fault {
            Fault::WriteAt(n) => Some(n),
            _ => None,
        };
        Ok(FaultyFile {
            files: self.files.clone(),
            path: path.to_path_buf(),
            room,
        })
    }
    fn sync(&self, _file: &mut FaultyFile) -> io::Result<()> {
        self.fail_if(Fault::Sync)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.fail_if(Fault::Rename)?;
        let mut files = self.files.borrow_mut();
        let bytes = files.remove(from).unwrap();
        files.insert(to.to_path_buf(), bytes);
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        if self.crash && (self.failed.get() || matches!(self.fault, Fault::WriteAt(_))) {
            return Err(io::Error::other("crashed"));
        }
        self.files.borrow_mut().remove(path);
        Ok(())
    }
}

const OLD: &[u8] = br#"{"status":"running","pid":42}"#;
const NEW: &[u8] = br#"{"status":"exited","exit_code":0,"finished_at":"now"}"#;

fn every_fault() -> Vec<Fault> {
    let mut faults = vec![Fault::Create, Fault::Sync, Fault::Rename];
    faults.extend((0..NEW.len()).map(Fault::WriteAt));
    faults
}

#[test]
fn without_a_fault_the_record_holds_the_new_content_and_no_temporary_is_left() {
    let fs = FaultyFs::new(OLD, Fault::None, false);
    write_atomic_with(&fs, Path::new("/r/state.json"), NEW).unwrap();
    assert_eq!(fs.record().unwrap(), NEW);
    assert_eq!(fs.temporaries(), 0);
}

#[test]
fn a_failure_at_any_step_or_byte_keeps_the_old_record_and_removes_the_temporary() {
    for fault in every_fault() {
        let fs = FaultyFs::new(OLD, fault, false);
        let result = write_atomic_with(&fs, Path::new("/r/state.json"), NEW);
        assert!(result.is_err(), "{fault:?} reported success");
        assert_eq!(fs.record().unwrap(), OLD, "{fault:?} changed the record");
        assert_eq!(fs.temporaries(), 0, "{fault:?} left its temporary");
    }
}

#[test]
fn a_crash_at_any_step_or_byte_leaves_the_old_or_the_new_record() {
    for fault in every_fault() {
        let fs = FaultyFs::new(OLD, fault, true);
        let _ = write_atomic_with(&fs, Path::new("/r/state.json"), NEW);
        let record = fs.record().expect("the record never disappears");
        assert!(
            record == OLD || record == NEW,
            "{fault:?}: torn record {:?}",
            String::from_utf8_lossy(&record)
        );
    }
}

#[test]
fn the_temporary_is_a_hidden_sibling_named_by_the_writer() {
    let tmp = temp_path(Path::new("/r/c/state.json"));
    assert_eq!(tmp.parent(), Some(Path::new("/r/c")));
    let name = tmp.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(name, format!(".state.json.tmp{}", std::process::id()));
}

#[test]
fn the_real_filesystem_replaces_a_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    std::fs::write(&path, OLD).unwrap();
    write_atomic(&path, NEW).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), NEW);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let missing_dir = dir.path().join("gone/r.json");
    assert!(write_atomic(&missing_dir, NEW).is_err());
}

#[test]
fn temporaries_name_their_writer() {
    let own = temp_path(Path::new("/p/balancer.json"));
    let own = own.file_name().unwrap().to_str().unwrap();
    assert_eq!(temp_writer(own), Some(std::process::id()));
    assert_eq!(temp_writer(".health.json.tmp42"), Some(42));
    for not_one in [
        "health.json",
        ".health.json",
        ".tmp42",
        ".x.tmp",
        ".x.tmp4a",
        "x.tmp42",
    ] {
        assert_eq!(temp_writer(not_one), None, "{not_one}");
    }
}

#[test]
fn only_the_temporaries_of_dead_writers_are_swept() {
    let names = [
        "desired.json",
        ".balancer.json.tmp10",
        ".health.json.tmp11",
        "supervisor.lock",
    ];
    let alive = |pid: u32| pid == 11;
    assert_eq!(dead_temps(&names, alive), [".balancer.json.tmp10"]);
}

#[test]
fn a_sweep_removes_a_dead_writers_file_and_keeps_a_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let own = temp_path(&dir.path().join("health.json"));
    std::fs::write(&own, OLD).unwrap();
    // No pid above the kernel's pid_max (4194304) is alive.
    let dead = dir.path().join(".balancer.json.tmp4194305");
    std::fs::write(&dead, OLD).unwrap();
    std::fs::write(dir.path().join("desired.json"), OLD).unwrap();
    sweep_dead_temps(dir.path());
    assert!(own.exists());
    assert!(!dead.exists());
    assert!(dir.path().join("desired.json").exists());
}
