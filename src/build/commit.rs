//! `rcorch commit`: a new image from a container — its image's layers plus
//! one layer from its overlay upper directory (the container's diff), and
//! its image's config with the container's command, environment and
//! working directory, then `-c` changes (Dockerfile lines) on top.

use std::path::PathBuf;

use serde_json::Value;
use thiserror::Error;

use super::config::{History, ImageFile};
use crate::image::ImageRecord;
use crate::instance::Instance;

#[derive(Debug, Error)]
pub enum CommitError {
    #[error("{0}")]
    Lookup(String),
    #[error("cannot write the layer of {container} ({path}): {source}")]
    Layer {
        container: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config of image {image} cannot be read: {reason}")]
    Config { image: String, reason: String },
    #[error("invalid --change \"{change}\": {reason}")]
    Change { change: String, reason: String },
}

pub struct CommitRequest {
    pub container: String,
    pub reference: Option<String>,
    pub message: Option<String>,
    pub author: Option<String>,
    pub changes: Vec<String>,
}

/// Applies one `-c` change, a Dockerfile line (Docker's set: CMD,
/// ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE, STOPSIGNAL).
pub fn apply_change(file: &mut ImageFile, change: &str) -> Result<(), CommitError> {
    let fail = |reason: &str| CommitError::Change {
        change: change.to_string(),
        reason: reason.to_string(),
    };
    let (word, rest) = change
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((change, ""));
    let rest = rest.trim();
    let argv = || -> Vec<String> {
        serde_json::from_str::<Vec<String>>(rest)
            .unwrap_or_else(|_| vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
    };
    // `K=V K2=V2`, or the old `K V` form.
    let pairs = || -> Vec<(String, String)> {
        let first = rest.split_whitespace().next().unwrap_or("");
        if !first.contains('=') {
            let (k, v) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            return vec![(k.to_string(), v.trim().to_string())];
        }
        rest.split_whitespace()
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.trim_matches('"').to_string())
            })
            .collect()
    };
    if rest.is_empty() {
        return Err(fail("the instruction needs a value"));
    }
    let c = &mut file.config;
    match word.to_ascii_uppercase().as_str() {
        "CMD" => c.cmd = Some(argv()),
        "ENTRYPOINT" => c.entrypoint = Some(argv()),
        "ENV" => {
            for (k, v) in pairs() {
                super::config::set_env(c.env.get_or_insert_with(Vec::new), &k, &v);
            }
        }
        "LABEL" => {
            let labels = c.labels.get_or_insert_with(Default::default);
            labels.extend(pairs());
        }
        "WORKDIR" => {
            c.working_dir = Some(super::config::join_workdir(c.working_dir.as_deref(), rest))
        }
        "USER" => c.user = Some(rest.to_string()),
        "STOPSIGNAL" => c.stop_signal = Some(rest.to_string()),
        "EXPOSE" => {
            let ports = c.exposed_ports.get_or_insert_with(Default::default);
            for spec in rest.split_whitespace() {
                for p in super::config::exposed_ports(spec).map_err(|e| fail(&e))? {
                    ports.insert(p, Value::Object(Default::default()));
                }
            }
        }
        _ => {
            return Err(fail(
                "use CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE or STOPSIGNAL",
            ))
        }
    }
    Ok(())
}

/// The new image's config: the base's, with the container's run settings,
/// the new layer and a history entry, then the changes.
pub fn new_config(
    base: &[u8],
    container: &crate::container::ContainerConfig,
    diff_id: &str,
    req: &CommitRequest,
    now: &str,
) -> Result<ImageFile, CommitError> {
    let mut file: ImageFile = serde_json::from_slice(base).map_err(|e| CommitError::Config {
        image: container.image.clone(),
        reason: e.to_string(),
    })?;
    let entrypoint = file.config.entrypoint.clone().unwrap_or_default();
    let args = &container.args;
    match args.strip_prefix(entrypoint.as_slice()) {
        Some(cmd) if !entrypoint.is_empty() => file.config.cmd = Some(cmd.to_vec()),
        _ => {
            file.config.entrypoint = None;
            file.config.cmd = Some(args.clone());
        }
    }
    file.config.env = Some(container.env.clone());
    file.config.working_dir = Some(container.working_dir.clone()).filter(|d| d != "/");
    file.created = now.to_string();
    file.author = req.author.clone().or(file.author);
    file.rootfs.diff_ids.push(diff_id.to_string());
    file.history.push(History {
        created: Some(now.to_string()),
        created_by: Some(args.join(" ")),
        author: req.author.clone(),
        comment: req.message.clone(),
        empty_layer: false,
    });
    for change in &req.changes {
        apply_change(&mut file, change)?;
    }
    Ok(file)
}

