//! `RUN --mount=...` as the runtime's bind and tmpfs mounts: cache dirs kept
//! under `<root>/build-cache-mounts` between builds, context binds (read
//! only; never outside the context), secrets copied to the step's private
//! dir and bound read-only, tmpfs. The empty mountpoints the runtime had to
//! create in the rootfs are removed from the layer afterwards, so no
//! mount — and no secret — ever lands in an image.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::config::join_workdir;
use super::dockerfile::{Mount, MountType, Sharing};
use crate::image::sha256::digest_hex;

pub struct MountCtx<'a> {
    pub root: &'a Path,
    pub context: &'a Path,
    pub secrets: &'a BTreeMap<String, PathBuf>,
    /// The step's private dir (secret copies go here).
    pub step_dir: &'a Path,
    pub workdir: &'a str,
}

/// What the RUN container gets.
#[derive(Default)]
pub struct MountSetup {
    /// `SRC:DST[:ro]` binds.
    pub volumes: Vec<String>,
    pub tmpfs: Vec<String>,
    /// `NAME=VALUE` from `type=secret,env=NAME`.
    pub env: Vec<String>,
    /// Mount targets, for removing their stubs.
    pub targets: Vec<String>,
    /// `sharing=locked` caches, held until the step ends.
    pub locks: Vec<Flock<fs::File>>,
}

pub fn prepare(mounts: &[Mount], ctx: &MountCtx) -> Result<MountSetup, String> {
    let mut out = MountSetup::default();
    for m in mounts {
        let target = m
            .target
            .as_deref()
            .map(|t| join_workdir(Some(ctx.workdir), t));
        match m.kind {
            MountType::Ssh => return Err("RUN --mount=type=ssh is not supported: rcorch has no SSH agent forwarding; fetch with a secret (--secret) or COPY the files".into()),
            MountType::Tmpfs => out.tmpfs.push(target.clone().expect("parser requires a target")),
            MountType::Cache => cache(m, target.as_deref().expect("parser requires a target"), ctx, &mut out)?,
            MountType::Bind => bind(m, target.as_deref().expect("parser requires a target"), ctx, &mut out)?,
            MountType::Secret => secret(m, target.as_deref(), ctx, &mut out)?,
        }
        out.targets.extend(target);
    }
    Ok(out)
}

fn cache(m: &Mount, target: &str, ctx: &MountCtx, out: &mut MountSetup) -> Result<(), String> {
    let id = m.id.clone().unwrap_or_else(|| target.to_string());
    let dir = ctx
        .root
        .join("build-cache-mounts")
        .join(digest_hex(id.as_bytes()));
    if !dir.exists() {
        fs::create_dir_all(&dir).map_err(|e| format!("cache mount {id}: {e}"))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(m.mode.unwrap_or(0o755)))
            .map_err(|e| e.to_string())?;
        std::os::unix::fs::chown(&dir, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
            .map_err(|e| e.to_string())?;
    }
    if m.sharing == Sharing::Locked {
        let f = fs::File::create(dir.with_extension("lock")).map_err(|e| e.to_string())?;
        out.locks.push(
            Flock::lock(f, FlockArg::LockExclusive)
                .map_err(|(_, e)| format!("lock cache {id}: {e}"))?,
        );
    }
    let ro = if m.readonly { ":ro" } else { "" };
    out.volumes.push(format!("{}:{target}{ro}", dir.display()));
    Ok(())
}

fn bind(m: &Mount, target: &str, ctx: &MountCtx, out: &mut MountSetup) -> Result<(), String> {
    if m.from.is_some() {
        return Err(
            "RUN --mount=type=bind,from=... is not supported yet; COPY --from the files first"
                .into(),
        );
    }
    if !m.readonly {
        return Err("RUN --mount=type=bind,rw is not supported yet (writes would reach the context); drop rw".into());
    }
    let source = m.source.as_deref().unwrap_or(".");
    let base = ctx
        .context
        .canonicalize()
        .map_err(|e| format!("build context: {e}"))?;
    let path = base
        .join(source.trim_start_matches('/'))
        .canonicalize()
        .map_err(|_| format!("bind source {source}: not found in the build context"))?;
    if !path.starts_with(&base) {
        return Err(format!("bind source {source}: outside the build context"));
    }
    out.volumes.push(format!("{}:{target}:ro", path.display()));
    Ok(())
}

