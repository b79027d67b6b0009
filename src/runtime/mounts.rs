//! The container's filesystem: planned as data (`plan_mounts`, pure and
//! snapshot-tested), then applied inside the container's mount namespace
//! (`apply`). Every target is resolved inside the new root with
//! `RESOLVE_IN_ROOT`, so an image's symlinks can never redirect a mount onto
//! a host path.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

use super::sys::{fd_path, open_in_root};
use crate::cgroups::Layout;
use crate::container::tmpfs::TmpfsOptions;
use crate::container::{ContainerConfig, MountKind};

/// Docker's masked paths: hidden behind /dev/null (files) or an empty
/// read-only tmpfs (directories).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// (name, major, minor): the only device nodes a container gets.
pub const DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Host-side paths the plan refers to.
#[derive(Debug, Clone, PartialEq)]
pub struct RootfsPaths {
    pub rootfs: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub hosts: PathBuf,
    pub hostname: PathBuf,
    pub resolv_conf: PathBuf,
    /// The container's copies of its secrets and configs, `files/<index>`.
    pub files: PathBuf,
}

/// What to put where, relative to the container root.
#[derive(Debug, Clone, PartialEq)]
pub enum MountOp {
    Fs {
        fstype: &'static str,
        target: &'static str,
        flags: MsFlags,
        data: &'static str,
    },
    Bind {
        source: PathBuf,
        target: PathBuf,
        read_only: bool,
        file: bool,
    },
    Tmpfs {
        target: PathBuf,
        options: TmpfsOptions,
    },
    /// A named volume's directory, bind-mounted; when `copy_up`, first
    /// filled from the image if it is empty (Docker's first-use copy).
    Volume {
        source: PathBuf,
        target: PathBuf,
        read_only: bool,
        copy_up: bool,
    },
    Devices,
    /// One device node (OCI `linux.devices`).
    Device {
        path: PathBuf,
        kind: SFlag,
        major: u64,
        minor: u64,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Generic(GenericMount),
    /// A cgroup hierarchy (`cgroup` with `options`, or `cgroup2`), read-only.
    /// Mounted after the cgroup namespace exists, so it shows the
    /// container's own cgroup as its root.
    Cgroup {
        fstype: &'static str,
        target: PathBuf,
        options: String,
    },
    /// Remount something already mounted read-only.
    ReadOnly {
        target: &'static str,
    },
    Symlink {
        link: &'static str,
        points_to: &'static str,
    },
}

/// A mount described as the OCI spec does: any filesystem or a bind, with
/// its flags, data and propagation already decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct GenericMount {
    pub source: PathBuf,
    pub target: PathBuf,
    pub fstype: String,
    /// Flags other than MS_BIND/MS_REC/propagation (MS_RDONLY, MS_NOSUID…).
    pub flags: MsFlags,
    pub data: String,
    pub bind: bool,
    pub recursive: bool,
    /// MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE, maybe with MS_REC.
    pub propagation: MsFlags,
}

/// Where the container's root comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum RootSource {
    /// rcorch's images: an overlay of the layers. Layer paths in `data` are
    /// relative to `cwd`, which keeps many-layer option strings under a page.
    Overlay { cwd: PathBuf, data: String },
    /// An OCI bundle's rootfs directory, bound onto itself so pivot_root
    /// accepts it.
    Directory,
    /// No mount namespace of its own: chroot into the directory, mount nothing.
    Chroot,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MountPlan {
    pub root: RootSource,
    pub before_pivot: Vec<MountOp>,
    pub read_only_root: bool,
    /// Propagation of the container's `/` after pivot_root (none: private).
    pub root_propagation: MsFlags,
    /// Hidden behind /dev/null or an empty read-only tmpfs.
    pub masked: Vec<PathBuf>,
    pub readonly: Vec<PathBuf>,
}

/// Overlay `lowerdir` entries relative to the layers' common parent.
fn overlay_options(layers: &[PathBuf], paths: &RootfsPaths) -> (PathBuf, String) {
    let base = layers
        .first()
        .and_then(|l| l.parent())
        .and_then(|p| p.parent())
        .map(Path::to_path_buf);
    let base = base
        .filter(|b| layers.iter().all(|l| l.starts_with(b)))
        .unwrap_or_else(|| PathBuf::from("/"));
    let lower: Vec<String> = layers
        .iter()
        .map(|l| l.strip_prefix(&base).unwrap_or(l).display().to_string())
        .collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        paths.upper.display(),
        paths.work.display()
    );
    (base, data)
}

