//! Damaged records, as plain data: what is wrong with a record file
//! (`Problem`, decided from its bytes alone) and the containers whose
//! record cannot be read (`Broken`). A damaged container is reported, never
//! allowed to stop commands about the others.

use std::path::PathBuf;

use super::store::{Record, StoreError};

pub use crate::util::records::{parse_record, Problem};

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

/// What a damaged container record still says about its image: enough
/// for `rmi` to keep an image that a broken container may still use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageClue {
    /// The image id survived (`image_id`).
    Id(String),
    /// Only the reference it was run from survived (`image`).
    Reference(String),
    /// Nothing about the image can be read.
    Unknown,
}

/// Reads the image out of a container's `config.json` bytes, whole or not:
/// the record's first keys are its name, image and image id, so a record
/// cut short keeps them. A value counts only when its string is complete.
pub fn image_clue(config: &[u8]) -> ImageClue {
    if let Ok(whole) = serde_json::from_slice::<super::ContainerConfig>(config) {
        return ImageClue::Id(whole.image_id);
    }
    let text = String::from_utf8_lossy(config);
    if let Some(id) = string_value(&text, "image_id").filter(|v| !v.is_empty()) {
        return ImageClue::Id(id);
    }
    match string_value(&text, "image").filter(|v| !v.is_empty()) {
        Some(reference) => ImageClue::Reference(reference),
        None => ImageClue::Unknown,
    }
}

/// The complete string value of `"key": "..."` in JSON text (no escapes:
/// image ids and references have none).
fn string_value(text: &str, key: &str) -> Option<String> {
    let quoted = format!("\"{key}\"");
    let mut rest = text;
    while let Some(at) = rest.find(&quoted) {
        rest = &rest[at + quoted.len()..];
        let Some(value) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let value = value.trim_start().strip_prefix('"')?;
        let end = value.find(['"', '\\'])?;
        return (value.as_bytes()[end] == b'"').then(|| value[..end].to_string());
    }
    None
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
    fn the_image_survives_a_cut_short_record() {
        let id = "ab".repeat(32);
        let whole = format!(
            r#"{{"id":"c","name":"web","image":"busybox:latest","image_id":"{id}","args":[]"#
        );
        assert_eq!(image_clue(whole.as_bytes()), ImageClue::Id(id.clone()));
        // Cut inside the id: only the reference is sure.
        let cut = &whole[..whole.find(&id).unwrap() + 10];
        assert_eq!(
            image_clue(cut.as_bytes()),
            ImageClue::Reference("busybox:latest".into())
        );
        assert_eq!(
            image_clue(br#"{"id":"c","name":"web","ima"#),
            ImageClue::Unknown
        );
        assert_eq!(image_clue(b""), ImageClue::Unknown);
        assert_eq!(image_clue(b"\x00\x17garbage"), ImageClue::Unknown);
        // A key named like the value is not the key.
        let tricky = r#"{"name":"image_id","image": "x:1""#;
        assert_eq!(
            image_clue(tricky.as_bytes()),
            ImageClue::Reference("x:1".into())
        );
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
