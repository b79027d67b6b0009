//! `rcorch build`: flags as `docker build` / `podman build` take them.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliResult, Failure};
use crate::build::check;
use crate::build::dockerfile;
use crate::build::progress::Mode;
use crate::build::stdin::{self, StdinInput};
use crate::image::ImageStore;

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally tag the image (NAME[:TAG]); repeatable
    #[arg(short, long = "tag", value_name = "NAME[:TAG]")]
    pub tag: Vec<String>,
    /// The Dockerfile (default CONTEXT/Dockerfile); `-` reads stdin
    #[arg(short, long = "file", value_name = "DOCKERFILE")]
    pub file: Option<String>,
    /// Set a build-time variable (KEY alone takes the host's value)
    #[arg(long = "build-arg", value_name = "KEY[=VALUE]")]
    pub build_arg: Vec<String>,
    /// Build up to this stage
    #[arg(long)]
    pub target: Option<String>,
    /// Run every step, ignoring the build cache
    #[arg(long)]
    pub no_cache: bool,
    /// Pull every base image, even those the store has
    #[arg(long)]
    pub pull: bool,
    /// Set a KEY=VALUE label on the image
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// RUN steps' network: default, none or host
    #[arg(long, default_value = "default")]
    pub network: String,
    /// auto (the live view on a terminal), tty, plain or quiet
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image id to this file
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Only parse and lint the Dockerfile (BuildKit's build checks)
    #[arg(long)]
    pub check: bool,
    /// Also write the image to an archive: type=oci|docker,dest=FILE
    #[arg(short, long = "output", value_name = "type=oci|docker,dest=FILE")]
    pub output: Option<String>,
    /// Expose a secret file to RUN --mount=type=secret: id=ID,src=PATH
    #[arg(long, value_name = "id=ID,src=PATH")]
    pub secret: Vec<String>,
    /// The build context directory; `-` reads a Dockerfile or a context tar from stdin
    pub context: PathBuf,
}

/// The Dockerfile and context a build reads; a stdin context lives as long as this.
struct Inputs {
    text: String,
    name: String,
    /// The Dockerfile's file (none when it came from stdin).
    path: Option<PathBuf>,
    context: PathBuf,
    _stdin: Option<stdin::TempContext>,
}

fn from_stdin(args: &BuildArgs) -> bool {
    args.context.as_os_str() == "-"
}

fn read_stdin(args: &BuildArgs) -> Result<StdinInput, Failure> {
    if args.file.as_deref() == Some("-") {
        return Err(Failure::from(
            "cannot read both the Dockerfile (-f -) and the context (-) from stdin: name a context directory",
        ));
    }
    let mut data = Vec::new();
    std::io::stdin()
        .read_to_end(&mut data)
        .map_err(|e| Failure::from(format!("cannot read the build context from stdin: {e}")))?;
    Ok(stdin::classify(data)?)
}

/// The Dockerfile inside a stdin context (`-f` names it relative to the context).
fn archive_dockerfile(args: &BuildArgs) -> String {
    args.file.clone().unwrap_or_else(|| "Dockerfile".into())
}

fn inputs(root: &Path, args: &BuildArgs) -> Result<Inputs, Failure> {
    if !from_stdin(args) {
        let (text, name) = read_dockerfile(&args.context, args.file.as_deref())?;
        return Ok(Inputs {
            text,
            name,
            path: dockerfile_path(&args.context, args.file.as_deref()),
            context: args.context.clone(),
            _stdin: None,
        });
    }
    let (text, ctx, path) = match read_stdin(args)? {
        StdinInput::Dockerfile(text) => (text, stdin::unpack(root, None)?, None),
        StdinInput::Archive(data) => {
            let ctx = stdin::unpack(root, Some(&data))?;
            let (text, _) = read_dockerfile(
                &ctx.path,
                Some(
                    &ctx.path
                        .join(archive_dockerfile(args))
                        .display()
                        .to_string(),
                ),
            )
            .map_err(|_| {
                Failure::from(format!(
                    "the context on stdin has no {}",
                    archive_dockerfile(args)
                ))
            })?;
            let path = ctx.path.join(archive_dockerfile(args));
            (text, ctx, Some(path))
        }
    };
    Ok(Inputs {
        text,
        name: "Dockerfile".into(),
        path,
        context: ctx.path.clone(),
        _stdin: Some(ctx),
    })
}

/// The file `-f` (or the context's `Dockerfile`) names; none for `-f -`.
fn dockerfile_path(context: &Path, file: Option<&str>) -> Option<PathBuf> {
    match file {
        Some("-") => None,
        Some(f) => Some(PathBuf::from(f)),
        None => Some(context.join("Dockerfile")),
    }
}

