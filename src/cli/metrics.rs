//! `metrics`: every running container's cAdvisor-named series, once, for
//! node_exporter's textfile collector or a one-off look.

use clap::Args;

use super::CliResult;
use crate::instance::Instance;
use crate::metrics::{self, collect, Format};

#[derive(Args, Debug)]
pub struct MetricsArgs {
    /// Exposition format: text (Prometheus 0.0.4, the default) or openmetrics
    #[arg(long, default_value = "text", value_parser = ["text", "openmetrics"])]
    format: String,
}

pub fn metrics(instance: &Instance, args: &MetricsArgs) -> CliResult {
    let format = match args.format.as_str() {
        "openmetrics" => Format::OpenMetrics,
        _ => Format::Text,
    };
    let families = collect::container_families(instance, |_| true);
    print!("{}", metrics::render(&families, format));
    Ok(0)
}
