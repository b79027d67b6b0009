//! `image history IMAGE`: the config's history, newest first, each layer
//! step with the size of the layer it made (Docker's columns).

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
pub struct HistoryArgs {
    /// Only image ids (`<missing>` for steps that are no image of their own)
    #[arg(short, long)]
    quiet: bool,
    /// Full CREATED BY lines
    #[arg(long)]
    no_trunc: bool,
    /// table (default), json, or a Go template: '{{.CreatedBy}} {{.Size}}'
    #[arg(long)]
    format: Option<String>,
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
pub fn rows(image_id: &str, history: &[Value], layer_sizes: &[u64]) -> Vec<Value> {
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
            json!({
                "ID": "<missing>",
                "CreatedAt": created,
                "CreatedSince": format!("{} ago", ago(Some(created))),
                "CreatedBy": h["created_by"].as_str().unwrap_or_default(),
                "Size": human_size(size),
                "Comment": h["comment"].as_str().unwrap_or_default(),
            })
        })
        .collect();
    rows.reverse();
    if let Some(top) = rows.first_mut() {
        let id = image_id.trim_start_matches("sha256:");
        top["ID"] = id[..id.len().min(12)].into();
    }
    rows
}

pub fn history(instance: &Instance, args: &HistoryArgs) -> CliResult {
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
    let rows = rows(&image.id, &history, &sizes);
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
        let rows = rows("sha256:0123456789abcdef", &history, &[2048, 1024 * 1024]);
        let by: Vec<&str> = rows
            .iter()
            .map(|r| r["CreatedBy"].as_str().unwrap())
            .collect();
        assert_eq!(by, ["RUN echo", "CMD sh", "ADD rootfs"]);
        assert_eq!(rows[0]["ID"], "0123456789ab");
        assert_eq!(rows[1]["ID"], "<missing>");
        assert_eq!(rows[0]["Size"], human_size(1024 * 1024));
        assert_eq!(rows[1]["Size"], human_size(0));
        assert_eq!(rows[2]["Size"], human_size(2048));
        assert_eq!(rows[0]["Comment"], "buildkit");
    }
}
