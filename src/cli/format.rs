//! `--format` and `inspect -f` for every verb: Docker's `table` and
//! `json` words, or a Go template (`util::template`).

use serde_json::Value;

use super::{CliResult, Failure};
use crate::util::template::{Field, Format, Template};

/// A listing's `--format`.
pub enum Listing {
    /// The verb's own table (`table` or no `--format`).
    Table,
    /// `json`: the verb's own JSON.
    Json,
    Template(Format),
}

impl Listing {
    /// Parsed before anything is read, so a bad template fails alone.
    pub fn parse(text: Option<&str>) -> Result<Listing, Failure> {
        match text.map(str::trim) {
            None | Some("table") | Some("") => Ok(Listing::Table),
            Some("json") => Ok(Listing::Json),
            Some(t) => Format::parse(t)
                .map(Listing::Template)
                .map_err(Failure::from),
        }
    }
}

/// `--format json` of a listing: one object per line, as Docker prints it.
pub fn print_json_lines(rows: &[Value]) -> CliResult {
    for row in rows {
        println!("{}", serde_json::to_string(row)?);
    }
    Ok(0)
}

/// Prints `rows` through the template; nothing is printed unless every
/// row renders.
pub fn print_rows(format: &Format, rows: &[Value], fields: &[Field]) -> CliResult {
    print!("{}", format.render(rows, fields)?);
    Ok(0)
}

/// `inspect`'s output: pretty JSON of all found, or with `-f` a line per
/// object (Docker appends the newline). Parse the template first with
/// `parse_inspect` so a bad one fails before any lookup.
pub fn print_inspected(template: Option<&Template>, found: &[Value]) -> Result<(), Failure> {
    let Some(template) = template else {
        println!("{}", serde_json::to_string_pretty(found)?);
        return Ok(());
    };
    let mut out = String::new();
    for v in found {
        out.push_str(&template.execute(v)?);
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

/// `-f`/`--format` of an inspect verb: `\t`/`\n` as Docker unescapes them;
/// `json` is `{{json .}}`.
pub fn parse_inspect(text: Option<&str>) -> Result<Option<Template>, Failure> {
    let Some(text) = text else { return Ok(None) };
    let text = match text.trim() {
        "json" => "{{json .}}".to_string(),
        t => t.replace("\\t", "\t").replace("\\n", "\n"),
    };
    Ok(Some(Template::parse(&text)?))
}

pub const fn field(name: &'static str, header: &'static str) -> Field {
    Field { name, header }
}
