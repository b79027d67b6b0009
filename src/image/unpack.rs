//! Safe, entry-by-entry unpacking of one image layer into its own directory.
//!
//! Nothing is ever created or changed outside the target: entry paths are
//! normalised (leading `/` and `.` dropped, `..` that would escape rejected)
//! and resolved with [`fsat::Walker`], which refuses symlinked parents. OCI
//! whiteouts become overlayfs whiteouts so the directory can be used as an
//! overlay lower dir.

use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use nix::errno::Errno;

use super::fsat::{WalkError, Walker};
use super::unpack_entry::{unpack_entry, Ctx};
use super::unpack_meta::finish_dirs;
pub use super::whiteout::{classify_whiteout, Whiteout};

const BUF_SIZE: usize = 1 << 20;

/// Counters describing what an unpack did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UnpackStats {
    pub entries: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    pub fifos: u64,
    /// Bytes of regular file content written.
    pub bytes: u64,
    /// Character and block devices, which are never created.
    pub devices_skipped: u64,
    pub whiteouts: u64,
    pub opaque_dirs: u64,
    /// Extended attributes set from PAX headers (root only).
    pub xattrs: u64,
    /// Whiteouts/opaque markers that need root (mknod, trusted xattrs) and were skipped.
    pub unprivileged_skipped: u64,
    /// Entries of other types (and AUFS `.wh..wh.` metadata), ignored.
    pub other_skipped: u64,
}

/// A tar reader's error as one line: the tar crate quotes a bad header's
/// raw bytes (the start of whatever file it was given) in its message.
pub fn tar_reason(e: &io::Error) -> String {
    let text = e.to_string();
    if text.contains("when getting cksum") || text.contains("numeric field was not a number") {
        return "not a tar stream (a header is not valid tar)".to_string();
    }
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(200).collect()
}

/// Why a layer could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The archive is truncated or not a valid (gzip) tar stream.
    #[error("corrupt or truncated layer archive: {}", tar_reason(.source))]
    Corrupt { source: io::Error },
    /// The archive uses a compression this store cannot read.
    #[error("unsupported layer compression: {format}")]
    UnsupportedCompression { format: &'static str },
    /// The unpack target directory could not be opened.
    #[error("cannot open unpack target {path}: {source}")]
    OpenTarget { path: PathBuf, source: Errno },
    /// An entry path climbs out of the layer root with `..`.
    #[error("layer entry {path:?} escapes the layer root")]
    Escape { path: String },
    /// A parent directory of an entry is a symlink or a non-directory.
    #[error("layer entry {path:?}: parent {component:?} is a symlink or not a directory")]
    UnsafeParent { path: String, component: String },
    /// A hard link points outside the layer or at nothing.
    #[error("layer entry {path:?}: hard link target {target:?} is not inside the layer")]
    BadHardlink { path: String, target: String },
    /// A link entry carries no link name.
    #[error("layer entry {path:?} has no link target")]
    MissingLinkName { path: String },
    /// A whiteout names nothing usable (`.wh.`, `.wh..`).
    #[error("layer entry {path:?} is an invalid whiteout")]
    BadWhiteout { path: String },
    /// A filesystem operation failed.
    #[error("layer entry {path:?}: {op} failed: {source}")]
    Fs {
        op: &'static str,
        path: String,
        source: Errno,
    },
    /// Writing file content failed.
    #[error("layer entry {path:?}: write failed: {source}")]
    Write { path: String, source: io::Error },
}

/// Why an archive path was rejected by [`normalize_path`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscapesRoot;

