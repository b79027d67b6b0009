//! `pull` and `push`.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::Args;

use super::images::print_loaded;
use super::{CliResult, Failure};
use crate::image::docker_config;
use crate::image::registry::read_config;
use crate::image::registry_io::{self, Access};
use crate::instance::Instance;

/// Options shared by pull and push.
#[derive(Args, Debug, Default)]
pub struct RegistryArgs {
    /// Allow plain HTTP to this image's registry
    #[arg(long)]
    insecure: bool,
    #[arg(long)]
    username: Option<String>,
    #[arg(long)]
    password: Option<String>,
    /// Read the password from stdin
    #[arg(long)]
    password_stdin: bool,
    /// Registry config (JSON: "insecure" registries and "auths");
    /// default ROOT/registries.json. Credentials from `login`
    /// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json) come after it
    #[arg(long, env = "RCORCH_REGISTRY_CONFIG")]
    registry_config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct PullArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    /// [REGISTRY/]NAME[:TAG] or NAME@DIGEST
    reference: String,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    /// Local image (its name is the destination unless one is given)
    image: String,
    /// REGISTRY/NAME[:TAG] to push to
    destination: Option<String>,
}

fn access(instance: &Instance, args: &RegistryArgs) -> Result<Access, Failure> {
    let path = args
        .registry_config
        .clone()
        .unwrap_or_else(|| instance.root.join("registries.json"));
    let mut password = args.password.clone();
    if args.password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        password = Some(text.trim_end_matches(['\n', '\r']).to_string());
    }
    Ok(Access {
        config: docker_config::merged(read_config(&path)?, &docker_config::path_from_env())?,
        insecure: args.insecure,
        username: args.username.clone(),
        password,
        progress: std::io::stderr().is_terminal(),
    })
}

pub fn pull(instance: &Instance, args: &PullArgs) -> CliResult {
    let access = access(instance, &args.registry)?;
    let record = registry_io::pull(&instance.images()?, &args.reference, &access)?;
    print_loaded(std::slice::from_ref(&record));
    Ok(0)
}

/// Registry options as flags would give them, from the environment only
/// (compose pull/push and `run --pull` take no registry flags).
fn env_registry_args() -> RegistryArgs {
    RegistryArgs {
        registry_config: std::env::var_os("RCORCH_REGISTRY_CONFIG").map(PathBuf::from),
        ..RegistryArgs::default()
    }
}

/// Pulls `reference` with the instance's registry config (compose pull).
pub fn pull_reference(instance: &Instance, reference: &str) -> CliResult {
    let access = access(instance, &env_registry_args())?;
    let record = registry_io::pull(&instance.images()?, reference, &access)?;
    print_loaded(std::slice::from_ref(&record));
    Ok(0)
}

/// Pushes the local image `reference` under its own name (compose push).
pub fn push_reference(instance: &Instance, reference: &str) -> CliResult {
    let access = access(instance, &env_registry_args())?;
    let digest = registry_io::push(&instance.images()?, reference, reference, &access)?;
    println!("{reference}: digest: {digest}");
    Ok(0)
}

/// `run --pull`: pulls `reference` with the instance's registry config.
pub fn pull_for_run(instance: &Instance, reference: &str) -> Result<(), Failure> {
    let access = access(instance, &env_registry_args())?;
    registry_io::pull(&instance.images()?, reference, &access)?;
    Ok(())
}

pub fn push(instance: &Instance, args: &PushArgs) -> CliResult {
    let access = access(instance, &args.registry)?;
    let destination = args.destination.as_deref().unwrap_or(&args.image);
    let digest = registry_io::push(&instance.images()?, &args.image, destination, &access)?;
    println!("{destination}: digest: {digest}");
    Ok(0)
}
