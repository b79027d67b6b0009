//! Where a foreground container's output goes besides its log: nowhere,
//! rcorch's own stdout/stderr as it comes (`run`), or — for a build step —
//! line by line on stderr as BuildKit's plain progress writes it:
//! `#5 0.123 text` (the step, then seconds since the step started).

use std::io::Write;
use std::time::Instant;

use super::logs::Stream;

#[derive(Debug, Clone, Default)]
pub enum Echo {
    #[default]
    Off,
    Raw,
    Step(StepEcho),
}

/// A build step's output: its prefix, its start, and each stream's
/// unfinished last line.
#[derive(Debug, Clone)]
pub struct StepEcho {
    prefix: String,
    started: Instant,
    pending: [Vec<u8>; 2],
}

impl From<bool> for Echo {
    fn from(on: bool) -> Echo {
        if on {
            Echo::Raw
        } else {
            Echo::Off
        }
    }
}

impl Echo {
    /// Build step output prefixed `PREFIX SECONDS ` per line (`#5`).
    pub fn step(prefix: &str) -> Echo {
        Echo::Step(StepEcho {
            prefix: prefix.to_string(),
            started: Instant::now(),
            pending: [Vec::new(), Vec::new()],
        })
    }

    pub fn is_on(&self) -> bool {
        !matches!(self, Echo::Off)
    }

    pub fn write(&mut self, stream: Stream, bytes: &[u8]) {
        match self {
            Echo::Off => {}
            Echo::Raw => {
                let _ = match stream {
                    Stream::Stdout => std::io::stdout()
                        .write_all(bytes)
                        .and_then(|_| std::io::stdout().flush()),
                    Stream::Stderr => std::io::stderr().write_all(bytes),
                };
            }
            Echo::Step(s) => {
                let secs = s.started.elapsed().as_secs_f64();
                let pending = &mut s.pending[matches!(stream, Stream::Stderr) as usize];
                let text = prefixed_lines(pending, bytes, &s.prefix, secs);
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
        }
    }

    /// The streams' unfinished last lines, once the output ends.
    pub fn finish(&mut self) {
        if let Echo::Step(s) = self {
            let secs = s.started.elapsed().as_secs_f64();
            for pending in s.pending.iter_mut().filter(|p| !p.is_empty()) {
                let text = prefixed_lines(pending, b"\n", &s.prefix, secs);
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
        }
    }
}

/// The complete lines of `pending` + `bytes`, each as `PREFIX SECS text\n`
/// (`\r\n` and a lone `\r` end a line too); the rest stays in `pending`.
pub fn prefixed_lines(pending: &mut Vec<u8>, bytes: &[u8], prefix: &str, secs: f64) -> String {
    pending.extend_from_slice(bytes);
    let Some(last) = pending.iter().rposition(|b| *b == b'\n' || *b == b'\r') else {
        return String::new();
    };
    let done: Vec<u8> = pending.drain(..=last).collect();
    let mut out = String::new();
    let text = String::from_utf8_lossy(&done).replace("\r\n", "\n");
    for line in text.split(['\n', '\r']).filter(|l| !l.is_empty()) {
        out.push_str(&format!("{prefix} {secs:.3} {line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_lines_get_the_step_and_the_time() {
        let mut pending = Vec::new();
        assert_eq!(prefixed_lines(&mut pending, b"hel", "#5", 0.1), "");
        assert_eq!(
            prefixed_lines(&mut pending, b"lo\r\nworld\npart", "#5", 0.1234),
            "#5 0.123 hello\n#5 0.123 world\n"
        );
        assert_eq!(pending, b"part");
        assert_eq!(
            prefixed_lines(&mut pending, b"\n", "#5", 1.0),
            "#5 1.000 part\n"
        );
        assert!(pending.is_empty());
    }
}
