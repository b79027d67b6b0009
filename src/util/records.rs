//! A directory of named records, one file each, every file kept twice: the
//! record (`DIR/NAME.json`) and its copy (`COPIES/NAME.json`), each replaced
//! atomically, the record first. One record never depends on another, and a
//! record damaged on disk (cut short, overwritten, emptied, deleted) is read
//! back from its copy and rewritten whole by the next save. Only when both
//! are unreadable is the record lost, and then only that one.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Why a record file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Missing,
    Empty,
    /// Valid JSON cut short: a torn write or a full disk.
    Truncated,
    /// Not JSON at all, or JSON of the wrong shape.
    Garbage(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("missing"),
            Problem::Empty => f.write_str("empty"),
            Problem::Truncated => f.write_str("truncated"),
            Problem::Garbage(why) => write!(f, "not a valid record ({why})"),
        }
    }
}

/// Parses a record's bytes, naming what is wrong when they are not one.
pub fn parse_record<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::Empty);
    }
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Eof => Problem::Truncated,
        _ => Problem::Garbage(e.to_string()),
    })
}

/// A record whose file is unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The record's file (not the copy's).
    pub path: PathBuf,
    pub problem: String,
    /// True when the copy was whole and stood in for it: nothing is lost,
    /// and the next save rewrites the record.
    pub recovered: bool,
}

/// Every record of a directory, read.
#[derive(Debug)]
pub struct Scan<T> {
    pub records: BTreeMap<String, T>,
    /// By name: records read from their copy, and records lost (both
    /// unreadable, or the record's name unfit for a file).
    pub damaged: BTreeMap<String, Damage>,
}

impl<T> Scan<T> {
    /// The records neither file of which can be read.
    pub fn lost(&self) -> impl Iterator<Item = (&String, &Damage)> {
        self.damaged.iter().filter(|(_, d)| !d.recovered)
    }
}

#[derive(Debug, Clone)]
pub struct Records {
    dir: PathBuf,
    copies: PathBuf,
}

/// A directory where a record's file should be is damage to that record
/// (set aside by the repair), never an error that hides the others.
const DIRECTORY: &str = "a directory where the file should be";

fn read(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The record names in `dir` (`NAME.json`; temporaries and the rest skipped).
fn names(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if let Some(stem) = name.strip_suffix(".json") {
            names.push(stem.to_string());
        }
    }
    Ok(names)
}

impl Records {
    pub fn new(dir: PathBuf, copies: PathBuf) -> Records {
        Records { dir, copies }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn copy_path(&self, name: &str) -> PathBuf {
        self.copies.join(format!("{name}.json"))
    }

    /// Whether either file of the record is there.
    pub fn exists(&self, name: &str) -> bool {
        self.path(name).exists() || self.copy_path(name).exists()
    }

    /// Reads every record named in either directory.
    pub fn scan<T: DeserializeOwned>(&self) -> io::Result<Scan<T>> {
        let mut all = names(&self.dir)?;
        all.extend(names(&self.copies)?);
        all.sort();
        all.dedup();
        let mut scan = Scan {
            records: BTreeMap::new(),
            damaged: BTreeMap::new(),
        };
        for name in all {
            match self.load(&name)? {
                (Some(value), None) => {
                    scan.records.insert(name, value);
                }
                (value, Some(damage)) => {
                    if let Some(value) = value {
                        scan.records.insert(name.clone(), value);
                    }
                    scan.damaged.insert(name, damage);
                }
                (None, None) => {}
            }
        }
        Ok(scan)
    }

    /// One record: its value (from the record, else from the copy) and
    /// what is wrong with its file. A record is missing only when its copy
    /// is there: a removal deletes the copy first.
    pub fn load<T: DeserializeOwned>(&self, name: &str) -> io::Result<(Option<T>, Option<Damage>)> {
        let path = self.path(name);
        let problem = match read(&path) {
            Ok(Some(bytes)) => match parse_record::<T>(&bytes) {
                Ok(value) => return Ok((Some(value), None)),
                Err(problem) => problem,
            },
            Ok(None) => Problem::Missing,
            Err(e) if e.kind() == io::ErrorKind::IsADirectory => Problem::Garbage(DIRECTORY.into()),
            Err(e) => return Err(e),
        };
        let copy = match read(&self.copy_path(name)) {
            Ok(Some(bytes)) => parse_record::<T>(&bytes).ok(),
            Ok(None) if problem == Problem::Missing => return Ok((None, None)),
            Ok(None) => None,
            Err(e) if e.kind() == io::ErrorKind::IsADirectory => None,
            Err(e) => return Err(e),
        };
        let damage = Damage {
            path,
            problem: problem.to_string(),
            recovered: copy.is_some(),
        };
        Ok((copy, Some(damage)))
    }

    /// Replaces the record and then its copy, each atomically, leaving a
    /// file alone that already holds `bytes`.
    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        for (dir, path) in [
            (&self.dir, self.path(name)),
            (&self.copies, self.copy_path(name)),
        ] {
            if read(&path)?.as_deref() == Some(bytes) {
                continue;
            }
            std::fs::create_dir_all(dir)?;
            super::atomic::write_atomic(&path, bytes)?;
        }
        Ok(())
    }

    /// Removes the temporaries of writes killed before their rename (the
    /// caller holds the store's lock, so no write of its is in progress).
    pub fn sweep_dead_temps(&self) {
        super::atomic::sweep_dead_temps(&self.dir);
        super::atomic::sweep_dead_temps(&self.copies);
    }

    /// Deletes the copy and then the record: a crash between leaves the
    /// record alone, which reads as whole, never a copy that revives it.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        for path in [self.copy_path(name), self.path(name)] {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Renames both files `*.damaged`, so the name is free again.
    pub fn set_aside(&self, name: &str) -> io::Result<()> {
        for path in [self.copy_path(name), self.path(name)] {
            let mut aside = path.clone().into_os_string();
            aside.push(".damaged");
            match std::fs::rename(&path, aside) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
