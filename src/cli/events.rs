//! `rcorch events`: the runtime's container events (every container,
//! replicas included) or, with `-p`/`-f`, what a project's supervisor did.
//! As `docker events`: without `--since` only new events stream; with it
//! the kept ones come first; `--until` ends the stream (at once if it is
//! past), else it runs until interrupted.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::CliResult;
use crate::container::events::EventLog;
use crate::project::events::Event;
use crate::project::events_query::{self, Filters, Output};
use crate::util::tail::Tail;

/// How often a following `events` looks for new lines.
const POLL: Duration = Duration::from_millis(200);

pub enum Source {
    /// The runtime's log: Docker messages as written.
    Runtime(EventLog),
    /// A project's supervisor log at this path, for project NAME.
    Project { path: PathBuf, name: String },
}

pub struct Query {
    pub filters: Filters,
    pub since: Option<SystemTime>,
    pub until: Option<SystemTime>,
    pub output: Output,
}

/// A recorded line as a Docker message and its plain text.
fn decode(source: &Source, line: &str) -> Option<(Value, String)> {
    match source {
        Source::Runtime(_) => {
            let m: Value = serde_json::from_str(line).ok()?;
            let text = events_query::docker_line(&m);
            Some((m, text))
        }
        Source::Project { name, .. } => {
            let e: Event = serde_json::from_str(line).ok()?;
            Some((events_query::message(&e, name), e.line()))
        }
    }
}

pub fn show(source: Source, query: &Query) -> CliResult {
    let (history, current) = match &source {
        Source::Runtime(log) => (Some(log.rotated()), log.current()),
        Source::Project { path, .. } => (Some(crate::project::events::rotated(path)), path.clone()),
    };
    let mut tail = Tail::new(current);
    // Without --since, only what happens from now on (Docker).
    let since = query.since;
    let wanted = |m: &Value| since.is_some() && events_query::in_window(m, (since, query.until));
    let old: Vec<String> = history
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| t.lines().map(String::from).collect())
        .unwrap_or_default();
    print(&source, old.into_iter().chain(tail.poll()), query, &wanted)?;
    let started = SystemTime::now();
    let live =
        |m: &Value| events_query::in_window(m, (Some(since.unwrap_or(started)), query.until));
    while query.until.is_none_or(|u| SystemTime::now() <= u) {
        std::thread::sleep(POLL);
        print(&source, tail.poll().into_iter(), query, &live)?;
    }
    Ok(0)
}

fn print(
    source: &Source,
    lines: impl Iterator<Item = String>,
    query: &Query,
    wanted: &dyn Fn(&Value) -> bool,
) -> Result<(), super::Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in lines {
        let Some((m, text)) = decode(source, &line) else {
            continue;
        };
        if wanted(&m) && query.filters.matches(&m) {
            let rendered = events_query::render(&m, || text, &query.output)
                .map_err(|e| super::Failure::from(e.to_string()))?;
            let _ = writeln!(out, "{rendered}");
        }
    }
    let _ = out.flush();
    Ok(())
}
