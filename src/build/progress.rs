//! What a build shows while it runs, as BuildKit shows it. Pure:
//! - the step labels of its plain progress: `[NAME K/TOTAL]`, NAME being
//!   the stage's `AS` name, else `stage-N`, left out when the file has one
//!   stage; K padded to TOTAL's width (`[ 3/12]`);
//! - which view `--progress` picks (`auto`: the live view on a terminal);
//! - the live view's frame: a header with the elapsed time and the steps
//!   done, one row per step with its duration (or CACHED), and the last
//!   lines of the running step's output.

use std::time::Duration;

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;

/// The label of step `k` (1-based) of `total` in stage `n` of `count`.
pub fn step_label(
    stage: (usize, Option<&str>),
    count: usize,
    (k, total): (usize, usize),
) -> String {
    let width = total.to_string().len();
    let name = match (count > 1, stage.1) {
        (false, _) => String::new(),
        (true, Some(name)) => format!("{name} "),
        (true, None) => format!("stage-{} ", stage.0),
    };
    format!("[{name}{k:>width$}/{total}]")
}

/// How a build reports its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing but the image id (`-q`, `--progress quiet`).
    Quiet,
    /// `#N …` lines, one per event: logs and CI.
    Plain,
    /// The live view, redrawn in place on a terminal.
    Tty,
}

/// The view `--progress FLAG` asks for (`BUILDKIT_PROGRESS` standing in
/// for `auto`, as in docker), given whether stderr is a terminal and
/// `$TERM`. `tty` without a terminal is refused, as BuildKit refuses it.
pub fn choose_mode(
    flag: &str,
    env_default: Option<&str>,
    stderr_is_terminal: bool,
    term: Option<&str>,
) -> Result<Mode, String> {
    let flag = match (flag, env_default) {
        ("auto", Some(env)) if !env.is_empty() => env,
        _ => flag,
    };
    match flag {
        "quiet" => Ok(Mode::Quiet),
        "plain" | "rawjson" => Ok(Mode::Plain),
        "tty" if stderr_is_terminal => Ok(Mode::Tty),
        "tty" => Err(
            "--progress tty: stderr is not a terminal; use --progress plain or auto".to_string(),
        ),
        "auto" if stderr_is_terminal && term.is_none_or(|t| t != "dumb") => Ok(Mode::Tty),
        "auto" => Ok(Mode::Plain),
        other => Err(format!(
            "--progress {other:?}: use auto, tty, plain or quiet"
        )),
    }
}

/// Lines of the running step's output the live view keeps, as BuildKit.
pub const TAIL_LINES: usize = 6;

/// Output redraws at most this often (a chatty RUN prints thousands of lines).
pub const OUTPUT_REDRAW: Duration = Duration::from_millis(50);

/// A tick redraws once the last frame is this old: each of the RUN
/// monitor's 250 ms ticks draws, and work that ticks as often as it likes
/// (a layer's tar written chunk by chunk) draws at most 5 times a second.
pub const TICK_REDRAW: Duration = Duration::from_millis(200);

/// Why the live view is asked to redraw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redraw {
    /// A step started, ended, was cached, or noted something: always.
    Step,
    /// A line of the running step's output.
    Output,
    /// The running step still runs, silently: its clock moves.
    Tick,
}

/// Whether to draw now, the last frame drawn `since_last` ago (None: none yet).
pub fn redraw_due(why: Redraw, since_last: Option<Duration>) -> bool {
    let min = match why {
        Redraw::Step => return true,
        Redraw::Output => OUTPUT_REDRAW,
        Redraw::Tick => TICK_REDRAW,
    };
    since_last.is_none_or(|d| d >= min)
}

#[derive(Debug, Clone, PartialEq)]
pub enum RowState {
    /// Started at this many seconds into the build.
    Running {
        since: f64,
    },
    Done {
        secs: f64,
    },
    Cached,
    Failed {
        secs: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub state: RowState,
}

/// The live view's state: its steps in order, and the running one's tail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    pub rows: Vec<Row>,
    pub tail: Vec<String>,
}

