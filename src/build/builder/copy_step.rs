//! COPY and ADD steps: sources, destinations, owners, heredoc files.

use super::*;
use crate::build::fetch;

impl Builder<'_> {
    pub(super) fn copy(
        &mut self,
        s: &StageState,
        c: &Copy,
        add: bool,
        esc: char,
        done: &[(Option<String>, StageState)],
        (upper, work, merged): (&Path, &Path, &Path),
    ) -> Result<(), String> {
        // (--link only changes how BuildKit caches the layer, not its content.)
        let mut patterns = Vec::new();
        for e in &c.excludes {
            patterns.push(s.expand(e, esc)?);
        }
        let exclude = Ignore::parse(&patterns.join("\n"));
        let from = match &c.from {
            None => None,
            Some(f) => Some(self.source_stage(&s.expand(f, esc)?, done)?),
        };
        let dest = s.expand(&c.dest, esc)?;
        let workdir = s
            .image
            .config
            .working_dir
            .clone()
            .unwrap_or_else(|| "/".into());
        let dest_dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
        let dest_abs = config::join_workdir(Some(&workdir), &dest);
        let mut sources = Vec::new();
        let mut pivots = Vec::new();
        let mut fetched = Vec::new();
        let mut git = None;
        for src in &c.sources {
            let src = s.expand(src, esc)?;
            if add && fetch::is_git(&src) {
                git = Some(self.git_source(&src, c)?);
                continue;
            }
            if add && fetch::is_url(&src) {
                let checksum = c
                    .checksum
                    .as_deref()
                    .map(|c| s.expand(c, esc))
                    .transpose()?;
                let f = self.fetch(&src, checksum.as_deref())?;
                let path = match dest_dir {
                    true => format!("{}/{}", dest_abs.trim_end_matches('/'), f.name),
                    false => dest_abs.clone(),
                };
                fetched.push((path, f));
                continue;
            }
            match &from {
                None => sources.extend(match_sources(&self.req.context, &src, &self.ignore)?),
                Some(_) => sources.push(src.trim_start_matches('/').to_string()),
            }
            pivots.resize(sources.len(), pivot_of(&src));
        }
        if git.is_some() {
            if c.sources.len() > 1 {
                return Err("ADD of a git repository takes that one source".into());
            }
            sources.push(String::new());
            pivots.push(String::new());
        }
        // An --exclude'd source is not copied at all (by path or by name).
        let kept: Vec<(String, String)> = sources
            .into_iter()
            .zip(pivots)
            .filter(|(src, _)| {
                let name = src.rsplit('/').next().unwrap_or(src);
                src.is_empty() || !(exclude.excluded(src) || exclude.excluded(name))
            })
            .collect();
        let sources: Vec<String> = kept.iter().map(|(s, _)| s.clone()).collect();
        let multiple = sources.len() + fetched.len() > 1
            || c.sources
                .iter()
                .any(|s| has_wildcards(s) && !fetch::is_url(s));
        if multiple && !dest_dir {
            return Err("when using COPY with more than one source file, the destination must be a directory and end with a /".into());
        }
        let placements = kept
            .into_iter()
            .map(|(src, pivot)| {
                let path = self.req.context.join(&src);
                let extract = add && from.is_none() && !path.is_dir() && is_archive(&path);
                let (dest, keep) = match c.parents {
                    true => parents_dest(&dest_abs, &pivot, &src),
                    false => (dest_abs.clone(), false),
                };
                Placement {
                    source: src,
                    dest,
                    into_dir: dest_dir || c.parents,
                    extract,
                    dir_keeps_name: keep,
                }
            })
            .collect();
        let inline = heredoc_files(s, c, &dest_abs, dest_dir, esc);
        let owner = match &c.chown {
            None => (0, 0),
            Some(spec) => owner(&s.expand(spec, esc)?, &s.dirs)?,
        };
        let chmod = match &c.chmod {
            None => None,
            Some(m) => Some(crate::build::chmod::Chmod::parse(&s.expand(m, esc)?)?),
        };
        let mut layers = s.dirs.clone();
        layers.reverse();
        let empty = Ignore::default();
        let source_mount = merged.with_file_name("source");
        std::fs::create_dir_all(&source_mount).map_err(|e| e.to_string())?;
        let from_layers = from.map(|mut d| {
            d.reverse();
            d
        });
        let ignore = if from_layers.is_some() || git.is_some() {
            &empty
        } else {
            &self.ignore
        };
        let context = git.as_deref().unwrap_or(&self.req.context);
        let tick = crate::build::live::Live::ticker(self.live.as_ref());
        let job = CopyJob {
            context,
            fetched,
            placements,
            inline,
            owner,
            chmod,
            ignore,
            exclude: &exclude,
            from_layers: from_layers.as_deref(),
            source_mount: &source_mount,
            layers: &layers,
            upper,
            work,
            merged,
        };
        copy::run(&job, &tick)
    }

    /// `ADD` of a git repository: a `file://` one is cloned (when git is
    /// installed) into the step dir, its `.git` kept only on `--keep-git-dir`;
    /// remote ones get one clear error (builds have no credentials or ssh).
    fn git_source(&mut self, src: &str, c: &Copy) -> Result<PathBuf, String> {
        let (url, reference) = src
            .split_once('#')
            .map_or((src, None), |(u, r)| (u, Some(r)));
        if !url.starts_with("file://") {
            return Err(format!(
                "ADD {src}: rcorch clones only local git repositories (file://...); \
                 clone it into the build context and COPY it"
            ));
        }
        let dir = self.work.join(self.step.to_string()).join("git");
        let mut cmd = std::process::Command::new("git");
        cmd.args(["clone", "--quiet"]);
        if let Some(r) = reference.filter(|r| !r.is_empty()) {
            cmd.args(["--branch", r]);
        }
        let out = cmd
            .arg(url)
            .arg(&dir)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("ADD {src}: cannot run git ({e}): install git"))?;
        if !out.status.success() {
            return Err(format!(
                "ADD {src}: git clone failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        if !c.keep_git_dir {
            std::fs::remove_dir_all(dir.join(".git")).map_err(|e| e.to_string())?;
        }
        Ok(dir)
    }

    /// `--from=`: an earlier stage by name or index, else an image in the store.
    pub(super) fn source_stage(
        &self,
        from: &str,
        done: &[(Option<String>, StageState)],
    ) -> Result<Vec<PathBuf>, String> {
        let lower = from.to_ascii_lowercase();
        if let Some((_, s)) = done.iter().find(|(n, _)| n.as_deref() == Some(&lower)) {
            return Ok(s.dirs.clone());
        }
        if let Ok(n) = from.parse::<usize>() {
            return done
                .get(n)
                .map(|(_, s)| s.dirs.clone())
                .ok_or_else(|| format!("--from={from}: no stage {n} before this one"));
        }
        let store = self.instance.images().map_err(|e| e.to_string())?;
        let record = store
            .resolve(from)
            .map_err(|e| format!("--from={from}: not a stage of this file, and {e}"))?;
        let mut dirs = store.layer_dirs(&record);
        dirs.reverse();
        Ok(dirs)
    }
}

