//! Following a line-oriented log as it grows (`tail -F`): each `poll`
//! returns the complete lines written since the last one. A log rotated
//! away (renamed, a new file in its place) is read to its end first, then
//! the new file from its start, so no line is lost or repeated.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

pub struct Tail {
    path: PathBuf,
    file: Option<(File, u64)>,
    /// A line not yet ended by its newline.
    partial: Vec<u8>,
}

impl Tail {
    /// From the start of `path` (which may not exist yet).
    pub fn new(path: PathBuf) -> Tail {
        Tail {
            path,
            file: None,
            partial: Vec::new(),
        }
    }

    pub fn poll(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.file.is_none() {
            self.file = open(&self.path);
        }
        self.drain(&mut lines);
        let now = std::fs::metadata(&self.path).ok().map(|m| m.ino());
        let rotated = matches!((&self.file, now), (Some((_, ino)), Some(n)) if *ino != n);
        if rotated {
            // The old file is complete: what is left of it came first.
            self.drain(&mut lines);
            self.partial.clear();
            self.file = open(&self.path);
            self.drain(&mut lines);
        }
        lines
    }

    fn drain(&mut self, lines: &mut Vec<String>) {
        let Some((file, _)) = self.file.as_mut() else {
            return;
        };
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return;
        }
        self.partial.extend_from_slice(&bytes);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            lines.push(String::from_utf8_lossy(&line[..end]).into_owned());
        }
    }
}

fn open(path: &PathBuf) -> Option<(File, u64)> {
    let mut file = File::open(path).ok()?;
    let ino = file.metadata().ok()?.ino();
    file.seek(SeekFrom::Start(0)).ok()?;
    Some((file, ino))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn follows_appends_partial_lines_and_rotations() {
        let dir = std::env::temp_dir().join(format!("rcorch-tail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let mut tail = Tail::new(path.clone());
        assert!(tail.poll().is_empty(), "no file yet");
        let append = |text: &str| {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap();
            f.write_all(text.as_bytes()).unwrap();
        };
        append("a\nb");
        assert_eq!(tail.poll(), ["a"]);
        append("\nc\n");
        assert_eq!(tail.poll(), ["b", "c"]);
        assert!(tail.poll().is_empty());
        append("d\n");
        std::fs::rename(&path, dir.join("log.1")).unwrap();
        append("e\n");
        assert_eq!(
            tail.poll(),
            ["d", "e"],
            "the old file's end, then the new one"
        );
        append("f\n");
        assert_eq!(tail.poll(), ["f"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
