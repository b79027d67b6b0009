//! `wait`, `rename`, `top`, `diff`, `cp` and `export`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliResult, Failure};
use crate::container::store::Record;
use crate::container::Status;
use crate::instance::Instance;
use crate::runtime::changes::{changes, ps_lines_of};
use crate::runtime::control::observed_status;
use crate::runtime::copy::{self, CopyError};
use crate::runtime::copy_stopped::{self, Layers};
use crate::runtime::manage;

#[derive(Args, Debug)]
pub struct WaitArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    container: String,
    new_name: String,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    container: String,
    /// Options for the host's ps (default -ef); its PID column picks the rows
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_options: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    container: String,
}

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Keep the files' uid/gid (default: owned by root at the destination)
    #[arg(short, long)]
    archive: bool,
    /// Copy what a symlink SRC leads to (in its own filesystem), not the link
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// CONTAINER:PATH, a host path, or - (a tar on stdin)
    src: String,
    /// CONTAINER:PATH, a host path, or - (a tar on stdout)
    dst: String,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file instead of stdout
    #[arg(short, long)]
    output: Option<PathBuf>,
    container: String,
}

fn record(instance: &Instance, reference: &str) -> Result<Record, Failure> {
    Ok(instance
        .containers
        .load(&instance.containers.resolve(reference)?)?)
}

