//! Debian's docker-registry as the tests run it: its config, and a
//! process killed when the test is done with it.

use std::path::{Path, PathBuf};
use std::process::Child;

pub const REGISTRY: &str = "/usr/bin/docker-registry";

/// Writes `DIR/registry.yml`: storage under `DIR/registry-data`, listening
/// on `addr`. Returns its path.
pub fn write_config(dir: &Path, addr: &str) -> PathBuf {
    let config = dir.join("registry.yml");
    let storage = dir.join("registry-data");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {addr}\n",
            storage.display()
        ),
    )
    .unwrap();
    config
}

/// A registry process at `addr`, killed on drop.
pub struct Registry {
    pub child: Child,
    pub addr: String,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
