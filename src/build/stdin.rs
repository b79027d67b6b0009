//! `rcorch build -`: stdin is either a Dockerfile (the context is empty) or
//! a tar of the context (plain or gzip), as `docker build -` reads it. A tar
//! is unpacked under `<root>/build/<pid>-context`, removed on drop (and by
//! the next build's sweep if this one was killed).

use std::io::Read;
use std::path::{Path, PathBuf};

/// What stdin held.
pub enum StdinInput {
    /// A Dockerfile; the context is empty.
    Dockerfile(String),
    /// A context archive's bytes.
    Archive(Vec<u8>),
}

/// Tells a context archive from a Dockerfile by its first bytes.
pub fn classify(data: Vec<u8>) -> Result<StdinInput, String> {
    let gzip = data.starts_with(&[0x1f, 0x8b]);
    let tar = data.len() >= 262 && &data[257..262] == b"ustar";
    if gzip || tar {
        return Ok(StdinInput::Archive(data));
    }
    String::from_utf8(data)
        .map(StdinInput::Dockerfile)
        .map_err(|_| {
            "stdin is neither a Dockerfile (UTF-8 text) nor a tar or tar.gz of the build context"
                .to_string()
        })
}

/// A file of a context archive, read without unpacking (for `--check`).
pub fn file_in_archive(data: &[u8], name: &str) -> Result<Option<Vec<u8>>, String> {
    let reader = crate::image::unpack::decompress(data).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(reader);
    let want = Path::new(name.trim_start_matches("./"));
    for entry in archive
        .entries()
        .map_err(|e| format!("context archive: {e}"))?
    {
        let mut entry = entry.map_err(|e| format!("context archive: {e}"))?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        if path.strip_prefix("./").unwrap_or(&path) == want {
            let mut out = Vec::new();
            entry.read_to_end(&mut out).map_err(|e| e.to_string())?;
            return Ok(Some(out));
        }
    }
    Ok(None)
}

/// A context dir made for this build, removed on drop.
pub struct TempContext {
    pub path: PathBuf,
}

impl Drop for TempContext {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Unpacks `data` (None: an empty context) under `<root>/build`. The tar
/// crate refuses entries that would land outside the directory.
pub fn unpack(root: &Path, data: Option<&[u8]>) -> Result<TempContext, String> {
    let path = root
        .join("build")
        .join(format!("{}-context", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ctx = TempContext { path };
    if let Some(data) = data {
        let reader = crate::image::unpack::decompress(data).map_err(|e| e.to_string())?;
        let mut archive = tar::Archive::new(reader);
        archive.set_preserve_permissions(true);
        archive.set_preserve_mtime(true);
        archive
            .unpack(&ctx.path)
            .map_err(|e| format!("cannot unpack the build context from stdin: {e}"))?;
    }
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, body) in files {
            let mut h = tar::Header::new_ustar();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, body.as_bytes()).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn stdin_is_a_dockerfile_or_an_archive() {
        let df = classify(b"FROM busybox\n".to_vec()).unwrap();
        assert!(matches!(df, StdinInput::Dockerfile(t) if t == "FROM busybox\n"));
        let tar = tar_of(&[("Dockerfile", "FROM scratch\n")]);
        assert!(matches!(classify(tar).unwrap(), StdinInput::Archive(_)));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar_of(&[("a", "b")])).unwrap();
        assert!(matches!(
            classify(gz.finish().unwrap()).unwrap(),
            StdinInput::Archive(_)
        ));
        assert!(classify(vec![0xff, 0xfe, 0]).is_err());
    }

    #[test]
    fn archive_files_are_read_and_unpacked() {
        let tar = tar_of(&[("./Dockerfile", "FROM scratch\n"), ("sub/f", "x")]);
        let df = file_in_archive(&tar, "Dockerfile").unwrap();
        assert_eq!(df.as_deref(), Some(&b"FROM scratch\n"[..]));
        assert_eq!(file_in_archive(&tar, "nope").unwrap(), None);
        let root = tempfile::tempdir().unwrap();
        let ctx = unpack(root.path(), Some(&tar)).unwrap();
        assert_eq!(std::fs::read(ctx.path.join("sub/f")).unwrap(), b"x");
        let path = ctx.path.clone();
        drop(ctx);
        assert!(!path.exists(), "the context is removed on drop");
    }

    #[test]
    fn archive_entries_never_land_outside() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        // set_path refuses "..": write the raw name as a hostile tar would.
        h.as_gnu_mut().unwrap().name[..7].copy_from_slice(b"../evil");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("build")).unwrap();
        let _ = unpack(root.path(), Some(&b.into_inner().unwrap()));
        assert!(!root.path().join("build/evil").exists());
    }
}
