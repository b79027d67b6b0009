//! Docker's `run` flags beyond the core ones, as one struct that `run`
//! flattens in (and `create` can too): each either takes effect or is
//! refused with one clear error, never silently ignored.

use std::path::Path;

use clap::Args;

use crate::container::build::RunRequest;

#[derive(Args, Debug, Default, Clone)]
pub struct RunFlags {
    /// Restart policy: no, always, on-failure[:N] or unless-stopped
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Mount: type=bind|volume|tmpfs,source=…,target=…[,readonly][,…]
    #[arg(long, value_name = "SPEC")]
    pub mount: Vec<String>,
}

impl RunFlags {
    /// Moves the flags into the request (checked when the config is built);
    /// `cwd` resolves `-v ./relative:/path`.
    pub fn apply(self, request: &mut RunRequest, cwd: &Path) {
        request.restart = self.restart;
        request.mounts = self.mount;
        for volume in &mut request.volumes {
            *volume = absolute_source(volume, cwd);
        }
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
