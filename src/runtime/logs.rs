//! Container output as Docker's json-file log: one JSON object per line,
//! `{"log":"…\n","stream":"stdout","time":"…"}`. With `max-size` the log
//! rotates as Docker's: `log.json` moves to `log.json.1`, `.1` to `.2`, …,
//! keeping `max-file` files in all (1: the log starts afresh).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// A container's log, in its directory.
pub const LOG_FILE: &str = "log.json";

use serde::{Deserialize, Serialize};

use crate::util::time::now_rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub log: String,
    pub stream: Stream,
    pub time: String,
}

/// Splits output into lines, holding back a partial last line until its
/// newline (or the end) arrives, as Docker does.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    partial: [Vec<u8>; 2],
    /// Bytes in the current file.
    size: u64,
    /// (max size, files kept) when the log rotates.
    rotation: Option<(u64, u32)>,
    /// A TTY's output: a partial line (a prompt) is written as it comes,
    /// so `attach` shows it; the entries still add up to the stream.
    partials: bool,
}

/// A line longer than this is written in pieces, like Docker's 16 KiB limit.
const MAX_LINE: usize = 16 * 1024;

impl LogWriter {
    /// Appends to `path` (a restarted container's log goes on).
    pub fn create(path: &Path, rotation: Option<(u64, u32)>) -> io::Result<Self> {
        let file = open_append(path)?;
        Ok(LogWriter {
            path: path.to_path_buf(),
            size: file.metadata()?.len(),
            file,
            partial: [Vec::new(), Vec::new()],
            rotation,
            partials: false,
        })
    }

    /// Writes partial lines at once (see `partials`).
    pub fn with_partials(mut self, on: bool) -> Self {
        self.partials = on;
        self
    }

    /// Docker's order: a full file rotates before the next line, so a
    /// file ends at most one line past max-size.
    fn rotate_if_full(&mut self) -> io::Result<()> {
        let Some((max_size, files)) = self.rotation else {
            return Ok(());
        };
        if self.size < max_size {
            return Ok(());
        }
        for (from, to) in rotation_moves(&self.path, files) {
            match std::fs::rename(&from, &to) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        // One file: the log starts afresh in place.
        self.file = match files {
            1 => std::fs::File::create(&self.path)?,
            _ => open_append(&self.path)?,
        };
        self.size = 0;
        Ok(())
    }

    pub fn write(&mut self, stream: Stream, mut bytes: &[u8]) -> io::Result<()> {
        let slot = stream as usize;
        while let Some(pos) = bytes.iter().position(|b| *b == b'\n') {
            self.partial[slot].extend_from_slice(&bytes[..=pos]);
            self.flush_line(stream)?;
            bytes = &bytes[pos + 1..];
        }
        self.partial[slot].extend_from_slice(bytes);
        let waiting = !self.partial[slot].is_empty();
        if self.partial[slot].len() >= MAX_LINE || (self.partials && waiting) {
            self.flush_line(stream)?;
        }
        Ok(())
    }

    /// Writes out any partial lines; called when the streams close.
    pub fn finish(&mut self) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            if !self.partial[stream as usize].is_empty() {
                self.flush_line(stream)?;
            }
        }
        Ok(())
    }

    fn flush_line(&mut self, stream: Stream) -> io::Result<()> {
        let bytes = std::mem::take(&mut self.partial[stream as usize]);
        let entry = LogEntry {
            log: String::from_utf8_lossy(&bytes).into_owned(),
            stream,
            time: now_rfc3339(),
        };
        let mut line = serde_json::to_vec(&entry).expect("plain data serialises");
        line.push(b'\n');
        self.rotate_if_full()?;
        self.file.write_all(&line)?;
        self.size += line.len() as u64;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// `path.N` for the Nth rotated file (1: the newest).
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The renames one rotation makes, in order: the oldest kept file first
/// (its move overwrites the one past the limit), the current log last.
pub fn rotation_moves(path: &Path, files: u32) -> Vec<(PathBuf, PathBuf)> {
    if files <= 1 {
        return Vec::new();
    }
    let mut moves: Vec<(PathBuf, PathBuf)> = (1..files - 1)
        .rev()
        .map(|n| (rotated(path, n), rotated(path, n + 1)))
        .collect();
    moves.push((path.to_path_buf(), rotated(path, 1)));
    moves
}

/// Every file of a log, oldest first: the rotated ones, then `path`.
pub fn log_files(path: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..)
        .map(|n| rotated(path, n))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files.push(path.to_path_buf());
    files
}

/// The entries of a log and of its rotated files, oldest first.
pub fn read_all_entries(path: &Path) -> io::Result<Vec<LogEntry>> {
    let mut entries = Vec::new();
    for file in log_files(path) {
        entries.extend(read_entries(&file)?);
    }
    Ok(entries)
}

