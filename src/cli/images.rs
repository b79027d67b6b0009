//! `import`, `images`, `rmi`, `load`, `save`, `tag` and the `image` group.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CliResult, Failure};
use crate::container::store::{Broken, ImageClue};
use crate::image::archive;
use crate::image::digest_hex;
use crate::instance::Instance;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A rootfs tarball (plain or gzip)
    tarball: PathBuf,
    /// NAME[:TAG]
    reference: String,
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Remove even if containers use it
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn import(instance: &Instance, args: &ImportArgs) -> CliResult {
    let record = instance.images()?.import(&args.tarball, &args.reference)?;
    println!("{}", record.id);
    Ok(0)
}

pub(super) fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.3}")
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
        + units[unit]
}

/// `images` rows as (REPOSITORY, TAG): one per tag; an untagged image
/// pulled by digest shows its repository with TAG `<none>`, as Docker does.
pub(super) fn repo_rows(image: &crate::image::ImageRecord) -> Vec<(String, String)> {
    let split = |s: &String, sep: char| {
        let (repo, rest) = s.rsplit_once(sep).unwrap_or((s, ""));
        (repo.to_string(), rest.to_string())
    };
    if !image.repo_tags.is_empty() {
        return image.repo_tags.iter().map(|t| split(t, ':')).collect();
    }
    let mut rows: Vec<(String, String)> = image
        .repo_digests
        .iter()
        .map(|d| (split(d, '@').0, "<none>".to_string()))
        .collect();
    rows.dedup();
    if rows.is_empty() {
        rows.push(("<none>".into(), "<none>".into()));
    }
    rows
}

pub fn rmi(instance: &Instance, args: &RmiArgs) -> CliResult {
    let store = instance.images()?;
    let users = ImageUsers::read(instance, &store)?;
    let in_use = |image_id: &str| users.in_use(image_id);
    let mentions = crate::system::layer_mentions(&instance.root);
    let mut code = 0;
    for reference in &args.images {
        match store.remove_keeping(reference, &in_use, args.force, &mentions) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                eprintln!("rcorch: {e}");
                if let Some(id) = image_id_of(&store, reference) {
                    users.explain(&id);
                }
                code = 1;
            }
        }
    }
    Ok(code)
}

/// The id `reference` names: a whole image's, or a lost one's.
fn image_id_of(store: &crate::image::ImageStore, reference: &str) -> Option<String> {
    if let Ok(image) = store.resolve(reference) {
        return Some(image.id);
    }
    let lost = store.damaged().ok()?.1;
    lost.into_iter()
        .find(|l| l.answers_to(reference))
        .map(|l| l.id)
}

/// Which images the containers use, damaged records included: one whose
/// record is unreadable counts for the image its surviving bytes name, and
/// for every image when none survives (removing layers under a container
/// that may still run on them would break it for good).
pub(super) struct ImageUsers {
    /// (container id, image id) of every readable record.
    readable: Vec<(String, String)>,
    broken: Vec<(Broken, Option<String>)>,
    /// The images projects' revisions ran, kept for `rollback`.
    pinned: std::collections::BTreeSet<String>,
}

impl ImageUsers {
    pub(super) fn read(
        instance: &Instance,
        store: &crate::image::ImageStore,
    ) -> Result<ImageUsers, Failure> {
        let scan = instance.containers.scan()?;
        let broken = scan
            .broken
            .into_iter()
            .map(|b| {
                let image = match instance.containers.image_clue(&b.id) {
                    ImageClue::Id(id) => Some(id),
                    ImageClue::Reference(r) => store.resolve(&r).ok().map(|i| i.id),
                    ImageClue::Unknown => None,
                };
                (b, image)
            })
            .collect();
        Ok(ImageUsers {
            readable: scan
                .records
                .into_iter()
                .map(|r| (r.config.id, r.config.image_id))
                .collect(),
            broken,
            pinned: crate::project::history::pinned_images(&instance.root),
        })
    }

    /// Whether a prune must keep `image_id`: used, or one a project's
    /// `rollback` may bring back (untagged once `up --build` moved its tag).
    pub(super) fn kept(&self, image_id: &str) -> bool {
        self.in_use(image_id) || self.pinned.contains(image_id)
    }

    pub(super) fn in_use(&self, image_id: &str) -> bool {
        self.readable.iter().any(|(_, id)| id == image_id)
            || self.broken_users(image_id).next().is_some()
    }

    fn broken_users<'a>(&'a self, image_id: &'a str) -> impl Iterator<Item = &'a Broken> + 'a {
        self.broken
            .iter()
            .filter(move |(_, image)| image.as_deref().is_none_or(|id| id == image_id))
            .map(|(b, _)| b)
    }

    /// Names the containers that keep `image_id` (as Docker's conflict
    /// does), and the damaged records that may, with the way out.
    fn explain(&self, image_id: &str) {
        let short = |id: &str| digest_hex(id).chars().take(12).collect::<String>();
        for (container, _) in self.readable.iter().filter(|(_, id)| id == image_id) {
            eprintln!(
                "rcorch: container {} is using its referenced image {}",
                short(container),
                short(image_id)
            );
        }
        for b in self.broken_users(image_id) {
            eprintln!("rcorch: it may be in use: {}", b.report());
        }
    }
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// A docker-save or OCI image-layout archive (plain or gzip)
    #[arg(short, long)]
    input: PathBuf,
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Output file (an OCI archive that also carries docker's manifest.json)
    #[arg(short, long)]
    output: PathBuf,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    /// Image name or id
    source: String,
    /// NAME[:TAG] to add
    target: String,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A Go template, e.g. '{{.Id}}' or '{{json .Config.Env}}'
    #[arg(short, long)]
    format: Option<String>,
    #[arg(required = true)]
    images: Vec<String>,
}

