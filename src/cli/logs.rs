//! `logs [-f] [--tail N] [--timestamps] CONTAINER`, and `logs -p PROJECT`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use clap::Args;

use super::CliResult;
use crate::container::logging::LogDriver;
use crate::container::Status;
use crate::instance::Instance;
use crate::runtime::control::observed_status;
use crate::runtime::logs::{read_all_entries, read_entries_from, LogEntry, Stream, LOG_FILE};

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Keep printing new output until the container exits (compose logs:
    /// until Ctrl-C, including replicas that start later)
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines
    #[arg(short = 'n', long)]
    pub tail: Option<usize>,
    #[arg(short, long)]
    pub timestamps: bool,
    /// A project's logs are `compose logs`: kept to say so
    #[arg(short, long = "project-name", value_name = "NAME", hide = true)]
    pub project_name: Option<String>,
    /// The container (compose logs: the services to show, default all)
    #[arg(value_name = "CONTAINER")]
    pub targets: Vec<String>,
}

fn print_entry(entry: &LogEntry, timestamps: bool) {
    let prefix = if timestamps {
        format!("{} ", entry.time)
    } else {
        String::new()
    };
    let _ = match entry.stream {
        Stream::Stdout => write!(std::io::stdout(), "{prefix}{}", entry.log),
        Stream::Stderr => write!(std::io::stderr(), "{prefix}{}", entry.log),
    };
}

pub fn logs(instance: &Instance, args: &LogsArgs) -> CliResult {
    if let Some(project) = &args.project_name {
        let hint = super::compose_cmd::did_you_mean("logs", Some(project), &args.targets);
        return Err(format!("logs -p is a project's logs: {hint}").into());
    }
    let [container] = args.targets.as_slice() else {
        return Err("logs needs one container (a project's: 'rcorch compose logs')".into());
    };
    let id = instance.containers.resolve(container)?;
    if instance.containers.load(&id)?.config.log.driver == LogDriver::None {
        // Docker's words: the container was run with --log-driver none.
        return Err("configured logging driver does not support reading".into());
    }
    let path = instance.containers.container_dir(&id).join(LOG_FILE);
    let entries = read_all_entries(&path)?;
    let skip = args
        .tail
        .map(|n| entries.len().saturating_sub(n))
        .unwrap_or(0);
    for entry in &entries[skip..] {
        print_entry(entry, args.timestamps);
    }
    let _ = std::io::stdout().flush();
    if args.follow {
        if let Ok(mut file) = std::fs::File::open(&path) {
            file.seek(SeekFrom::End(0))?;
            follow(instance, &id, (file, &path), args.timestamps, &mut || false)?;
        }
    }
    Ok(0)
}

