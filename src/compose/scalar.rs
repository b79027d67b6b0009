//! Small pure parsers for compose scalars: durations, byte sizes, shell
//! words and project names.

use std::time::Duration;

/// Parses a Go-style duration as compose writes them: "1m30s", "10s".
pub fn parse_duration(s: &str) -> Option<Duration> {
    crate::util::time::parse_go_duration(s)
}

/// Formats a duration the way compose prints them: "1m30s", "500ms", "0s".
pub fn format_duration(d: Duration) -> String {
    let ms_total = d.as_millis();
    if ms_total == 0 && d.as_nanos() > 0 {
        return format!("{}us", d.as_micros());
    }
    let (h, rem) = (ms_total / 3_600_000, ms_total % 3_600_000);
    let (m, rem) = (rem / 60_000, rem % 60_000);
    let (s, ms) = (rem / 1000, rem % 1000);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || (ms == 0 && out.is_empty()) {
        out.push_str(&format!("{s}s"));
    }
    if ms > 0 {
        out.push_str(&format!("{ms}ms"));
    }
    out
}

/// Parses a byte size as Docker does (binary units): "512m", "1g", "64MB",
/// "1.5g", "1024".
pub fn parse_bytes(s: &str) -> Option<u64> {
    let lower = s.trim().to_ascii_lowercase();
    let num_len = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let number: f64 = lower[..num_len].parse().ok()?;
    let scale: u64 = match lower[num_len..].trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    Some((number * scale as f64) as u64)
}

/// Splits a command string into words as a POSIX shell would, without any
/// expansion: quotes group, backslash escapes. None on an unterminated quote.
pub fn shell_split(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => word.push(c),
                            '\n' => {}
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => word.push(c),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// A project name from a directory name, as compose normalises it:
/// lowercase, only `[a-z0-9_-]`, no leading `_` or `-`.
pub fn normalize_project_name(dir_name: &str) -> String {
    let kept: String = dir_name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

/// Whether an explicit project name (top-level `name`, `-p`) is valid.
pub fn valid_project_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s| parse_duration(s);
        assert_eq!(d("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(d("10s"), Some(Duration::from_secs(10)));
        assert_eq!(d("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(d("1h2m3s4ms"), Some(Duration::from_millis(3_723_004)));
        assert_eq!(d("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(d("0"), Some(Duration::ZERO));
        assert_eq!(d("2us"), Some(Duration::from_micros(2)));
        for bad in ["", "10", "s", "1x", "1m30", "-1s", "ten s"] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_format_back() {
        for s in ["1m30s", "10s", "500ms", "1h", "0s", "1h0m5s", "1s500ms"] {
            let back = format_duration(parse_duration(s).unwrap());
            assert_eq!(parse_duration(&back), parse_duration(s), "{s} -> {back}");
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("1G"), Some(1 << 30));
        assert_eq!(parse_bytes("64MB"), Some(64 << 20));
        assert_eq!(parse_bytes("1.5g"), Some(3 << 29));
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("12q"), None);
        assert_eq!(parse_bytes("m"), None);
    }

    #[test]
    fn shell_words() {
        let w = |s| shell_split(s).unwrap();
        assert_eq!(w("echo hi  there"), ["echo", "hi", "there"]);
        assert_eq!(
            w(r#"sh -c 'echo $X "q"' "a \"b\" \n" c\ d"#),
            ["sh", "-c", "echo $X \"q\"", "a \"b\" \\n", "c d"]
        );
        assert_eq!(w("''"), [""]);
        assert!(w("  ").is_empty());
        assert_eq!(shell_split("echo 'open"), None);
        assert_eq!(shell_split("echo \"open"), None);
    }

    #[test]
    fn project_names() {
        assert_eq!(normalize_project_name("My App.v2"), "myappv2");
        assert_eq!(normalize_project_name("_-x_y"), "x_y");
        assert!(valid_project_name("web-1_a"));
        assert!(!valid_project_name("Web"));
        assert!(!valid_project_name("-web"));
        assert!(!valid_project_name(""));
    }
}
