//! Docker's `run` flags beyond the core ones, as one struct that `run`
//! flattens in (and `create` can too): each either takes effect or is
//! refused with one clear error, never silently ignored.

use clap::Args;

use crate::container::build::RunRequest;

#[derive(Args, Debug, Default, Clone)]
pub struct RunFlags {
    /// Restart policy: no, always, on-failure[:N] or unless-stopped
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
}

impl RunFlags {
    /// Moves the flags into the request (checked when the config is built).
    pub fn apply(self, request: &mut RunRequest) {
        request.restart = self.restart;
    }
}
