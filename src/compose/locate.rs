//! Key paths (`services.web.ports[0]`) and finding their line in the YAML text.
//!
//! serde_norway's value tree keeps no positions, so errors find their line
//! by scanning the text: block mappings and sequences, indentation-aware.
//! Flow collections, anchors and merges are resolved to the nearest
//! enclosing key that appears in the text.

use std::fmt;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the document root to a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    pub fn key(&self, k: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(k.to_string()));
        KeyPath(segs)
    }

    pub fn index(&self, i: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(i));
        KeyPath(segs)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if n == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    no: usize,
    indent: usize,
    text: &'a str,
}

fn significant_lines(text: &str) -> Vec<Line<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let trimmed = raw.trim_start_matches(' ');
            let body = trimmed.trim_end();
            let skip = body.is_empty() || body.starts_with('#') || body == "---";
            (!skip).then_some(Line {
                no: i + 1,
                indent: raw.len() - trimmed.len(),
                text: body,
            })
        })
        .collect()
}

/// The text after `key:` if `text` starts a mapping entry for `key`.
fn entry_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let unquoted = [key.to_string(), format!("\"{key}\""), format!("'{key}'")];
    unquoted.iter().find_map(|k| {
        let rest = text.strip_prefix(k.as_str())?.trim_start_matches(' ');
        let after = rest.strip_prefix(':')?;
        (after.is_empty() || after.starts_with(' ')).then(|| after.trim_start())
    })
}

/// The lines nested under the entry at `lines[at]` (deeper, or a sequence
/// at the same indentation, which YAML allows under a mapping key).
fn children<'a>(lines: &[Line<'a>], at: usize) -> Vec<Line<'a>> {
    let indent = lines[at].indent;
    lines[at + 1..]
        .iter()
        .take_while(|l| l.indent > indent || (l.indent == indent && l.text.starts_with('-')))
        .copied()
        .collect()
}

fn find_key<'a>(block: &[Line<'a>], key: &str) -> Option<(usize, Vec<Line<'a>>)> {
    let indent = block.first()?.indent;
    let at = block
        .iter()
        .position(|l| l.indent == indent && entry_value(l.text, key).is_some())?;
    let inline = entry_value(block[at].text, key).unwrap_or("");
    let nested = if inline.is_empty() || inline.starts_with('&') {
        children(block, at)
    } else {
        Vec::new()
    };
    Some((block[at].no, nested))
}

fn find_index<'a>(block: &[Line<'a>], index: usize) -> Option<(usize, Vec<Line<'a>>)> {
    let indent = block.first()?.indent;
    let items: Vec<usize> = (0..block.len())
        .filter(|&i| block[i].indent == indent && block[i].text.starts_with('-'))
        .collect();
    let at = *items.get(index)?;
    let line = block[at];
    let rest = line.text[1..].trim_start_matches(' ');
    let mut nested = Vec::new();
    if !rest.is_empty() {
        // `- key: v` opens a mapping whose first key sits after the dash.
        nested.push(Line {
            no: line.no,
            indent: line.indent + (line.text.len() - rest.len()),
            text: rest,
        });
    }
    nested.extend(
        block[at + 1..]
            .iter()
            .take_while(|l| l.indent > indent)
            .copied(),
    );
    Some((line.no, nested))
}

/// The 1-based line of `path` in `text`, or of its deepest ancestor that
/// can be found; 1 when nothing matches.
pub fn line_of(text: &str, path: &KeyPath) -> usize {
    let mut block = significant_lines(text);
    let mut line = 1;
    for seg in &path.0 {
        let found = match seg {
            Seg::Key(k) => find_key(&block, k),
            Seg::Index(i) => find_index(&block, *i),
        };
        match found {
            Some((no, nested)) => {
                line = no;
                block = nested;
            }
            None => break,
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> KeyPath {
        let mut p = KeyPath::root();
        for part in s.split('.') {
            match part.parse::<usize>() {
                Ok(i) => p = p.index(i),
                Err(_) => p = p.key(part),
            }
        }
        p
    }

    const DOC: &str = "\
# a comment
name: demo
services:
  web:
    image: nginx   # trailing
    ports:
      - \"8080:80\"
      - target: 443
        published: 8443
    deploy:

      replicas: 3
  db:
    environment:
    - A=1
    - B=2
    command: |
      image: not-a-key
    healthcheck: {test: x}
volumes:
  data: {}
";

    #[test]
    fn finds_nested_keys_and_items() {
        assert_eq!(line_of(DOC, &path("name")), 2);
        assert_eq!(line_of(DOC, &path("services.web.image")), 5);
        assert_eq!(line_of(DOC, &path("services.web.ports.0")), 7);
        assert_eq!(line_of(DOC, &path("services.web.ports.1")), 8);
        assert_eq!(line_of(DOC, &path("services.web.ports.1.published")), 9);
        assert_eq!(line_of(DOC, &path("services.web.deploy.replicas")), 12);
        assert_eq!(line_of(DOC, &path("services.db.environment.1")), 16);
        assert_eq!(line_of(DOC, &path("volumes.data")), 21);
    }

    #[test]
    fn does_not_match_keys_inside_other_blocks_or_block_scalars() {
        // `image` exists only under web; db's block scalar must not count.
        assert_eq!(line_of(DOC, &path("services.db.image")), 13);
    }

    #[test]
    fn falls_back_to_the_deepest_ancestor() {
        assert_eq!(line_of(DOC, &path("services.db.healthcheck.test")), 19);
        assert_eq!(line_of(DOC, &path("services.nope.image")), 3);
        assert_eq!(line_of(DOC, &path("nothing")), 1);
    }

    #[test]
    fn quoted_keys_and_prefixes_are_distinguished() {
        let doc = "services:\n  web2:\n    x: 1\n  \"web\":\n    x: 2\n";
        assert_eq!(line_of(doc, &path("services.web.x")), 5);
        assert_eq!(line_of(doc, &path("services.web2.x")), 3);
    }

    #[test]
    fn displays_as_dotted_path() {
        assert_eq!(
            path("services.web.ports.1.target").to_string(),
            "services.web.ports[1].target"
        );
    }
}
