//! File-level helpers of the store: content-addressed blob writes, the
//! writer lock, atomic index writes and tree removal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::fcntl::{Flock, FlockArg};

use super::sha256::Sha256;
use super::{fsat, ImageError};

const COPY_BUF: usize = 1 << 20;
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique temporary name for this process, recognisable by [`is_temp_name`].
pub(super) fn temp_name(base: &str) -> String {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{base}.tmp-{}-{n}", std::process::id())
}

/// Leftovers of interrupted imports/removals (temp files, half layers).
pub(super) fn is_temp_name(name: &[u8]) -> bool {
    let s = String::from_utf8_lossy(name);
    s.contains(".tmp-") || s.contains(".del-")
}

/// Takes the store's exclusive writer lock (released on drop).
pub(super) fn lock(path: &Path) -> Result<Flock<File>, ImageError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| ImageError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, source)| ImageError::Lock {
        path: path.to_path_buf(),
        source,
    })
}

pub(super) fn rename(from: &Path, to: &Path) -> Result<(), ImageError> {
    fs::rename(from, to).map_err(|source| {
        let _ = fs::remove_file(from);
        ImageError::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            source,
        }
    })
}

/// Removes a file or directory tree without following symlinks; missing is fine.
pub(super) fn remove_tree(path: &Path) -> Result<(), ImageError> {
    let err = |source: io::Error| ImageError::Remove {
        path: path.to_path_buf(),
        source,
    };
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(err(io::Error::from(io::ErrorKind::InvalidInput)));
    };
    let dir = File::open(parent).map_err(err)?;
    fsat::remove_all_at(std::os::fd::AsRawFd::as_raw_fd(&dir), name.as_bytes())
        .map_err(|e| err(io::Error::from(e)))
}

/// Removes temporaries left in `dir` by interrupted operations.
/// Only call with the store lock held, when none can be in progress.
pub(super) fn sweep_temps(dir: &Path) -> Result<(), ImageError> {
    let entries = fs::read_dir(dir).map_err(|source| ImageError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        if is_temp_name(entry.file_name().as_bytes()) {
            remove_tree(&entry.path())?;
        }
    }
    Ok(())
}

/// A reader that hashes everything read through it.
pub(super) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    pub(super) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// The `sha256:<hex>` digest of everything read.
    pub(super) fn digest(self) -> String {
        format!("sha256:{}", self.hasher.finalize_hex())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Copies `reader` into `dir/<hex>`, hashing on the way, and verifies
/// `expected` if given. Returns the digest and whether the blob is new.
pub(super) fn write_blob(
    dir: &Path,
    reader: impl Read,
    source_path: &Path,
    expected: Option<&str>,
) -> Result<(String, bool), ImageError> {
    let tmp = dir.join(temp_name("blob"));
    let result = copy_hashing(reader, source_path, &tmp);
    let digest = match result {
        Ok(d) => d,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if let Some(expected) = expected.filter(|e| *e != digest) {
        let _ = fs::remove_file(&tmp);
        return Err(ImageError::DigestMismatch {
            expected: expected.to_string(),
            actual: digest,
        });
    }
    let target = dir.join(super::digest_hex(&digest));
    if target.exists() {
        let _ = fs::remove_file(&tmp);
        return Ok((digest, false));
    }
    rename(&tmp, &target)?;
    Ok((digest, true))
}

fn copy_hashing(
    reader: impl Read,
    source_path: &Path,
    tmp: &PathBuf,
) -> Result<String, ImageError> {
    let mut out = File::create(tmp).map_err(|source| ImageError::Write {
        path: tmp.clone(),
        source,
    })?;
    let mut hashing = HashingReader::new(reader);
    let mut buf = vec![0u8; COPY_BUF];
    loop {
        let n = match hashing.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(ImageError::Read {
                    path: source_path.to_path_buf(),
                    source,
                })
            }
        };
        out.write_all(&buf[..n])
            .map_err(|source| ImageError::Write {
                path: tmp.clone(),
                source,
            })?;
    }
    Ok(hashing.digest())
}

/// Incremental blob write (for async downloads): content goes to a temp
/// file while being hashed; [`BlobSink::finish`] verifies and renames it in
/// place. Dropped unfinished, it removes the temp file.
pub(super) struct BlobSink {
    tmp: PathBuf,
    file: Option<File>,
    hasher: Sha256,
}

impl BlobSink {
    pub(super) fn create(dir: &Path) -> Result<BlobSink, ImageError> {
        let tmp = dir.join(temp_name("blob"));
        let file = File::create(&tmp).map_err(|source| ImageError::Write {
            path: tmp.clone(),
            source,
        })?;
        Ok(BlobSink {
            tmp,
            file: Some(file),
            hasher: Sha256::new(),
        })
    }

    pub(super) fn write(&mut self, data: &[u8]) -> Result<(), ImageError> {
        self.hasher.update(data);
        let file = self.file.as_mut().expect("sink not finished");
        file.write_all(data).map_err(|source| ImageError::Write {
            path: self.tmp.clone(),
            source,
        })
    }

    /// Checks the digest against `expected` and moves the blob into `dir`.
    pub(super) fn finish(mut self, dir: &Path, expected: &str) -> Result<bool, ImageError> {
        drop(self.file.take());
        let hasher = std::mem::take(&mut self.hasher);
        let actual = format!("sha256:{}", hasher.finalize_hex());
        if actual != expected {
            return Err(ImageError::DigestMismatch {
                expected: expected.to_string(),
                actual,
            });
        }
        let target = dir.join(super::digest_hex(&actual));
        if target.exists() {
            return Ok(false);
        }
        rename(&self.tmp, &target)?;
        Ok(true)
    }
}

impl Drop for BlobSink {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.tmp);
    }
}