/// Splits an archive path into components relative to the layer root:
/// empty and `.` components vanish (so `/abs` and `./x` are clamped into the
/// root), `..` pops a component and is rejected if nothing is left to pop.
/// `out` receives byte ranges into `path`; it is reused to avoid allocation.
pub fn normalize_path(path: &[u8], out: &mut Vec<Range<usize>>) -> Result<(), EscapesRoot> {
    out.clear();
    let mut start = 0;
    for part in path.split(|&b| b == b'/') {
        let range = start..start + part.len();
        start += part.len() + 1;
        match part {
            b"" | b"." => {}
            b".." => {
                out.pop().ok_or(EscapesRoot)?;
            }
            _ => out.push(range),
        }
    }
    Ok(())
}

/// Wraps `reader` in a gzip decoder if it starts with the gzip magic.
pub fn decompress<'a, R: Read + 'a>(reader: R) -> Result<Box<dyn Read + 'a>, UnpackError> {
    let mut buffered = BufReader::with_capacity(BUF_SIZE, reader);
    let head = buffered
        .fill_buf()
        .map_err(|source| UnpackError::Corrupt { source })?;
    let format = if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd")
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz")
    } else if head.starts_with(b"BZh") {
        Some("bzip2")
    } else {
        None
    };
    if let Some(format) = format {
        return Err(UnpackError::UnsupportedCompression { format });
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        let gz = MultiGzDecoder::new(buffered);
        return Ok(Box::new(BufReader::with_capacity(BUF_SIZE, gz)));
    }
    Ok(Box::new(buffered))
}

/// Unpacks a (plain or gzip) layer tar into `target`, which must exist.
///
/// Also reads the stream to its end so trailing corruption is reported.
pub fn unpack_layer(reader: impl Read, target: &Path) -> Result<UnpackStats, UnpackError> {
    let walker = Walker::open(target).map_err(|source| UnpackError::OpenTarget {
        path: target.to_path_buf(),
        source,
    })?;
    let mut ctx = Ctx::new(walker, nix::unistd::geteuid().is_root(), BUF_SIZE);
    let mut archive = tar::Archive::new(decompress(reader)?);
    let entries = archive
        .entries()
        .map_err(|source| UnpackError::Corrupt { source })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| UnpackError::Corrupt { source })?;
        ctx.stats.entries += 1;
        unpack_entry(&mut ctx, &mut entry)?;
    }
    io::copy(&mut archive.into_inner(), &mut io::sink())
        .map_err(|source| UnpackError::Corrupt { source })?;
    finish_dirs(&mut ctx)?;
    Ok(ctx.stats)
}

/// Maps a walk failure on `path` (split by `ranges`) to an error.
pub(super) fn walk_error(path: &[u8], ranges: &[Range<usize>], err: WalkError) -> UnpackError {
    let shown = String::from_utf8_lossy(path).into_owned();
    let component =
        |depth: usize| String::from_utf8_lossy(&path[ranges[depth].clone()]).into_owned();
    match err {
        WalkError::NotDir { depth } | WalkError::Missing { depth } => UnpackError::UnsafeParent {
            path: shown,
            component: component(depth),
        },
        WalkError::Sys { errno } => UnpackError::Fs {
            op: "open parent directory",
            path: shown,
            source: errno,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(p: &str) -> Result<Vec<String>, EscapesRoot> {
        let mut out = Vec::new();
        normalize_path(p.as_bytes(), &mut out)?;
        Ok(out.into_iter().map(|r| p[r].to_string()).collect())
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(norm("a/b/c").unwrap(), ["a", "b", "c"]);
        assert_eq!(norm("./a//b/").unwrap(), ["a", "b"]);
        assert_eq!(norm("/abs/evil").unwrap(), ["abs", "evil"]);
        assert_eq!(norm("a/../b").unwrap(), ["b"]);
        assert_eq!(norm("./").unwrap(), Vec::<String>::new());
        assert_eq!(norm("../evil"), Err(EscapesRoot));
        assert_eq!(norm("/../evil"), Err(EscapesRoot));
        assert_eq!(norm("a/../../evil"), Err(EscapesRoot));
        assert_eq!(norm("a/..x").unwrap(), ["a", "..x"]);
    }
}
