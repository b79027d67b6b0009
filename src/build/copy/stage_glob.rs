//! `COPY --from=STAGE` sources with wildcards (`/out/*.so`), expanded in
//! the copy child against the source stage's root, read through its fd
//! (symlinks resolve inside the stage), as BuildKit does.

use std::os::fd::{AsRawFd, RawFd};

use super::{open_in_root, Placement};
use crate::build::ignore::{expand_parts, has_wildcards, segments, Ignore};

/// Each placement whose source has wildcards becomes one per match (the
/// `--exclude`d left out); none matching is an error naming the source.
pub(super) fn expand(
    root: RawFd,
    placements: &[Placement],
    exclude: &Ignore,
) -> Result<Vec<Placement>, String> {
    let mut out = Vec::new();
    for p in placements {
        if !has_wildcards(&p.source) {
            out.push(p.clone());
            continue;
        }
        let mut list = |dir: &str| names(root, dir);
        let found: Vec<String> = expand_parts(&segments(&p.source), &mut list)
            .into_iter()
            .filter(|f| {
                let name = f.rsplit('/').next().unwrap_or(f);
                !(exclude.excluded(f) || exclude.excluded(name))
            })
            .filter(|f| open_in_root(root, f).is_ok())
            .collect();
        if found.is_empty() {
            let shown = p.source.trim_start_matches('/');
            return Err(format!("/{shown}: not found in the source stage"));
        }
        out.extend(found.into_iter().map(|source| Placement {
            source,
            ..p.clone()
        }));
    }
    Ok(out)
}

/// The entry names of `dir` in the stage (none if it is not a directory).
fn names(root: RawFd, dir: &str) -> Vec<String> {
    let Ok(fd) = open_in_root(root, dir) else {
        return Vec::new();
    };
    let Ok(mut d) = nix::dir::Dir::from_fd(fd.as_raw_fd()) else {
        return Vec::new();
    };
    std::mem::forget(fd); // Dir owns the fd now
    d.iter()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "." && n != "..")
        .collect()
}
