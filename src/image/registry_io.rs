//! `pull` and `push` over the OCI distribution protocol (oci-client), on a
//! single-threaded tokio runtime. Pulls hold the store lock throughout and
//! verify every blob; a failed pull removes what it downloaded.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::{ImageIndexEntry, OciDescriptor};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use super::archive_save::{image_manifest, original_manifest};
use super::blobs::{self, BlobSink};
use super::oci::{self, Descriptor, Platform};
use super::registry::{credentials, is_insecure, Credentials, RegistryConfig, RegistryError};
use super::store::Undo;
use super::{valid_digest, ImageRecord, ImageStore};

const UPLOAD_CHUNK: usize = 4 << 20;

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub config: RegistryConfig,
    /// Allow plain HTTP to the registry named in the reference.
    pub insecure: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Draw progress bars (only when stderr is a terminal).
    pub progress: bool,
}

fn parse_ref(reference: &str) -> Result<Reference, RegistryError> {
    reference
        .parse()
        .map_err(|source| RegistryError::Reference {
            reference: reference.to_string(),
            source,
        })
}

/// Chooses this host's platform (else linux/amd64) from an index.
fn resolve_platform(entries: &[ImageIndexEntry]) -> Option<String> {
    let descs: Vec<Descriptor> = entries
        .iter()
        .map(|e| {
            let mut d = oci::descriptor(&e.media_type, &e.digest, 0);
            d.platform = e.platform.as_ref().map(|p| Platform {
                architecture: p.architecture.to_string(),
                os: p.os.to_string(),
                variant: None,
            });
            d
        })
        .collect();
    oci::pick_platform(&descs, oci::host_arch()).map(|d| d.digest.clone())
}

fn client_for(
    reference: &Reference,
    access: &Access,
) -> Result<(Client, RegistryAuth), RegistryError> {
    // reqwest is built without a default crypto provider; ring is ours.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = reference.registry();
    let protocol = if is_insecure(&access.config, registry, access.insecure) {
        let hosts = [registry, reference.resolve_registry()];
        ClientProtocol::HttpsExcept(hosts.iter().map(|h| h.to_string()).collect())
    } else {
        ClientProtocol::Https
    };
    let config = ClientConfig {
        protocol,
        platform_resolver: Some(Box::new(resolve_platform)),
        ..ClientConfig::default()
    };
    let creds = credentials(
        &access.config,
        registry,
        access.username.as_deref(),
        access.password.as_deref(),
    )?;
    let auth = match creds {
        Credentials::Anonymous => RegistryAuth::Anonymous,
        Credentials::Basic { username, password } => RegistryAuth::Basic(username, password),
    };
    Ok((Client::new(config), auth))
}

fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, RegistryError>>,
) -> Result<T, RegistryError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| RegistryError::Runtime { source })?
        .block_on(future)
}

fn progress(access: &Access) -> MultiProgress {
    let target = if access.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    MultiProgress::with_draw_target(target)
}

/// A bar per blob on a terminal; elsewhere (no bars drawn) one line as the
/// blob starts, so a long pull or push is never silent.
fn bar(multi: &MultiProgress, access: &Access, digest: &str, size: u64, verb: &str) -> ProgressBar {
    if !access.progress {
        let short = &super::digest_hex(digest)[..12];
        eprintln!("{short}: {verb} ({size} bytes)");
    }
    let bar = multi.add(ProgressBar::new(size));
    let style = ProgressStyle::with_template(
        "{prefix} {msg:11} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
    )
    .expect("progress template is valid")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(super::digest_hex(digest)[..12].to_string());
    bar.set_message(verb.to_string());
    bar
}

fn dist(
    op: &'static str,
    reference: &Reference,
) -> impl FnOnce(oci_client::errors::OciDistributionError) -> RegistryError {
    let reference = reference.whole();
    move |source| RegistryError::Distribution {
        op,
        reference,
        source,
    }
}

/// The local name a pulled reference gets (`busybox:latest` for Docker Hub).
fn local_tag(reference: &Reference) -> Option<String> {
    let tag = reference.tag()?;
    let full = format!("{}/{}:{tag}", reference.registry(), reference.repository());
    Some(oci::local_name(&full))
}

/// `name@sha256:...` as `images --digests` and `run` know it: the local
/// repository name (as for tags) and the manifest's digest.
fn repo_digest(reference: &Reference, manifest_digest: &str) -> String {
    let full = format!("{}/{}", reference.registry(), reference.repository());
    format!("{}@{manifest_digest}", oci::local_name(&full))
}

/// Pulls `reference` into the store and tags it locally.
pub fn pull(
    store: &ImageStore,
    reference: &str,
    access: &Access,
) -> Result<ImageRecord, RegistryError> {
    let reference = parse_ref(reference)?;
    let (client, auth) = client_for(&reference, access)?;
    block_on(pull_async(store, &client, &auth, &reference, access))
}