/// `rcorch image ...`
#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(super::image_list::ImagesArgs),
    /// Show images as JSON
    Inspect(InspectArgs),
    /// Remove images
    Rm(RmiArgs),
    /// Remove untagged images no container uses
    Prune,
    /// Add a tag to an image
    Tag(TagArgs),
    /// Load images from an archive
    Load(LoadArgs),
    /// Save images to an archive
    Save(SaveArgs),
    /// Pull an image from a registry
    Pull(super::registry::PullArgs),
    /// Push an image to a registry
    Push(super::registry::PushArgs),
    /// Show the steps an image was made of, newest first
    History(super::image_history::HistoryArgs),
    /// Unpack one layer tar into an existing directory (benchmarks)
    #[command(hide = true)]
    UnpackLayer { layer: PathBuf, dir: PathBuf },
}

pub fn image(instance: &Instance, command: &ImageCommand) -> CliResult {
    match command {
        ImageCommand::Ls(args) => super::image_list::list(instance, args),
        ImageCommand::Inspect(args) => inspect(instance, args),
        ImageCommand::Rm(args) => rmi(instance, args),
        ImageCommand::Prune => prune(instance),
        ImageCommand::Tag(args) => tag(instance, args),
        ImageCommand::Load(args) => load(instance, args),
        ImageCommand::Save(args) => save(instance, args),
        ImageCommand::Pull(args) => super::registry::pull(instance, args),
        ImageCommand::Push(args) => super::registry::push(instance, args),
        ImageCommand::History(args) => super::image_history::history(instance, args),
        ImageCommand::UnpackLayer { layer, dir } => {
            let file = std::fs::File::open(layer)
                .map_err(|e| Failure::from(format!("{}: {e}", layer.display())))?;
            let stats = crate::image::unpack_layer(file, dir)?;
            eprintln!("{stats:?}");
            Ok(0)
        }
    }
}

/// Prints what a load or pull brought in, like `docker load`.
pub fn print_loaded(records: &[crate::image::ImageRecord]) {
    for record in records {
        if record.repo_tags.is_empty() {
            println!("Loaded image ID: {}", record.id);
        }
        for tag in &record.repo_tags {
            println!("Loaded image: {tag}");
        }
    }
}

pub fn load(instance: &Instance, args: &LoadArgs) -> CliResult {
    let records = archive::load(&instance.images()?, &args.input)?;
    print_loaded(&records);
    Ok(0)
}

pub fn save(instance: &Instance, args: &SaveArgs) -> CliResult {
    archive::save(&instance.images()?, &args.images, &args.output)?;
    Ok(0)
}

pub fn tag(instance: &Instance, args: &TagArgs) -> CliResult {
    instance.images()?.tag(&args.source, &args.target)?;
    Ok(0)
}

pub fn prune(instance: &Instance) -> CliResult {
    let store = instance.images()?;
    let users = ImageUsers::read(instance, &store)?;
    let kept = |image_id: &str| users.kept(image_id);
    let mut lines = store.prune(&kept)?;
    let layers = crate::system::prune_orphan_layers(instance)?;
    lines.extend(layers.iter().map(|d| format!("Deleted: {d}")));
    for (b, _) in users.broken.iter().filter(|(_, image)| image.is_none()) {
        eprintln!("rcorch: untagged images kept: {}", b.report());
    }
    lines.iter().for_each(|l| println!("{l}"));
    Ok(0)
}

pub fn inspect(instance: &Instance, args: &InspectArgs) -> CliResult {
    let template = super::format::parse_inspect(args.format.as_deref())?;
    let store = instance.images()?;
    let mut out = Vec::new();
    let mut code = 0;
    for reference in &args.images {
        match store.resolve(reference) {
            Ok(im) => out.push(image_json(&im)),
            Err(e) => {
                eprintln!("rcorch: {e}");
                code = 1;
            }
        }
    }
    super::format::print_inspected(template.as_ref(), &out)?;
    Ok(code)
}

/// An image as `docker image inspect` shows it.
pub(super) fn image_json(im: &crate::image::ImageRecord) -> serde_json::Value {
    serde_json::json!({
        "Id": im.id,
        "RepoTags": im.repo_tags,
        "RepoDigests": im.repo_digests,
        "Created": im.created,
        "Size": im.size,
        "Architecture": "amd64",
        "Os": "linux",
        "Config": im.config,
        "RootFS": { "Type": "layers", "Layers": im.layers },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(super::human_size(4_400_000), "4.4MB");
        assert_eq!(super::human_size(512), "512B");
    }

    #[test]
    fn untagged_images_pulled_by_digest_show_their_repository() {
        let mut im: crate::image::ImageRecord = serde_json::from_value(serde_json::json!({
            "id": "sha256:aa", "repo_tags": [], "created": "t", "size": 1,
            "layers": [], "config": {}
        }))
        .unwrap();
        let row = |r: &str, t: &str| (r.to_string(), t.to_string());
        assert_eq!(super::repo_rows(&im), [row("<none>", "<none>")]);
        im.repo_digests = vec!["reg:5000/a/b@sha256:11".into()];
        assert_eq!(super::repo_rows(&im), [row("reg:5000/a/b", "<none>")]);
        im.repo_tags = vec!["reg:5000/a/b:v1".into()];
        assert_eq!(super::repo_rows(&im), [row("reg:5000/a/b", "v1")]);
    }
}