/// /sys/fs/cgroup as Docker shows it: on v2 one read-only cgroup2 mount;
/// on v1 a tmpfs with one read-only mount per hierarchy rcorch uses.
pub fn cgroup_mounts(layout: &Layout) -> Vec<MountOp> {
    match layout {
        Layout::V2 { .. } => vec![MountOp::Cgroup {
            fstype: "cgroup2",
            target: "/sys/fs/cgroup".into(),
            options: String::new(),
        }],
        Layout::V1 { mounts } => {
            let mut ops = vec![MountOp::Fs {
                fstype: "tmpfs",
                target: "/sys/fs/cgroup",
                flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                data: "mode=755",
            }];
            // One mount per hierarchy; its directory name lists its controllers
            // ("cpu,cpuacct"), which is exactly the option the kernel wants.
            let hierarchies: std::collections::BTreeSet<String> = mounts
                .values()
                .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
                .collect();
            for name in hierarchies {
                ops.push(MountOp::Cgroup {
                    fstype: "cgroup",
                    target: Path::new("/sys/fs/cgroup").join(&name),
                    options: name,
                });
            }
            ops.push(MountOp::ReadOnly {
                target: "/sys/fs/cgroup",
            });
            ops
        }
    }
}

/// The /etc files rcorch provides, then the user's mounts, parents before
/// children (Docker sorts by depth too): a volume or bind on /etc must not
/// hide /etc/hosts, and is copied up before anything is mounted inside it.
fn file_and_user_mounts(config: &ContainerConfig, paths: &RootfsPaths) -> Vec<MountOp> {
    let mut ops: Vec<(PathBuf, MountOp)> = Vec::new();
    for (source, target) in [
        (&paths.hosts, "/etc/hosts"),
        (&paths.hostname, "/etc/hostname"),
        (&paths.resolv_conf, "/etc/resolv.conf"),
    ] {
        let op = MountOp::Bind {
            source: source.clone(),
            target: target.into(),
            read_only: false,
            file: true,
        };
        ops.push((target.into(), op));
    }
    for m in &config.mounts {
        let op = match m.kind {
            MountKind::Bind => MountOp::Bind {
                source: m.source.clone(),
                target: m.destination.clone(),
                read_only: m.read_only,
                file: !m.source.is_dir(),
            },
            MountKind::Tmpfs => MountOp::Tmpfs {
                target: m.destination.clone(),
                // Records from before options were kept: mounted as then.
                options: m.tmpfs.clone().unwrap_or(TmpfsOptions {
                    noexec: false,
                    ..TmpfsOptions::default()
                }),
            },
            MountKind::Volume => MountOp::Volume {
                source: m.source.clone(),
                target: m.destination.clone(),
                read_only: m.read_only,
                copy_up: !m.nocopy,
            },
        };
        ops.push((m.destination.clone(), op));
    }
    for (i, f) in config.files.iter().enumerate() {
        let op = MountOp::Bind {
            source: paths.files.join(i.to_string()),
            target: f.target.clone(),
            read_only: true,
            file: true,
        };
        ops.push((f.target.clone(), op));
    }
    // Stable: equal depths keep their order.
    ops.sort_by_key(|(target, _)| relative_depth(target));
    ops.into_iter().map(|(_, op)| op).collect()
}

fn relative_depth(path: &Path) -> usize {
    path.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count()
}

