//! `.dockerignore` patterns (`*`, `?`, `**`, `!` exceptions; the last match
//! wins; a pattern matching a directory excludes what is under it) and the
//! glob matching COPY sources use. Pure but `read`.

/// Parsed `.dockerignore`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    patterns: Vec<(bool, Vec<String>)>,
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negate, p) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            let segs = clean(p);
            if !segs.is_empty() {
                patterns.push((negate, segs));
            }
        }
        Ignore { patterns }
    }

    /// Whether context-relative `path` is excluded.
    pub fn excluded(&self, path: &str) -> bool {
        let segs = clean(path);
        let mut out = false;
        for (negate, pat) in &self.patterns {
            // The pattern matches the path or one of its parent directories.
            let hit = (1..=segs.len()).any(|n| match_segments(pat, &segs[..n]));
            if hit {
                out = !negate;
            }
        }
        out
    }

    /// Whether some exception could re-include something under `dir`
    /// (so an excluded directory must still be walked).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|(n, _)| *n)
    }
}

/// Where a build's ignore file may be, first found wins: BuildKit's
/// `<Dockerfile>.dockerignore` next to the Dockerfile (it replaces the
/// context's, never merges with it), then the context's `.dockerignore`.
pub fn ignore_files(
    context: &std::path::Path,
    dockerfile: Option<&std::path::Path>,
) -> Vec<std::path::PathBuf> {
    let own = dockerfile.map(|d| {
        let mut name = d.as_os_str().to_owned();
        name.push(".dockerignore");
        std::path::PathBuf::from(name)
    });
    own.into_iter()
        .chain([context.join(".dockerignore")])
        .collect()
}

/// The first ignore file of `ignore_files` that exists, parsed.
pub fn read(context: &std::path::Path, dockerfile: Option<&std::path::Path>) -> Option<Ignore> {
    ignore_files(context, dockerfile)
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| Ignore::parse(&t))
}

/// The paths `parts` name, wildcards (in any segment) expanded against
/// `list(dir)`, a directory's entry names ("" is the root); sorted per
/// segment. A literal segment is kept as it is: callers check existence.
pub fn expand_parts(parts: &[String], list: &mut dyn FnMut(&str) -> Vec<String>) -> Vec<String> {
    let mut found = vec![String::new()];
    for part in parts {
        let mut next = Vec::new();
        for base in &found {
            if has_wildcards(part) {
                let mut names: Vec<String> =
                    list(base).into_iter().filter(|n| glob(part, n)).collect();
                names.sort();
                next.extend(names.into_iter().map(|n| join(base, &n)));
            } else {
                next.push(join(base, part));
            }
        }
        found = next;
    }
    found
}

fn join(base: &str, name: &str) -> String {
    match base.is_empty() {
        true => name.to_string(),
        false => format!("{base}/{name}"),
    }
}

/// Path segments with `.`, empty parts and leading `/` removed; `..`
/// goes up, never above the root.
pub fn segments(p: &str) -> Vec<String> {
    clean(p)
}

/// Path segments with `.`, empty parts and leading `/` removed.
fn clean(p: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in p.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s.to_string()),
        }
    }
    out
}

fn match_segments(pat: &[String], path: &[String]) -> bool {
    match pat.first() {
        None => path.is_empty(),
        Some(p) if p == "**" => (0..=path.len()).any(|k| match_segments(&pat[1..], &path[k..])),
        Some(p) => !path.is_empty() && glob(p, &path[0]) && match_segments(&pat[1..], &path[1..]),
    }
}

/// Whether `pattern` (`*`, `?`, `[...]`, `\` escapes) matches one name.
pub fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|k| glob_at(&p[1..], &n[k..])),
        Some('?') => !n.is_empty() && glob_at(&p[1..], &n[1..]),
        Some('[') => match p.iter().position(|&c| c == ']') {
            Some(end) if end > 1 && !n.is_empty() => {
                let class = &p[1..end];
                let (neg, class) = match class.first() {
                    Some('^') | Some('!') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= n[0] && n[0] <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == n[0];
                        i += 1;
                    }
                }
                hit != neg && glob_at(&p[end + 1..], &n[1..])
            }
            _ => !n.is_empty() && n[0] == '[' && glob_at(&p[1..], &n[1..]),
        },
        Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && glob_at(&p[2..], &n[1..]),
        Some(&c) => !n.is_empty() && n[0] == c && glob_at(&p[1..], &n[1..]),
    }
}

/// Whether a COPY source has wildcards.
pub fn has_wildcards(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_expand_in_any_segment() {
        let mut list = |dir: &str| -> Vec<String> {
            let names: &[&str] = match dir {
                "" => &["out", "src"],
                "out" => &["b.so", "a.so", "c.txt", "lib"],
                "out/lib" => &["x.so"],
                _ => &[],
            };
            names.iter().map(|n| n.to_string()).collect()
        };
        assert_eq!(
            expand_parts(&segments("/out/*.so"), &mut list),
            ["out/a.so", "out/b.so"]
        );
        assert_eq!(
            expand_parts(&segments("/*/lib/x.so"), &mut list),
            ["out/lib/x.so", "src/lib/x.so"]
        );
        assert!(expand_parts(&segments("/out/*.h"), &mut list).is_empty());
    }

    #[test]
    fn the_dockerfiles_own_ignore_file_comes_first() {
        let ctx = std::path::Path::new("/ctx");
        let df = std::path::Path::new("/ctx/docker/app.Dockerfile");
        assert_eq!(
            ignore_files(ctx, Some(df)),
            [
                std::path::PathBuf::from("/ctx/docker/app.Dockerfile.dockerignore"),
                ctx.join(".dockerignore")
            ]
        );
        assert_eq!(ignore_files(ctx, None), [ctx.join(".dockerignore")]);
    }

    #[test]
    fn globs() {
        assert!(glob("*.go", "main.go"));
        assert!(!glob("*.go", "main.rs"));
        assert!(glob("file?.txt", "file1.txt"));
        assert!(glob("[a-c]x", "bx"));
        assert!(!glob("[!a-c]x", "bx"));
        assert!(glob("a\\*", "a*"));
    }

    #[test]
    fn ignore_with_exceptions_and_double_star() {
        let ig = Ignore::parse("# comment\n*.md\n!README.md\n**/node_modules\n/tmp\nbuild/\n");
        assert!(ig.excluded("CHANGES.md"));
        assert!(!ig.excluded("README.md"));
        assert!(!ig.excluded("docs/x.md"));
        assert!(ig.excluded("a/b/node_modules/x.js"));
        assert!(ig.excluded("node_modules"));
        assert!(ig.excluded("tmp/file"));
        assert!(ig.excluded("build/out.bin"));
        assert!(!ig.excluded("src/main.go"));
        assert!(ig.has_exceptions());
    }

    #[test]
    fn last_match_wins() {
        let ig = Ignore::parse("!keep\n*\n");
        assert!(ig.excluded("keep"));
        let ig = Ignore::parse("*\n!keep\n");
        assert!(!ig.excluded("keep"));
        assert!(ig.excluded("other"));
    }
}
