//! `--mount type=bind|volume|tmpfs,KEY=VALUE,…` as Docker spells it, into
//! the same `MountSpec` that `-v` and `--tmpfs` make. Keys rcorch cannot
//! honour are refused by name, never ignored.

use std::path::PathBuf;

use super::{tmpfs, MountKind, MountSpec};

/// Docker's boolean option values; a bare key means true.
fn flag(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("1") | Some("true") => Ok(true),
        Some("0") | Some("false") => Ok(false),
        Some(v) => Err(format!("invalid value {v:?} for {key}: use true or false")),
    }
}

#[derive(Default)]
struct Fields<'a> {
    kind: Option<&'a str>,
    source: Option<&'a str>,
    target: Option<&'a str>,
    read_only: bool,
    nocopy: bool,
    tmpfs: Vec<String>,
}

/// Parses one `--mount` value; Err is the reason, for the caller to name the value.
pub fn parse(spec: &str) -> Result<MountSpec, String> {
    let mut f = Fields::default();
    for field in spec.split(',').filter(|s| !s.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        let text = || value.ok_or_else(|| format!("{key} needs a value ({key}=…)"));
        match key {
            "type" => f.kind = Some(text()?),
            "source" | "src" => f.source = Some(text()?),
            "target" | "destination" | "dst" => f.target = Some(text()?),
            "readonly" | "ro" => f.read_only = flag(key, value)?,
            "volume-nocopy" => f.nocopy = flag(key, value)?,
            // The container's mounts are private to its namespace already.
            "bind-propagation" => match text()? {
                "private" | "rprivate" => {}
                other => return Err(format!("bind-propagation={other} is not supported (only private/rprivate): mount the shared path another way")),
            },
            // Docker ignores it on Linux (a macOS file-sharing hint).
            "consistency" => {}
            "volume-driver" => match text()? {
                "local" => {}
                other => return Err(format!("volume-driver={other} is not supported: only local volumes")),
            },
            "tmpfs-size" => f.tmpfs.push(format!("size={}", text()?)),
            "tmpfs-mode" => f.tmpfs.push(format!("mode={}", text()?)),
            _ => {
                return Err(format!(
                    "unknown key {key:?}: use type, source, target, readonly, bind-propagation, volume-nocopy, tmpfs-size or tmpfs-mode"
                ))
            }
        }
    }
    build(f)
}

fn build(f: Fields) -> Result<MountSpec, String> {
    let target = f.target.ok_or("target is required (target=/path)")?;
    if !target.starts_with('/') || target == "/" {
        return Err(format!(
            "target {target:?} must be an absolute path other than /"
        ));
    }
    let kind = match f.kind {
        Some("bind") => MountKind::Bind,
        Some("volume") | None => MountKind::Volume,
        Some("tmpfs") => MountKind::Tmpfs,
        Some(other) => {
            return Err(format!(
                "type={other} is not supported: use bind, volume or tmpfs"
            ))
        }
    };
    if kind != MountKind::Tmpfs && !f.tmpfs.is_empty() {
        return Err("tmpfs-size and tmpfs-mode need type=tmpfs".into());
    }
    if kind != MountKind::Volume && f.nocopy {
        return Err("volume-nocopy needs type=volume".into());
    }
    let mut spec = MountSpec {
        kind: kind.clone(),
        source: PathBuf::new(),
        destination: target.into(),
        read_only: f.read_only,
        volume: None,
        nocopy: f.nocopy,
        tmpfs: None,
    };
    match kind {
        MountKind::Bind => {
            let source = f.source.ok_or("type=bind needs source=/host/path")?;
            if !source.starts_with('/') {
                return Err(format!("bind source {source:?} must be an absolute path"));
            }
            spec.source = source.into();
        }
        MountKind::Volume => {
            // No source: an anonymous volume, as in Docker.
            if let Some(name) = f.source {
                if !crate::volume::valid_name(name) {
                    return Err(format!(
                        "invalid volume name {name:?}: use [a-zA-Z0-9][a-zA-Z0-9_.-]+"
                    ));
                }
                spec.volume = Some(name.to_string());
            }
        }
        MountKind::Tmpfs => {
            if f.source.is_some() {
                return Err("type=tmpfs takes no source".into());
            }
            let mut options = tmpfs::parse(&f.tmpfs.join(","))?;
            options.read_only = f.read_only;
            spec.tmpfs = Some(options);
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bind_with_docker_spellings() {
        let m = parse("type=bind,src=/srv,dst=/data,readonly,bind-propagation=rprivate").unwrap();
        assert_eq!(m.kind, MountKind::Bind);
        assert_eq!(m.source, PathBuf::from("/srv"));
        assert_eq!(m.destination, PathBuf::from("/data"));
        assert!(m.read_only);
        let rw = parse("type=bind,source=/srv,target=/d,ro=false").unwrap();
        assert!(!rw.read_only);
    }

    #[test]
    fn volumes_named_anonymous_and_nocopy() {
        let m = parse("type=volume,source=cache,target=/c,volume-nocopy").unwrap();
        assert_eq!(
            (m.kind.clone(), m.volume.as_deref(), m.nocopy),
            (MountKind::Volume, Some("cache"), true)
        );
        let anon = parse("target=/anon").unwrap();
        assert_eq!((anon.kind, anon.volume), (MountKind::Volume, None));
    }

    #[test]
    fn tmpfs_size_and_mode_become_its_options() {
        let m = parse("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        let o = m.tmpfs.unwrap();
        assert_eq!(o.data, "size=1m,mode=1770");
        assert!(o.noexec && o.nosuid && !o.read_only);
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_by_name() {
        for (spec, word) in [
            (
                "type=bind,src=/a,dst=/b,bind-propagation=rshared",
                "rshared",
            ),
            ("type=bind,src=rel,dst=/b", "absolute"),
            ("type=bind,dst=/b", "source"),
            ("type=npipe,src=/a,dst=/b", "npipe"),
            ("type=volume,src=v,dst=/b,volume-opt=x=y", "volume-opt"),
            ("type=volume,src=v,dst=/b,volume-driver=nfs", "nfs"),
            ("type=tmpfs,dst=/t,tmpfs-size=lots", "size"),
            ("type=bind,src=/a,dst=/b,tmpfs-size=1m", "type=tmpfs"),
            ("type=tmpfs,src=/a,dst=/t", "no source"),
            ("type=bind,src=/a", "target"),
            ("type=bind,src=/a,dst=rel", "absolute"),
            ("type=volume,src=a/b,dst=/x", "volume name"),
            ("type=bind,src=/a,dst=/b,readonly=maybe", "maybe"),
        ] {
            let e = parse(spec).unwrap_err();
            assert!(e.contains(word), "{spec}: {e}");
        }
    }
}
