//! Hostile-archive tests for `unpack_layer`. Archives are built by hand with
//! raw header names so `..` and absolute paths reach the unpacker unfiltered.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::unpack::{unpack_layer, UnpackError};

/// A scratch dir holding `target/` (the layer root) and a sibling `outside/`
/// with one file, `secret`, that no archive may touch.
pub(super) struct Scene {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    pub(super) target: PathBuf,
    outside: PathBuf,
}

impl Scene {
    pub(super) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        let (target, outside) = (base.join("target"), base.join("outside"));
        fs::create_dir(&target).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), b"secret").unwrap();
        Scene {
            _tmp: tmp,
            base,
            target,
            outside,
        }
    }

    pub(super) fn unpack(&self, archive: &[u8]) -> Result<super::UnpackStats, UnpackError> {
        unpack_layer(archive, &self.target)
    }

    /// Nothing was created or changed outside `target`.
    fn assert_outside_untouched(&self) {
        let mut names: Vec<_> = fs::read_dir(&self.base)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["outside", "target"]);
        let outside: Vec<_> = fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(outside, ["secret"]);
        let secret = self.outside.join("secret");
        assert_eq!(fs::read(&secret).unwrap(), b"secret");
        assert_eq!(
            fs::metadata(&secret).unwrap().nlink(),
            1,
            "secret was hard-linked"
        );
    }
}

/// Appends an entry whose raw name and link name bypass tar-rs validation.
pub(super) fn raw(
    b: &mut tar::Builder<Vec<u8>>,
    kind: EntryType,
    name: &[u8],
    link: &[u8],
    mode: u32,
    data: &[u8],
) {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(1_000_000_000);
    h.set_uid(0);
    h.set_gid(0);
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name);
    h.set_link_name_literal(link).unwrap();
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    raw(b, EntryType::Regular, name.as_bytes(), b"", 0o644, data);
}

fn dir(b: &mut tar::Builder<Vec<u8>>, name: &str) {
    raw(b, EntryType::Directory, name.as_bytes(), b"", 0o755, b"");
}

fn link(b: &mut tar::Builder<Vec<u8>>, kind: EntryType, name: &str, target: &str) {
    raw(b, kind, name.as_bytes(), target.as_bytes(), 0o777, b"");
}

pub(super) fn build(f: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    f(&mut b);
    b.into_inner().unwrap()
}

#[test]
fn dotdot_paths_are_rejected() {
    for name in ["../evil", "a/../../evil", "../outside/evil", "./../../evil"] {
        let s = Scene::new();
        let err = s.unpack(&build(|b| file(b, name, b"x"))).unwrap_err();
        assert!(matches!(err, UnpackError::Escape { .. }), "{name}: {err}");
        s.assert_outside_untouched();
    }
}

#[test]
fn absolute_paths_are_clamped_into_the_root() {
    let s = Scene::new();
    let abs = format!("{}/evil", s.outside.display());
    s.unpack(&build(|b| {
        file(b, "/abs/evil", b"x");
        file(b, &abs, b"y");
    }))
    .unwrap();
    assert_eq!(fs::read(s.target.join("abs/evil")).unwrap(), b"x");
    let clamped = s.target.join(abs.trim_start_matches('/'));
    assert_eq!(fs::read(clamped).unwrap(), b"y");
    s.assert_outside_untouched();
}

#[test]
fn writes_through_symlinked_parents_are_refused() {
    let s = Scene::new();
    let abs_outside = s.outside.display().to_string();
    for (target, entry) in [
        ("../outside", "a/x"),
        ("../../outside", "a/x"),
        (abs_outside.as_str(), "a/x"),
        ("/tmp", "a/rcorch-unpack-test-evil"),
    ] {
        fs::remove_dir_all(&s.target).unwrap();
        fs::create_dir(&s.target).unwrap();
        let err = s
            .unpack(&build(|b| {
                link(b, EntryType::Symlink, "a", target);
                file(b, entry, b"pwned");
            }))
            .unwrap_err();
        assert!(
            matches!(err, UnpackError::UnsafeParent { .. }),
            "{target}: {err}"
        );
        assert_eq!(
            fs::read_link(s.target.join("a")).unwrap(),
            Path::new(target)
        );
        s.assert_outside_untouched();
    }
    assert!(!Path::new("/tmp/rcorch-unpack-test-evil").exists());
}

