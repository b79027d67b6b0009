//! The first pass over a Dockerfile's text: parser directives at the top,
//! comments, line continuations (with the escape character) and heredoc
//! bodies, giving one logical line per instruction with its line numbers.

use super::shell::split_raw;
use super::{ErrorKind, Heredoc};

/// `# syntax=`, `# escape=`, `# check=` at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// The frontend the file asks for: only a version note here.
    pub syntax: Option<String>,
    pub escape: char,
    /// `# check=skip=A,B;error=true`.
    pub check_skip: Vec<String>,
    pub check_error: bool,
    /// Line of the `# check=` directive, for its own errors.
    pub check_line: Option<usize>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
            check_skip: Vec::new(),
            check_error: false,
            check_line: None,
        }
    }
}

/// One instruction's text with its continuations joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub heredocs: Vec<Heredoc>,
    /// Lines of empty continuation lines inside it (NoEmptyContinuation).
    pub empty_continuations: Vec<usize>,
}

/// The lines of a file, the directives read and the logical lines.
pub fn split(text: &str) -> Result<(Directives, Vec<LogicalLine>), (usize, ErrorKind)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let (directives, mut i) = directives(&lines)?;
    let escape = directives.escape;
    let mut out = Vec::new();
    while i < lines.len() {
        let trimmed = lines[i].trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let mut line = join_continued(&lines, &mut i, escape);
        if takes_heredocs(&line.text) {
            for (name, expand, chomp) in heredoc_markers(&line.text, escape) {
                let body = read_heredoc(&lines, &mut i, &name, chomp)
                    .ok_or((line.start, ErrorKind::UnterminatedHeredoc(name.clone())))?;
                line.heredocs.push(Heredoc {
                    name,
                    content: body,
                    expand,
                    chomp,
                });
                line.end = i;
            }
        }
        out.push(line);
    }
    Ok((directives, out))
}

fn directives(lines: &[&str]) -> Result<(Directives, usize), (usize, ErrorKind)> {
    let mut d = Directives::default();
    let mut seen: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((key, value)) = directive(line) else {
            return Ok((d, i));
        };
        let lower = key.to_ascii_lowercase();
        if !matches!(lower.as_str(), "syntax" | "escape" | "check") {
            // An unknown directive is a comment and ends the directives.
            return Ok((d, i));
        }
        if seen.contains(&lower) {
            return Err((i + 1, ErrorKind::DuplicateDirective(lower)));
        }
        seen.push(lower.clone());
        match lower.as_str() {
            "syntax" => d.syntax = Some(value.to_string()),
            "escape" => {
                d.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    _ => return Err((i + 1, ErrorKind::BadEscape(value.to_string()))),
                }
            }
            _ => {
                d.check_line = Some(i + 1);
                parse_check(value, &mut d).map_err(|k| (i + 1, k))?;
            }
        }
    }
    Ok((d, lines.len()))
}

/// `# key=value` (the whole line), as the directive grammar allows it.
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (key, value) = rest.split_once('=')?;
    let key = key.trim();
    let ok = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric());
    let value = value.trim();
    (ok && !value.is_empty()).then_some((key, value))
}

fn parse_check(value: &str, d: &mut Directives) -> Result<(), ErrorKind> {
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| ErrorKind::BadCheckDirective(part.to_string()))?;
        match k.trim() {
            "skip" => d
                .check_skip
                .extend(v.split(',').map(|s| s.trim().to_string())),
            "error" => {
                d.check_error = match v.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(ErrorKind::BadCheckDirective(part.to_string())),
                }
            }
            _ => return Err(ErrorKind::BadCheckDirective(part.to_string())),
        }
    }
    Ok(())
}

/// Reads an instruction from line `*i` on, following continuations; leaves
/// `*i` at the first line after it.
fn join_continued(lines: &[&str], i: &mut usize, escape: char) -> LogicalLine {
    let start = *i + 1;
    let mut text = String::new();
    let mut empty = Vec::new();
    let mut end = start;
    let mut first = true;
    while *i < lines.len() {
        let raw = lines[*i];
        *i += 1;
        let trimmed = raw.trim();
        if !first && trimmed.starts_with('#') {
            continue;
        }
        if !first && trimmed.is_empty() {
            empty.push(*i);
            continue;
        }
        end = *i;
        let piece = if first { raw.trim_start() } else { raw };
        first = false;
        let t = piece.trim_end();
        match t.strip_suffix(escape) {
            Some(head) if !ends_escaped(head, escape) => text.push_str(head),
            _ => {
                text.push_str(t);
                // Empty lines after the last piece were not inside the instruction.
                empty.retain(|&l| l < end);
                return LogicalLine {
                    start,
                    end,
                    text,
                    heredocs: Vec::new(),
                    empty_continuations: empty,
                };
            }
        }
    }
    empty.retain(|&l| l < end);
    LogicalLine {
        start,
        end,
        text,
        heredocs: Vec::new(),
        empty_continuations: empty,
    }
}

/// Whether the character before a trailing escape is itself an escape
/// (`\\` at the end of a line is a literal backslash, not a continuation).
fn ends_escaped(head: &str, escape: char) -> bool {
    head.chars().rev().take_while(|&c| c == escape).count() % 2 == 1
}

fn takes_heredocs(text: &str) -> bool {
    let keyword = text.split_whitespace().next().unwrap_or("");
    ["RUN", "COPY", "ADD"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(keyword))
}

/// The heredocs an instruction opens, in order: (name, expand, chomp tabs).
pub fn heredoc_markers(text: &str, escape: char) -> Vec<(String, bool, bool)> {
    split_raw(text, escape)
        .iter()
        .filter_map(|w| heredoc_marker(w))
        .collect()
}

/// `[fd]<<[-]WORD`, `<<"WORD"`, `<<'WORD'`.
pub fn heredoc_marker(word: &str) -> Option<(String, bool, bool)> {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (name, quoted) = match rest.chars().next()? {
        q @ ('"' | '\'') => (rest.strip_prefix(q)?.strip_suffix(q)?, true),
        _ => (rest, false),
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| (name.to_string(), !quoted, chomp))
}

fn read_heredoc(lines: &[&str], i: &mut usize, name: &str, chomp: bool) -> Option<String> {
    let mut body = String::new();
    while *i < lines.len() {
        let raw = lines[*i];
        *i += 1;
        let line = if chomp {
            raw.trim_start_matches('\t')
        } else {
            raw
        };
        if line == name {
            return Some(body);
        }
        body.push_str(line);
        body.push('\n');
    }
    None
}
