//! The subset of Go templates that `--format` takes, as Docker's CLI uses
//! them: `{{.Field}}`, `{{json .}}`, `{{json .Field}}`, literal text, `\t`
//! and `\n` escapes, and a `table` prefix (a header row, columns aligned).
//! Anything else is refused when parsed, never silently printed as a table.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template {template:?}: unknown field {field:?}; fields: {known}")]
    UnknownField {
        template: String,
        field: String,
        known: String,
    },
    #[error("template {template:?}: unsupported action {{{{{action}}}}}; rcorch supports {{{{.Field}}}}, {{{{json .}}}}, {{{{json .Field}}}} and a 'table' prefix")]
    Unsupported { template: String, action: String },
    #[error("template {template:?}: unclosed {{{{")]
    Unclosed { template: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// `{{.Field}}`; `None` for `{{.}}`.
    Field(Option<String>),
    /// `{{json .}}` / `{{json .Field}}`.
    Json(Option<String>),
}

/// A parsed `--format` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    table: bool,
    parts: Vec<Part>,
}

/// A field a template may name, and its column header under `table`.
pub struct Field {
    pub name: &'static str,
    pub header: &'static str,
}

impl Template {
    /// Parses `text`, accepting only the `fields` given.
    pub fn parse(text: &str, fields: &[Field]) -> Result<Template, TemplateError> {
        let unescaped = text.replace("\\t", "\t").replace("\\n", "\n");
        let (table, body) = match unescaped.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start_matches([' ', '\t']).to_string()),
            None => (false, unescaped),
        };
        let mut parts = Vec::new();
        let mut rest = body.as_str();
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| TemplateError::Unclosed {
                template: text.to_string(),
            })?;
            parts.push(action(text, after[..close].trim(), fields)?);
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { table, parts })
    }

    /// One line per row (each row a JSON object keyed by field name); under
    /// `table`, a header line first and tab-separated columns aligned.
    pub fn render(&self, rows: &[Value], fields: &[Field]) -> String {
        let mut lines: Vec<String> = Vec::new();
        if self.table {
            lines.push(self.header(fields));
        }
        lines.extend(rows.iter().map(|row| self.render_row(row)));
        if self.table {
            lines = align(&lines);
        }
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    fn render_row(&self, row: &Value) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => out.push_str(&plain(lookup(row, f.as_deref()))),
                Part::Json(f) => out.push_str(&lookup(row, f.as_deref()).to_string()),
            }
        }
        out
    }

    fn header(&self, fields: &[Field]) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(Some(f)) | Part::Json(Some(f)) => {
                    let header = fields.iter().find(|k| k.name == f).map(|k| k.header);
                    out.push_str(header.unwrap_or(f));
                }
                Part::Field(None) | Part::Json(None) => {}
            }
        }
        out
    }
}

fn action(template: &str, inner: &str, fields: &[Field]) -> Result<Part, TemplateError> {
    let unsupported = || TemplateError::Unsupported {
        template: template.to_string(),
        action: inner.to_string(),
    };
    let (json, target) = match inner.strip_prefix("json ") {
        Some(rest) => (true, rest.trim()),
        None => (false, inner),
    };
    let field = match target {
        "." => None,
        t => {
            let name = t.strip_prefix('.').ok_or_else(unsupported)?;
            // `.Actor.Attributes.name`: a known field, then keys inside it.
            let plain_key = |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric());
            if !name.split('.').all(plain_key) {
                return Err(unsupported());
            }
            let first = name.split('.').next().unwrap_or(name);
            if !fields.iter().any(|f| f.name == first) {
                return Err(TemplateError::UnknownField {
                    template: template.to_string(),
                    field: name.to_string(),
                    known: fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", "),
                });
            }
            Some(name.to_string())
        }
    };
    Ok(if json {
        Part::Json(field)
    } else {
        Part::Field(field)
    })
}

fn lookup<'v>(row: &'v Value, field: Option<&str>) -> &'v Value {
    match field {
        Some(f) => f
            .split('.')
            .try_fold(row, |v, key| v.get(key))
            .unwrap_or(&Value::Null),
        None => row,
    }
}

/// Strings print as themselves, everything else as JSON (as Go prints maps
/// differently, rcorch's rows already hold Docker's strings).
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Pads tab-separated cells to their column's width plus 3, as Docker's
/// tabwriter does; the last cell of a line is not padded.
fn align(lines: &[String]) -> Vec<String> {
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
    cells
        .iter()
        .map(|row| {
            let mut out = String::new();
            for (i, c) in row.iter().enumerate() {
                out.push_str(c);
                if i + 1 < row.len() {
                    let pad = widths[i] + 3 - c.chars().count();
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIELDS: &[Field] = &[
        Field {
            name: "ID",
            header: "CONTAINER ID",
        },
        Field {
            name: "Names",
            header: "NAMES",
        },
        Field {
            name: "Status",
            header: "STATUS",
        },
    ];

    fn rows() -> Vec<Value> {
        vec![
            json!({"ID": "abc", "Names": "web", "Status": "Up 2 seconds"}),
            json!({"ID": "defghi", "Names": "db", "Status": "Exited (0)"}),
        ]
    }

    fn render(t: &str) -> String {
        Template::parse(t, FIELDS).unwrap().render(&rows(), FIELDS)
    }

    #[test]
    fn a_field_per_line() {
        assert_eq!(render("{{.Names}}"), "web\ndb\n");
        assert_eq!(render("{{ .ID }}: {{.Names}}"), "abc: web\ndefghi: db\n");
    }

    #[test]
    fn table_adds_headers_and_aligns_tabs() {
        assert_eq!(
            render("table {{.ID}}\\t{{.Status}}"),
            "CONTAINER ID   STATUS\nabc            Up 2 seconds\ndefghi         Exited (0)\n"
        );
    }

    #[test]
    fn json_of_the_row_or_a_field() {
        let out = render("{{json .}}");
        let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(first, rows()[0]);
        assert_eq!(render("{{json .Names}}"), "\"web\"\n\"db\"\n");
    }

    #[test]
    fn unknown_fields_and_other_actions_are_refused() {
        let e = Template::parse("{{.Name}}", FIELDS)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown field \"Name\"") && e.contains("Names"),
            "{e}"
        );
        for bad in [
            "{{range .}}x{{end}}",
            "{{.Names | upper}}",
            "{{Names}}",
            "{{.Names",
        ] {
            assert!(Template::parse(bad, FIELDS).is_err(), "{bad} accepted");
        }
    }
}
