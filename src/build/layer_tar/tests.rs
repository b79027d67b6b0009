use std::os::unix::fs::{symlink, PermissionsExt};

use super::*;

fn entries(tar: &[u8]) -> Vec<(String, EntryType, u32, String)> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            let link = h
                .link_name()
                .unwrap()
                .map(|l| l.display().to_string())
                .unwrap_or_default();
            (
                e.path().unwrap().display().to_string(),
                h.entry_type(),
                h.mode().unwrap(),
                link,
            )
        })
        .collect()
}

#[test]
fn tree_becomes_sorted_entries_with_links() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("b")).unwrap();
    fs::write(d.join("b/f"), "x").unwrap();
    fs::set_permissions(d.join("b/f"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::hard_link(d.join("b/f"), d.join("a-hard")).unwrap();
    symlink("../b/f", d.join("c-link")).unwrap();
    let mut out = Vec::new();
    write_layer(d, &mut out, Some(0)).unwrap();
    let got = entries(&out);
    assert_eq!(got[0].0, "a-hard");
    assert_eq!((got[0].1, got[0].2), (EntryType::Regular, 0o4755));
    assert_eq!(got[1].0, "b/");
    assert_eq!(
        (got[2].0.as_str(), got[2].1, got[2].3.as_str()),
        ("b/f", EntryType::Link, "a-hard")
    );
    assert_eq!(
        (got[3].1, got[3].3.as_str()),
        (EntryType::Symlink, "../b/f")
    );
}

#[test]
fn same_tree_same_bytes_with_an_epoch() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f"), "content").unwrap();
    let (mut one, mut two) = (Vec::new(), Vec::new());
    write_layer(dir.path(), &mut one, Some(100)).unwrap();
    filetime_touch(&dir.path().join("f"));
    write_layer(dir.path(), &mut two, Some(100)).unwrap();
    assert_eq!(one, two);
    let mut a = tar::Archive::new(&one[..]);
    let e = a.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(e.header().mtime().unwrap(), 100);
}

fn filetime_touch(p: &Path) {
    let f = fs::OpenOptions::new().append(true).open(p).unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
}

#[test]
fn whiteouts_become_wh_entries() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: mknod needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("etc")).unwrap();
    nix::sys::stat::mknod(
        &d.join("etc/gone"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .unwrap();
    fs::create_dir(d.join("opq")).unwrap();
    let p = c_path(&d.join("opq"));
    // SAFETY: both strings are NUL-terminated; the value is 1 byte.
    let rc = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            b"y".as_ptr().cast(),
            1,
            0,
        )
    };
    assert_eq!(rc, 0);
    let mut out = Vec::new();
    write_layer(d, &mut out, None).unwrap();
    let names: Vec<String> = entries(&out).into_iter().map(|e| e.0).collect();
    assert_eq!(
        names,
        vec!["etc/", "etc/.wh.gone", "opq/", "opq/.wh..wh..opq"]
    );
}

#[test]
fn pax_record_length_counts_itself() {
    let mut out = Vec::new();
    pax_record(&mut out, "SCHILY.xattr.user.a", b"v");
    let s = String::from_utf8(out.clone()).unwrap();
    let len: usize = s.split(' ').next().unwrap().parse().unwrap();
    assert_eq!(len, out.len());
}