#[test]
fn file_over_symlink_replaces_the_link() {
    let s = Scene::new();
    s.unpack(&build(|b| {
        link(b, EntryType::Symlink, "l", "../outside/secret");
        file(b, "l", b"mine");
    }))
    .unwrap();
    assert_eq!(fs::read(s.target.join("l")).unwrap(), b"mine");
    assert!(!fs::symlink_metadata(s.target.join("l"))
        .unwrap()
        .file_type()
        .is_symlink());
    s.assert_outside_untouched();
}

#[test]
fn hardlinks_must_stay_inside() {
    let s = Scene::new();
    let abs_secret = format!("{}/secret", s.outside.display());
    for target in [
        "../outside/secret",
        "../../outside/secret",
        abs_secret.as_str(),
        "/etc/passwd",
        "missing",
    ] {
        let err = s
            .unpack(&build(|b| link(b, EntryType::Link, "h", target)))
            .unwrap_err();
        assert!(
            matches!(err, UnpackError::BadHardlink { .. }),
            "{target}: {err}"
        );
        assert!(fs::symlink_metadata(s.target.join("h")).is_err());
        s.assert_outside_untouched();
    }
    // Through a symlinked parent is refused too.
    let err = s
        .unpack(&build(|b| {
            link(b, EntryType::Symlink, "sl", "../outside");
            link(b, EntryType::Link, "h2", "sl/secret");
        }))
        .unwrap_err();
    assert!(matches!(err, UnpackError::BadHardlink { .. }), "{err}");
    s.assert_outside_untouched();
}

#[test]
fn hardlinks_within_the_layer_work() {
    let s = Scene::new();
    let stats = s
        .unpack(&build(|b| {
            file(b, "d/f", b"data");
            link(b, EntryType::Link, "g", "/d/f");
        }))
        .unwrap();
    assert_eq!(stats.hardlinks, 1);
    let (f, g) = (
        fs::metadata(s.target.join("d/f")).unwrap(),
        fs::metadata(s.target.join("g")).unwrap(),
    );
    assert_eq!(f.ino(), g.ino());
    assert_eq!(f.nlink(), 2);
}

#[test]
fn file_replaces_directory_and_directory_replaces_symlink() {
    let s = Scene::new();
    s.unpack(&build(|b| {
        dir(b, "d");
        file(b, "d/x", b"x");
        file(b, "d", b"now a file");
        link(b, EntryType::Symlink, "s", "../outside");
        dir(b, "s");
        file(b, "s/z", b"z");
    }))
    .unwrap();
    assert_eq!(fs::read(s.target.join("d")).unwrap(), b"now a file");
    assert!(fs::symlink_metadata(s.target.join("s")).unwrap().is_dir());
    assert_eq!(fs::read(s.target.join("s/z")).unwrap(), b"z");
    s.assert_outside_untouched();
}

