//! The build cache: a step's key (its parent's key, the instruction, the
//! stage's config and args in scope, and a digest of the files it copies)
//! maps to the layer it made. Layers stay in the image store; an entry whose
//! layer is gone is a miss. Lives in `<root>/build-cache.json`; writers
//! take `<root>/build-cache.lock` and merge into what is on disk, so
//! concurrent builds never drop each other's entries.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::image::sha256::{digest_hex, Sha256};

use super::ignore::Ignore;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct CacheIndex {
    /// Step key -> layer digest.
    pub steps: BTreeMap<String, String>,
}

pub fn path(root: &Path) -> PathBuf {
    root.join("build-cache.json")
}

pub fn load(root: &Path) -> CacheIndex {
    fs::read(path(root))
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or_default()
}

/// Holds the index's lock (blocking) until dropped.
pub fn lock(root: &Path) -> std::io::Result<nix::fcntl::Flock<fs::File>> {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join("build-cache.lock"))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| std::io::Error::from(e))
}

/// Records one entry, merged under the lock into the index on disk.
pub fn insert(root: &Path, key: &str, value: &str) -> std::io::Result<()> {
    let _lock = lock(root)?;
    let mut index = load(root);
    index.steps.insert(key.to_string(), value.to_string());
    save(root, &index)
}

/// Written to a temp file and renamed, so a crash never leaves half a file
/// (callers hold `lock`).
pub fn save(root: &Path, index: &CacheIndex) -> std::io::Result<()> {
    let tmp = root.join(format!(".build-cache.json.{}", std::process::id()));
    fs::write(&tmp, serde_json::to_vec(index).expect("index serialises"))?;
    fs::rename(&tmp, path(root))
}

/// The key after one more instruction.
pub fn next_key(parent: &str, parts: &[&str]) -> String {
    let mut text = parent.to_string();
    for p in parts {
        text.push('\n');
        text.push_str(&p.len().to_string());
        text.push(':');
        text.push_str(p);
    }
    digest_hex(text.as_bytes())
}

/// Digest of context sources: names, types, modes, sizes, contents and link
/// targets, never following a symlink (so nothing outside is read).
pub fn hash_sources(context: &Path, sources: &[String], ignore: &Ignore) -> String {
    hash_sources_ticking(context, sources, ignore, &|| {})
}

/// `hash_sources`, calling `tick` after each MiB read (a build's clock).
pub fn hash_sources_ticking(
    context: &Path,
    sources: &[String],
    ignore: &Ignore,
    tick: &dyn Fn(),
) -> String {
    let mut h = Sha256::new();
    for s in sources {
        hash_path(&mut h, context, s, ignore, tick);
    }
    h.finalize_hex()
}

/// Feeds the file at `path` to `h` a MiB at a time (a big file is never
/// read into memory whole).
fn hash_file(h: &mut Sha256, path: &Path, tick: &dyn Fn()) {
    let Ok(mut file) = fs::File::open(path) else {
        return;
    };
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match std::io::Read::read(&mut file, &mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
        tick();
    }
}

fn hash_path(h: &mut Sha256, context: &Path, rel: &str, ignore: &Ignore, tick: &dyn Fn()) {
    let path = context.join(rel);
    let Ok(meta) = fs::symlink_metadata(&path) else {
        h.update(format!("missing {rel}\n").as_bytes());
        return;
    };
    // Not the mtime: a fresh checkout of the same files is a hit, as in BuildKit.
    h.update(format!("{rel}\0{:o}\0{}\0", meta.mode(), meta.len()).as_bytes());
    if meta.file_type().is_symlink() {
        if let Ok(t) = fs::read_link(&path) {
            h.update(t.to_string_lossy().as_bytes());
        }
    } else if meta.is_file() {
        hash_file(h, &path, tick);
    } else if meta.is_dir() {
        let mut names: Vec<String> = fs::read_dir(&path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let sub = if rel.is_empty() {
                n
            } else {
                format!("{rel}/{n}")
            };
            if ignore.excluded(&sub) && !ignore.has_exceptions() {
                continue;
            }
            hash_path(h, context, &sub, ignore, tick);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writers_keep_every_entry() {
        let root = tempfile::tempdir().unwrap();
        // Both start from the same (empty) index, as two builds would.
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let root = root.path().to_path_buf();
                std::thread::spawn(move || {
                    for n in 0..40 {
                        insert(&root, &format!("w{w}-{n}"), "sha256:x").unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(load(root.path()).steps.len(), 80);
    }

    #[test]
    fn keys_chain_and_separate_parts() {
        assert_ne!(next_key("a", &["bc"]), next_key("a", &["b", "c"]));
        assert_eq!(next_key("a", &["x"]), next_key("a", &["x"]));
        assert_ne!(next_key("a", &["x"]), next_key("b", &["x"]));
    }

    #[test]
    fn source_hash_follows_content_and_ignores() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("d")).unwrap();
        fs::write(dir.path().join("d/a"), "1").unwrap();
        fs::write(dir.path().join("d/skip.md"), "1").unwrap();
        let ig = Ignore::parse("d/*.md\n");
        let one = hash_sources(dir.path(), &["d".into()], &ig);
        fs::write(dir.path().join("d/skip.md"), "22").unwrap();
        assert_eq!(one, hash_sources(dir.path(), &["d".into()], &ig));
        fs::write(dir.path().join("d/a"), "2").unwrap();
        assert_ne!(one, hash_sources(dir.path(), &["d".into()], &ig));
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("l")).unwrap();
        let link = hash_sources(dir.path(), &["l".into()], &ig);
        fs::remove_file(dir.path().join("l")).unwrap();
        std::os::unix::fs::symlink("/etc/group", dir.path().join("l")).unwrap();
        assert_ne!(link, hash_sources(dir.path(), &["l".into()], &ig));
    }
}