/// COPY heredocs as (path, content): expanded unless the delimiter was quoted.
pub(super) fn heredoc_files(
    s: &StageState,
    c: &Copy,
    dest_abs: &str,
    dest_dir: bool,
    esc: char,
) -> Vec<(String, String)> {
    let content = |h: &dockerfile::Heredoc| {
        if !h.expand {
            return h.content.clone();
        }
        let quoted = format!("\"{}\"", h.content.replace('"', "\\\""));
        s.expand(&quoted, esc).unwrap_or_else(|_| h.content.clone())
    };
    if c.heredocs.len() == 1 && !dest_dir {
        return vec![(dest_abs.to_string(), content(&c.heredocs[0]))];
    }
    c.heredocs
        .iter()
        .map(|h| {
            (
                format!("{}/{}", dest_abs.trim_end_matches('/'), h.name),
                content(h),
            )
        })
        .collect()
}

/// `--parents`: the part of a source before a `/./` pivot (normalised),
/// which the destination does not repeat.
fn pivot_of(src: &str) -> String {
    let src = src.trim_start_matches('/');
    let src = src.strip_prefix("./").unwrap_or(src);
    match src.split_once("/./") {
        Some((before, _)) => before
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect::<Vec<_>>()
            .join("/"),
        None => String::new(),
    }
}