pub fn plan_mounts(
    config: &ContainerConfig,
    paths: &RootfsPaths,
    cgroups: Vec<MountOp>,
) -> MountPlan {
    let nosuid_nodev_noexec = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let mut ops = vec![
        MountOp::Fs {
            fstype: "proc",
            target: "/proc",
            flags: nosuid_nodev_noexec,
            data: "",
        },
        MountOp::Fs {
            fstype: "sysfs",
            target: "/sys",
            flags: nosuid_nodev_noexec | MsFlags::MS_RDONLY,
            data: "",
        },
        MountOp::Fs {
            fstype: "tmpfs",
            target: "/dev",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            data: "mode=755,size=65536k",
        },
        MountOp::Devices,
        MountOp::Fs {
            fstype: "devpts",
            target: "/dev/pts",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            data: "newinstance,ptmxmode=0666,mode=0620,gid=5",
        },
        MountOp::Fs {
            fstype: "tmpfs",
            target: "/dev/shm",
            flags: nosuid_nodev_noexec,
            data: "mode=1777,size=65536k",
        },
        MountOp::Fs {
            fstype: "mqueue",
            target: "/dev/mqueue",
            flags: nosuid_nodev_noexec,
            data: "",
        },
        MountOp::Symlink {
            link: "/dev/ptmx",
            points_to: "pts/ptmx",
        },
        MountOp::Symlink {
            link: "/dev/fd",
            points_to: "/proc/self/fd",
        },
        MountOp::Symlink {
            link: "/dev/stdin",
            points_to: "/proc/self/fd/0",
        },
        MountOp::Symlink {
            link: "/dev/stdout",
            points_to: "/proc/self/fd/1",
        },
        MountOp::Symlink {
            link: "/dev/stderr",
            points_to: "/proc/self/fd/2",
        },
    ];
    if let Some(bytes) = config.extras.shm_size {
        // `--shm-size`: a tmpfs of that size over the default one.
        ops.push(MountOp::Tmpfs {
            target: "/dev/shm".into(),
            options: TmpfsOptions {
                data: format!("mode=1777,size={bytes}"),
                ..TmpfsOptions::default()
            },
        });
    }
    ops.extend(file_and_user_mounts(config, paths));
    ops.splice(2..2, cgroups);
    let (cwd, data) = overlay_options(&config.layers, paths);
    MountPlan {
        root: RootSource::Overlay { cwd, data },
        before_pivot: ops,
        read_only_root: config.read_only,
        root_propagation: MsFlags::empty(),
        masked: MASKED_PATHS.iter().map(PathBuf::from).collect(),
        readonly: READONLY_PATHS.iter().map(PathBuf::from).collect(),
    }
}

/// A step that failed, with the path it was working on.
#[derive(Debug)]
pub struct MountError {
    pub what: &'static str,
    pub path: PathBuf,
    pub errno: Errno,
}

impl std::fmt::Display for MountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.what,
            self.path.display(),
            self.errno.desc()
        )
    }
}

pub(super) type Result<T> = std::result::Result<T, MountError>;

pub(super) fn step(what: &'static str, path: impl AsRef<Path>) -> impl FnOnce(Errno) -> MountError {
    let path = path.as_ref().to_path_buf();
    move |errno| MountError { what, path, errno }
}

/// Runs inside the container's fresh mount namespace: the root and every
/// mount under it, up to (not including) pivot_root.
pub fn apply_before_pivot(plan: &MountPlan, paths: &RootfsPaths) -> Result<()> {
    if plan.root == RootSource::Chroot {
        return Ok(());
    }
    let none: Option<&str> = None;
    // Nothing we mount may propagate back to the host.
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(step("make private", "/"))?;
    match &plan.root {
        RootSource::Overlay { cwd, data } => {
            nix::unistd::chdir(cwd).map_err(step("chdir", cwd))?;
            mount(
                Some("overlay"),
                &paths.rootfs,
                Some("overlay"),
                MsFlags::empty(),
                Some(data.as_str()),
            )
            .map_err(step("mount overlay on", &paths.rootfs))?;
        }
        RootSource::Chroot => {}
        RootSource::Directory => mount(
            Some(&paths.rootfs),
            &paths.rootfs,
            none,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            none,
        )
        .map_err(step("bind the rootfs", &paths.rootfs))?,
    }
    let root = nix::fcntl::open(
        &paths.rootfs,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
        Mode::empty(),
    )
    .map_err(step("open", &paths.rootfs))?;
    // SAFETY: open just returned this fd and nothing else owns it.
    let root: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(root) };
    for op in &plan.before_pivot {
        apply_op(&root, op)?;
    }
    Ok(())
}

/// pivot_root, then what must be done from inside: masked and read-only
/// paths, the read-only root, the root's propagation.
pub fn pivot_and_finish(plan: &MountPlan, paths: &RootfsPaths) -> Result<()> {
    if plan.root == RootSource::Chroot {
        nix::unistd::chroot(&paths.rootfs).map_err(step("chroot", &paths.rootfs))?;
        return nix::unistd::chdir("/").map_err(step("chdir", "/"));
    }
    pivot_into(&paths.rootfs)?;
    protect_kernel_files(plan)?;
    if plan.read_only_root {
        remount_read_only(Path::new("/"))?;
    }
    if !plan.root_propagation.is_empty() {
        let none: Option<&str> = None;
        mount(none, "/", none, plan.root_propagation, none)
            .map_err(step("set propagation of", "/"))?;
    }
    Ok(())
}