/// Writes the container's diff as a layer and adds the image; returns it.
pub fn commit(instance: &Instance, req: &CommitRequest) -> Result<ImageRecord, CommitError> {
    let lookup = |e: &dyn std::fmt::Display| CommitError::Lookup(e.to_string());
    let id = instance
        .containers
        .resolve(&req.container)
        .map_err(|e| lookup(&e))?;
    let record = instance.containers.load(&id).map_err(|e| lookup(&e))?;
    let store = instance.images().map_err(|e| lookup(&e))?;
    let base = store
        .resolve(&record.config.image_id)
        .map_err(|e| lookup(&e))?;
    let base_blob = std::fs::read(store.blob_path(&base.id)).map_err(|e| CommitError::Config {
        image: record.config.image.clone(),
        reason: e.to_string(),
    })?;
    let now = crate::util::time::now_rfc3339();
    // Bad changes fail before any layer is written.
    new_config(&base_blob, &record.config, "", req, &now)?;
    let dir = instance.containers.container_dir(&id);
    let tar = dir.join("commit.tar");
    let layer_error = |source| CommitError::Layer {
        container: record.config.name.clone(),
        path: tar.clone(),
        source,
    };
    let written = std::fs::File::create(&tar).and_then(|f| {
        super::layer_tar::write_layer(&dir.join("upper"), std::io::BufWriter::new(f), None)
    });
    let added = written
        .map_err(layer_error)
        .and_then(|()| store.add_layer_file(&tar, &|| {}).map_err(|e| lookup(&e)));
    let _ = std::fs::remove_file(&tar);
    let (digest, _) = added?;
    let file = new_config(&base_blob, &record.config, &digest, req, &now)?;
    let json = serde_json::to_vec(&file).expect("config serialises");
    let mut layers = base.layers.clone();
    layers.push(digest);
    let tags: Vec<String> = req.reference.iter().map(|r| normalise(r)).collect();
    store
        .commit_built(&json, &layers, &tags)
        .map_err(|e| lookup(&e))
}

/// `REPO` alone is `REPO:latest`, as Docker tags it.
fn normalise(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if last.contains(':') || last.contains('@') {
        reference.to_string()
    } else {
        format!("{reference}:latest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> ImageFile {
        serde_json::from_str(
            r#"{"created":"2024-01-01T00:00:00Z","architecture":"amd64","os":"linux",
                "config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap()
    }

    #[test]
    fn changes_set_the_config_as_dockerfile_lines_do() {
        let mut f = file();
        for c in [
            r#"CMD ["httpd", "-f"]"#,
            "ENV A=1 B=two",
            "ENV C three",
            "LABEL tier=web",
            "WORKDIR /srv",
            "EXPOSE 80/tcp 53/udp",
            "USER 1000",
        ] {
            apply_change(&mut f, c).unwrap();
        }
        let c = &f.config;
        assert_eq!(
            c.cmd.as_deref(),
            Some(&["httpd".to_string(), "-f".to_string()][..])
        );
        let env = c.env.clone().unwrap();
        assert!(
            env.contains(&"A=1".into()) && env.contains(&"B=two".into()),
            "{env:?}"
        );
        assert!(env.contains(&"C=three".into()), "{env:?}");
        assert_eq!(c.labels.as_ref().unwrap()["tier"], "web");
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        assert_eq!(c.user.as_deref(), Some("1000"));
        let ports: Vec<_> = c.exposed_ports.as_ref().unwrap().keys().cloned().collect();
        assert_eq!(ports, ["53/udp", "80/tcp"]);
        let shell = {
            apply_change(&mut f, "CMD echo hi").unwrap();
            f.config.cmd.clone().unwrap()
        };
        assert_eq!(shell, ["/bin/sh", "-c", "echo hi"]);
        let bad = apply_change(&mut f, "RUN true").unwrap_err();
        assert!(bad.to_string().contains("RUN true"), "{bad}");
    }

    #[test]
    fn a_bare_repository_is_tagged_latest() {
        assert_eq!(normalise("me/app"), "me/app:latest");
        assert_eq!(normalise("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(normalise("app:v2"), "app:v2");
    }
}
