//! `logs [-f] [--tail N] [--timestamps]`.

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::time::Duration;

use clap::Args;

use super::CliResult;
use crate::container::Status;
use crate::instance::Instance;
use crate::runtime::control::observed_status;
use crate::runtime::logs::{read_entries, LogEntry, Stream};

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Keep printing new output until the container exits
    #[arg(short, long)]
    follow: bool,
    /// Only the last N lines
    #[arg(short = 'n', long)]
    tail: Option<usize>,
    #[arg(short, long)]
    timestamps: bool,
    /// Show a compose project's logs, each line prefixed by its replica
    #[arg(short, long = "project-name", value_name = "NAME")]
    project_name: Option<String>,
    /// A container; with -p, an optional service of the project
    container: Option<String>,
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
        return project_logs(instance, project, args);
    }
    let Some(container) = &args.container else {
        return Err("logs needs a container, or -p PROJECT [SERVICE]".into());
    };
    let id = instance.containers.resolve(container)?;
    let path = instance.containers.container_dir(&id).join("log.json");
    let entries = read_entries(&path)?;
    let skip = args
        .tail
        .map(|n| entries.len().saturating_sub(n))
        .unwrap_or(0);
    for entry in &entries[skip..] {
        print_entry(entry, args.timestamps);
    }
    let _ = std::io::stdout().flush();
    if args.follow {
        follow(instance, &id, &path, args.timestamps)?;
    }
    Ok(0)
}

/// Prints lines as they are appended, until the container is no longer
/// running and nothing more arrives.
fn follow(
    instance: &Instance,
    id: &str,
    path: &std::path::Path,
    timestamps: bool,
) -> std::io::Result<()> {
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(());
    };
    let mut reader = BufReader::new(file);
    reader.seek(SeekFrom::End(0))?;
    let mut line = String::new();
    loop {
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

/// `logs -p PROJECT [SERVICE]`: every replica's output merged by time, each
/// line prefixed by the replica (`web-2 | …`), as `docker compose logs` does.
fn project_logs(instance: &Instance, project: &str, args: &LogsArgs) -> CliResult {
    let mut lines: Vec<(String, LogEntry)> = Vec::new();
    let mut width = 0;
    for record in instance.containers.list()? {
        let Some((service, slot, _)) = crate::project::replicas::replica_labels(&record, project)
        else {
            continue;
        };
        if args
            .container
            .as_ref()
            .is_some_and(|wanted| *wanted != service)
        {
            continue;
        }
        let replica = format!("{service}-{slot}");
        width = width.max(replica.len());
        let path = instance
            .containers
            .container_dir(&record.config.id)
            .join("log.json");
        lines.extend(
            read_entries(&path)?
                .into_iter()
                .map(|e| (replica.clone(), e)),
        );
    }
    lines.sort_by(|a, b| a.1.time.cmp(&b.1.time));
    let skip = args
        .tail
        .map(|n| lines.len().saturating_sub(n))
        .unwrap_or(0);
    for (replica, entry) in &lines[skip..] {
        let prefixed = LogEntry {
            log: format!("{replica:<width$} | {}", entry.log),
            ..entry.clone()
        };
        print_entry(&prefixed, args.timestamps);
    }
    let _ = std::io::stdout().flush();
    Ok(0)
}

/// Prints every replica's new output, prefixed, until `stop()` says so.
/// Replicas that appear later (restarts, scaling) are picked up.
pub fn follow_project(
    instance: &Instance,
    project: &str,
    services: &[String],
    mut stop: impl FnMut() -> bool,
) -> std::io::Result<()> {
    let mut offsets: std::collections::BTreeMap<std::path::PathBuf, u64> = Default::default();
    while !stop() {
        for record in instance.containers.list().unwrap_or_default() {
            let Some((service, slot, _)) =
                crate::project::replicas::replica_labels(&record, project)
            else {
                continue;
            };
            if !services.is_empty() && !services.contains(&service) {
                continue;
            }
            let path = instance
                .containers
                .container_dir(&record.config.id)
                .join("log.json");
            let offset = offsets.entry(path.clone()).or_insert(0);
            let Ok(mut file) = std::fs::File::open(&path) else {
                continue;
            };
            file.seek(SeekFrom::Start(*offset))?;
            let mut reader = BufReader::new(file);
            let mut line = String::new();
            while reader.read_line(&mut line)? > 0 && line.ends_with('\n') {
                *offset += line.len() as u64;
                if let Ok(entry) = serde_json::from_str::<LogEntry>(&line) {
                    let prefixed = LogEntry {
                        log: format!("{service}-{slot} | {}", entry.log),
                        ..entry
                    };
                    print_entry(&prefixed, false);
                }
                line.clear();
            }
        }
        let _ = std::io::stdout().flush();
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
