//! `kube generate`: Kubernetes manifests from a compose project;
//! `kube play` / `kube down`: Kubernetes manifests run as one (see
//! `kube_play.rs`).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use super::{CliResult, Failure};
use crate::compose::{self, sources};
use crate::kube::{self, Contents, Manifest, ServiceType};

#[derive(Subcommand, Debug)]
pub enum KubeCommand {
    /// Write Kubernetes manifests for a compose project
    Generate(GenerateArgs),
    /// Run the Pods, Deployments, Services, ConfigMaps, Secrets, claims and
    /// autoscalers of Kubernetes YAML files as one project
    Play(super::kube_play::PlayArgs),
    /// Remove what `kube play` of the same files started
    Down(super::kube_play::DownArgs),
}

impl KubeCommand {
    /// `generate` only reads a compose file; the others run containers.
    pub fn needs_instance(&self) -> bool {
        !matches!(self, KubeCommand::Generate(_))
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposed {
    #[value(name = "NodePort", alias = "nodeport")]
    NodePort,
    #[value(name = "LoadBalancer", alias = "loadbalancer")]
    LoadBalancer,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Compose file (default: compose.yaml … here)
    #[arg(short, long, value_name = "FILE")]
    pub file: Vec<PathBuf>,
    /// Project name (default: the file's `name`, else its directory's name)
    #[arg(short, long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Enable services of this profile (repeatable; default: $COMPOSE_PROFILES)
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// A directory to write one file per object into, or - for stdout
    #[arg(short, long, value_name = "DIR|-", default_value = "-")]
    pub output: String,
    /// How published ports are exposed outside the cluster
    #[arg(long, value_enum, default_value = "NodePort")]
    pub service_type: Exposed,
}

pub fn kube(cmd: &KubeCommand) -> CliResult {
    match cmd {
        KubeCommand::Generate(args) => generate(args),
        _ => unreachable!("dispatched with an instance"),
    }
}

pub fn kube_with(instance: &crate::instance::Instance, cmd: &KubeCommand) -> CliResult {
    match cmd {
        KubeCommand::Play(args) => super::kube_play::play(instance, args),
        KubeCommand::Down(args) => super::kube_play::down(instance, args),
        KubeCommand::Generate(args) => generate(args),
    }
}

fn generate(args: &GenerateArgs) -> CliResult {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let loaded = compose::load_files(
        &args.file,
        &cwd,
        args.project_name.as_deref(),
        &args.profiles,
        &[],
    )?;
    for warning in &loaded.warnings {
        eprintln!("WARN {warning}");
    }
    if let Some((kind, first, second, name)) = kube::name_clash(&loaded.project) {
        return Err(Failure::from(format!(
            "kube generate: {kind}s {first:?} and {second:?} would both be named {name:?} in Kubernetes; rename one"
        )));
    }
    let readers = sources::Readers::host();
    let contents = Contents {
        secrets: sources::read_used(&loaded.project, "secret", &readers)?,
        configs: sources::read_used(&loaded.project, "config", &readers)?,
    };
    let exposed = match args.service_type {
        Exposed::NodePort => ServiceType::NodePort,
        Exposed::LoadBalancer => ServiceType::LoadBalancer,
    };
    let mut manifests = kube::generate(&loaded.project, &contents, exposed);
    let ignored: Vec<String> = loaded
        .warnings
        .iter()
        .filter(|w| w.kind == compose::WarningKind::NotImplemented)
        .map(|w| w.key.clone())
        .collect();
    kube::note_ignored(&mut manifests, &ignored);
    if args.output == "-" {
        print!("{}", kube::render(&manifests));
        return Ok(0);
    }
    write_dir(Path::new(&args.output), &manifests)?;
    Ok(0)
}

/// One file per object; Secrets are readable by their owner only.
fn write_dir(dir: &Path, manifests: &[Manifest]) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for m in manifests {
        let path = dir.join(kube::file_name(m));
        let mode = if m.kind() == "Secret" { 0o600 } else { 0o644 };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        // An older file of the same name keeps its mode through open().
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
        file.write_all(kube::render_one(m).as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};
    use super::*;

    #[test]
    fn generate_takes_files_output_and_service_type() {
        let argv = [
            "rcorch",
            "kube",
            "generate",
            "-f",
            "a.yaml",
            "-o",
            "out",
            "--service-type",
            "LoadBalancer",
        ];
        let cli = Cli::try_parse_from(argv).unwrap();
        let Command::Kube(KubeCommand::Generate(args)) = cli.command else {
            panic!("expected kube generate")
        };
        assert_eq!(args.file, [PathBuf::from("a.yaml")]);
        assert_eq!(
            (args.output.as_str(), args.service_type),
            ("out", Exposed::LoadBalancer)
        );
        let cli = Cli::try_parse_from(["rcorch", "kube", "generate"]).unwrap();
        let Command::Kube(KubeCommand::Generate(args)) = cli.command else {
            panic!("expected kube generate")
        };
        assert_eq!(
            (args.output.as_str(), args.service_type),
            ("-", Exposed::NodePort)
        );
    }
}
