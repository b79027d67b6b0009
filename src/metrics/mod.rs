//! Prometheus metrics: cAdvisor's container families and the supervisor's
//! own, as plain data (`Family`), rendered in the text exposition format
//! 0.0.4 or OpenMetrics 1.0.
//!
//! The exposition is written by hand rather than with prometheus-client:
//! every scrape builds a fresh snapshot (containers come and go, and a
//! removed replica's series must vanish at once), which a registry of
//! long-lived metric handles does not fit, and the format is ~60 lines.

pub mod collect;
pub mod container;
pub mod histogram;
pub mod http;
pub mod lb;
pub mod supervisor;

use std::fmt::Write;

/// The two sample types rcorch exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One sample: its labels (name, value) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// After the family's name: a histogram's `_bucket`, `_sum`, `_count`.
    pub suffix: &'static str,
}

/// All samples of one metric name, with its HELP and TYPE.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The sample name, `_total` included for counters (as cAdvisor names them).
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn new(name: &'static str, kind: Kind, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    pub fn push(&mut self, labels: Vec<(String, String)>, value: f64) {
        self.samples.push(Sample {
            labels,
            value,
            suffix: "",
        });
    }
}

/// Which exposition format a scraper asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the `Accept` header lists it, as Prometheus sends
    /// it; the 0.0.4 text format otherwise (and for a missing header).
    pub fn from_accept(accept: Option<&str>) -> Format {
        let wants_om = accept.is_some_and(|a| {
            a.split(',').any(|part| {
                let media = part.split(';').next().unwrap_or("").trim();
                media.eq_ignore_ascii_case("application/openmetrics-text")
            })
        });
        if wants_om {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Renders `families` (families without samples are left out, as client
/// libraries do).
pub fn render(families: &[Family], format: Format) -> String {
    let mut out = String::new();
    for family in families.iter().filter(|f| !f.samples.is_empty()) {
        let (meta_name, kind) = match (format, family.kind) {
            (Format::Text, Kind::Counter) => (family.name, "counter"),
            (_, Kind::Gauge) => (family.name, "gauge"),
            (_, Kind::Histogram) => (family.name, "histogram"),
            // OpenMetrics names the counter family without `_total`; a
            // counter not named so (cAdvisor's failcnt) stays `unknown`
            // rather than be renamed.
            (Format::OpenMetrics, Kind::Counter) => match family.name.strip_suffix("_total") {
                Some(base) => (base, "counter"),
                None => (family.name, "unknown"),
            },
        };
        let help = escape(family.help, format == Format::OpenMetrics);
        let _ = writeln!(out, "# HELP {meta_name} {help}");
        let _ = writeln!(out, "# TYPE {meta_name} {kind}");
        for sample in &family.samples {
            out.push_str(family.name);
            out.push_str(sample.suffix);
            write_labels(&mut out, &sample.labels);
            let _ = writeln!(out, " {}", number(sample.value));
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn write_labels(out: &mut String, labels: &[(String, String)]) {
    if labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"{}\"", escape(value, true));
    }
    out.push('}');
}

/// Backslash and newline always; the double quote in label values (and
/// in OpenMetrics HELP).
fn escape(text: &str, quote: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// Integers without a fraction, the rest as Rust prints f64 (never an
/// exponent, which both formats accept anyway).
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// A Prometheus label name from anything (a Docker label key): characters
/// outside `[a-zA-Z0-9_]` become `_`, as cAdvisor does.
pub fn sanitize_label_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
