//! `diff` and `top`: what a container changed in its filesystem (read
//! from its overlay upper directory) and which host processes are its.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// One line of `docker diff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(PathBuf),
    Changed(PathBuf),
    Deleted(PathBuf),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(p) => write!(f, "A {}", p.display()),
            Change::Changed(p) => write!(f, "C {}", p.display()),
            Change::Deleted(p) => write!(f, "D {}", p.display()),
        }
    }
}

/// Overlay's whiteout: a 0:0 character device (or an AUFS-style `.wh.`
/// name, as image layers carry them).
fn whiteout(path: &Path, name: &str) -> Option<String> {
    if let Some(hidden) = name.strip_prefix(".wh.") {
        return Some(hidden.to_string());
    }
    let meta = fs::symlink_metadata(path).ok()?;
    (meta.file_type().is_char_device() && meta.rdev() == 0).then(|| name.to_string())
}

/// The changes in `upper` against the image's `lowers`, sorted by path:
/// an entry absent below is added, one present below is changed, a
/// whiteout is a deletion.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> std::io::Result<Vec<Change>> {
    let mut out = Vec::new();
    walk(upper, Path::new("/"), lowers, &mut out)?;
    out.sort_by(|a, b| path_of(a).cmp(path_of(b)));
    Ok(out)
}

fn path_of(c: &Change) -> &Path {
    match c {
        Change::Added(p) | Change::Changed(p) | Change::Deleted(p) => p,
    }
}

fn walk(
    dir: &Path,
    inside: &Path,
    lowers: &[PathBuf],
    out: &mut Vec<Change>,
) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let host = entry.path();
        if let Some(hidden) = whiteout(&host, &name) {
            out.push(Change::Deleted(inside.join(hidden)));
            continue;
        }
        let path = inside.join(&name);
        let relative = path.strip_prefix("/").unwrap_or(&path);
        let below = lowers
            .iter()
            .any(|l| fs::symlink_metadata(l.join(relative)).is_ok());
        out.push(if below {
            Change::Changed(path.clone())
        } else {
            Change::Added(path.clone())
        });
        if entry.file_type()?.is_dir() {
            walk(&host, &path, lowers, out)?;
        }
    }
    Ok(())
}

/// Keeps the header and the lines of `ps` output whose PID column is one
/// of `pids` (Docker's `top` runs the host's `ps` the same way).
pub fn ps_lines_of(ps_output: &str, pids: &[i32]) -> Result<String, String> {
    let mut lines = ps_output.lines();
    let header = lines.next().ok_or("ps printed nothing")?;
    let column = header
        .split_whitespace()
        .position(|c| c == "PID")
        .ok_or_else(|| {
            format!("ps output has no PID column: {header:?}; give ps options that print it")
        })?;
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(column)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_entries_are_added_changed_or_deleted() {
        let tmp = tempfile::tempdir().unwrap();
        let (upper, lower) = (tmp.path().join("upper"), tmp.path().join("lower"));
        for d in ["etc", "bin"] {
            fs::create_dir_all(lower.join(d)).unwrap();
        }
        fs::write(lower.join("etc/passwd"), "x").unwrap();
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::write(upper.join("etc/passwd"), "y").unwrap();
        fs::write(upper.join("etc/new"), "n").unwrap();
        fs::create_dir_all(upper.join("bin")).unwrap();
        fs::write(upper.join("bin/.wh.vi"), "").unwrap();
        let lines: Vec<String> = changes(&upper, &[lower])
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "C /bin",
                "D /bin/vi",
                "C /etc",
                "A /etc/new",
                "C /etc/passwd"
            ]
        );
    }

    #[test]
    fn top_keeps_the_containers_processes() {
        let ps = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 42 sh\n";
        assert_eq!(
            ps_lines_of(ps, &[42, 43]).unwrap(),
            "UID PID PPID CMD\nroot 42 1 sleep\nroot 43 42 sh\n"
        );
        assert!(ps_lines_of("USER COMMAND\nroot x\n", &[1])
            .unwrap_err()
            .contains("PID column"));
    }
}
