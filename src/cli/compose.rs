//! `config`: load a compose file and print the normalised model.

use std::path::PathBuf;

use clap::Args;

use super::{CliResult, Failure};
use crate::compose;

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Compose file (default: compose.yaml, compose.yml, docker-compose.yaml
    /// or docker-compose.yml here); repeat to merge later files over earlier ones
    #[arg(short, long, value_name = "FILE")]
    pub file: Vec<PathBuf>,
    /// Project name (default: the file's `name`, else its directory's name)
    #[arg(short, long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Enable services of this profile (repeatable; default: $COMPOSE_PROFILES)
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// Variables for interpolation from FILE instead of the `.env` next to the compose file
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Only validate: print warnings and errors, not the model
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the service names, dependencies first
    #[arg(long)]
    pub services: bool,
}

pub fn config(args: &ConfigArgs) -> CliResult {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let loaded = compose::load_with(&compose::FileInput {
        files: &args.file,
        env_file: args.env_file.as_deref(),
        cwd: &cwd,
        project_name: args.project_name.as_deref(),
        profiles: &args.profiles,
        targeted: &[],
    })?;
    for warning in &loaded.warnings {
        eprintln!("WARN {warning}");
    }
    if args.quiet {
        return Ok(0);
    }
    if args.services {
        // Validation already rejected cycles, so the order exists.
        for name in compose::topological_order(&loaded.project).unwrap_or_default() {
            println!("{name}");
        }
        return Ok(0);
    }
    let yaml = serde_norway::to_string(&loaded.project).map_err(Failure::from)?;
    print!("{yaml}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};

    #[test]
    fn config_takes_file_and_project_name() {
        let cli =
            Cli::try_parse_from(["rcorch", "config", "-f", "app.yaml", "-p", "shop"]).unwrap();
        let Command::Config(args) = cli.command else {
            panic!("expected config")
        };
        assert_eq!(args.file, [std::path::PathBuf::from("app.yaml")]);
        assert_eq!(args.project_name.as_deref(), Some("shop"));
    }
}
