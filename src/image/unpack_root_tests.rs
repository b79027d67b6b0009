//! Root-only unpack tests: ownership, setuid after chown and PAX xattrs.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use tar::{EntryType, Header};

use super::unpack_tests::{build, raw, Scene};

/// One PAX record, `"<len> key=value\n"` where len counts the whole record.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = [key.as_bytes(), b"=", value, b"\n"].concat();
    let mut len = body.len() + 2;
    while format!("{len} ").len() + body.len() != len {
        len += 1;
    }
    [format!("{len} ").into_bytes(), body].concat()
}

#[test]
fn ownership_and_pax_xattrs_as_root() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping ownership_and_pax_xattrs_as_root: needs root");
        return;
    }
    let s = Scene::new();
    let pax = [
        pax_record("SCHILY.xattr.user.kind", b"tool"),
        pax_record("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
    ]
    .concat();
    let archive = build(|b| {
        raw(b, EntryType::XHeader, b"PaxHeaders/ping", b"", 0o644, &pax);
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_size(3);
        h.set_mode(0o4750);
        h.set_uid(1234);
        h.set_gid(5678);
        h.set_mtime(0);
        h.set_path("ping").unwrap();
        h.set_cksum();
        b.append(&h, &b"elf"[..]).unwrap();
    });
    let stats = s.unpack(&archive).unwrap();
    let md = fs::metadata(s.target.join("ping")).unwrap();
    assert_eq!((md.uid(), md.gid()), (1234, 5678));
    assert_eq!(
        md.permissions().mode() & 0o7777,
        0o4750,
        "setuid survives chown"
    );
    assert_eq!(stats.xattrs, 1, "trusted.overlay.* is filtered out");
    let path = std::ffi::CString::new(s.target.join("ping").into_os_string().into_encoded_bytes())
        .unwrap();
    let mut value = [0u8; 8];
    // SAFETY: NUL-terminated path and name; `value` is a live buffer of the given length.
    let n = unsafe {
        libc::getxattr(
            path.as_ptr(),
            c"user.kind".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    assert_eq!(&value[..n.max(0) as usize], b"tool");
}