/// The Dockerfile's text and the name errors give it.
pub fn read_dockerfile(context: &Path, file: Option<&str>) -> Result<(String, String), Failure> {
    match file {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                Failure::from(format!("cannot read the Dockerfile from stdin: {e}"))
            })?;
            Ok((text, "Dockerfile".into()))
        }
        _ => {
            let path = dockerfile_path(context, file).unwrap_or_default();
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Failure::from(format!(
                    "cannot read Dockerfile {}: {e} (use -f to name another)",
                    path.display()
                ))
            })?;
            Ok((text, path.display().to_string()))
        }
    }
}

/// `--check`: findings on stderr, exit 1 when one is an error.
pub fn check_only(root: &Path, args: &BuildArgs) -> CliResult {
    let (text, name) = if from_stdin(args) {
        // Read in memory: a check writes nothing.
        match read_stdin(args)? {
            StdinInput::Dockerfile(text) => (text, "Dockerfile".to_string()),
            StdinInput::Archive(data) => {
                let want = archive_dockerfile(args);
                let bytes = stdin::file_in_archive(&data, &want)?
                    .ok_or_else(|| Failure::from(format!("the context on stdin has no {want}")))?;
                (String::from_utf8_lossy(&bytes).into_owned(), want)
            }
        }
    } else {
        read_dockerfile(&args.context, args.file.as_deref())?
    };
    let df = dockerfile::parse(&text, &name)?;
    // Only read an existing store: a check creates nothing.
    let store = root
        .join("images")
        .exists()
        .then(|| ImageStore::open(root.join("images")).ok())
        .flatten();
    let base_env = |image: &str| {
        let record = store.as_ref()?.resolve(image).ok()?;
        Some(record.config.env.unwrap_or_default())
    };
    let base_platform = |image: &str| {
        let store = store.as_ref()?;
        let record = store.resolve(image).ok()?;
        let blob = std::fs::read(store.blob_path(&record.id)).ok()?;
        let config: serde_json::Value = serde_json::from_slice(&blob).ok()?;
        let mut p = format!(
            "{}/{}",
            config["os"].as_str()?,
            config["architecture"].as_str()?
        );
        if let Some(v) = config["variant"].as_str() {
            p = format!("{p}/{v}");
        }
        Some(p)
    };
    let ignore = (!from_stdin(args))
        .then(|| {
            let dockerfile = dockerfile_path(&args.context, args.file.as_deref());
            crate::build::ignore::read(&args.context, dockerfile.as_deref())
        })
        .flatten();
    let target_platform = format!("linux/{}", crate::image::oci::host_arch());
    let known = check::Known {
        base_env: &base_env,
        base_platform: &base_platform,
        target_platform: &target_platform,
        ignore: ignore.as_ref(),
    };
    let report = check::check_known(&df, &known);
    eprintln!("{report}");
    Ok(if report.has_errors() { 1 } else { 0 })
}

/// Builds the image and prints its id.
pub fn build(instance: &crate::instance::Instance, args: &BuildArgs) -> CliResult {
    use crate::build::builder::{self, BuildRequest};
    use crate::build::dockerfile::RunNetwork;
    let inputs = inputs(&instance.root, args)?;
    let mut build_args = std::collections::BTreeMap::new();
    for a in &args.build_arg {
        let value = match a.split_once('=') {
            Some((k, v)) => Some((k.to_string(), v.to_string())),
            None => std::env::var(a).ok().map(|v| (a.clone(), v)),
        };
        if let Some((k, v)) = value {
            build_args.insert(k, v);
        }
    }
    let mut labels = std::collections::BTreeMap::new();
    for l in &args.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let network = match args.network.as_str() {
        "default" => RunNetwork::Default,
        "none" => RunNetwork::None,
        "host" => RunNetwork::Host,
        other => {
            return Err(Failure::from(format!(
                "--network {other:?}: use default, none or host"
            )))
        }
    };
    let progress = match args.quiet {
        true => Mode::Quiet,
        false => progress_mode(&args.progress)?,
    };
    let quiet = progress == Mode::Quiet;
    let output = args.output.as_deref().map(parse_output).transpose()?;
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok());
    let req = BuildRequest {
        context: inputs.context.clone(),
        dockerfile: inputs.text.clone(),
        dockerfile_name: inputs.name.clone(),
        dockerfile_path: inputs.path.clone(),
        tags: args.tag.clone(),
        build_args,
        target: args.target.clone(),
        labels,
        network,
        progress,
        no_cache: args.no_cache,
        secrets: parse_secrets(&args.secret)?,
        epoch,
        pull: args.pull,
        registry: Some(registry_access(&instance.root)?),
    };
    let mut out = std::io::stderr();
    let record = builder::build(instance, &req, &mut out)?;
    if let Some(dest) = &output {
        // One archive both `docker load` and OCI tools read (see `save`).
        let reference = record
            .repo_tags
            .first()
            .cloned()
            .unwrap_or_else(|| record.id.clone());
        crate::image::archive::save(&instance.images()?, &[reference], dest)?;
    }
    if let Some(f) = &args.iidfile {
        std::fs::write(f, &record.id)
            .map_err(|e| Failure::from(format!("cannot write --iidfile {}: {e}", f.display())))?;
    }
    if quiet {
        println!("{}", record.id);
    } else {
        eprintln!("writing image {} done", record.id);
        for t in &record.repo_tags {
            eprintln!("naming to {t} done");
        }
        println!("{}", record.id);
    }
    Ok(0)
}

