//! An overlay upper directory IS a layer's diff: this writes it as an OCI
//! layer tar. Overlay whiteouts (0/0 character devices) become `.wh.NAME`,
//! opaque directories (`trusted.overlay.opaque=y`) get `.wh..wh..opq`; modes,
//! owners, symlinks, hard links and xattrs are kept. Entries are sorted and
//! times clamped to SOURCE_DATE_EPOCH when given, so the same tree gives the
//! same bytes.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::{EntryType, Header};

use crate::image::xattr::xattr_allowed;

/// Writes the tree under `upper` as a layer tar to `out`.
pub fn write_layer(upper: &Path, out: impl Write, epoch: Option<i64>) -> io::Result<()> {
    let mut builder = tar::Builder::new(out);
    let mut w = Writer {
        links: HashMap::new(),
        epoch,
    };
    w.dir(&mut builder, upper, "")?;
    builder.finish()
}

struct Writer {
    /// (dev, ino) of files with several links -> the first path written.
    links: HashMap<(u64, u64), String>,
    epoch: Option<i64>,
}

impl Writer {
    fn dir<W: Write>(&mut self, b: &mut tar::Builder<W>, dir: &Path, rel: &str) -> io::Result<()> {
        let mut names: Vec<_> = fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort_by(|a, c| a.as_bytes().cmp(c.as_bytes()));
        for name in names {
            let path = dir.join(&name);
            let rel_path = format!("{rel}{}", name.to_string_lossy());
            self.entry(b, &path, &rel_path, &name)?;
        }
        Ok(())
    }

    fn entry<W: Write>(
        &mut self,
        b: &mut tar::Builder<W>,
        path: &Path,
        rel: &str,
        name: &OsStr,
    ) -> io::Result<()> {
        let meta = fs::symlink_metadata(path)?;
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            let parent = &rel[..rel.len() - name.len()];
            let mut h = self.header(&meta, EntryType::Regular);
            h.set_mode(0);
            h.set_size(0);
            return b.append_data(
                &mut h,
                format!("{parent}.wh.{}", name.to_string_lossy()),
                io::empty(),
            );
        }
        self.xattrs(b, path)?;
        if ft.is_dir() {
            let mut h = self.header(&meta, EntryType::Directory);
            b.append_data(&mut h, format!("{rel}/"), io::empty())?;
            if get_xattr(path, "trusted.overlay.opaque").as_deref() == Some(b"y") {
                let mut h = self.header(&meta, EntryType::Regular);
                h.set_mode(0);
                h.set_size(0);
                b.append_data(&mut h, format!("{rel}/.wh..wh..opq"), io::empty())?;
            }
            return self.dir(b, path, &format!("{rel}/"));
        }
        if ft.is_symlink() {
            let mut h = self.header(&meta, EntryType::Symlink);
            h.set_size(0);
            return b.append_link(&mut h, rel, fs::read_link(path)?);
        }
        if ft.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = self.links.get(&(meta.dev(), meta.ino())) {
                    let mut h = self.header(&meta, EntryType::Link);
                    h.set_size(0);
                    return b.append_link(&mut h, rel, first.clone());
                }
                self.links.insert((meta.dev(), meta.ino()), rel.to_string());
            }
            let mut h = self.header(&meta, EntryType::Regular);
            h.set_size(meta.len());
            return b.append_data(&mut h, rel, fs::File::open(path)?);
        }
        let kind = if ft.is_fifo() {
            EntryType::Fifo
        } else if ft.is_block_device() {
            EntryType::Block
        } else if ft.is_char_device() {
            EntryType::Char
        } else {
            return Ok(()); // sockets have no tar form
        };
        let mut h = self.header(&meta, kind);
        h.set_size(0);
        h.set_device_major(libc::major(meta.rdev()))?;
        h.set_device_minor(libc::minor(meta.rdev()))?;
        b.append_data(&mut h, rel, io::empty())
    }

    fn header(&self, meta: &fs::Metadata, kind: EntryType) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(0);
        h.set_mode(meta.mode() & 0o7777);
        h.set_uid(meta.uid().into());
        h.set_gid(meta.gid().into());
        let mtime = match self.epoch {
            Some(e) => meta.mtime().min(e),
            None => meta.mtime(),
        };
        h.set_mtime(mtime.max(0) as u64);
        h
    }

    /// A PAX header with the entry's xattrs (overlay's own are left out).
    fn xattrs<W: Write>(&self, b: &mut tar::Builder<W>, path: &Path) -> io::Result<()> {
        let mut records = Vec::new();
        for name in list_xattrs(path) {
            if !xattr_allowed(name.as_bytes()) {
                continue;
            }
            if let Some(value) = get_xattr(path, &name) {
                pax_record(&mut records, &format!("SCHILY.xattr.{name}"), &value);
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        let mut h = Header::new_ustar();
        h.set_entry_type(EntryType::XHeader);
        h.set_size(records.len() as u64);
        h.set_mode(0o644);
        h.set_path("PaxHeaders/x")?;
        h.set_cksum();
        b.append(&h, &records[..])
    }
}

/// One `LEN key=value\n` record; LEN counts itself.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3;
    let mut len = body + body.to_string().len();
    if len.to_string().len() != body.to_string().len() {
        len += 1;
    }
    out.extend_from_slice(format!("{len} {key}=").as_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap_or_default()
}

fn list_xattrs(path: &Path) -> Vec<String> {
    let p = c_path(path);
    let mut buf = vec![0u8; 4096];
    // SAFETY: buf is valid for buf.len() bytes; p is NUL-terminated.
    let n = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return Vec::new();
    }
    buf[..n as usize]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = c_path(path);
    let n = CString::new(name).ok()?;
    let mut buf = vec![0u8; 65536];
    // SAFETY: buf is valid for buf.len() bytes; both strings are NUL-terminated.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| {
        buf.truncate(len as usize);
        buf
    })
}

#[cfg(test)]
mod tests;