impl View {
    /// A new step starts (the one before, if still running, is done).
    pub fn start(&mut self, name: &str, now: f64) {
        self.finish_running(now);
        self.rows.push(Row {
            name: name.to_string(),
            state: RowState::Running { since: now },
        });
    }

    pub fn cached(&mut self) {
        if let Some(row) = self.running_row() {
            row.state = RowState::Cached;
        }
        self.tail.clear();
    }

    pub fn done(&mut self, now: f64) {
        self.finish_running(now);
    }

    pub fn failed(&mut self, now: f64) {
        if let Some(row) = self.running_row() {
            if let RowState::Running { since } = row.state {
                row.state = RowState::Failed { secs: now - since };
            }
        }
    }

    /// A line of the running step's output; escape sequences and control
    /// characters would move the cursor and break the frame, so they go.
    pub fn output(&mut self, line: &str) {
        self.tail.push(printable(line).trim_end().to_string());
        if self.tail.len() > TAIL_LINES {
            self.tail.remove(0);
        }
    }

    fn running_row(&mut self) -> Option<&mut Row> {
        self.rows
            .last_mut()
            .filter(|r| matches!(r.state, RowState::Running { .. }))
    }

    fn finish_running(&mut self, now: f64) {
        if let Some(row) = self.running_row() {
            if let RowState::Running { since } = row.state {
                row.state = RowState::Done { secs: now - since };
            }
        }
        self.tail.clear();
    }
}

/// The frame of `view` at `now` seconds, each line at most `width - 1`
/// characters (a wrapped line would throw the redraw's count off). While
/// the build runs (`finished` None) at most `height - 1` lines, the oldest
/// rows left out; the last frame, `Some(ok)`, has every row and no tail.
pub fn render(
    view: &View,
    now: f64,
    (width, height): (usize, usize),
    finished: Option<bool>,
) -> Vec<String> {
    let width = width.max(20) - 1;
    let settled = view
        .rows
        .iter()
        .filter(|r| !matches!(r.state, RowState::Running { .. }))
        .count();
    let ending = match finished {
        Some(true) => " FINISHED",
        Some(false) => " ERROR",
        None => "",
    };
    let header = format!(
        "[+] Building {now:.1}s ({settled}/{}){ending}",
        view.rows.len()
    );
    let mut rows: Vec<String> = view.rows.iter().map(|r| row_line(r, now, width)).collect();
    let mut tail: Vec<String> = Vec::new();
    if finished.is_none() {
        tail = view
            .tail
            .iter()
            .map(|l| clip(&format!(" => => # {l}"), width))
            .collect();
        let room = height.max(4) - 1;
        let keep = room.saturating_sub(1 + tail.len()).max(1);
        if rows.len() > keep {
            rows.drain(..rows.len() - keep);
        }
    }
    std::iter::once(clip(&header, width))
        .chain(rows)
        .chain(tail)
        .collect()
}

/// ` => [2/3] RUN make          1.2s`, the time flush right.
fn row_line(row: &Row, now: f64, width: usize) -> String {
    let (prefix, secs) = match row.state {
        RowState::Running { since } => ("", now - since),
        RowState::Done { secs } => ("", secs),
        RowState::Cached => ("CACHED ", 0.0),
        RowState::Failed { secs } => ("ERROR ", secs),
    };
    let time = format!("{:.1}s", secs.max(0.0));
    let room = width.saturating_sub(time.len() + 1);
    let text = clip(&format!(" => {prefix}{}", row.name), room);
    let pad = width.saturating_sub(text.chars().count() + time.len());
    format!("{text}{}{time}", " ".repeat(pad.max(1)))
}

/// `text` without terminal escape sequences (`ESC [ … final`, `ESC x`),
/// other control characters as spaces.
fn printable(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.next() == Some('[') {
                    // Parameters, then one final byte in '@'..='~'.
                    for p in chars.by_ref() {
                        if ('@'..='~').contains(&p) {
                            break;
                        }
                    }
                }
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn clip(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}
