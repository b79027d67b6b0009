//! Docker's `run` flags beyond the core ones, as one struct that `run`
//! flattens in (and `create` can too): each either takes effect or is
//! refused with one clear error, never silently ignored.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::container::build::RunRequest;
use crate::container::extras::ExtrasRequest;

#[derive(Args, Debug, Default, Clone)]
pub struct RunFlags {
    /// Restart policy: no, always, on-failure[:N] or unless-stopped
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Mount: type=bind|volume|tmpfs,source=…,target=…[,readonly][,…]
    #[arg(long, value_name = "SPEC")]
    pub mount: Vec<String>,
    /// Add a line to /etc/hosts: NAME:IP (IP may be host-gateway)
    #[arg(long = "add-host", value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// Add a supplementary group (number, or a name in the image's /etc/group)
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Set a namespaced sysctl: net.*, fs.mqueue.*, kernel.shm*/msg*/sem
    #[arg(long, value_name = "KEY=VALUE")]
    pub sysctl: Vec<String>,
    /// no-new-privileges[:true|false], seccomp=unconfined, apparmor=…, label=…
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// The container's OOM score adjustment (-1000 to 1000)
    #[arg(long = "oom-score-adj", allow_hyphen_values = true, value_name = "N")]
    pub oom_score_adj: Option<i32>,
    /// Size of /dev/shm, e.g. 128m (default 64m)
    #[arg(long = "shm-size", value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Write the container's id to FILE (which must not exist)
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<PathBuf>,
    /// Image platform: linux/amd64 on this host
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Pull the image first: missing (default), always or never
    #[arg(long, value_name = "POLICY")]
    pub pull: Option<String>,
    /// Forward signals to the container (false: they stop only rcorch, which leaves it running)
    #[arg(long = "sig-proxy", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: Option<String>,
    /// Keys that detach from a TTY container, leaving it running (e.g. ctrl-p,ctrl-q)
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// User namespace: host only
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// Logging driver: json-file (default) or none
    #[arg(long = "log-driver", value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// json-file: max-size=10m (rotate past it), max-file=3 (files kept)
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub log_opt: Vec<String>,
    /// Every capability, no seccomp, unmasked /proc, the host's devices
    #[arg(long)]
    pub privileged: bool,
    /// A host device node in the container (PERMS: rwm letters)
    #[arg(long, value_name = "HOST[:CONTAINER[:PERMS]]")]
    pub device: Vec<String>,
}

/// What `run` does about the image before creating the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Missing,
    Always,
    Never,
}

/// Facts about the host the flags are checked against (read at the edge).
pub struct HostSecurity {
    pub apparmor: bool,
    pub selinux: bool,
    pub arch: &'static str,
}

impl HostSecurity {
    pub fn read() -> HostSecurity {
        let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.trim() == "Y");
        HostSecurity {
            apparmor,
            selinux: Path::new("/sys/fs/selinux/enforce").exists(),
            arch: std::env::consts::ARCH,
        }
    }
}

/// Docker's name for an architecture.
fn docker_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

impl RunFlags {
    /// Refuses what rcorch cannot honour (one error naming the flag) and
    /// returns the warnings for what it accepts without effect, with the
    /// pull policy.
    pub fn check(&self, host: &HostSecurity) -> Result<(Vec<String>, PullPolicy), String> {
        let unsupported =
            |flag: &str, fix: &str| Err(format!("{flag} is not supported yet: {fix}"));
        // Checked again when the config is built; here so a bad one pulls nothing.
        crate::container::logging::parse(self.log_driver.as_deref(), &self.log_opt)?;
        for device in &self.device {
            crate::container::devices::parse_spec(device)?;
        }
        match self.userns.as_deref() {
            None | Some("") | Some("host") => {}
            Some(other) => {
                return unsupported(
                    &format!("--userns {other}"),
                    "containers share the host's user namespace (--userns host)",
                )
            }
        }
        if let Some(platform) = self.platform.as_deref() {
            let arch = docker_arch(host.arch);
            let (os, wanted) = platform.split_once('/').unwrap_or(("linux", platform));
            let wanted = wanted.split('/').next().unwrap_or(wanted);
            let same =
                os == "linux" && (wanted == arch || wanted == host.arch || platform == "linux");
            if !same {
                return Err(format!("--platform {platform}: this host runs linux/{arch} and rcorch does not emulate others"));
            }
        }
        let pull = match self.pull.as_deref() {
            None | Some("missing") => PullPolicy::Missing,
            Some("always") => PullPolicy::Always,
            Some("never") => PullPolicy::Never,
            Some(other) => {
                return Err(format!(
                    "invalid --pull {other:?}: use missing, always or never"
                ))
            }
        };
        let mut warnings = Vec::new();
        for opt in &self.security_opt {
            let (key, value) = opt.split_once(['=', ':']).unwrap_or((opt.as_str(), ""));
            let (present, what) = match key {
                "apparmor" => (host.apparmor, "AppArmor"),
                "label" => (host.selinux, "SELinux"),
                _ => continue,
            };
            if present {
                return unsupported(&format!("--security-opt {key}={value}"), &format!("{what} is enabled here but rcorch does not apply its profiles; remove the option"));
            }
            warnings.push(format!(
                "--security-opt {opt} has no effect: {what} is not enabled on this host"
            ));
        }
        Ok((warnings, pull))
    }

