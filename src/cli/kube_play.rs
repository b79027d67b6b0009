//! `kube play FILE…|-` and `kube down FILE…|-`: Kubernetes objects run as
//! one compose project (replicas kept by the supervisor, Services as
//! names, VIPs and published ports).

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;

use super::project::{up_project, UpRun};
use super::{CliResult, Failure};
use crate::compose::{self, sources::Readers};
use crate::instance::Instance;
use crate::kube::play::{self, Doc};
use crate::project::commands;
use crate::project::image_plan::{ImageOptions, Recreate};

#[derive(Args, Debug)]
pub struct PlayArgs {
    /// Kubernetes YAML files (several objects each, `---` apart), or - for stdin
    #[arg(required = true, value_name = "FILE|-")]
    pub files: Vec<String>,
    /// Project name (default: the objects' app.kubernetes.io/part-of label, else the first file's name)
    #[arg(short, long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Seconds to wait for every replica to run
    #[arg(long, default_value_t = 60)]
    pub wait_timeout: u64,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    /// The files given to `kube play`, or - for stdin
    #[arg(required = true, value_name = "FILE|-")]
    pub files: Vec<String>,
    /// Project name, as given to `kube play`
    #[arg(short, long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Remove the volumes of the PersistentVolumeClaims too (as podman's --force)
    #[arg(long)]
    pub force: bool,
}

/// Every object of the files, in order; the first file names the project.
fn read_docs(files: &[String]) -> Result<(Vec<Doc>, PathBuf), Failure> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let mut docs = Vec::new();
    let mut first = None;
    for f in files {
        let (path, text) = if f == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            (cwd.join("stdin.yaml"), text)
        } else {
            let path = cwd.join(f);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            (path, text)
        };
        first.get_or_insert(path.clone());
        docs.extend(play::parse_documents(&path, &text).map_err(|e| e.to_string())?);
    }
    if docs.is_empty() {
        return Err(format!("no Kubernetes object in {}", files.join(", ")).into());
    }
    Ok((docs, first.expect("files is not empty")))
}

fn name_of(docs: &[Doc], explicit: Option<&str>, first: &Path) -> String {
    let stdin = first.file_name().is_some_and(|n| n == "stdin.yaml");
    play::project_name(docs, explicit, (!stdin).then_some(first))
}

pub fn play(instance: &Instance, args: &PlayArgs) -> CliResult {
    let (docs, first) = read_docs(&args.files)?;
    let name = name_of(&docs, args.project_name.as_deref(), &first);
    let played = play::play(&docs, &name).map_err(|e| e.to_string())?;
    for w in &played.warnings {
        eprintln!("WARN {w}");
    }
    let text = serde_norway::to_string(&played.compose).expect("a compose document serialises");
    let env = compose::Env::new();
    let input = compose::LoadInput {
        file: &first,
        text: &text,
        env: &env,
        project_name: Some(&name),
        profiles: &[],
        targeted: &[],
    };
    let no_env_files = |p: &Path| -> std::io::Result<String> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{}: kube play reads no env_file", p.display()),
        ))
    };
    let mut loaded = compose::load_str(&input, &no_env_files)
        .map_err(|e| format!("kube play: the objects make a project rcorch refuses: {e}"))?;
    for w in &loaded.warnings {
        eprintln!("WARN {w}");
    }
    // The Secrets' and ConfigMaps' bytes come from the manifests, never
    // from a file: `up` copies them into the project's owner-only store.
    let file = |p: &Path| {
        played.files.get(p).cloned().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "not an object of the files")
        })
    };
    let readers = Readers {
        file: &file,
        var: &|_| None,
    };
    let run = UpRun {
        services: &[],
        wait_timeout: args.wait_timeout,
        images: ImageOptions::default(),
        recreate: Recreate::Changed,
        readers: &readers,
    };
    up_project(instance, &mut loaded.project, &run, None)
}

pub fn down(instance: &Instance, args: &DownArgs) -> CliResult {
    let (docs, first) = read_docs(&args.files)?;
    let name = name_of(&docs, args.project_name.as_deref(), &first);
    for removed in commands::down(instance, &name)? {
        println!("{removed}");
    }
    if args.force {
        for removed in commands::remove_volumes(instance, &name, &[])? {
            println!("{removed}");
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::kube::KubeCommand;
    use super::super::{Cli, Command};

    #[test]
    fn play_takes_files_or_stdin_and_down_takes_force() {
        let cli =
            Cli::try_parse_from(["rcorch", "kube", "play", "a.yaml", "-", "-p", "x"]).unwrap();
        let Command::Kube(KubeCommand::Play(args)) = cli.command else {
            panic!("expected kube play")
        };
        assert_eq!(args.files, ["a.yaml", "-"]);
        assert_eq!(
            (args.project_name.as_deref(), args.wait_timeout),
            (Some("x"), 60)
        );
        let cli = Cli::try_parse_from(["rcorch", "kube", "down", "--force", "a.yaml"]).unwrap();
        let Command::Kube(KubeCommand::Down(args)) = cli.command else {
            panic!("expected kube down")
        };
        assert!(args.force);
        assert!(
            Cli::try_parse_from(["rcorch", "kube", "play"]).is_err(),
            "a file is required"
        );
    }
}
