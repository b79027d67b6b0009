//! `import`, `images` and `rmi`.

use std::path::PathBuf;

use clap::Args;
use comfy_table::{presets::NOTHING, Table};

use super::CliResult;
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

fn human_size(bytes: u64) -> String {
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

pub fn list(instance: &Instance) -> CliResult {
    let mut table = Table::new();
    table
        .load_preset(NOTHING)
        .set_header(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    for image in instance.images()?.list()? {
        let tags = if image.repo_tags.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            image.repo_tags.clone()
        };
        for tag in tags {
            let (repo, tag) = tag.rsplit_once(':').unwrap_or((&tag, ""));
            table.add_row([
                repo,
                tag,
                image.short_id(),
                &image.created,
                &human_size(image.size),
            ]);
        }
    }
    println!("{table}");
    Ok(0)
}

pub fn rmi(instance: &Instance, args: &RmiArgs) -> CliResult {
    let containers = instance.containers.list()?;
    let in_use = |image_id: &str| containers.iter().any(|c| c.config.image_id == image_id);
    let store = instance.images()?;
    let mut code = 0;
    for reference in &args.images {
        match store.remove(reference, &in_use, args.force) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                eprintln!("rcorch: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(super::human_size(4_400_000), "4.4MB");
        assert_eq!(super::human_size(512), "512B");
    }
}