    /// `--sig-proxy=false` or `--detach-keys` in the foreground: how `run`
    /// attaches to a container it starts detached (None: the usual run).
    pub fn attach_options(
        &self,
        detach: bool,
    ) -> Result<Option<super::attach::AttachOptions>, String> {
        let sig_proxy = super::attach::sig_proxy(self.sig_proxy.as_deref())?;
        let keys = self
            .detach_keys
            .as_deref()
            .map(crate::container::detach_keys::parse)
            .transpose()?;
        if detach {
            if self.detach_keys.is_some() {
                return Err(
                    "--detach-keys is for an attached run: with -d, give it to 'rcorch attach'"
                        .into(),
                );
            }
            if self.sig_proxy.is_some() {
                return Err(
                    "Conflicting options: --sig-proxy and -d (a detached run proxies no signals)"
                        .into(),
                );
            }
            return Ok(None);
        }
        if sig_proxy && keys.is_none() {
            return Ok(None);
        }
        let default = crate::container::detach_keys::parse(crate::container::detach_keys::DEFAULT);
        Ok(Some(super::attach::AttachOptions {
            stdin: true,
            sig_proxy,
            keys: keys.unwrap_or_else(|| default.unwrap_or_default()),
        }))
    }

    /// Moves the flags into the request (checked when the config is built);
    /// `cwd` resolves `-v ./relative:/path`.
    pub fn apply(self, request: &mut RunRequest, cwd: &Path) {
        request.restart = self.restart;
        request.mounts = self.mount;
        for volume in &mut request.volumes {
            *volume = absolute_source(volume, cwd);
        }
        request.cidfile = self.cidfile.map(|f| cwd.join(f));
        request.log_driver = self.log_driver;
        request.log_opts = self.log_opt;
        request.extras = ExtrasRequest {
            add_host: self.add_host,
            group_add: self.group_add,
            sysctl: self.sysctl,
            security_opt: self
                .security_opt
                .into_iter()
                .filter(|o| !o.starts_with("apparmor") && !o.starts_with("label"))
                .collect(),
            oom_score_adj: self.oom_score_adj,
            shm_size: self.shm_size,
            device: self.device,
            privileged: self.privileged,
        };
    }
}

/// Docker's `-v ./dir:/dst`: a source starting with `.` is a path relative
/// to the working directory (without it, a name is a volume's name).
pub fn absolute_source(spec: &str, cwd: &Path) -> String {
    let (source, rest) = spec.split_once(':').unwrap_or((spec, ""));
    let relative =
        source == "." || source == ".." || source.starts_with("./") || source.starts_with("../");
    if !relative || rest.is_empty() {
        return spec.to_string();
    }
    let joined = cwd.join(source);
    let mut clean = std::path::PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    format!("{}:{rest}", clean.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_sources_are_relative_to_the_working_directory() {
        let cwd = Path::new("/home/u/app");
        assert_eq!(
            absolute_source("./data:/d:ro", cwd),
            "/home/u/app/data:/d:ro"
        );
        assert_eq!(absolute_source(".:/src", cwd), "/home/u/app:/src");
        assert_eq!(absolute_source("../x/./y:/y", cwd), "/home/u/x/y:/y");
    }

    #[test]
    fn names_absolute_paths_and_anonymous_volumes_are_left_alone() {
        let cwd = Path::new("/w");
        for spec in ["cache:/c", "/abs:/d", "/anon", "data/sub:/d"] {
            assert_eq!(absolute_source(spec, cwd), spec);
        }
    }
}
