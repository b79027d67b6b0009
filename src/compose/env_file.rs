//! `.env` and `env_file` parsing (pure), and the environment interpolation reads.
//!
//! Lines are `KEY=VALUE`, optionally prefixed by `export `; `#` starts a
//! comment line, or an inline comment after an unquoted value. Single quotes
//! are literal; double quotes understand `\n`, `\t`, `\"` and `\\`.
//! `KEY` alone means "take it from the environment".

use std::path::Path;

use super::error::ComposeError;
use super::interpolate::{interpolate, Env};

/// One variable from an env file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvEntry {
    pub key: String,
    /// None for a bare `KEY`.
    pub value: Option<String>,
    /// Single-quoted values are taken literally by interpolation.
    pub literal: bool,
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.contains(char::is_whitespace)
        && !key.starts_with(|c: char| c.is_ascii_digit())
}

fn unquote_double(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other @ ('"' | '\\' | '$')) => {
                // Keep `\$` escaped for interpolation as `$$`.
                if other == '$' {
                    out.push('$');
                }
                out.push(other);
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Parses a value after `=`: returns (value, literal) or None if a quote is unterminated.
fn parse_value(raw: &str) -> Option<(String, bool)> {
    let raw = raw.trim();
    if let Some(rest) = raw.strip_prefix('\'') {
        let end = rest.find('\'')?;
        return Some((rest[..end].to_string(), true));
    }
    if let Some(rest) = raw.strip_prefix('"') {
        let bytes = rest.as_bytes();
        let mut j = 0;
        while j < bytes.len() {
            match bytes[j] {
                b'\\' => j += 2,
                b'"' => return Some((unquote_double(&rest[..j]), false)),
                _ => j += 1,
            }
        }
        return None;
    }
    let value = match raw.find(" #") {
        Some(j) => &raw[..j],
        None => raw,
    };
    Some((value.trim_end().to_string(), false))
}

/// Parses env-file text; `file` only names the file in errors.
pub fn parse(text: &str, file: &Path) -> Result<Vec<EnvEntry>, ComposeError> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.contains('\0') {
            return Err(ComposeError::EnvNul {
                file: file.to_path_buf(),
                line: n + 1,
            });
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let body = trimmed.strip_prefix("export ").unwrap_or(trimmed);
        let bad = || ComposeError::EnvLine {
            file: file.to_path_buf(),
            line: n + 1,
            text: line.to_string(),
        };
        let (key, value) = match body.split_once('=') {
            Some((k, v)) => (k.trim(), Some(parse_value(v).ok_or_else(bad)?)),
            None => (body, None),
        };
        if !valid_key(key) {
            return Err(bad());
        }
        entries.push(EnvEntry {
            key: key.to_string(),
            literal: value.as_ref().is_some_and(|v| v.1),
            value: value.map(|v| v.0),
        });
    }
    Ok(entries)
}

/// Resolves entries to values: bare keys look `lookup` up (and are dropped if
/// absent); unquoted and double-quoted values are interpolated against the
/// entries before them, then `lookup`.
pub fn resolve(entries: &[EnvEntry], lookup: &Env) -> Env {
    let mut out = Env::new();
    for entry in entries {
        let value = match &entry.value {
            None => lookup.get(&entry.key).cloned(),
            Some(v) if entry.literal => Some(v.clone()),
            Some(v) => {
                let mut scope = lookup.clone();
                scope.extend(out.clone());
                // A malformed `$` keeps the raw text, as compose is lenient here.
                Some(interpolate(v, &scope).map_or_else(|_| v.clone(), |r| r.value))
            }
        };
        if let Some(v) = value {
            out.insert(entry.key.clone(), v);
        }
    }
    out
}

/// The environment for interpolation: the `.env` file's variables, overridden
/// by the process environment (as docker compose does).
pub fn interpolation_env(
    process: impl IntoIterator<Item = (String, String)>,
    dotenv: Option<(&str, &Path)>,
) -> Result<Env, ComposeError> {
    let process: Env = process.into_iter().collect();
    let mut env = match dotenv {
        Some((text, file)) => resolve(&parse(text, file)?, &process),
        None => Env::new(),
    };
    env.extend(process);
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Vec<EnvEntry> {
        parse(text, Path::new(".env")).unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_forms() {
        let text = "# c\n\nA=1\nexport B = two words \nC='lit $X # no'\nD=\"q \\\"x\\\"\\n\"\nE=v # comment\nF\nG=\n";
        let r = resolve(&p(text), &env(&[("F", "from-env"), ("X", "x")]));
        assert_eq!(r["A"], "1");
        assert_eq!(r["B"], "two words");
        assert_eq!(r["C"], "lit $X # no");
        assert_eq!(r["D"], "q \"x\"\n");
        assert_eq!(r["E"], "v");
        assert_eq!(r["F"], "from-env");
        assert_eq!(r["G"], "");
    }

    #[test]
    fn a_nul_byte_is_an_error_naming_file_and_line() {
        let e = parse("A=1\nB=x\0y\n", Path::new("/app/vars.env")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/app/vars.env:2: NUL byte in an env line; environment variables cannot contain NUL, remove it"
        );
    }

    #[test]
    fn bare_key_absent_from_env_is_dropped() {
        assert!(!resolve(&p("F\n"), &Env::new()).contains_key("F"));
    }

    #[test]
    fn values_interpolate_earlier_entries() {
        let r = resolve(
            &p("A=1\nB=${A}-$HOME\nC=\"\\$A\"\n"),
            &env(&[("HOME", "/h")]),
        );
        assert_eq!(r["B"], "1-/h");
        assert_eq!(r["C"], "$A");
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("A=1\nnot a key=2\n", Path::new("x.env")).unwrap_err();
        assert!(
            matches!(err, ComposeError::EnvLine { line: 2, .. }),
            "{err}"
        );
        let err = parse("A=\"open\n", Path::new("x.env")).unwrap_err();
        assert!(err.to_string().starts_with("x.env:1:"), "{err}");
    }

    #[test]
    fn process_env_wins_over_dotenv() {
        let e = interpolation_env(
            [("A".to_string(), "proc".to_string())],
            Some(("A=file\nB=file\n", Path::new(".env"))),
        )
        .unwrap();
        assert_eq!(e["A"], "proc");
        assert_eq!(e["B"], "file");
    }
}
