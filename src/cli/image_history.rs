//! `history IMAGE` (and `image history`): the config's history, newest
//! first, each layer step with the size of the layer it made (Docker's
//! columns and flags).

use clap::Args;
use comfy_table::{presets::NOTHING, Table};
use serde_json::{json, Value};

use super::containers::{ago, dir_size};
use super::format::{field, Listing};
use super::images::human_size;
use super::{CliResult, Failure};
use crate::instance::Instance;
use crate::util::template::Field;

#[derive(Args, Debug)]
#[command(after_help = "Example: rcorch history --no-trunc --format '{{.ID}} {{.Size}}' busybox")]
pub struct HistoryArgs {
    /// Only image ids (`<missing>` for steps that are no image of their own)
    #[arg(short, long)]
    quiet: bool,
    /// Full image ids and CREATED BY lines
    #[arg(long)]
    no_trunc: bool,
    /// Sizes and dates for people (default); -H=false: bytes and RFC 3339 times
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    human: bool,
    /// table (default), json, or a Go template: '{{.CreatedBy}} {{.Size}}'
    #[arg(long)]
    format: Option<String>,
    /// A project's service revisions are `compose -p NAME history SERVICE`
    #[command(flatten)]
    project: super::container_life::ProjectFlags,
    image: String,
}

const FIELDS: &[Field] = &[
    field("ID", "IMAGE"),
    field("CreatedSince", "CREATED"),
    field("CreatedAt", "CREATED AT"),
    field("CreatedBy", "CREATED BY"),
    field("Size", "SIZE"),
    field("Comment", "COMMENT"),
];

/// The rows, newest first: `layer_sizes` are the image's layers bottom
/// first; each history entry without `empty_layer` takes the next one.
/// The newest row carries the image's full id (`sha256:…`).
pub fn rows(image_id: &str, history: &[Value], layer_sizes: &[u64], human: bool) -> Vec<Value> {
    let mut layers = layer_sizes.iter();
    let mut rows: Vec<Value> = history
        .iter()
        .map(|h| {
            let empty = h["empty_layer"].as_bool().unwrap_or(false);
            let size = if empty {
                0
            } else {
                layers.next().copied().unwrap_or(0)
            };
            let created = h["created"].as_str().unwrap_or_default();
            let since = match human {
                true => format!("{} ago", ago(Some(created))),
                false => created.to_string(),
            };
            json!({
                "ID": "<missing>",
                "CreatedAt": created,
                "CreatedSince": since,
                "CreatedBy": h["created_by"].as_str().unwrap_or_default(),
                "Size": if human { human_size(size) } else { size.to_string() },
                "Comment": h["comment"].as_str().unwrap_or_default(),
            })
        })
        .collect();
    rows.reverse();
    if let Some(top) = rows.first_mut() {
        let id = image_id.trim_start_matches("sha256:");
        top["ID"] = format!("sha256:{id}").into();
    }
    rows
}

/// Docker's short id: 12 hex digits, no `sha256:`.
fn short_id(id: &str) -> String {
    let hex = id.trim_start_matches("sha256:");
    hex[..hex.len().min(12)].to_string()
}

pub fn history(instance: &Instance, args: &HistoryArgs) -> CliResult {
    let service = std::slice::from_ref(&args.image);
    args.project.refuse_for("history", "an image", service)?;
    let listing = Listing::parse(args.format.as_deref())?;
    let store = instance.images()?;
    let image = store.resolve(&args.image)?;
    let blob = std::fs::read(store.blob_path(&image.id))
        .map_err(|e| Failure::from(format!("cannot read the config of {}: {e}", args.image)))?;
    let config: Value = serde_json::from_slice(&blob)?;
    let history = config["history"].as_array().cloned().unwrap_or_default();
    let sizes: Vec<u64> = store
        .layer_dirs(&image)
        .iter()
        .map(|d| dir_size(d))
        .collect();
    let mut rows = rows(&image.id, &history, &sizes, args.human);
    if !args.no_trunc {
        rows.iter_mut()
            .for_each(|r| r["ID"] = short_id(r["ID"].as_str().unwrap_or("")).into());
    }
    if args.quiet {
        rows.iter()
            .for_each(|r| println!("{}", r["ID"].as_str().unwrap_or("")));
        return Ok(0);
    }
    match listing {
        Listing::Template(f) => super::format::print_rows(&f, &rows, FIELDS),
        Listing::Json => super::format::print_json_lines(&rows),
        Listing::Table => {
            let mut table = Table::new();
            table.load_preset(NOTHING).set_header([
                "IMAGE",
                "CREATED",
                "CREATED BY",
                "SIZE",
                "COMMENT",
            ]);
            for r in &rows {
                let mut by = r["CreatedBy"].as_str().unwrap_or("").to_string();
                if !args.no_trunc && by.chars().count() > 45 {
                    by = by.chars().take(44).chain(['…']).collect();
                }
                let cell = |k: &str| r[k].as_str().unwrap_or("").to_string();
                table.add_row([
                    cell("ID"),
                    cell("CreatedSince"),
                    by,
                    cell("Size"),
                    cell("Comment"),
                ]);
            }
            println!("{table}");
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_steps_take_the_layers_in_order_and_empty_ones_none() {
        let history = vec![
            json!({"created_by": "ADD rootfs", "created": "2024-01-01T00:00:00Z"}),
            json!({"created_by": "CMD sh", "empty_layer": true}),
            json!({"created_by": "RUN echo", "comment": "buildkit"}),
        ];
        let rows = rows(
            "sha256:0123456789abcdef",
            &history,
            &[2048, 1024 * 1024],
            true,
        );
        let by: Vec<&str> = rows
            .iter()
            .map(|r| r["CreatedBy"].as_str().unwrap())
            .collect();
        assert_eq!(by, ["RUN echo", "CMD sh", "ADD rootfs"]);
        assert_eq!(rows[0]["ID"], "sha256:0123456789abcdef");
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("<missing>"), "<missing>");
        assert_eq!(rows[1]["ID"], "<missing>");
        assert_eq!(rows[0]["Size"], human_size(1024 * 1024));
        assert_eq!(rows[1]["Size"], human_size(0));
        assert_eq!(rows[2]["Size"], human_size(2048));
        assert_eq!(rows[0]["Comment"], "buildkit");
    }

    #[test]
    fn not_human_gives_bytes_and_the_creation_time() {
        let history = vec![json!({"created_by": "ADD x", "created": "2024-01-01T00:00:00Z"})];
        let rows = rows("sha256:ab", &history, &[2048], false);
        assert_eq!(rows[0]["Size"], "2048");
        assert_eq!(rows[0]["CreatedSince"], "2024-01-01T00:00:00Z");
    }
}