/// The view `--progress` asks for on this stderr (`BUILDKIT_PROGRESS`
/// standing in for `auto`).
pub fn progress_mode(flag: &str) -> Result<Mode, Failure> {
    let env = std::env::var("BUILDKIT_PROGRESS").ok();
    let term = std::env::var("TERM").ok();
    crate::build::progress::choose_mode(
        flag,
        env.as_deref(),
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        term.as_deref(),
    )
    .map_err(Failure::from)
}

/// How builds reach registries for base images: the registry config
/// `pull` reads ($RCORCH_REGISTRY_CONFIG, else ROOT/registries.json), and
/// `login`'s credentials.
pub fn registry_access(root: &Path) -> Result<crate::image::registry_io::Access, Failure> {
    let path = std::env::var_os("RCORCH_REGISTRY_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("registries.json"));
    Ok(crate::image::registry_io::Access {
        config: crate::image::docker_config::merged(
            crate::image::registry::read_config(&path)?,
            &crate::image::docker_config::path_from_env(),
        )?,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        ..Default::default()
    })
}

#[derive(clap::Subcommand, Debug)]
pub enum BuilderCommand {
    /// Remove the build cache (layers no image uses)
    Prune,
}

/// `builder prune`: forgets every cached step and frees its layers.
pub fn builder(instance: &crate::instance::Instance, command: &BuilderCommand) -> CliResult {
    let BuilderCommand::Prune = command;
    // A build finishing meanwhile must not write entries for freed layers.
    let _lock = crate::build::cache::lock(&instance.root)
        .map_err(|e| Failure::from(format!("cannot lock the build cache: {e}")))?;
    let index = crate::build::cache::load(&instance.root);
    let layers: Vec<String> = index
        .steps
        .iter()
        .filter(|(k, _)| !k.starts_with("image:"))
        .map(|(_, v)| v.clone())
        .collect();
    let gone = instance.images()?.forget_layers(&layers)?;
    match std::fs::remove_file(crate::build::cache::path(&instance.root)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Failure::from(format!(
                "cannot remove the build cache index: {e}"
            )))
        }
        _ => {}
    }
    println!(
        "Deleted build cache: {} entries, {gone} layers",
        index.steps.len()
    );
    Ok(0)
}

/// `--secret id=ID,src=PATH` (also `source=`, or `env=VAR` for a variable).
fn parse_secrets(specs: &[String]) -> Result<std::collections::BTreeMap<String, PathBuf>, Failure> {
    let mut out = std::collections::BTreeMap::new();
    for spec in specs {
        let (mut id, mut src) = (None, None);
        for field in spec.split(',') {
            match field.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
                Some(("type", "file")) => {}
                _ => {
                    return Err(Failure::from(format!(
                        "--secret {spec:?}: expected id=ID,src=PATH"
                    )))
                }
            }
        }
        let id = id.ok_or_else(|| Failure::from(format!("--secret {spec:?}: id= is required")))?;
        let src =
            src.ok_or_else(|| Failure::from(format!("--secret {spec:?}: src= is required")))?;
        if !src.is_file() {
            return Err(Failure::from(format!(
                "--secret {spec:?}: {} is not a file",
                src.display()
            )));
        }
        out.insert(id, src);
    }
    Ok(out)
}

/// `-o type=oci|docker,dest=FILE` (or a bare FILE).
fn parse_output(spec: &str) -> Result<PathBuf, Failure> {
    if !spec.contains('=') {
        return Ok(PathBuf::from(spec));
    }
    let mut dest = None;
    for field in spec.split(',') {
        match field.split_once('=') {
            Some(("type", "oci" | "docker" | "tar")) => {}
            Some(("dest", d)) => dest = Some(PathBuf::from(d)),
            _ => {
                return Err(Failure::from(format!(
                    "-o {spec:?}: expected type=oci|docker,dest=FILE"
                )))
            }
        }
    }
    dest.ok_or_else(|| Failure::from(format!("-o {spec:?}: dest=FILE is required")))
}