async fn pull_async(
    store: &ImageStore,
    client: &Client,
    auth: &RegistryAuth,
    reference: &Reference,
    access: &Access,
) -> Result<ImageRecord, RegistryError> {
    let (manifest, manifest_digest) = client
        .pull_image_manifest(reference, auth)
        .await
        .map_err(dist("pull manifest of", reference))?;
    let all = manifest.layers.iter().chain([&manifest.config]);
    if let Some(bad) = all.clone().find(|d| !valid_digest(&d.digest)) {
        return Err(RegistryError::BadDigest {
            reference: reference.whole(),
            digest: bad.digest.clone(),
        });
    }
    let _lock = blobs::lock(&store.root().join("lock"))?;
    store.sweep_temps()?;
    let mut undo = Undo(Vec::new());
    let multi = progress(access);
    for desc in all {
        if store.blob_path(&desc.digest).exists() {
            continue;
        }
        let bar = bar(
            &multi,
            access,
            &desc.digest,
            desc.size.max(0) as u64,
            "downloading",
        );
        if download(client, reference, desc, &store.blob_dir(), &bar).await? {
            undo.0.push(store.blob_path(&desc.digest));
        }
        bar.finish_with_message("done");
    }
    keep_manifest(store, client, auth, reference, &manifest_digest, &mut undo).await?;
    let layers: Vec<String> = manifest.layers.iter().map(|l| l.digest.clone()).collect();
    let tags = local_tag(reference).into_iter().collect();
    let mut record = store.commit_image(&manifest.config.digest, &layers, tags, &mut undo)?;
    record.repo_digests = vec![repo_digest(reference, &manifest_digest)];
    store.add_records(std::slice::from_ref(&record))?;
    undo.0.clear();
    Ok(record)
}

/// Stores the manifest's own bytes as a blob (verified against its digest),
/// so `push` and `save` can hand out the very manifest that was pulled and
/// the image keeps its digest (RepoDigests) wherever it goes next.
async fn keep_manifest(
    store: &ImageStore,
    client: &Client,
    auth: &RegistryAuth,
    reference: &Reference,
    digest: &str,
    undo: &mut Undo,
) -> Result<(), RegistryError> {
    if store.blob_path(digest).exists() {
        return Ok(());
    }
    let by_digest = reference.clone_with_digest(digest.to_string());
    let (bytes, _) = client
        .pull_manifest_raw(
            &by_digest,
            auth,
            &[oci::MT_OCI_MANIFEST, oci::MT_DOCKER_MANIFEST],
        )
        .await
        .map_err(dist("pull manifest of", reference))?;
    let mut sink = BlobSink::create(&store.blob_dir())?;
    sink.write(&bytes)?;
    if sink.finish(&store.blob_dir(), digest)? {
        undo.0.push(store.blob_path(digest));
    }
    Ok(())
}

/// Streams one blob into the store, verifying its digest.
async fn download(
    client: &Client,
    reference: &Reference,
    desc: &OciDescriptor,
    dir: &Path,
    bar: &ProgressBar,
) -> Result<bool, RegistryError> {
    let mut stream = client
        .pull_blob_stream(reference, desc)
        .await
        .map_err(dist("pull blob from", reference))?;
    let mut sink = BlobSink::create(dir)?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|source| RegistryError::Download {
            digest: desc.digest.clone(),
            source,
        })?;
        sink.write(&chunk)?;
        bar.inc(chunk.len() as u64);
    }
    Ok(sink.finish(dir, &desc.digest)?)
}

/// Pushes local image `image` as `destination`; returns the manifest digest.
pub fn push(
    store: &ImageStore,
    image: &str,
    destination: &str,
    access: &Access,
) -> Result<String, RegistryError> {
    let record = store.resolve(image)?;
    let reference = parse_ref(destination)?;
    let (client, auth) = client_for(&reference, access)?;
    block_on(async {
        client
            .auth(&reference, &auth, RegistryOperation::Push)
            .await
            .map_err(dist("log in to push", &reference))?;
        let (manifest, json, digest) = match original_manifest(store, &record) {
            Some(kept) => kept,
            None => image_manifest(store, &record)?,
        };
        let multi = progress(access);
        for desc in manifest.layers.iter().chain([&manifest.config]) {
            let exists = client
                .blob_exists(&reference, &desc.digest)
                .await
                .map_err(dist("check blob in", &reference))?;
            if !exists {
                let bar = bar(&multi, access, &desc.digest, desc.size, "uploading");
                let stream = file_stream(&store.blob_path(&desc.digest), bar.clone())?;
                client
                    .push_blob_stream(&reference, stream, &desc.digest, Some(desc.size))
                    .await
                    .map_err(dist("push blob to", &reference))?;
                bar.finish_with_message("done");
            }
        }
        let content_type = match manifest.media_type.as_str() {
            oci::MT_DOCKER_MANIFEST => oci::MT_DOCKER_MANIFEST,
            _ => oci::MT_OCI_MANIFEST,
        };
        let content_type = http::HeaderValue::from_static(content_type);
        client
            .push_manifest_raw(&reference, json, content_type)
            .await
            .map_err(dist("push manifest to", &reference))?;
        Ok(digest)
    })
}

type ChunkResult = oci_client::errors::Result<bytes::Bytes>;

/// A file as a stream of chunks for upload, counting on `bar`.
fn file_stream(
    path: &Path,
    bar: ProgressBar,
) -> Result<impl futures_util::Stream<Item = ChunkResult> + Send + 'static, RegistryError> {
    let file = File::open(path).map_err(|source| super::ImageError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(futures_util::stream::unfold(Some(file), move |state| {
        let bar = bar.clone();
        async move {
            let mut file = state?;
            let mut buf = vec![0u8; UPLOAD_CHUNK];
            let mut filled = 0;
            while filled < buf.len() {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Some((Err(e.into()), None)),
                }
            }
            if filled == 0 {
                return None;
            }
            buf.truncate(filled);
            bar.inc(filled as u64);
            Some((Ok(bytes::Bytes::from(buf)), Some(file)))
        }
    }))
}