/// Reads every complete entry of a log file; a torn last line is skipped.
pub fn read_entries(path: &Path) -> io::Result<Vec<LogEntry>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut entries = Vec::new();
    for line in BufReader::new(file).lines() {
        if let Ok(entry) = serde_json::from_str(&line?) {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// The complete entries of a log file from byte `offset` on, and the offset
/// just past the last complete line (where the next read starts: a line
/// still being written is read whole next time).
pub fn read_entries_from(path: &Path, offset: u64) -> io::Result<(Vec<LogEntry>, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(e),
    };
    // A file shorter than where we were is a new one (the log rotated).
    let offset = if file.metadata()?.len() < offset {
        0
    } else {
        offset
    };
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let (entries, used) = parse_complete_lines(&bytes);
    Ok((entries, offset + used as u64))
}

/// Parses the complete (newline-terminated) lines of `bytes`; returns the
/// entries and how many bytes those lines took. Unparsable lines are skipped.
pub fn parse_complete_lines(bytes: &[u8]) -> (Vec<LogEntry>, usize) {
    let used = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    let entries = bytes[..used]
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect();
    (entries, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_lines_are_parsed_and_a_torn_one_is_left_for_later() {
        let one = r#"{"log":"a\n","stream":"stdout","time":"t1"}"#;
        let two = r#"{"log":"b\n","stream":"stderr","time":"t2"}"#;
        let text = format!("{one}\n{two}\n{{\"log\":\"c");
        let (entries, used) = parse_complete_lines(text.as_bytes());
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].stream, Stream::Stderr);
        assert_eq!(used, one.len() + two.len() + 2);
        assert_eq!(parse_complete_lines(b"{\"partial").1, 0);
        let (skipped, used) = parse_complete_lines(b"garbage\n");
        assert!(skipped.is_empty());
        assert_eq!(used, 8);
    }

    #[test]
    fn splits_lines_and_keeps_partials_until_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        let mut w = LogWriter::create(&path, None).unwrap();
        w.write(Stream::Stdout, b"one\ntw").unwrap();
        w.write(Stream::Stderr, b"err\n").unwrap();
        w.write(Stream::Stdout, b"o\nthree").unwrap();
        assert_eq!(read_entries(&path).unwrap().len(), 3);
        w.finish().unwrap();
        let entries = read_entries(&path).unwrap();
        let logs: Vec<(&str, Stream)> =
            entries.iter().map(|e| (e.log.as_str(), e.stream)).collect();
        assert_eq!(
            logs,
            [
                ("one\n", Stream::Stdout),
                ("err\n", Stream::Stderr),
                ("two\n", Stream::Stdout),
                ("three", Stream::Stdout)
            ]
        );
    }

    fn lines(path: &Path) -> Vec<String> {
        let entries = read_entries(path).unwrap();
        entries.into_iter().map(|e| e.log).collect()
    }

    #[test]
    fn a_ttys_partial_line_is_written_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        let mut w = LogWriter::create(&path, None).unwrap().with_partials(true);
        w.write(Stream::Stdout, b"out\n/ # ").unwrap();
        let logs: Vec<String> = read_entries(&path)
            .unwrap()
            .into_iter()
            .map(|e| e.log)
            .collect();
        assert_eq!(logs, ["out\n", "/ # "]);
    }

    #[test]
    fn a_full_log_rotates_and_only_max_file_files_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        // Each entry is about 60 bytes: 100 bytes hold two lines.
        let mut w = LogWriter::create(&path, Some((100, 3))).unwrap();
        for i in 0..9 {
            w.write(Stream::Stdout, format!("line{i}\n").as_bytes())
                .unwrap();
        }
        assert_eq!(lines(&path), ["line8\n"]);
        assert_eq!(lines(&rotated(&path, 1)), ["line6\n", "line7\n"]);
        assert_eq!(lines(&rotated(&path, 2)), ["line4\n", "line5\n"]);
        assert!(!rotated(&path, 3).exists(), "three files in all");
        let all: Vec<String> = read_all_entries(&path)
            .unwrap()
            .into_iter()
            .map(|e| e.log)
            .collect();
        assert_eq!(all, ["line4\n", "line5\n", "line6\n", "line7\n", "line8\n"]);
    }

    #[test]
    fn one_file_starts_afresh_and_an_unlimited_log_grows_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        let mut w = LogWriter::create(&path, Some((100, 1))).unwrap();
        for i in 0..5 {
            w.write(Stream::Stdout, format!("line{i}\n").as_bytes())
                .unwrap();
        }
        assert_eq!(lines(&path), ["line4\n"]);
        assert!(!rotated(&path, 1).exists());
        let whole = dir.path().join("whole.json");
        let mut w = LogWriter::create(&whole, None).unwrap();
        for i in 0..50 {
            w.write(Stream::Stdout, format!("line{i}\n").as_bytes())
                .unwrap();
        }
        assert_eq!(lines(&whole).len(), 50);
    }

    #[test]
    fn a_reopened_log_counts_what_it_already_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        std::fs::write(&path, vec![b' '; 150]).unwrap();
        let mut w = LogWriter::create(&path, Some((100, 2))).unwrap();
        w.write(Stream::Stderr, b"after restart\n").unwrap();
        assert_eq!(lines(&path), ["after restart\n"]);
        assert_eq!(std::fs::metadata(rotated(&path, 1)).unwrap().len(), 150);
    }

    #[test]
    fn rotation_moves_the_oldest_first() {
        let p = Path::new("/c/log.json");
        let moves: Vec<(String, String)> = rotation_moves(p, 3)
            .into_iter()
            .map(|(a, b)| (a.display().to_string(), b.display().to_string()))
            .collect();
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            moves,
            [
                pair("/c/log.json.1", "/c/log.json.2"),
                pair("/c/log.json", "/c/log.json.1")
            ]
        );
        assert!(rotation_moves(p, 1).is_empty());
    }

    #[test]
    fn missing_log_reads_as_empty() {
        assert!(read_entries(Path::new("/nonexistent/log.json"))
            .unwrap()
            .is_empty());
    }
}
