//! `images` / `image ls`: the table, `--format` with Docker's fields, and
//! `--filter` (dangling, label, reference, before, since).

use clap::Args;
use comfy_table::{presets::NOTHING, Table};
use serde_json::{json, Value};

use super::containers::ago;
use super::format::{self, field, Listing};
use super::images::{human_size, repo_rows};
use super::{CliResult, Failure};
use crate::image::ImageRecord;
use crate::instance::Instance;
use crate::util::filter::{glob, FilterError, Filters};
use crate::util::template::Field;

#[derive(Args, Debug, Default)]
pub struct ImagesArgs {
    /// Only image ids
    #[arg(short, long)]
    quiet: bool,
    /// Show all images (rcorch keeps no intermediate images: same as the default)
    #[arg(short, long)]
    all: bool,
    /// table (default), json, or a Go template: 'table {{.Repository}}\t{{.Tag}}'
    #[arg(long)]
    format: Option<String>,
    /// KEY=VALUE: dangling, label, reference, before, since
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    filter: Vec<String>,
    /// Full image ids (sha256:…)
    #[arg(long)]
    no_trunc: bool,
    /// Show the registry digest of each image
    #[arg(long)]
    digests: bool,
    /// Only images of this repository (reference glob: busybox, 'busy*:1.*')
    repository: Option<String>,
}

pub const FIELDS: &[Field] = &[
    field("Repository", "REPOSITORY"),
    field("Tag", "TAG"),
    field("Digest", "DIGEST"),
    field("ID", "IMAGE ID"),
    field("CreatedSince", "CREATED"),
    field("CreatedAt", "CREATED AT"),
    field("Size", "SIZE"),
    field("VirtualSize", "VIRTUAL SIZE"),
    field("SharedSize", "SHARED SIZE"),
    field("UniqueSize", "UNIQUE SIZE"),
    field("Containers", "CONTAINERS"),
    field("Labels", "LABELS"),
    field("Label", ""),
];

const FILTER_KEYS: &[&str] = &["dangling", "label", "reference", "before", "since"];

/// One `images` row: an image under one repository and tag.
fn row(im: &ImageRecord, repo: &str, tag: &str, containers: usize) -> Value {
    let labels = im.config.labels.clone().unwrap_or_default();
    let digest = im
        .repo_digests
        .iter()
        .find_map(|d| {
            d.split_once('@')
                .filter(|(r, _)| *r == repo)
                .map(|(_, h)| h)
        })
        .unwrap_or("<none>");
    let size = human_size(im.size);
    json!({
        "Repository": repo, "Tag": tag, "Digest": digest, "ID": im.short_id(),
        "CreatedSince": format!("{} ago", ago(Some(&im.created))), "CreatedAt": im.created,
        "Size": size, "VirtualSize": size, "SharedSize": "N/A", "UniqueSize": "N/A",
        "Containers": containers.to_string(),
        "Labels": labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "Label": labels,
    })
}

/// `reference=PATTERN`: a glob over `repo:tag`, or over the repository
/// alone when the pattern names no tag (Docker's rule).
pub fn reference_matches(pattern: &str, repo: &str, tag: &str) -> bool {
    let names_tag = pattern
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'));
    if names_tag {
        glob(pattern, &format!("{repo}:{tag}"))
    } else {
        glob(pattern, repo)
    }
}

struct ImageFilter {
    filters: Filters,
    dangling: Option<bool>,
    before: Option<String>,
    since: Option<String>,
}

impl ImageFilter {
    fn keeps(&self, im: &ImageRecord, repo: &str, tag: &str) -> bool {
        let labels = im.config.labels.clone().unwrap_or_default();
        self.dangling.is_none_or(|d| d == im.repo_tags.is_empty())
            && self.filters.labels_match(&labels)
            && self
                .filters
                .any("reference", |p| reference_matches(p, repo, tag))
            && self.before.as_ref().is_none_or(|t| im.created < *t)
            && self.since.as_ref().is_none_or(|t| im.created > *t)
    }
}

fn parse_filter(instance: &Instance, args: &ImagesArgs) -> Result<ImageFilter, Failure> {
    let mut filters = Filters::parse(&args.filter, "images", FILTER_KEYS)?;
    if let Some(repo) = &args.repository {
        let mut all = args.filter.clone();
        all.push(format!("reference={repo}"));
        filters = Filters::parse(&all, "images", FILTER_KEYS)?;
    }
    let dangling = filters
        .boolean("dangling")
        .map_err(|e: FilterError| Failure::from(e))?;
    let created = |key: &str| -> Result<Option<String>, Failure> {
        match filters.values(key).last() {
            Some(r) => Ok(Some(instance.images()?.resolve(r)?.created)),
            None => Ok(None),
        }
    };
    let (before, since) = (created("before")?, created("since")?);
    Ok(ImageFilter {
        filters,
        dangling,
        before,
        since,
    })
}

pub fn list(instance: &Instance, args: &ImagesArgs) -> CliResult {
    let listing = Listing::parse(args.format.as_deref())?;
    let filter = parse_filter(instance, args)?;
    let containers = instance.containers.configs()?;
    let mut rows = Vec::new();
    let store = instance.images()?;
    for report in store.damage_reports() {
        eprintln!("rcorch: {report}");
    }
    for im in store.list()? {
        let users = containers.iter().filter(|c| c.image_id == im.id).count();
        for (repo, tag) in repo_rows(&im) {
            if filter.keeps(&im, &repo, &tag) {
                let mut r = row(&im, &repo, &tag, users);
                if args.no_trunc {
                    r["ID"] = im.id.clone().into();
                }
                rows.push(r);
            }
        }
    }
    if args.quiet {
        let mut ids: Vec<&str> = rows.iter().filter_map(|r| r["ID"].as_str()).collect();
        ids.dedup();
        ids.iter().for_each(|id| println!("{id}"));
        return Ok(0);
    }
    match listing {
        Listing::Template(f) => format::print_rows(&f, &rows, FIELDS),
        Listing::Json => format::print_json_lines(&rows),
        Listing::Table => {
            let mut columns = vec!["Repository", "Tag", "ID", "CreatedAt", "Size"];
            if args.digests {
                columns.insert(2, "Digest");
            }
            let header = |c: &&str| match *c {
                "ID" => "IMAGE ID".to_string(),
                "CreatedAt" => "CREATED".to_string(),
                other => other.to_uppercase(),
            };
            let mut table = Table::new();
            table
                .load_preset(NOTHING)
                .set_header(columns.iter().map(header));
            for r in &rows {
                table.add_row(columns.iter().map(|c| r[*c].as_str().unwrap_or_default()));
            }
            println!("{table}");
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reference_matches;

    #[test]
    fn references_glob_over_repository_or_repository_and_tag() {
        assert!(reference_matches("busybox", "busybox", "latest"));
        assert!(reference_matches("busy*", "busybox", "1.36"));
        assert!(reference_matches("busybox:1.*", "busybox", "1.36"));
        assert!(!reference_matches("busybox:latest", "busybox", "1.36"));
        assert!(reference_matches("reg:5000/a/*", "reg:5000/a/b", "v1"));
        assert!(!reference_matches("alpine", "busybox", "latest"));
    }
}