/// Both halves, for callers with nothing to do at the pivot.
pub fn apply(plan: &MountPlan, paths: &RootfsPaths) -> Result<()> {
    apply_before_pivot(plan, paths)?;
    pivot_and_finish(plan, paths)
}

fn apply_op(root: &OwnedFd, op: &MountOp) -> Result<()> {
    let none: Option<&str> = None;
    match op {
        MountOp::Fs {
            fstype,
            target,
            flags,
            data,
        } => {
            let dir = ensure_in_root(root, Path::new(target), false)?;
            let data = (!data.is_empty()).then_some(*data);
            mount(
                Some(*fstype),
                fd_path(&dir).as_str(),
                Some(*fstype),
                *flags,
                data,
            )
            .map_err(step("mount", target))
        }
        MountOp::Bind {
            source,
            target,
            read_only,
            file,
        } => {
            let at = ensure_in_root(root, target, *file)?;
            let at = fd_path(&at);
            mount(
                Some(source),
                at.as_str(),
                none,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                none,
            )
            .map_err(step("bind mount", source))?;
            if *read_only {
                // The target fd still names the directory under the new mount; reopen it.
                let mounted = ensure_in_root(root, target, *file)?;
                remount_read_only(Path::new(&fd_path(&mounted)))?;
            }
            Ok(())
        }
        MountOp::Tmpfs { target, options } => {
            let dir = ensure_in_root(root, target, false)?;
            let data = (!options.data.is_empty()).then_some(options.data.as_str());
            mount(
                Some("tmpfs"),
                fd_path(&dir).as_str(),
                Some("tmpfs"),
                tmpfs_flags(options),
                data,
            )
            .map_err(step("mount tmpfs", target))
        }
        MountOp::Volume {
            source,
            target,
            read_only,
            copy_up,
        } => {
            if *copy_up {
                // Before the mount hides it: the image's content at `target`.
                crate::volume::copy::copy_up(root, target, source).map_err(|e| match e {
                    crate::volume::VolumeError::Copy { path, source } => MountError {
                        what: "copy the image's content into the volume:",
                        path,
                        errno: source,
                    },
                    _ => step("copy the image's content into the volume at", target)(Errno::EIO),
                })?;
            }
            apply_op(
                root,
                &MountOp::Bind {
                    source: source.clone(),
                    target: target.clone(),
                    read_only: *read_only,
                    file: false,
                },
            )
        }
        MountOp::Devices => make_devices(root),
        MountOp::Device {
            path,
            kind,
            major,
            minor,
            mode,
            uid,
            gid,
        } => super::mounts_generic::make_device(
            root,
            path,
            (*kind, nix::sys::stat::makedev(*major, *minor)),
            *mode,
            (*uid, *gid),
        ),
        MountOp::Generic(m) => super::mounts_generic::apply_generic(root, m),
        MountOp::Cgroup {
            fstype,
            target,
            options,
        } => {
            let dir = ensure_in_root(root, target, false)?;
            let flags =
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
            let data = (!options.is_empty()).then_some(options.as_str());
            let at = fd_path(&dir);
            match mount(Some("cgroup"), at.as_str(), Some(*fstype), flags, data) {
                // A user namespace without a cgroup namespace of its own may
                // not mount cgroup2: bind the host's (still at "/" before
                // the pivot) read-only instead, as runc does.
                Err(Errno::EPERM | Errno::EBUSY) if *fstype == "cgroup2" => {
                    let none: Option<&str> = None;
                    let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
                    mount(Some("/sys/fs/cgroup"), at.as_str(), none, bind, none)
                        .map_err(step("bind cgroup", target))?;
                    remount_read_only(Path::new(&at))
                }
                other => other.map_err(step("mount cgroup", target)),
            }
        }
        MountOp::ReadOnly { target } => {
            let dir = ensure_in_root(root, Path::new(target), false)?;
            remount_read_only(Path::new(&fd_path(&dir)))
        }
        MountOp::Symlink { link, points_to } => {
            let link = Path::new(link);
            let parent = ensure_in_root(root, link.parent().unwrap_or(Path::new("/")), false)?;
            let name = link.file_name().unwrap_or_default();
            match nix::unistd::symlinkat(*points_to, Some(parent.as_raw_fd()), name) {
                Ok(()) | Err(Errno::EEXIST) => Ok(()),
                Err(e) => Err(step("symlink", link)(e)),
            }
        }
    }
}