pub fn wait(instance: &Instance, args: &WaitArgs) -> CliResult {
    let mut code = 0;
    for c in &args.containers {
        match manage::wait(instance, c) {
            Ok(exit) => println!("{exit}"),
            Err(e) => {
                eprintln!("rcorch: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn rename(instance: &Instance, args: &RenameArgs) -> CliResult {
    manage::rename(instance, &args.container, &args.new_name)?;
    Ok(0)
}

pub fn top(instance: &Instance, args: &TopArgs) -> CliResult {
    top_of(instance, &args.container, &args.ps_options)
}

/// The host's `ps` rows of the container's processes.
pub fn top_of(instance: &Instance, container: &str, ps_options: &[String]) -> CliResult {
    let r = record(instance, container)?;
    if observed_status(&r.state) != Status::Running {
        return Err(format!("container {} is not running", r.config.name).into());
    }
    let pids = instance.container_cgroup(&r.config)?.pids()?;
    let options = match ps_options {
        [] => vec!["-ef".to_string()],
        given => given.to_vec(),
    };
    let out = std::process::Command::new("ps")
        .args(&options)
        .output()
        .map_err(|e| format!("cannot run the host's ps: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("ps {}: {}", options.join(" "), err.trim()).into());
    }
    print!(
        "{}",
        ps_lines_of(&String::from_utf8_lossy(&out.stdout), &pids)?
    );
    Ok(0)
}

pub fn diff(instance: &Instance, args: &DiffArgs) -> CliResult {
    let r = record(instance, &args.container)?;
    let upper = instance
        .containers
        .container_dir(&r.config.id)
        .join("upper");
    let found = changes(&upper, &r.config.layers)
        .map_err(|e| format!("cannot read the changes of {}: {e}", r.config.name))?;
    found.iter().for_each(|c| println!("{c}"));
    Ok(0)
}

pub fn export(instance: &Instance, args: &ExportArgs) -> CliResult {
    let r = record(instance, &args.container)?;
    let mut layers = vec![instance
        .containers
        .container_dir(&r.config.id)
        .join("upper")];
    layers.extend(r.config.layers.iter().cloned());
    let failed = |e: std::io::Error| format!("export {}: {e}", r.config.name);
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            if let Err(e) = crate::runtime::export::export(&layers, file) {
                let _ = std::fs::remove_file(path);
                return Err(failed(e).into());
            }
        }
        None if std::io::stdout().is_terminal() => {
            return Err(
                "refusing to write a tar to a terminal: use -o FILE or redirect stdout".into(),
            )
        }
        None => {
            crate::runtime::export::export(&layers, std::io::stdout().lock()).map_err(failed)?
        }
    }
    Ok(0)
}

/// One side of `cp`.
#[derive(Debug, PartialEq, Eq)]
pub enum CpPath {
    Stdio,
    Host(PathBuf),
    Container { name: String, path: PathBuf },
}

/// Docker's rule: `NAME:PATH` names a container when the colon comes before
/// any slash (a host path with a colon is written `./a:b`).
pub fn parse_cp_path(arg: &str) -> CpPath {
    if arg == "-" {
        return CpPath::Stdio;
    }
    match arg.split_once(':') {
        Some((name, path)) if !name.is_empty() && !name.contains('/') => CpPath::Container {
            name: name.into(),
            path: Path::new("/").join(path),
        },
        _ => CpPath::Host(arg.into()),
    }
}

/// `SRC/.` copies what is inside SRC.
fn contents(arg: &str) -> bool {
    arg.ends_with("/.")
}

pub fn cp(instance: &Instance, args: &CpArgs) -> CliResult {
    let (src, dst) = (parse_cp_path(&args.src), parse_cp_path(&args.dst));
    let inner = contents(&args.src);
    let how = copy::Placement {
        contents: inner,
        keep_owner: args.archive,
    };
    match (src, dst) {
        (CpPath::Container { name, path }, dst @ (CpPath::Host(_) | CpPath::Stdio)) => {
            let pid = match target(instance, &name)? {
                Target::Running(pid) => pid,
                Target::Stopped(layers) => {
                    return copy_out_stopped(&layers, (&path, args.follow_link), &dst, how)
                }
            };
            // In the container's mount namespace: its links resolve there.
            let work = |pipe| pack_inside(&path, (inner, args.follow_link), pipe);
            let relay = |pipe: std::fs::File| match &dst {
                CpPath::Host(to) => copy::unpack(pipe, to, how),
                _ => {
                    let mut pipe = pipe;
                    std::io::copy(&mut pipe, &mut std::io::stdout().lock())
                        .map(|_| ())
                        .map_err(CopyError::from)
                }
            };
            copy::in_container(pid, &name, work, false, relay)?;
        }
        (src @ (CpPath::Host(_) | CpPath::Stdio), CpPath::Container { name, path }) => {
            if let CpPath::Host(from) = &src {
                std::fs::symlink_metadata(from).map_err(|e| format!("{}: {e}", from.display()))?;
            }
            let from_stdin = matches!(src, CpPath::Stdio);
            let pid = match target(instance, &name)? {
                Target::Running(pid) => pid,
                Target::Stopped(layers) => {
                    let from = (&src, args.follow_link);
                    return copy_in_stopped(&layers, from, &path, how, from_stdin);
                }
            };
            let work = |pipe| {
                if from_stdin && !path.is_dir() {
                    return Err(CopyError::Path {
                        path: path.clone(),
                        problem: "not a directory: a tar from stdin is extracted into a directory",
                    });
                }
                let contents = inner || from_stdin;
                copy::unpack(pipe, &path, copy::Placement { contents, ..how })
            };
            let relay = |pipe: std::fs::File| match &src {
                CpPath::Host(from) => {
                    copy::pack(from, inner, args.follow_link, pipe).map_err(CopyError::from)
                }
                _ => {
                    let mut pipe = pipe;
                    std::io::copy(&mut std::io::stdin().lock(), &mut pipe)
                        .map(|_| ())
                        .map_err(CopyError::from)
                }
            };
            copy::in_container(pid, &name, work, true, relay)?;
        }
        (CpPath::Container { .. }, CpPath::Container { .. }) => {
            return Err("copying between containers is not supported: copy through the host".into())
        }
        _ => return Err("cp needs a container on one side: CONTAINER:PATH".into()),
    }
    Ok(0)
}

fn pack_inside(
    path: &Path,
    (inner, follow): (bool, bool),
    pipe: std::fs::File,
) -> Result<(), CopyError> {
    copy::pack(path, inner, follow, pipe)
        .map_err(|e| CopyError::Inside(format!("{}: {e}", path.display())))
}

/// Where `cp` finds a container's files: through its running process, or
/// in its layers while it is not running.
enum Target {
    Running(i32),
    Stopped(Layers),
}

fn target(instance: &Instance, reference: &str) -> Result<Target, Failure> {
    let r = record(instance, reference)?;
    Ok(match (observed_status(&r.state), r.state.pid) {
        (Status::Running, Some(pid)) => Target::Running(pid),
        _ => Target::Stopped(Layers {
            upper: instance
                .containers
                .container_dir(&r.config.id)
                .join("upper"),
            image: r.config.layers.clone(),
        }),
    })
}

/// Out of a stopped container: to stdout as it is packed; to the host
/// through memory (no process of the container's to stream from).
fn copy_out_stopped(
    layers: &Layers,
    (path, follow): (&Path, bool),
    dst: &CpPath,
    how: copy::Placement,
) -> CliResult {
    let what = (how.contents, follow);
    match dst {
        CpPath::Host(to) => {
            let mut tar = Vec::new();
            copy_stopped::pack_out(layers, path, what, &mut tar)?;
            copy::unpack(&tar[..], to, how)?;
        }
        _ => copy_stopped::pack_out(layers, path, what, std::io::stdout().lock())?,
    }
    Ok(0)
}

fn copy_in_stopped(
    layers: &Layers,
    (src, follow): (&CpPath, bool),
    path: &Path,
    how: copy::Placement,
    from_stdin: bool,
) -> CliResult {
    match src {
        CpPath::Host(from) => {
            let mut tar = Vec::new();
            copy::pack(from, how.contents, follow, &mut tar)
                .map_err(|e| format!("{}: {e}", from.display()))?;
            copy_stopped::unpack_in(layers, &tar[..], path, how, false)?;
        }
        _ => {
            let how = copy::Placement {
                contents: true,
                ..how
            };
            copy_stopped::unpack_in(layers, std::io::stdin().lock(), path, how, from_stdin)?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_paths_read_as_docker_reads_them() {
        assert_eq!(parse_cp_path("-"), CpPath::Stdio);
        assert_eq!(
            parse_cp_path("web:/etc/hosts"),
            CpPath::Container {
                name: "web".into(),
                path: "/etc/hosts".into()
            }
        );
        assert_eq!(
            parse_cp_path("web:tmp/x"),
            CpPath::Container {
                name: "web".into(),
                path: "/tmp/x".into()
            }
        );
        assert_eq!(parse_cp_path("./a:b"), CpPath::Host("./a:b".into()));
        assert_eq!(parse_cp_path("/abs/a:b"), CpPath::Host("/abs/a:b".into()));
        assert_eq!(parse_cp_path("plain"), CpPath::Host("plain".into()));
    }
}
