//! `run`'s health-check flags (Docker's names), grouped so `RunArgs`
//! carries them as one field.

use clap::Args;

use crate::container::health::HealthRequest;

#[derive(Args, Debug, Default)]
pub struct HealthFlags {
    /// Command to run inside the container to check its health (via /bin/sh -c)
    #[arg(long, value_name = "CMD")]
    health_cmd: Option<String>,
    /// Time between checks (e.g. 30s, 1m30s; default 30s)
    #[arg(long, value_name = "DURATION")]
    health_interval: Option<String>,
    /// Longest a check may run before it counts as failed (default 30s)
    #[arg(long, value_name = "DURATION")]
    health_timeout: Option<String>,
    /// Consecutive failures that make the container unhealthy (default 3)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    health_retries: Option<String>,
    /// Start-up time during which failures do not count (default 0s)
    #[arg(long, value_name = "DURATION")]
    health_start_period: Option<String>,
    /// Time between checks during the start period (default 5s)
    #[arg(long, value_name = "DURATION")]
    health_start_interval: Option<String>,
    /// Disable the image's HEALTHCHECK
    #[arg(long)]
    no_healthcheck: bool,
}

impl HealthFlags {
    pub fn request(self) -> HealthRequest {
        HealthRequest {
            cmd: self.health_cmd,
            interval: self.health_interval,
            timeout: self.health_timeout,
            retries: self.health_retries,
            start_period: self.health_start_period,
            start_interval: self.health_start_interval,
            disabled: self.no_healthcheck,
        }
    }
}
