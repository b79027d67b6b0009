//! Go templates as Docker's `--format` and `inspect -f` take them, over
//! JSON values: `{{.A.B}}`, `{{json .}}`, pipelines, `if`/`else`/`range`/
//! `with`, variables, Go's and Docker's functions; and a `table` prefix
//! (a header row, tab-separated columns aligned as Docker's tabwriter).

mod exec;
mod funcs;
mod lex;
mod parse;
mod printf;
#[cfg(test)]
mod tests;

use serde_json::Value;

/// What is wrong with a template, without the template itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("template parsing error: {message}")]
    Parse { message: String },
    #[error("unknown field {field:?}; fields here: {known}")]
    UnknownField { field: String, known: String },
    #[error("{message}")]
    Exec { message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {template:?}: {problem}")]
pub struct TemplateError {
    pub template: String,
    pub problem: Problem,
}

/// A parsed Go template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    text: String,
    nodes: Vec<parse::Node>,
}

impl Template {
    /// Parses `text` as it is (no `\t` unescaping: see `Format`).
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let nodes = lex::items(text)
            .and_then(parse::tree)
            .map_err(|problem| TemplateError {
                template: text.to_string(),
                problem,
            })?;
        Ok(Template {
            text: text.to_string(),
            nodes,
        })
    }

    /// The template's output for `data` (`.` and `$`).
    pub fn execute(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        exec::Exec::new(data)
            .nodes(&self.nodes, data, &mut out)
            .map_err(|problem| TemplateError {
                template: self.text.clone(),
                problem,
            })?;
        Ok(out)
    }
}

/// A field a listing offers, and its column header under `table`.
pub struct Field {
    pub name: &'static str,
    pub header: &'static str,
}

/// A listing's `--format`: a template run once per row, each followed by a
/// newline; under `table`, a header row first and columns aligned.
#[derive(Debug, Clone, PartialEq)]
pub struct Format {
    table: bool,
    template: Template,
}

impl Format {
    /// `\t` and `\n` as typed on a shell line are tab and newline, as in
    /// Docker; a leading `table` asks for a header and alignment.
    pub fn parse(text: &str) -> Result<Format, TemplateError> {
        let unescaped = text.replace("\\t", "\t").replace("\\n", "\n");
        let (table, body) = match unescaped.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start_matches([' ', '\t']).to_string()),
            None => (false, unescaped),
        };
        let template = Template::parse(&body).map_err(|e| TemplateError {
            template: text.to_string(),
            problem: e.problem,
        })?;
        Ok(Format { table, template })
    }

    /// All rows, or the first error. Field names are checked against
    /// `fields` even when there are no rows, so a typo never passes
    /// silently on an empty listing.
    pub fn render(&self, rows: &[Value], fields: &[Field]) -> Result<String, TemplateError> {
        let headers = header_row(fields);
        let header = self.template.execute(&headers);
        if let Err(
            e @ TemplateError {
                problem: Problem::UnknownField { .. },
                ..
            },
        ) = &header
        {
            return Err(e.clone());
        }
        let mut out = String::new();
        if self.table {
            out.push_str(&header?);
            out.push('\n');
        }
        for row in rows {
            out.push_str(&self.template.execute(row)?);
            out.push('\n');
        }
        Ok(if self.table { align(&out) } else { out })
    }
}

/// The row a table's header is rendered from: each field holds its header.
/// Map-valued fields (Docker's `.Label "key"`) are empty maps there.
fn header_row(fields: &[Field]) -> Value {
    let map = fields
        .iter()
        .map(|f| {
            let v = if f.header.is_empty() {
                Value::Object(Default::default())
            } else {
                Value::String(f.header.into())
            };
            (f.name.to_string(), v)
        })
        .collect();
    Value::Object(map)
}

/// Pads tab-terminated cells to their column's width plus 3 (at least 10),
/// as Docker's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`; the text after
/// a line's last tab is not padded.
fn align(text: &str) -> String {
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let cells: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &cells {
        for (i, c) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            let w = c.chars().count();
            match widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            out.push_str(c);
            if i + 1 < row.len() {
                let width = (widths[i] + 3).max(10);
                out.extend(std::iter::repeat_n(' ', width - c.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}
