//! `save`: writes images as an OCI image-layout tar that also carries a
//! docker-compatible `manifest.json`, so `docker load` / `podman load` (and
//! `rcorch load`) accept it. Also builds the manifest `push` sends.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use super::archive::ArchiveError;
use super::blobs;
use super::index;
use super::oci::{self, DockerEntry, Index, Manifest};
use super::sha256::Sha256;
use super::{digest_hex, ImageError, ImageRecord, ImageStore};

/// A blob's content (for small blobs: configs, manifests).
pub(super) fn read_blob(store: &ImageStore, digest: &str) -> Result<Vec<u8>, ImageError> {
    let path = store.blob_path(digest);
    fs::read(&path).map_err(|source| ImageError::Read { path, source })
}

fn blob_size_and_head(store: &ImageStore, digest: &str) -> Result<(u64, [u8; 2]), ImageError> {
    let path = store.blob_path(digest);
    let err = |source| ImageError::Read {
        path: path.clone(),
        source,
    };
    let mut file = File::open(&path).map_err(err)?;
    let size = file.metadata().map_err(err)?.len();
    let mut head = [0u8; 2];
    if size >= 2 {
        file.read_exact(&mut head).map_err(err)?;
    }
    Ok((size, head))
}

/// The OCI manifest of a stored image, its JSON and digest.
pub fn image_manifest(
    store: &ImageStore,
    image: &ImageRecord,
) -> Result<(Manifest, Vec<u8>, String), ImageError> {
    let (config_size, _) = blob_size_and_head(store, &image.id)?;
    let config = oci::descriptor(oci::MT_OCI_CONFIG, &image.id, config_size);
    let mut layers = Vec::new();
    for digest in &image.layers {
        let (size, head) = blob_size_and_head(store, digest)?;
        layers.push(oci::descriptor(oci::layer_media_type(&head), digest, size));
    }
    let manifest = oci::build_manifest(config, layers);
    let json = serde_json::to_vec(&manifest).expect("manifest serialises");
    let mut hasher = Sha256::new();
    hasher.update(&json);
    let digest = format!("sha256:{}", hasher.finalize_hex());
    Ok((manifest, json, digest))
}

/// The manifest the image was pulled with, byte for byte, when the store
/// kept it (see `registry_io::keep_manifest`) and it still describes the
/// image: pushing it keeps the image's digest, as docker and skopeo do.
pub fn original_manifest(
    store: &ImageStore,
    image: &ImageRecord,
) -> Option<(Manifest, Vec<u8>, String)> {
    image.repo_digests.iter().find_map(|repo_digest| {
        let (_, digest) = repo_digest.rsplit_once('@')?;
        let json = fs::read(store.blob_path(digest)).ok()?;
        let manifest: Manifest = serde_json::from_slice(&json).ok()?;
        describes(&manifest, image).then(|| (manifest, json, digest.to_string()))
    })
}

/// Whether `manifest` names exactly the image's config and layers.
pub fn describes(manifest: &Manifest, image: &ImageRecord) -> bool {
    manifest.config.digest == image.id
        && manifest.layers.len() == image.layers.len()
        && manifest
            .layers
            .iter()
            .zip(&image.layers)
            .all(|(desc, layer)| desc.digest == *layer)
}

/// Appends a file entry with fixed metadata (reproducible archives).
fn append(
    out: &mut tar::Builder<impl Write>,
    name: &str,
    size: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    out.append_data(&mut header, name, data)
}

fn blob_entry(digest: &str) -> String {
    format!("blobs/sha256/{}", digest_hex(digest))
}

/// Writes the images `references` name to `out` (via a temp file + rename).
pub fn save(store: &ImageStore, references: &[String], out: &Path) -> Result<(), ArchiveError> {
    let images = store.list()?;
    let mut index = Index {
        schema_version: 2,
        media_type: oci::MT_OCI_INDEX.to_string(),
        manifests: Vec::new(),
    };
    let mut docker: Vec<DockerEntry> = Vec::new();
    let mut blobs_out: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    let mut seen = HashSet::new();
    for reference in references {
        let (idx, tag) = index::find(&images, reference)?;
        let image = &images[idx];
        let (manifest, json, digest) = image_manifest(store, image)?;
        let mut desc = oci::descriptor(oci::MT_OCI_MANIFEST, &digest, json.len() as u64);
        if let Some(tag) = &tag {
            desc.annotations = oci::name_annotations(tag);
        }
        index.manifests.push(desc);
        let entry = docker
            .iter_mut()
            .find(|e| e.config == blob_entry(&image.id));
        match entry {
            Some(e) => e.repo_tags.get_or_insert_with(Vec::new).extend(tag),
            None => docker.push(DockerEntry {
                config: blob_entry(&image.id),
                repo_tags: Some(tag.into_iter().collect()),
                layers: image.layers.iter().map(|l| blob_entry(l)).collect(),
            }),
        }
        if seen.insert(digest.clone()) {
            blobs_out.push((digest, Some(json)));
        }
        for d in manifest.layers.iter().map(|l| &l.digest).chain([&image.id]) {
            if seen.insert(d.clone()) {
                blobs_out.push((d.clone(), None));
            }
        }
    }
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = out.with_file_name(blobs::temp_name(&name.unwrap_or_default()));
    let result = write_archive(store, &tmp, &index, &docker, &blobs_out);
    // A failure to write the temporary is one to write OUT: name that.
    let result = result.map_err(|e| match e {
        ArchiveError::Write { source, .. } => ArchiveError::Write {
            path: out.to_path_buf(),
            source,
        },
        other => other,
    });
    let result = result.and_then(|()| {
        fs::rename(&tmp, out).map_err(|source| ArchiveError::Write {
            path: out.to_path_buf(),
            source,
        })
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_archive(
    store: &ImageStore,
    path: &Path,
    index: &Index,
    docker: &[DockerEntry],
    blobs_out: &[(String, Option<Vec<u8>>)],
) -> Result<(), ArchiveError> {
    let werr = |source| ArchiveError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(path).map_err(werr)?;
    let mut out = tar::Builder::new(io::BufWriter::with_capacity(1 << 20, file));
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    append(&mut out, "oci-layout", layout.len() as u64, &layout[..]).map_err(werr)?;
    let index_json = serde_json::to_vec(index).expect("index serialises");
    append(
        &mut out,
        "index.json",
        index_json.len() as u64,
        &index_json[..],
    )
    .map_err(werr)?;
    let docker_json = serde_json::to_vec(docker).expect("manifest.json serialises");
    append(
        &mut out,
        "manifest.json",
        docker_json.len() as u64,
        &docker_json[..],
    )
    .map_err(werr)?;
    for (digest, data) in blobs_out {
        let name = blob_entry(digest);
        match data {
            Some(data) => append(&mut out, &name, data.len() as u64, &data[..]).map_err(werr)?,
            None => {
                let src = store.blob_path(digest);
                let file = File::open(&src).map_err(|source| ImageError::Open {
                    path: src.clone(),
                    source,
                })?;
                let size = file.metadata().map_err(werr)?.len();
                append(&mut out, &name, size, file).map_err(werr)?;
            }
        }
    }
    let mut writer = out.into_inner().map_err(werr)?;
    writer.flush().map_err(werr)?;
    writer.get_ref().sync_all().map_err(werr)?;
    Ok(())
}
