//! `state`, `kill`, `delete`, `list`, `ps`: the verbs on an existing container.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill as send, Signal};
use nix::unistd::Pid;

use super::cli::Global;
use super::hooks::run_host_hooks;
use super::state::{state_json, Record, Status};
use super::{sys_error, OciError};
use crate::cgroups::systemd::SystemdManager;
use crate::cgroups::CgroupManager;
use crate::runtime::changes::ps_lines_of;

/// The container's cgroup manager: its systemd scope's when it has one
/// (so `update` tells systemd and `delete` stops the unit), else cgroupfs.
pub(super) fn cgroup(record: &Record) -> Result<Box<dyn CgroupManager>, OciError> {
    let layout = crate::cgroups::detect(Path::new("/proc/self/mountinfo"))?;
    Ok(match &record.systemd_scope {
        Some(scope) => Box::new(SystemdManager::for_scope(
            &layout,
            scope,
            format!("rcorch-runtime container {}", record.id),
        )?),
        None => crate::cgroups::manager_at(&layout, &record.cgroups_path)?,
    })
}

pub fn state(global: &Global, id: &str) -> Result<(), OciError> {
    let record = global.states.load(id)?;
    let status = global
        .states
        .status(&record, super::update::is_paused(&record));
    let text = serde_json::to_string_pretty(&state_json(&record, status)).expect("json");
    println!("{text}");
    Ok(())
}

/// "TERM", "SIGTERM", "sigterm" or "15".
pub fn parse_signal(name: &str) -> Result<Signal, OciError> {
    let bad = || OciError::Signal {
        name: name.to_string(),
    };
    if let Ok(number) = name.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| bad());
    }
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<Signal>().map_err(|_| bad())
}

pub fn kill(global: &Global, id: &str, signal: &str, all: bool) -> Result<(), OciError> {
    let signal = parse_signal(signal)?;
    let record = global.states.load(id)?;
    let status = global.states.status(&record, false);
    if status == Status::Stopped {
        return Err(OciError::WrongState {
            id: id.into(),
            status: status.as_str(),
            wanted: "only a created or running container can be signalled",
        });
    }
    if all {
        cgroup(&record)?.kill_all(signal)?;
        return Ok(());
    }
    send(Pid::from_raw(record.pid), signal).map_err(sys_error("kill"))
}

pub fn delete(global: &Global, id: &str, force: bool) -> Result<(), OciError> {
    let record = match global.states.load(id) {
        Ok(record) => record,
        // Deleting what is already gone succeeds with --force, as runc's does.
        Err(OciError::NotFound { .. }) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let status = global.states.status(&record, false);
    if status != Status::Stopped && !force {
        return Err(OciError::WrongState {
            id: id.into(),
            status: status.as_str(),
            wanted: "stop it first or use delete --force",
        });
    }
    let cgroup = cgroup(&record)?;
    if status != Status::Stopped {
        let _ = cgroup.kill_all(Signal::SIGKILL);
        let _ = send(Pid::from_raw(record.pid), Signal::SIGKILL);
        // A frozen process takes its SIGKILL only once thawed.
        super::update::thaw_quietly(&record);
        wait_gone(global, &record, Duration::from_secs(10));
    }
    // Only the container's own cgroups go: parents stay, as runc leaves
    // them (another create may be making its cgroup in one right now).
    let _ = cgroup.destroy();
    super::cgroup_extra::remove(&record.extra_cgroups);
    let state = state_json(&record, Status::Stopped).to_string();
    let _ = std::fs::remove_dir_all(global.states.dir(id));
    // Failures are warnings: every poststop hook runs (the spec's rule).
    run_host_hooks("poststop", &record.hooks.poststop, state.as_bytes())?;
    Ok(())
}

/// Until the init is dead (a zombie counts: its reaper is the caller).
fn wait_gone(global: &Global, record: &Record, limit: Duration) {
    let deadline = Instant::now() + limit;
    while global.states.status(record, false) != Status::Stopped && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

pub fn list(global: &Global, format: &str, quiet: bool) -> Result<(), OciError> {
    let mut rows = Vec::new();
    for id in global.states.ids() {
        let Ok(record) = global.states.load(&id) else {
            continue;
        };
        let status = global
            .states
            .status(&record, super::update::is_paused(&record));
        rows.push((record, status));
    }
    if quiet {
        rows.iter().for_each(|(r, _)| println!("{}", r.id));
    } else if format == "json" {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(r, s)| {
                let mut value = state_json(r, *s);
                value["owner"] = "root".into();
                value
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        println!("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER");
        for (r, s) in &rows {
            let pid = if *s == Status::Stopped { 0 } else { r.pid };
            let (id, bundle) = (&r.id, r.bundle.display());
            println!("{id}\t{pid}\t{}\t{bundle}\t{}\troot", s.as_str(), r.created);
        }
    }
    Ok(())
}

pub fn ps(global: &Global, id: &str, format: &str, ps_args: &[String]) -> Result<(), OciError> {
    let record = global.states.load(id)?;
    let pids = cgroup(&record)?.pids()?;
    if format == "json" {
        println!("{}", serde_json::to_string(&pids).expect("json"));
        return Ok(());
    }
    // runc's table: `ps -ef` limited to the container's processes.
    let default = ["-ef".to_string()];
    let args = if ps_args.is_empty() {
        &default[..]
    } else {
        ps_args
    };
    let output = std::process::Command::new("ps")
        .args(args)
        .output()
        .map_err(super::io_error("ps"))?;
    if !output.status.success() {
        return Err(OciError::Start(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    // The same selection as `rcorch top`; no PID column is an error, as in runc.
    let rows =
        ps_lines_of(&String::from_utf8_lossy(&output.stdout), &pids).map_err(OciError::Start)?;
    print!("{rows}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("sigkill").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }

    #[test]
    fn ps_rows_are_found_by_the_pid_column() {
        let text = "UID PID PPID CMD\nroot 10 1 sh\nroot 11 10 sleep\nroot 12 1 other\n";
        assert_eq!(
            ps_lines_of(text, &[10, 11]).unwrap(),
            "UID PID PPID CMD\nroot 10 1 sh\nroot 11 10 sleep\n"
        );
        let custom = "  PID COMMAND\n   12 other\n   10 sh\n";
        assert_eq!(
            ps_lines_of(custom, &[10]).unwrap(),
            "  PID COMMAND\n   10 sh\n"
        );
    }
}