/// Prints lines as they are appended, until the container is no longer
/// running and nothing more arrives, or `stop()` (asked between lines).
/// `file`: the log at `path`, open where to start.
pub(super) fn follow(
    instance: &Instance,
    id: &str,
    (file, path): (std::fs::File, &std::path::Path),
    timestamps: bool,
    stop: &mut dyn FnMut() -> bool,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    loop {
        if stop() {
            return Ok(());
        }
        line.clear();
        if reader.read_line(&mut line)? > 0 {
            if line.ends_with('\n') {
                if let Ok(entry) = serde_json::from_str::<LogEntry>(&line) {
                    print_entry(&entry, timestamps);
                    let _ = std::io::stdout().flush();
                }
            } else {
                // A line still being written: re-read it whole next time.
                reader.seek(SeekFrom::Current(-(line.len() as i64)))?;
                std::thread::sleep(Duration::from_millis(20));
            }
            continue;
        }
        // At the end of a log that rotated away: go on in the new file
        // (the monitor wrote this one's last line before the rename).
        if rotated_away(reader.get_ref(), path) {
            if let Ok(file) = std::fs::File::open(path) {
                reader = BufReader::new(file);
                continue;
            }
        }
        // Started afresh in place (max-file=1): read it from the start.
        let len = reader.get_ref().metadata()?.len();
        if reader.stream_position()? > len {
            reader.seek(SeekFrom::Start(0))?;
            continue;
        }
        let running = instance
            .containers
            .load(id)
            .map(|r| observed_status(&r.state) == Status::Running);
        if !running.unwrap_or(false) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `path` names another file than `open` (the log rotated).
fn rotated_away(open: &std::fs::File, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(ours), Ok(now)) = (open.metadata(), std::fs::metadata(path)) else {
        return false;
    };
    ours.ino() != now.ino()
}

/// The log file of each replica of `project` (of `services`, all when
/// empty), with its `service-slot` name.
fn replica_logs(
    instance: &Instance,
    project: &str,
    services: &[String],
) -> Vec<(String, std::path::PathBuf)> {
    let mut logs = Vec::new();
    for record in instance.containers.list().unwrap_or_default() {
        let Some((service, slot, _)) = crate::project::replicas::replica_labels(&record, project)
        else {
            continue;
        };
        if !services.is_empty() && !services.contains(&service) {
            continue;
        }
        let path = instance
            .containers
            .container_dir(&record.config.id)
            .join(LOG_FILE);
        logs.push((
            log_prefix(&record.config.name, project, &service, slot),
            path,
        ));
    }
    logs
}

/// A replica's log prefix: its name without the project (`web-2`, or
/// `web-2-r5` for the new replica of a start-first update while the old
/// one of the slot still runs); `service-slot` for a name of another shape.
fn log_prefix(name: &str, project: &str, service: &str, slot: u32) -> String {
    name.strip_prefix(project)
        .and_then(|rest| rest.strip_prefix('-'))
        .filter(|rest| rest.starts_with(&format!("{service}-{slot}")))
        .map(str::to_string)
        .unwrap_or_else(|| format!("{service}-{slot}"))
}

/// Where each replica's log has been read up to.
type Offsets = BTreeMap<PathBuf, u64>;

/// The new entries of every replica's log since `offsets` (a replica not
/// seen yet from its start), merged by time, prefixed by replica.
fn read_new(
    instance: &Instance,
    project: &str,
    services: &[String],
    offsets: &mut Offsets,
) -> std::io::Result<Vec<LogEntry>> {
    let mut lines: Vec<(String, LogEntry)> = Vec::new();
    for (replica, path) in replica_logs(instance, project, services) {
        let offset = offsets.entry(path.clone()).or_insert(0);
        let (entries, next) = read_entries_from(&path, *offset)?;
        *offset = next;
        lines.extend(entries.into_iter().map(|e| (replica.clone(), e)));
    }
    lines.sort_by(|a, b| a.1.time.cmp(&b.1.time));
    let width = lines.iter().map(|(r, _)| r.len()).max().unwrap_or(0);
    Ok(lines
        .into_iter()
        .map(|(replica, entry)| LogEntry {
            log: format!("{replica:<width$} | {}", entry.log),
            ..entry
        })
        .collect())
}

/// `logs -p PROJECT [-f] [--tail N] [SERVICE…]`: every replica's output
/// merged by time, each line prefixed by the replica (`web-2 | …`), as
/// `docker compose logs` does; `-f` then follows until Ctrl-C.
pub(super) fn project_logs(instance: &Instance, project: &str, args: &LogsArgs) -> CliResult {
    if !crate::project::ProjectDir::new(&instance.root, project).exists() {
        return Err(crate::project::ProjectError::NotFound {
            name: project.to_string(),
        }
        .into());
    }
    // Blocked before reading, so a Ctrl-C from now on ends the follow cleanly.
    let stop = args.follow.then(stop_signals).transpose()?;
    let mut offsets = Offsets::new();
    let lines = read_new(instance, project, &args.targets, &mut offsets)?;
    let skip = args
        .tail
        .map(|n| lines.len().saturating_sub(n))
        .unwrap_or(0);
    for entry in &lines[skip..] {
        print_entry(entry, args.timestamps);
    }
    let _ = std::io::stdout().flush();
    if let Some(stop) = stop {
        follow_from(
            instance,
            project,
            &args.targets,
            offsets,
            args.timestamps,
            || matches!(stop.read_signal(), Ok(Some(_))),
        )?;
    }
    Ok(0)
}

/// SIGINT and SIGTERM, blocked and readable without waiting: a loop polls
/// it to stop cleanly.
pub fn stop_signals() -> nix::Result<SignalFd> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGTERM);
    mask.thread_block()?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK)
}

/// Prints every replica's new output, prefixed, until `stop()` says so.
/// Replicas that appear later (restarts, scaling) are picked up.
pub fn follow_project(
    instance: &Instance,
    project: &str,
    services: &[String],
    stop: impl FnMut() -> bool,
) -> std::io::Result<()> {
    follow_from(instance, project, services, Offsets::new(), false, stop)
}

fn follow_from(
    instance: &Instance,
    project: &str,
    services: &[String],
    mut offsets: Offsets,
    timestamps: bool,
    mut stop: impl FnMut() -> bool,
) -> std::io::Result<()> {
    while !stop() {
        for entry in read_new(instance, project, services, &mut offsets)? {
            print_entry(&entry, timestamps);
        }
        let _ = std::io::stdout().flush();
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::log_prefix;

    #[test]
    fn replicas_are_prefixed_by_their_name_without_the_project() {
        assert_eq!(log_prefix("shop-web-2", "shop", "web", 2), "web-2");
        assert_eq!(log_prefix("shop-web-2-r5", "shop", "web", 2), "web-2-r5");
        assert_eq!(log_prefix("custom", "shop", "web", 2), "web-2");
    }
}