#[test]
fn devices_skipped_fifos_created() {
    let s = Scene::new();
    let stats = s
        .unpack(&build(|b| {
            raw(b, EntryType::Char, b"dev/null", b"", 0o666, b"");
            raw(b, EntryType::Block, b"dev/sda", b"", 0o660, b"");
            raw(b, EntryType::Fifo, b"run/fifo", b"", 0o640, b"");
        }))
        .unwrap();
    assert_eq!(stats.devices_skipped, 2);
    assert!(!s.target.join("dev/null").exists());
    let fifo = fs::symlink_metadata(s.target.join("run/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.permissions().mode() & 0o7777, 0o640);
}

#[test]
fn modes_and_mtimes_are_preserved() {
    let s = Scene::new();
    s.unpack(&build(|b| {
        raw(b, EntryType::Directory, b"./", b"", 0o751, b"");
        raw(b, EntryType::Directory, b"bin", b"", 0o555, b"");
        raw(b, EntryType::Regular, b"bin/su", b"", 0o4755, b"elf");
        raw(b, EntryType::Regular, b"tmpfile", b"", 0o1644, b"");
        link(b, EntryType::Symlink, "bin/sh", "busybox");
    }))
    .unwrap();
    let mode = |p: &str| {
        fs::symlink_metadata(s.target.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    let mtime = |p: &str| fs::symlink_metadata(s.target.join(p)).unwrap().mtime();
    assert_eq!(mode("bin/su"), 0o4755, "setuid kept");
    assert_eq!(mode("tmpfile"), 0o1644, "sticky kept");
    assert_eq!(mode("bin"), 0o555);
    assert_eq!(mode(""), 0o751);
    for p in ["bin/su", "bin", "bin/sh", ""] {
        assert_eq!(mtime(p), 1_000_000_000, "mtime of {p:?}");
    }
}

#[test]
fn whiteouts_and_opaque_dirs() {
    let s = Scene::new();
    let stats = s
        .unpack(&build(|b| {
            file(b, "etc/.wh.gone", b"");
            file(b, "var/cache/.wh..wh..opq", b"");
            file(b, "var/.wh..wh.plnk", b"");
        }))
        .unwrap();
    assert_eq!(
        (stats.whiteouts, stats.opaque_dirs, stats.other_skipped),
        (1, 1, 1)
    );
    assert!(!s.target.join("etc/.wh.gone").exists());
    if !nix::unistd::geteuid().is_root() {
        eprintln!("not root: whiteout device/xattr creation skipped");
        assert_eq!(stats.unprivileged_skipped, 2);
        return;
    }
    let wh = fs::symlink_metadata(s.target.join("etc/gone")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    let mut value = [0u8; 4];
    let path = std::ffi::CString::new(
        s.target
            .join("var/cache")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    // SAFETY: NUL-terminated path and name; `value` is a live buffer of the given length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    assert_eq!(n, 1);
    assert_eq!(value[0], b'y');
}

#[test]
fn invalid_whiteout_is_rejected() {
    let s = Scene::new();
    let err = s.unpack(&build(|b| file(b, "a/.wh..", b""))).unwrap_err();
    assert!(matches!(err, UnpackError::BadWhiteout { .. }), "{err}");
}

#[test]
fn truncated_archives_are_corrupt() {
    let archive = build(|b| file(b, "big", &vec![7u8; 100_000]));
    let s = Scene::new();
    let err = s.unpack(&archive[..50_000]).unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt { .. }), "{err}");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&archive).unwrap();
    let gz = gz.finish().unwrap();
    let ok = Scene::new();
    ok.unpack(&gz).unwrap();
    assert_eq!(fs::read(ok.target.join("big")).unwrap().len(), 100_000);
    let err = Scene::new().unpack(&gz[..gz.len() - 10]).unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt { .. }), "{err}");
    let err = Scene::new()
        .unpack(b"this is not a tar archive at all, just text........")
        .unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt { .. }), "{err}");
}

#[test]
fn long_names_via_gnu_extension() {
    let s = Scene::new();
    let long = format!("{}/file", "d".repeat(150));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, &long, &b"hi"[..]).unwrap();
    s.unpack(&b.into_inner().unwrap()).unwrap();
    assert_eq!(fs::read(s.target.join(&long)).unwrap(), b"hi");
}

#[test]
fn a_file_that_is_not_tar_is_one_line_without_its_bytes() {
    let passwd =
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
            .repeat(10);
    let mut archive = tar::Archive::new(passwd.as_bytes());
    let err = archive
        .entries()
        .unwrap()
        .find_map(|e| e.err())
        .expect("tar accepted a passwd file");
    let reason = super::unpack::tar_reason(&err);
    assert!(
        !reason.contains('\n') && !reason.contains("root:x"),
        "{reason}"
    );
    assert!(reason.contains("not a tar"), "{reason}");
}
