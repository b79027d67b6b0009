//! `RUN --mount=...` as the runtime's bind and tmpfs mounts: cache dirs kept
//! under `<root>/build-cache-mounts` between builds (`sharing=shared`, a
//! fresh dir for `private` when another step holds the cache, `locked`
//! waits), binds of the context or of a stage/image (`from=`; never outside
//! it; `rw` writes go to a throwaway overlay upper), secrets copied to the
//! step's private dir and bound read-only, tmpfs. The empty mountpoints the runtime had to
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
    /// A stage's or image's layer dirs (bottom first), for `from=`.
    pub from_dirs: &'a dyn Fn(&str) -> Result<Vec<PathBuf>, String>,
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
    /// Cache locks, held until the step ends.
    pub locks: Vec<Flock<fs::File>>,
    /// Overlays made for binds, detached when the setup is dropped.
    pub mounts: Vec<PathBuf>,
}

impl Drop for MountSetup {
    fn drop(&mut self) {
        for m in self.mounts.iter().rev() {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

pub fn prepare(mounts: &[Mount], ctx: &MountCtx) -> Result<MountSetup, String> {
    let mut out = MountSetup::default();
    for (n, m) in mounts.iter().enumerate() {
        let target = m
            .target
            .as_deref()
            .map(|t| join_workdir(Some(ctx.workdir), t));
        match m.kind {
            MountType::Ssh => return Err("RUN --mount=type=ssh is not supported: rcorch has no SSH agent forwarding; fetch with a secret (--secret) or COPY the files".into()),
            MountType::Tmpfs => out.tmpfs.push(target.clone().expect("parser requires a target")),
            MountType::Cache => cache(m, target.as_deref().expect("parser requires a target"), ctx, &mut out)?,
            MountType::Bind => bind(m, (n, target.as_deref().expect("parser requires a target")), ctx, &mut out)?,
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
        fresh_dir(&dir, m).map_err(|e| format!("cache mount {id}: {e}"))?;
    }
    // Every user holds the cache's lock: shared ones a shared lock (never
    // waiting), `private` an exclusive one or else a fresh dir, `locked` an
    // exclusive one, waiting for the others to finish.
    let f = fs::File::create(dir.with_extension("lock")).map_err(|e| e.to_string())?;
    let mut dir = dir;
    let how = match m.sharing {
        Sharing::Shared => FlockArg::LockSharedNonblock,
        Sharing::Private => FlockArg::LockExclusiveNonblock,
        Sharing::Locked => FlockArg::LockExclusive,
    };
    match Flock::lock(f, how) {
        Ok(lock) => out.locks.push(lock),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) if m.sharing == Sharing::Private => {
            dir = ctx
                .step_dir
                .join(format!("private-cache-{}", digest_hex(id.as_bytes())));
            fresh_dir(&dir, m)?;
        }
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {}
        Err((_, e)) => return Err(format!("lock cache {id}: {e}")),
    }
    let ro = if m.readonly { ":ro" } else { "" };
    out.volumes.push(format!("{}:{target}{ro}", dir.display()));
    Ok(())
}

fn fresh_dir(dir: &Path, m: &Mount) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(m.mode.unwrap_or(0o755)))
        .map_err(|e| e.to_string())?;
    std::os::unix::fs::chown(dir, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
        .map_err(|e| e.to_string())
}

fn bind(
    m: &Mount,
    (n, target): (usize, &str),
    ctx: &MountCtx,
    out: &mut MountSetup,
) -> Result<(), String> {
    let (lowers, what) = match &m.from {
        Some(from) => {
            let mut dirs = (ctx.from_dirs)(from)?;
            dirs.reverse();
            (dirs, format!("stage or image {from}"))
        }
        None => {
            let base = ctx
                .context
                .canonicalize()
                .map_err(|e| format!("build context: {e}"))?;
            (vec![base], "the build context".to_string())
        }
    };
    let base = if m.from.is_none() && m.readonly {
        lowers[0].clone()
    } else {
        // A stage has no single dir, and rw writes must never reach their
        // source: an overlay with a throwaway upper in the step dir.
        overlay(&lowers, &ctx.step_dir.join(format!("bind-{n}")), out)?
    };
    let source = m.source.as_deref().unwrap_or(".");
    let path = base
        .join(source.trim_start_matches('/'))
        .canonicalize()
        .map_err(|_| format!("bind source {source}: not found in {what}"))?;
    if !path.starts_with(&base) {
        return Err(format!("bind source {source}: outside {what}"));
    }
    let ro = if m.readonly { ":ro" } else { "" };
    out.volumes.push(format!("{}:{target}{ro}", path.display()));
    Ok(())
}

/// Mounts `lowers` (topmost first) as an overlay under `dir`; returns it.
fn overlay(lowers: &[PathBuf], dir: &Path, out: &mut MountSetup) -> Result<PathBuf, String> {
    let (upper, work, merged, empty) = (
        dir.join("upper"),
        dir.join("work"),
        dir.join("merged"),
        dir.join("empty"),
    );
    for d in [&upper, &work, &merged, &empty] {
        fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let mut lower: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
    if lower.is_empty() {
        lower.push(empty.display().to_string());
    }
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    );
    nix::mount::mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(opts.as_str()),
    )
    .map_err(|e| format!("mount the bind source overlay: {e}"))?;
    out.mounts.push(merged.clone());
    Ok(merged)
}

/// Detaches the mounts a killed build left under `dir` (per mountinfo).
pub fn unmount_under(dir: &Path) {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.display().to_string();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| p.replace("\\040", " "))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort();
    for p in points.iter().rev() {
        let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
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

    fn cache_mount(sharing: &str) -> Mount {
        let spec = format!("type=cache,target=/c,id=c1,sharing={sharing}");
        crate::build::dockerfile::flags::parse_mount(&spec).unwrap()
    }

    fn prepare_in(root: &Path, step: &str, m: &Mount) -> MountSetup {
        let step_dir = root.join(step);
        fs::create_dir_all(&step_dir).unwrap();
        let none = |_: &str| -> Result<Vec<PathBuf>, String> { Err("no stages".into()) };
        let ctx = MountCtx {
            root,
            context: root,
            secrets: &BTreeMap::new(),
            step_dir: &step_dir,
            workdir: "/",
            from_dirs: &none,
        };
        prepare(std::slice::from_ref(m), &ctx).unwrap()
    }

    fn source(setup: &MountSetup) -> String {
        setup.volumes[0].split(':').next().unwrap().to_string()
    }

    #[test]
    fn private_caches_get_a_fresh_dir_while_in_use() {
        let root = tempfile::tempdir().unwrap();
        let first = prepare_in(root.path(), "s1", &cache_mount("private"));
        let second = prepare_in(root.path(), "s2", &cache_mount("private"));
        assert_ne!(source(&first), source(&second));
        assert!(source(&second).starts_with(&root.path().join("s2").display().to_string()));
        // Shared users use the cache beside each other.
        drop((first, second));
        let a = prepare_in(root.path(), "s3", &cache_mount("shared"));
        let b = prepare_in(root.path(), "s4", &cache_mount("shared"));
        assert_eq!(source(&a), source(&b));
        // A private user finds it in use by them.
        let c = prepare_in(root.path(), "s5", &cache_mount("private"));
        assert_ne!(source(&a), source(&c));
        drop((a, b, c));
        let d = prepare_in(root.path(), "s6", &cache_mount("private"));
        assert!(source(&d).contains("build-cache-mounts"), "free again");
    }

    #[test]
    fn locked_caches_wait_for_the_holder() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let root = tempfile::tempdir().unwrap();
        let held = prepare_in(root.path(), "s1", &cache_mount("locked"));
        let released = Arc::new(AtomicBool::new(false));
        let (r, path) = (released.clone(), root.path().to_path_buf());
        let waiter = std::thread::spawn(move || {
            let got = prepare_in(&path, "s2", &cache_mount("locked"));
            (r.load(Ordering::SeqCst), source(&got))
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        released.store(true, Ordering::SeqCst);
        let first = source(&held);
        drop(held);
        let (saw_release, second) = waiter.join().unwrap();
        assert!(
            saw_release,
            "the second locked user ran before the first let go"
        );
        assert_eq!(first, second, "both use the one cache dir");
    }

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
