//! Pure OCI / Docker image-format data: manifests, indexes, `docker save`'s
//! `manifest.json`, image config blobs, platform choice and reference names.
//! No I/O here; the archive and registry code feed bytes in and out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ImageConfig;

pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MT_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// `org.opencontainers.image.ref.name`: tag (or full reference) of an index entry.
pub const ANN_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd/Docker's annotation with the fully qualified name.
pub const ANN_IMAGE_NAME: &str = "io.containerd.image.name";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest (OCI or Docker schema 2; same shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// An image index / manifest list (also an OCI layout's `index.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
}

/// One entry of `docker save`'s `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DockerEntry {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    pub layers: Vec<String>,
}

/// What rcorch needs from an image config blob.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ConfigFile {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub config: Option<ImageConfig>,
    pub rootfs: RootFs,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// Whether a media type names an index (OCI or Docker manifest list).
pub fn is_index(media_type: &str) -> bool {
    media_type == MT_OCI_INDEX || media_type == MT_DOCKER_LIST
}

/// GOARCH-style name of the running architecture.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// Picks the manifest for `linux/<arch>` from an index, else `linux/amd64`,
/// else a lone entry without platform. Attestation entries never match.
pub fn pick_platform<'a>(manifests: &'a [Descriptor], arch: &str) -> Option<&'a Descriptor> {
    let on = |want: &str| {
        manifests.iter().find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == want)
        })
    };
    on(arch).or_else(|| on("amd64")).or_else(|| {
        let plain: Vec<_> = manifests.iter().filter(|d| d.platform.is_none()).collect();
        (plain.len() == 1).then(|| plain[0])
    })
}

/// The local name of a reference: Docker Hub's `docker.io/` and
/// `library/` prefixes are dropped, as `docker images` shows them.
pub fn local_name(full: &str) -> String {
    let short = full
        .strip_prefix("docker.io/")
        .or_else(|| full.strip_prefix("index.docker.io/"))
        .unwrap_or(full);
    short.strip_prefix("library/").unwrap_or(short).to_string()
}

/// The fully qualified form of a local reference (for annotations).
pub fn full_name(local: &str) -> String {
    let first = local.split('/').next().unwrap_or("");
    let has_host =
        local.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    match (has_host, local.contains('/')) {
        (true, _) => local.to_string(),
        (false, true) => format!("docker.io/{local}"),
        (false, false) => format!("docker.io/library/{local}"),
    }
}

/// The reference named by an index entry's annotations, if it is a full
/// `name:tag` (a bare tag like `latest` names no repository).
pub fn annotated_name(annotations: &BTreeMap<String, String>) -> Option<String> {
    if let Some(name) = annotations.get(ANN_IMAGE_NAME) {
        return Some(local_name(name));
    }
    let name = annotations.get(ANN_REF_NAME)?;
    let last = name.rsplit('/').next().unwrap_or(name);
    (name.contains('/') || last.contains(':')).then(|| local_name(name))
}

/// Layer media type for a stored blob, judged by its first bytes.
pub fn layer_media_type(head: &[u8]) -> &'static str {
    if head.starts_with(&[0x1f, 0x8b]) {
        MT_OCI_LAYER_GZIP
    } else {
        MT_OCI_LAYER
    }
}

/// An OCI manifest for a config and layer descriptors.
pub fn build_manifest(config: Descriptor, layers: Vec<Descriptor>) -> Manifest {
    Manifest {
        schema_version: 2,
        media_type: MT_OCI_MANIFEST.to_string(),
        config,
        layers,
    }
}

/// A descriptor without platform or annotations.
pub fn descriptor(media_type: &str, digest: &str, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: digest.to_string(),
        size,
        platform: None,
        annotations: BTreeMap::new(),
    }
}

/// Annotations naming `local` in an OCI layout index entry.
pub fn name_annotations(local: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (ANN_IMAGE_NAME.to_string(), full_name(local)),
        (ANN_REF_NAME.to_string(), local.to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plat(os: &str, arch: &str) -> Descriptor {
        let mut d = descriptor(MT_OCI_MANIFEST, &format!("sha256:{arch}"), 1);
        d.platform = Some(Platform {
            architecture: arch.into(),
            os: os.into(),
            variant: None,
        });
        d
    }

    #[test]
    fn picks_host_then_amd64() {
        let list = vec![plat("linux", "arm64"), plat("linux", "amd64")];
        assert_eq!(
            pick_platform(&list, "arm64").unwrap().digest,
            "sha256:arm64"
        );
        assert_eq!(
            pick_platform(&list, "s390x").unwrap().digest,
            "sha256:amd64"
        );
        let only_arm = vec![plat("linux", "arm64"), plat("windows", "amd64")];
        assert!(pick_platform(&only_arm, "amd64").is_none());
        let bare = vec![descriptor(MT_OCI_MANIFEST, "sha256:x", 1)];
        assert_eq!(pick_platform(&bare, "amd64").unwrap().digest, "sha256:x");
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(
            local_name("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        assert_eq!(local_name("docker.io/foo/bar:1"), "foo/bar:1");
        assert_eq!(local_name("127.0.0.1:5000/bb:1"), "127.0.0.1:5000/bb:1");
        assert_eq!(
            full_name("busybox:latest"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full_name("foo/bar:1"), "docker.io/foo/bar:1");
        assert_eq!(full_name("localhost/bb:1"), "localhost/bb:1");
        let ann = name_annotations("busybox:1");
        assert_eq!(annotated_name(&ann).unwrap(), "busybox:1");
        let bare = BTreeMap::from([(ANN_REF_NAME.to_string(), "latest".to_string())]);
        assert_eq!(annotated_name(&bare), None);
        let full = BTreeMap::from([(ANN_REF_NAME.to_string(), "app:v2".to_string())]);
        assert_eq!(annotated_name(&full).unwrap(), "app:v2");
    }

    #[test]
    fn parses_docker_manifest_and_config() {
        let m: Vec<DockerEntry> = serde_json::from_str(
            r#"[{"Config":"abc.json","RepoTags":["busybox:latest"],"Layers":["x/layer.tar"]}]"#,
        )
        .unwrap();
        assert_eq!(m[0].layers, ["x/layer.tar"]);
        let c: ConfigFile = serde_json::from_str(
            r#"{"architecture":"amd64","config":{"Env":null,"Cmd":["sh"]},
                "rootfs":{"type":"layers","diff_ids":["sha256:1"]}}"#,
        )
        .unwrap();
        assert_eq!(c.config.unwrap().cmd.unwrap(), ["sh"]);
        assert_eq!(c.rootfs.diff_ids, ["sha256:1"]);
        assert_eq!(layer_media_type(&[0x1f, 0x8b, 8]), MT_OCI_LAYER_GZIP);
    }
}
