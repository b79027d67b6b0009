//! Damaged records, as plain data: what is wrong with a record file
//! (`Problem`, decided from its bytes alone) and the containers whose
//! record cannot be read (`Broken`). A damaged container is reported, never
//! allowed to stop commands about the others.

use std::fmt;
use std::path::PathBuf;

use super::store::{Record, StoreError};

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
pub fn parse_record<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::Empty);
    }
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Eof => Problem::Truncated,
        _ => Problem::Garbage(e.to_string()),
    })
}

/// A container directory whose record cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub id: String,
    /// The file at fault (or the directory, when it cannot be listed).
    pub path: PathBuf,
    pub problem: String,
}

impl Broken {
    pub fn from_error(id: &str, error: StoreError) -> Broken {
        let (path, problem) = match error {
            StoreError::Unreadable { path, problem } => (path, problem.to_string()),
            StoreError::Io { path, source } => (path, source.to_string()),
            other => (PathBuf::new(), other.to_string()),
        };
        Broken {
            id: id.to_string(),
            path,
            problem,
        }
    }

    /// One line for the user: what, where, and the two ways out.
    pub fn report(&self) -> String {
        format!(
            "container {} has an unreadable record {} ({}): remove it with `rcorch rm -f {}` or run `rcorch system check --repair`",
            &self.id[..self.id.len().min(12)],
            self.path.display(),
            self.problem,
            &self.id[..self.id.len().min(12)],
        )
    }
}

/// Every container directory of a store, read.
#[derive(Debug, Default)]
pub struct Scan {
    pub records: Vec<Record>,
    pub broken: Vec<Broken>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::ContainerState;

    fn parse(bytes: &[u8]) -> Result<ContainerState, Problem> {
        parse_record(bytes)
    }

    #[test]
    fn a_whole_record_parses() {
        let state = parse(br#"{"status":"running","pid":7,"oom_killed":false}"#).unwrap();
        assert_eq!(state.pid, Some(7));
    }

    #[test]
    fn empty_truncated_and_garbage_records_are_told_apart() {
        assert_eq!(parse(b"").unwrap_err(), Problem::Empty);
        assert_eq!(parse(b" \n").unwrap_err(), Problem::Empty);
        assert_eq!(parse(br#"{"status":"run"#).unwrap_err(), Problem::Truncated);
        assert_eq!(parse(br#"{"pid": 7,"#).unwrap_err(), Problem::Truncated);
        assert!(matches!(
            parse(b"\x00\x17garbage"),
            Err(Problem::Garbage(_))
        ));
        assert!(matches!(
            parse(br#"{"pid":"seven"}"#),
            Err(Problem::Garbage(_))
        ));
        assert!(matches!(parse(b"[1,2]"), Err(Problem::Garbage(_))));
    }

    #[test]
    fn the_report_names_the_file_and_both_fixes() {
        let broken = Broken {
            id: "ab".repeat(32),
            path: PathBuf::from("/r/containers/abab/config.json"),
            problem: Problem::Truncated.to_string(),
        };
        let line = broken.report();
        assert!(
            line.contains("/r/containers/abab/config.json (truncated)"),
            "{line}"
        );
        assert!(line.contains("rcorch rm -f abababababab"), "{line}");
        assert!(line.contains("rcorch system check --repair"), "{line}");
    }
}
