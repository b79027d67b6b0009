//! Container output as Docker's json-file log: one JSON object per line,
//! `{"log":"…\n","stream":"stdout","time":"…"}`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

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
    file: File,
    partial: [Vec<u8>; 2],
}

/// A line longer than this is written in pieces, like Docker's 16 KiB limit.
const MAX_LINE: usize = 16 * 1024;

impl LogWriter {
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(LogWriter {
            file,
            partial: [Vec::new(), Vec::new()],
        })
    }

    pub fn write(&mut self, stream: Stream, mut bytes: &[u8]) -> io::Result<()> {
        let slot = stream as usize;
        while let Some(pos) = bytes.iter().position(|b| *b == b'\n') {
            self.partial[slot].extend_from_slice(&bytes[..=pos]);
            self.flush_line(stream)?;
            bytes = &bytes[pos + 1..];
        }
        self.partial[slot].extend_from_slice(bytes);
        if self.partial[slot].len() >= MAX_LINE {
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
        self.file.write_all(&line)
    }
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
        let mut w = LogWriter::create(&path).unwrap();
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

    #[test]
    fn missing_log_reads_as_empty() {
        assert!(read_entries(Path::new("/nonexistent/log.json"))
            .unwrap()
            .is_empty());
    }
}