fn secret(
    m: &Mount,
    target: Option<&str>,
    ctx: &MountCtx,
    out: &mut MountSetup,
) -> Result<(), String> {
    let id =
        m.id.clone()
            .or_else(|| {
                target
                    .and_then(|t| t.rsplit('/').next())
                    .map(str::to_string)
            })
            .unwrap_or_default();
    let Some(src) = ctx.secrets.get(&id) else {
        if m.required {
            return Err(format!(
                "secret {id} is required: pass --secret id={id},src=FILE"
            ));
        }
        return Ok(());
    };
    let data =
        fs::read(src).map_err(|e| format!("secret {id}: cannot read {}: {e}", src.display()))?;
    if let Some(name) = &m.env {
        out.env.push(format!(
            "{name}={}",
            String::from_utf8_lossy(&data).trim_end_matches('\n')
        ));
        if target.is_none() {
            return Ok(());
        }
    }
    let copy = ctx
        .step_dir
        .join(format!("secret-{}", digest_hex(id.as_bytes())));
    fs::write(&copy, &data).map_err(|e| e.to_string())?;
    fs::set_permissions(&copy, fs::Permissions::from_mode(m.mode.unwrap_or(0o400)))
        .map_err(|e| e.to_string())?;
    std::os::unix::fs::chown(&copy, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
        .map_err(|e| e.to_string())?;
    let dest = target
        .map(str::to_string)
        .unwrap_or_else(|| format!("/run/secrets/{id}"));
    out.volumes.push(format!("{}:{dest}:ro", copy.display()));
    out.targets.push(dest);
    Ok(())
}

/// Removes the empty files and dirs the runtime made as mountpoints (and
/// the empty parents made for them) where no lower layer has that path.
pub fn remove_stubs(upper: &Path, targets: &[String], lowers: &[PathBuf]) {
    let in_lowers = |rel: &Path| {
        lowers
            .iter()
            .any(|l| l.join(rel).symlink_metadata().is_ok())
    };
    for t in targets {
        let mut rel = PathBuf::from(t.trim_start_matches('/'));
        loop {
            if rel.as_os_str().is_empty() || in_lowers(&rel) {
                break;
            }
            let p = upper.join(&rel);
            let removed = match p.symlink_metadata() {
                Ok(m) if m.is_dir() => fs::remove_dir(&p).is_ok(),
                Ok(m) if m.is_file() && m.len() == 0 => fs::remove_file(&p).is_ok(),
                _ => false,
            };
            if !removed || !rel.pop() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stubs_go_but_real_content_and_lower_paths_stay() {
        let upper = tempfile::tempdir().unwrap();
        let lower = tempfile::tempdir().unwrap();
        fs::create_dir_all(lower.path().join("root")).unwrap();
        fs::create_dir_all(upper.path().join("run/secrets")).unwrap();
        fs::write(upper.path().join("run/secrets/tok"), "").unwrap();
        fs::create_dir_all(upper.path().join("root/.cache")).unwrap();
        fs::create_dir_all(upper.path().join("keep")).unwrap();
        fs::write(upper.path().join("keep/data"), "x").unwrap();
        let targets = [
            "/run/secrets/tok".to_string(),
            "/root/.cache".into(),
            "/keep/data".into(),
        ];
        remove_stubs(upper.path(), &targets, &[lower.path().to_path_buf()]);
        assert!(!upper.path().join("run").exists());
        assert!(!upper.path().join("root/.cache").exists());
        assert!(
            upper.path().join("root").exists(),
            "in a lower layer: the runtime did not make it"
        );
        assert!(upper.path().join("keep/data").exists());
    }
}