fn make_devices(root: &OwnedFd) -> Result<()> {
    let dev = ensure_in_root(root, Path::new("/dev"), false)?;
    for (name, major, minor) in DEVICES {
        let perm = Mode::from_bits_truncate(0o666);
        nix::sys::stat::mknodat(
            Some(dev.as_raw_fd()),
            *name,
            SFlag::S_IFCHR,
            perm,
            nix::sys::stat::makedev(*major, *minor),
        )
        .map_err(step("mknod /dev/", name))?;
    }
    Ok(())
}

/// Opens `path` (absolute, in container terms) under `root`, creating any
/// missing directories, and the last component as a file when `file`.
pub fn ensure_in_root(root: &OwnedFd, path: &Path, file: bool) -> Result<OwnedFd> {
    let relative: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let opath = libc::O_PATH;
    match open_in_root(root, &relative, opath) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(step("resolve", path)(e)),
    }
    let mut so_far = PathBuf::new();
    let components: Vec<_> = relative.components().collect();
    for (i, component) in components.iter().enumerate() {
        let parent = open_in_root(root, &so_far, opath | libc::O_DIRECTORY)
            .map_err(step("resolve", &so_far))?;
        so_far.push(component);
        let last = i + 1 == components.len();
        let created = if last && file {
            nix::fcntl::openat(
                Some(parent.as_raw_fd()),
                component.as_os_str(),
                nix::fcntl::OFlag::O_CREAT
                    | nix::fcntl::OFlag::O_WRONLY
                    | nix::fcntl::OFlag::O_NOFOLLOW
                    | nix::fcntl::OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o644),
            )
            .map(|fd| {
                let _ = nix::unistd::close(fd);
            })
        } else {
            nix::sys::stat::mkdirat(
                Some(parent.as_raw_fd()),
                component.as_os_str(),
                Mode::from_bits_truncate(0o755),
            )
        };
        match created {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(step("create", &so_far)(e)),
        }
    }
    open_in_root(root, &relative, opath).map_err(step("resolve", path))
}

/// pivot_root onto the new root and detach the old one, so the host's tree is
/// unreachable from the container.
fn pivot_into(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).map_err(step("chdir", rootfs))?;
    nix::unistd::pivot_root(".", ".").map_err(step("pivot_root", rootfs))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(step("detach old root", "/"))?;
    nix::unistd::chdir("/").map_err(step("chdir", "/"))
}

fn protect_kernel_files(plan: &MountPlan) -> Result<()> {
    let none: Option<&str> = None;
    for path in &plan.masked {
        let result = match std::fs::symlink_metadata(path) {
            Err(_) => continue,
            Ok(meta) if meta.is_dir() => mount(
                Some("tmpfs"),
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                none,
            ),
            Ok(_) => mount(Some("/dev/null"), path, none, MsFlags::MS_BIND, none),
        };
        result.map_err(step("mask", path))?;
    }
    for path in &plan.readonly {
        if path.exists() {
            mount(
                Some(path),
                path,
                none,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                none,
            )
            .map_err(step("bind", path))?;
            remount_read_only(path)?;
        }
    }
    Ok(())
}

/// A bind remount keeps the mount's other flags but must restate the ones the
/// kernel locks, so read them first.
pub(super) fn remount_read_only(path: &Path) -> Result<()> {
    let none: Option<&str> = None;
    let current = nix::sys::statvfs::statvfs(path).map_err(step("statvfs", path))?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    use nix::sys::statvfs::FsFlags;
    for (fs_flag, ms_flag) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if current.flags().contains(fs_flag) {
            flags |= ms_flag;
        }
    }
    mount(none, path, none, flags, none).map_err(step("remount read-only", path))
}

#[cfg(test)]
mod tests;

fn tmpfs_flags(o: &TmpfsOptions) -> MsFlags {
    let mut flags = MsFlags::empty();
    flags.set(MsFlags::MS_RDONLY, o.read_only);
    flags.set(MsFlags::MS_NOEXEC, o.noexec);
    flags.set(MsFlags::MS_NOSUID, o.nosuid);
    flags.set(MsFlags::MS_NODEV, o.nodev);
    flags
}
