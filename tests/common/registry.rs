//! Debian's docker-registry as the tests run it: its config, and a
//! process killed when the test is done with it.

use std::path::{Path, PathBuf};
use std::process::Child;

use super::netns::Netns;
use super::TestEnv;

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

/// A docker-registry on 127.0.0.1:5000 in a netns of its own, holding
/// busybox as `remote` (which the store then lacks); None without one.
pub fn registry_with(env: &TestEnv, remote: &str) -> Option<Netns> {
    if !Path::new(REGISTRY).exists() {
        eprintln!("skipped: {REGISTRY} missing (apt-get install docker-registry)");
        return None;
    }
    let mut ns = Netns::new();
    let cfg = write_config(&env.scratch, "127.0.0.1:5000");
    ns.serve(
        &[REGISTRY, "serve", cfg.to_str().unwrap()],
        &env.scratch,
        5000,
    );
    std::fs::write(
        env.scratch.join("registries.json"),
        r#"{"insecure": ["127.0.0.1:5000"]}"#,
    )
    .unwrap();
    let tar = super::busybox_tar().to_str().unwrap();
    env.rcorch(&["import", tar, remote]).ok();
    ns.rcorch(env, &["push", "--insecure", remote], None).ok();
    env.rcorch(&["rmi", remote]).ok();
    Some(ns)
}
