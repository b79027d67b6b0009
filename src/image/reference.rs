//! Image reference parsing (`name[:tag]`), following Docker's grammar closely
//! enough for a local store: lowercase path components joined by `/`, an
//! optional registry host first, and a tag of at most 128 word characters.

use std::fmt;

/// The tag used when a reference names none.
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A validated `name:tag` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub name: String,
    pub tag: String,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

/// Why a reference was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The reference is empty.
    #[error("image reference is empty")]
    Empty,
    /// A repository path component contains uppercase letters.
    #[error("invalid reference {reference:?}: repository name must be lowercase")]
    Uppercase { reference: String },
    /// The repository name does not match the allowed grammar.
    #[error("invalid reference {reference:?}: {reason}")]
    InvalidName {
        reference: String,
        reason: &'static str,
    },
    /// The tag does not match `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    #[error("invalid reference {reference:?}: bad tag {tag:?}")]
    InvalidTag { reference: String, tag: String },
    /// Digest references (`name@sha256:...`) are not supported by the local store.
    #[error("invalid reference {reference:?}: digest references are not supported")]
    DigestUnsupported { reference: String },
}

/// Parses `name[:tag]`, defaulting the tag to `latest`.
pub fn parse_reference(reference: &str) -> Result<Reference, ReferenceError> {
    if reference.is_empty() {
        return Err(ReferenceError::Empty);
    }
    if reference.contains('@') {
        return Err(ReferenceError::DigestUnsupported {
            reference: reference.to_string(),
        });
    }
    let last_slash = reference.rfind('/');
    let (name, tag) = match reference.rfind(':') {
        Some(colon) if last_slash.is_none_or(|s| colon > s) => {
            (&reference[..colon], &reference[colon + 1..])
        }
        _ => (reference, DEFAULT_TAG),
    };
    if !valid_tag(tag) {
        return Err(ReferenceError::InvalidTag {
            reference: reference.to_string(),
            tag: tag.to_string(),
        });
    }
    validate_name(reference, name)?;
    Ok(Reference {
        name: name.to_string(),
        tag: tag.to_string(),
    })
}

fn invalid(reference: &str, reason: &'static str) -> ReferenceError {
    ReferenceError::InvalidName {
        reference: reference.to_string(),
        reason,
    }
}

fn validate_name(reference: &str, name: &str) -> Result<(), ReferenceError> {
    if name.is_empty() {
        return Err(invalid(reference, "repository name is empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(reference, "repository name is longer than 255"));
    }
    let mut components: Vec<&str> = name.split('/').collect();
    // Docker: the first component is a registry host if it looks like one.
    if components.len() > 1 && looks_like_domain(components[0]) {
        if !valid_domain(components[0]) {
            return Err(invalid(reference, "bad registry host"));
        }
        components.remove(0);
    }
    for component in components {
        if component.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase {
                reference: reference.to_string(),
            });
        }
        if !valid_path_component(component) {
            return Err(invalid(
                reference,
                "components must be lowercase alphanumerics separated by '.', '_', '__' or '-'",
            ));
        }
    }
    Ok(())
}

fn looks_like_domain(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

/// `host[:port]`, host labels of alphanumerics with inner dashes.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    port_ok && host.split('.').all(label_ok)
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let dashes = sep.bytes().all(|b| b == b'-');
        if !(sep == "." || sep == "_" || sep == "__" || dashes) {
            return false;
        }
    }
    true
}

fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_TAG_LEN
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(r: &str) -> (String, String) {
        let p = parse_reference(r).unwrap_or_else(|e| panic!("{r}: {e}"));
        (p.name, p.tag)
    }

    #[test]
    fn accepts_common_forms() {
        assert_eq!(ok("alpine"), ("alpine".into(), "latest".into()));
        assert_eq!(ok("alpine:3.19"), ("alpine".into(), "3.19".into()));
        assert_eq!(
            ok("my-app_x.y__z:V1_rc-2"),
            ("my-app_x.y__z".into(), "V1_rc-2".into())
        );
        assert_eq!(
            ok("library/busybox"),
            ("library/busybox".into(), "latest".into())
        );
        assert_eq!(
            ok("localhost:5000/foo"),
            ("localhost:5000/foo".into(), "latest".into())
        );
        assert_eq!(
            ok("Registry.Example.com:443/a/b:t"),
            ("Registry.Example.com:443/a/b".into(), "t".into())
        );
        assert_eq!(parse_reference("a:b").unwrap().to_string(), "a:b");
    }

    #[test]
    fn rejects_bad_references() {
        assert_eq!(parse_reference(""), Err(ReferenceError::Empty));
        assert!(matches!(
            parse_reference("Alpine"),
            Err(ReferenceError::Uppercase { .. })
        ));
        assert!(matches!(
            parse_reference("foo/Bar:1"),
            Err(ReferenceError::Uppercase { .. })
        ));
        for bad in [
            "foo bar",
            "-foo",
            "foo-",
            "foo..bar",
            "foo___bar",
            "/foo",
            "foo/",
            "foo//bar",
            ":tag",
            "a/b$",
        ] {
            assert!(
                matches!(
                    parse_reference(bad),
                    Err(ReferenceError::InvalidName { .. })
                ),
                "{bad}"
            );
        }
        for bad in ["foo:", "foo:-x", "foo:.x", "foo:a/b", "foo:a:b"] {
            assert!(parse_reference(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_reference(&format!("foo:{}", "a".repeat(129))),
            Err(ReferenceError::InvalidTag { .. })
        ));
        assert!(parse_reference(&format!("foo:{}", "a".repeat(128))).is_ok());
        assert!(matches!(
            parse_reference(&"a".repeat(256)),
            Err(ReferenceError::InvalidName { .. })
        ));
        assert!(matches!(
            parse_reference("foo@sha256:abcd"),
            Err(ReferenceError::DigestUnsupported { .. })
        ));
        assert!(parse_reference("bad_host-:1/foo").is_err());
    }
}