/// `--parents`: where a matched source lands — its path after the pivot,
/// kept under `dest`; returns (dest, whether a dir keeps its name).
fn parents_dest(dest: &str, pivot: &str, src: &str) -> (String, bool) {
    let rel = match pivot {
        "" => src,
        p => src
            .strip_prefix(p)
            .map(|r| r.trim_start_matches('/'))
            .unwrap_or(src),
    };
    if rel.is_empty() {
        return (dest.to_string(), false);
    }
    let parent = rel.rsplit_once('/').map_or("", |(p, _)| p);
    let base = dest.trim_end_matches('/');
    match parent {
        "" => (format!("{base}/"), true),
        p => (format!("{base}/{p}"), true),
    }
}

fn is_archive(path: &Path) -> bool {
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    (n >= 2 && head[..2] == [0x1f, 0x8b]) || (n >= 262 && &head[257..262] == b"ustar")
}

/// Context-relative sources a COPY source names (wildcards expanded).
pub fn match_sources(context: &Path, src: &str, ignore: &Ignore) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    for p in src.split('/') {
        match p {
            "" | "." => {}
            ".." if parts.pop().is_none() => {
                return Err(format!(
                    "{src}: outside the build context (COPY cannot read '..' above it)"
                ))
            }
            ".." => {}
            p => parts.push(p.to_string()),
        }
    }
    let mut list = |dir: &str| -> Vec<String> {
        let entries = std::fs::read_dir(context.join(dir)).into_iter().flatten();
        let names = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned());
        names.collect()
    };
    let mut found = crate::build::ignore::expand_parts(&parts, &mut list);
    found.retain(|p| p.is_empty() || !ignore.excluded(p));
    found.retain(|p| context.join(p).symlink_metadata().is_ok());
    if found.is_empty() {
        return Err(format!(
            "{src}: not found in the build context (or excluded by .dockerignore)"
        ));
    }
    Ok(found)
}

/// `--chown=USER[:GROUP]` with names looked up in the stage's files.
pub(super) fn owner(spec: &str, dirs: &[PathBuf]) -> Result<(u32, u32), String> {
    let mut top: Vec<PathBuf> = dirs.to_vec();
    top.reverse();
    let read = |f: &str| {
        crate::container::build::find_in_layers(&top, Path::new(f))
            .and_then(|p| std::fs::read_to_string(p).ok())
    };
    let user = crate::container::build::parse_user(
        spec,
        read("etc/passwd").as_deref(),
        read("etc/group").as_deref(),
    )
    .map_err(|e| format!("--chown={spec}: {e}"))?;
    Ok((user.uid, user.gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_keep_the_path_after_the_pivot() {
        assert_eq!(pivot_of("./x/a.txt"), "");
        assert_eq!(pivot_of("./x/./y/*.txt"), "x");
        assert_eq!(pivot_of("/a/b/./c"), "a/b");
        assert_eq!(
            parents_dest("/dest/", "", "x/a.txt"),
            ("/dest/x".into(), true)
        );
        assert_eq!(parents_dest("/dest", "", "top"), ("/dest/".into(), true));
        assert_eq!(
            parents_dest("/dest/", "x", "x/y/a.txt"),
            ("/dest/y".into(), true)
        );
        assert_eq!(parents_dest("/dest/", "", ""), ("/dest/".into(), false));
    }
}
