//! Registry settings: which registries may be spoken to over plain HTTP and
//! which credentials to use, from the command line and a JSON config file:
//!
//! ```json
//! { "insecure": ["127.0.0.1:5000"],
//!   "auths": { "registry.example": { "username": "u", "password": "p" },
//!              "docker.io": { "auth": "<base64 of user:password>" } } }
//! ```
//!
//! The `auths` object has the shape of Docker's `config.json`, so that file
//! works too (credential helpers are not supported).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ImageError;

/// Errors of pull and push.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("cannot read registry config {path}: {source}")]
    ConfigRead { path: PathBuf, source: io::Error },
    #[error("registry config {path} is invalid: {source}")]
    ConfigParse {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// An `auth` entry is not base64 of `user:password`.
    #[error("registry config: credentials for {registry} are not base64 of user:password")]
    BadAuth { registry: String },
    #[error("invalid image reference {reference:?}: {source}")]
    Reference {
        reference: String,
        source: oci_client::ParseError,
    },
    #[error("cannot start the I/O runtime: {source}")]
    Runtime { source: io::Error },
    /// The registry or the connection to it failed.
    #[error("{op} {reference}: {source}")]
    Distribution {
        op: &'static str,
        reference: String,
        source: oci_client::errors::OciDistributionError,
    },
    /// A download broke off.
    #[error("download of {digest} failed: {source}")]
    Download { digest: String, source: io::Error },
    /// A manifest names a blob digest the store cannot use as a file name.
    #[error("manifest of {reference} names an invalid digest {digest:?}")]
    BadDigest { reference: String, digest: String },
}

/// One `auths` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AuthEntry {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// base64(`user:password`), as in Docker's config.json.
    #[serde(default)]
    pub auth: Option<String>,
}

/// The registry config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RegistryConfig {
    #[serde(default)]
    pub insecure: Vec<String>,
    #[serde(default)]
    pub auths: BTreeMap<String, AuthEntry>,
}

/// Credentials for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Anonymous,
    Basic { username: String, password: String },
}

/// Reads the config; a missing file is an empty config.
pub fn read_config(path: &Path) -> Result<RegistryConfig, RegistryError> {
    match std::fs::read(path) {
        Ok(data) => serde_json::from_slice(&data).map_err(|source| RegistryError::ConfigParse {
            path: path.to_path_buf(),
            source,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(RegistryConfig::default()),
        Err(source) => Err(RegistryError::ConfigRead {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Config keys that may name `registry` (Docker Hub has several spellings).
fn registry_keys(registry: &str) -> Vec<String> {
    let mut keys = vec![registry.to_string(), format!("https://{registry}")];
    if matches!(
        registry,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) {
        keys.extend(
            [
                "docker.io",
                "index.docker.io",
                "https://index.docker.io/v1/",
            ]
            .map(String::from),
        );
    }
    keys
}

/// Command-line credentials win; else the config's entry for `registry`.
pub fn credentials(
    config: &RegistryConfig,
    registry: &str,
    username: Option<&str>,
    password: Option<&str>,
) -> Result<Credentials, RegistryError> {
    if let Some(username) = username {
        return Ok(Credentials::Basic {
            username: username.to_string(),
            password: password.unwrap_or_default().to_string(),
        });
    }
    // Docker's CLI matches keys by host too (`http://h/`, `https://h/v2/`).
    let by_host = || {
        let host = |k: &str| {
            k.split("://")
                .last()
                .unwrap_or(k)
                .split('/')
                .next()
                .map(String::from)
        };
        let keys = registry_keys(registry);
        let hosts: Vec<Option<String>> = keys.iter().map(|k| host(k)).collect();
        config
            .auths
            .iter()
            .find(|(k, _)| hosts.contains(&host(k)))
            .map(|(_, e)| e)
    };
    let entry = registry_keys(registry)
        .iter()
        .find_map(|k| config.auths.get(k))
        .or_else(by_host);
    let Some(entry) = entry else {
        return Ok(Credentials::Anonymous);
    };
    let bad = || RegistryError::BadAuth {
        registry: registry.to_string(),
    };
    if let Some(auth) = &entry.auth {
        let decoded = decode_base64(auth).ok_or_else(bad)?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (user, pass) = text.split_once(':').ok_or_else(bad)?;
        return Ok(Credentials::Basic {
            username: user.to_string(),
            password: pass.to_string(),
        });
    }
    Ok(match &entry.username {
        Some(user) => Credentials::Basic {
            username: user.clone(),
            password: entry.password.clone().unwrap_or_default(),
        },
        None => Credentials::Anonymous,
    })
}

/// Whether `registry` may be reached over plain HTTP.
pub fn is_insecure(config: &RegistryConfig, registry: &str, flag: bool) -> bool {
    flag || config.insecure.iter().any(|r| r == registry)
}

/// Standard base64 (padding optional); `None` on bad input.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.trim().trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        out.extend_from_slice(&acc.to_be_bytes()[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes() {
        assert_eq!(decode_base64("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert!(decode_base64("Y").is_none());
        assert!(decode_base64("a$b=").is_none());
    }

    #[test]
    fn credentials_precedence() {
        let config: RegistryConfig = serde_json::from_str(
            r#"{"insecure":["127.0.0.1:5000"],
                "auths":{"127.0.0.1:5000":{"username":"u","password":"p"},
                         "https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},
                         "bad.example":{"auth":"eA=="},
                         "http://h.example:5000/":{"auth":"aDpw"}}}"#,
        )
        .unwrap();
        let basic = |u: &str, p: &str| Credentials::Basic {
            username: u.into(),
            password: p.into(),
        };
        assert_eq!(
            credentials(&config, "127.0.0.1:5000", None, None).unwrap(),
            basic("u", "p")
        );
        assert_eq!(
            credentials(&config, "127.0.0.1:5000", Some("x"), Some("y")).unwrap(),
            basic("x", "y")
        );
        assert_eq!(
            credentials(&config, "docker.io", None, None).unwrap(),
            basic("user", "pass")
        );
        assert_eq!(
            credentials(&config, "quay.io", None, None).unwrap(),
            Credentials::Anonymous
        );
        assert!(credentials(&config, "bad.example", None, None).is_err());
        assert_eq!(
            credentials(&config, "h.example:5000", None, None).unwrap(),
            basic("h", "p")
        );
        assert!(is_insecure(&config, "127.0.0.1:5000", false));
        assert!(!is_insecure(&config, "quay.io", false));
        assert!(is_insecure(&config, "quay.io", true));
    }
}
