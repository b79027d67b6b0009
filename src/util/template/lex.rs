//! Splits a Go template into text and actions, and an action into tokens.

use super::Problem;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// `.` alone.
    Dot,
    /// `.A.B`; `attached`: written right after the previous token (no
    /// space), as in `(pipeline).Field`.
    Fields {
        names: Vec<String>,
        attached: bool,
    },
    /// `$` or `$name`, with an optional `.A.B` chain.
    Var {
        name: String,
        fields: Vec<String>,
    },
    Ident(String),
    Str(String),
    Num(serde_json::Number),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

/// A piece of the template: literal text, or the tokens of one `{{…}}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Text(String),
    Action(Vec<Tok>),
}

fn parse_error(message: impl Into<String>) -> Problem {
    Problem::Parse {
        message: message.into(),
    }
}

/// Text and actions, with `{{- ` and ` -}}` trimming the whitespace beside
/// them and `{{/* … */}}` comments dropped.
pub fn items(text: &str) -> Result<Vec<Item>, Problem> {
    let mut items = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let mut before = &rest[..open];
        if trim_next {
            before = before.trim_start();
        }
        let mut inner = &rest[open + 2..];
        let trim_before = inner.starts_with("- ") || inner.starts_with("-\t");
        if trim_before {
            before = before.trim_end();
            inner = &inner[1..];
        }
        if !before.is_empty() {
            items.push(Item::Text(before.to_string()));
        }
        let close = action_end(inner).ok_or_else(|| parse_error("unclosed action: no }}"))?;
        let mut body = &inner[..close];
        trim_next = body.ends_with(" -") || body.ends_with("\t-");
        if trim_next {
            body = &body[..body.len() - 1];
        }
        rest = &inner[close + 2..];
        let body = body.trim();
        if body.starts_with("/*") {
            if !body.ends_with("*/") {
                return Err(parse_error("unclosed comment"));
            }
            continue;
        }
        items.push(Item::Action(tokens(body)?));
    }
    let tail = if trim_next { rest.trim_start() } else { rest };
    if !tail.is_empty() {
        items.push(Item::Text(tail.to_string()));
    }
    Ok(items)
}

/// Where the action's `}}` is, skipping quoted strings.
fn action_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `.A.B.C` starting at a `.`: the names and the rest.
fn chain(s: &str) -> (Vec<String>, &str) {
    let mut names = Vec::new();
    let mut rest = s;
    while let Some(after) = rest.strip_prefix('.') {
        let len = after.find(|c| !is_word(c)).unwrap_or(after.len());
        if len == 0 {
            break;
        }
        names.push(after[..len].to_string());
        rest = &after[len..];
    }
    (names, rest)
}

pub fn tokens(body: &str) -> Result<Vec<Tok>, Problem> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut attached = false;
    loop {
        let trimmed = rest.trim_start();
        if trimmed.len() != rest.len() {
            attached = false;
        }
        rest = trimmed;
        let Some(c) = rest.chars().next() else {
            return Ok(out);
        };
        let (tok, after) = match c {
            '.' => match chain(rest) {
                (names, _) if names.is_empty() => (Tok::Dot, &rest[1..]),
                (names, after) => (Tok::Fields { names, attached }, after),
            },
            '$' => {
                let name_len = rest[1..].find(|c| !is_word(c)).unwrap_or(rest.len() - 1);
                let (fields, after) = chain(&rest[1 + name_len..]);
                let name = rest[1..1 + name_len].to_string();
                (Tok::Var { name, fields }, after)
            }
            '"' => quoted(rest)?,
            '`' => {
                let end = rest[1..]
                    .find('`')
                    .ok_or_else(|| parse_error("unclosed raw string"))?;
                (Tok::Str(rest[1..1 + end].to_string()), &rest[end + 2..])
            }
            '(' => (Tok::LParen, &rest[1..]),
            ')' => (Tok::RParen, &rest[1..]),
            '|' => (Tok::Pipe, &rest[1..]),
            ',' => (Tok::Comma, &rest[1..]),
            ':' if rest.starts_with(":=") => (Tok::Declare, &rest[2..]),
            '=' => (Tok::Assign, &rest[1..]),
            c if c.is_ascii_digit() || c == '-' || c == '+' => number(rest)?,
            c if is_word(c) => {
                let len = rest.find(|c| !is_word(c)).unwrap_or(rest.len());
                (Tok::Ident(rest[..len].to_string()), &rest[len..])
            }
            other => return Err(parse_error(format!("unexpected {other:?} in action"))),
        };
        attached = matches!(tok, Tok::RParen);
        out.push(tok);
        rest = after;
    }
}

fn quoted(s: &str) -> Result<(Tok, &str), Problem> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Tok::Str(out), &s[i + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some(other) => return Err(parse_error(format!("unknown escape \\{other}"))),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(parse_error("unterminated quoted string"))
}

fn number(s: &str) -> Result<(Tok, &str), Problem> {
    let len = s[1..]
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e'))
        .map_or(s.len(), |n| n + 1);
    let text = &s[..len];
    let value: serde_json::Value = text
        .trim_start_matches('+')
        .parse::<i64>()
        .map(Into::into)
        .or_else(|_| text.parse::<f64>().map(Into::into))
        .map_err(|_| parse_error(format!("bad number syntax: {text:?}")))?;
    match value {
        serde_json::Value::Number(n) => Ok((Tok::Num(n), &s[len..])),
        _ => Err(parse_error(format!("bad number syntax: {text:?}"))),
    }
}
