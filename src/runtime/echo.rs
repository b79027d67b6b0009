//! Where a foreground container's output goes besides its log: nowhere,
//! rcorch's own stdout/stderr as it comes (`run`), or — for a build step —
//! line by line on stderr as BuildKit's plain progress writes it:
//! `#5 0.123 text` (the step, then seconds since the step started), or
//! line by line to a build's live view, with a tick while the step runs.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::logs::Stream;

#[derive(Debug, Clone, Default)]
pub enum Echo {
    #[default]
    Off,
    Raw,
    Step(StepEcho),
    Lines(LineSink),
}

/// Hears each complete line as `Some(line)`, and `None` every [`TICK`]
/// while the step runs (its clock).
pub type OnLine = Arc<dyn Fn(Option<&str>) + Send + Sync>;

/// A build step's output for a live view.
#[derive(Clone)]
pub struct LineSink {
    sink: OnLine,
    pending: [Vec<u8>; 2],
}

impl std::fmt::Debug for LineSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineSink").finish_non_exhaustive()
    }
}

/// How often a live view hears that its running step still runs.
pub const TICK: Duration = Duration::from_millis(250);

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

    /// Each complete line of the output (and a tick) to `sink`.
    pub fn lines(sink: OnLine) -> Echo {
        Echo::Lines(LineSink {
            sink,
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// How long the monitor may wait for output before [`Echo::tick`].
    pub fn tick_every(&self) -> Option<Duration> {
        matches!(self, Echo::Lines(_)).then_some(TICK)
    }

    pub fn tick(&self) {
        if let Echo::Lines(l) = self {
            (l.sink)(None);
        }
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
            Echo::Lines(l) => {
                let pending = &mut l.pending[matches!(stream, Stream::Stderr) as usize];
                for line in complete_lines(pending, bytes) {
                    (l.sink)(Some(&line));
                }
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
        if let Echo::Lines(l) = self {
            for pending in l.pending.iter_mut().filter(|p| !p.is_empty()) {
                for line in complete_lines(pending, b"\n") {
                    (l.sink)(Some(&line));
                }
            }
        }
    }
}

/// The complete lines of `pending` + `bytes`, each as `PREFIX SECS text\n`
/// (`\r\n` and a lone `\r` end a line too); the rest stays in `pending`.
pub fn prefixed_lines(pending: &mut Vec<u8>, bytes: &[u8], prefix: &str, secs: f64) -> String {
    complete_lines(pending, bytes)
        .iter()
        .map(|line| format!("{prefix} {secs:.3} {line}\n"))
        .collect()
}

/// The complete, non-empty lines of `pending` + `bytes`; the rest stays
/// in `pending`.
fn complete_lines(pending: &mut Vec<u8>, bytes: &[u8]) -> Vec<String> {
    pending.extend_from_slice(bytes);
    let Some(last) = pending.iter().rposition(|b| *b == b'\n' || *b == b'\r') else {
        return Vec::new();
    };
    let done: Vec<u8> = pending.drain(..=last).collect();
    let text = String::from_utf8_lossy(&done).replace("\r\n", "\n");
    text.split(['\n', '\r'])
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
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

    #[test]
    fn a_line_sink_hears_each_line_once_complete_and_the_rest_at_the_end() {
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        let h = heard.clone();
        let mut echo = Echo::lines(Arc::new(move |l: Option<&str>| {
            h.lock().unwrap().push(l.map(str::to_string));
        }));
        assert_eq!(echo.tick_every(), Some(TICK));
        echo.write(Stream::Stdout, b"one\ntw");
        echo.write(Stream::Stderr, b"err\r\n");
        echo.tick();
        echo.write(Stream::Stdout, b"o\nlast");
        echo.finish();
        let heard = heard.lock().unwrap().clone();
        let s = |t: &str| Some(t.to_string());
        assert_eq!(heard, [s("one"), s("err"), None, s("two"), s("last")]);
        assert_eq!(Echo::Off.tick_every(), None);
    }
}
