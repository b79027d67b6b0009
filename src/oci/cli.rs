//! Argument parsing, logging and exit codes of `rcorch-runtime`; the verbs
//! themselves are in `create` and `ops`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use super::state::{StateDir, OCI_VERSION};
use super::OciError;

#[derive(Parser)]
#[command(
    name = "rcorch-runtime",
    about = "rcorch's OCI runtime (runc's command line)",
    disable_version_flag = true
)]
struct Cli {
    /// Where container state lives.
    #[arg(long, global = true, default_value = "/run/rcorch-runtime")]
    root: PathBuf,
    /// Also write errors (and with --debug, progress) to this file.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[arg(long, global = true)]
    debug: bool,
    /// cgroupsPath is "slice:prefix:name": a transient systemd scope
    /// (made directly in cgroupfs where systemd is not PID 1).
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    /// Accepted for compatibility with callers that pass them.
    #[arg(long, global = true, hide = true)]
    log_level: Option<String>,
    #[arg(long, short = 'v')]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Create a container from a bundle; it waits in `created` until start.
    Create(CreateArgs),
    /// Let a created container's process run.
    Start { id: String },
    /// Create and start; without --detach, wait for it and delete it.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(long, short = 'd')]
        detach: bool,
        #[arg(long)]
        keep: bool,
    },
    /// Print the state of a container (the spec's JSON).
    State { id: String },
    /// Send a signal (default SIGTERM) to the container's init, or to every process with --all.
    Kill {
        #[arg(long, short = 'a')]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// Delete a stopped (or, with --force, any) container.
    Delete {
        #[arg(long, short = 'f')]
        force: bool,
        id: String,
    },
    /// List containers.
    #[command(alias = "ls")]
    List {
        #[arg(long, short = 'f', default_value = "table")]
        format: String,
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// The runtime-spec features document: what this runtime understands.
    Features,
    /// Write a default config.json into the bundle.
    Spec {
        #[arg(long, short = 'b', default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
    /// Processes in a container: pids as JSON, or `ps` (default -ef) limited to them.
    Ps {
        #[arg(long, short = 'f', default_value = "table")]
        format: String,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Run another process in a container.
    Exec(super::exec::ExecArgs),
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// Change a live container's resource limits.
    Update(super::update::UpdateArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    #[arg(long)]
    pub no_pivot: bool,
    #[arg(long)]
    pub no_new_keyring: bool,
    pub id: String,
}

pub struct Global {
    pub states: StateDir,
    pub systemd_cgroup: bool,
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    if cli.version {
        println!(
            "rcorch-runtime version {}\nspec: {OCI_VERSION}",
            env!("CARGO_PKG_VERSION")
        );
        return 0;
    }
    let Some(command) = cli.command else {
        eprintln!("rcorch-runtime: a command is needed (create, start, state, kill, delete, run, exec, list, ps, pause, resume, update); see --help");
        return 2;
    };
    let global = Global {
        states: StateDir {
            root: cli.root.clone(),
        },
        systemd_cgroup: cli.systemd_cgroup,
    };
    match dispatch(&global, command) {
        Ok(code) => code,
        Err(e) => {
            log_error(cli.log.as_deref(), cli.log_format, &e.to_string());
            1
        }
    }
}

fn dispatch(global: &Global, command: Command) -> Result<i32, OciError> {
    match command {
        Command::Create(args) => super::create::create(global, &args).map(|_| 0),
        Command::Start { id } => super::start::start(global, &id).map(|()| 0),
        Command::Run {
            create,
            detach,
            keep,
        } => super::create::run(global, &create, detach, keep),
        Command::State { id } => super::ops::state(global, &id).map(|()| 0),
        Command::Kill { all, id, signal } => {
            super::ops::kill(global, &id, signal.as_deref().unwrap_or("SIGTERM"), all).map(|()| 0)
        }
        Command::Delete { force, id } => super::ops::delete(global, &id, force).map(|()| 0),
        Command::List { format, quiet } => super::ops::list(global, &format, quiet).map(|()| 0),
        Command::Ps {
            format,
            id,
            ps_args,
        } => super::ops::ps(global, &id, &format, &ps_args).map(|()| 0),
        Command::Exec(args) => super::exec::exec(global, &args),
        Command::Pause { id } => super::update::pause(global, &id).map(|()| 0),
        Command::Resume { id } => super::update::resume(global, &id).map(|()| 0),
        Command::Update(args) => super::update::update(global, &args).map(|()| 0),
        Command::Features => {
            let text = serde_json::to_string_pretty(&super::info::features()).expect("json");
            println!("{text}");
            Ok(0)
        }
        Command::Spec { bundle, rootless } => super::info::spec(&bundle, rootless).map(|()| 0),
    }
}

/// Errors go to stderr and, when asked, to the log file in the caller's
/// format: containerd and podman read it to show the user why.
fn log_error(log: Option<&std::path::Path>, format: LogFormat, message: &str) {
    eprintln!("rcorch-runtime: {message}");
    let Some(path) = log else { return };
    let line = log_line(format, message, &crate::util::time::now_rfc3339());
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

fn log_line(format: LogFormat, message: &str, time: &str) -> String {
    match format {
        LogFormat::Json => {
            let value = serde_json::json!({"level": "error", "msg": message, "time": time});
            format!("{value}\n")
        }
        LogFormat::Text => format!("time=\"{time}\" level=error msg={message:?}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_log_lines_are_what_containerd_parses() {
        let line = log_line(LogFormat::Json, "no \"such\" file", "2026-01-01T00:00:00Z");
        let value: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(value["level"], "error");
        assert_eq!(value["msg"], "no \"such\" file");
        assert_eq!(value["time"], "2026-01-01T00:00:00Z");
        assert!(log_line(LogFormat::Text, "x", "t").contains("level=error"));
    }
}
