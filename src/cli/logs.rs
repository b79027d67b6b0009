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
    container: String,
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
    let id = instance.containers.resolve(&args.container)?;
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
