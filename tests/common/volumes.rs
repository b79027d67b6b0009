//! Reading volumes back through the CLI (`volume ls`, `volume inspect`).

use std::path::PathBuf;

use super::TestEnv;

/// `volume ls -q`: every volume's name.
pub fn names(env: &TestEnv) -> Vec<String> {
    let out = env.rcorch(&["volume", "ls", "-q"]).ok();
    out.lines().map(str::to_string).collect()
}

/// `volume inspect NAME`: its one JSON object.
pub fn inspect_volume(env: &TestEnv, name: &str) -> serde_json::Value {
    let out = env.rcorch(&["volume", "inspect", name]).ok();
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
    v.as_array().expect("array")[0].clone()
}

/// Where the volume's data lives on the host.
pub fn mountpoint(env: &TestEnv, name: &str) -> PathBuf {
    let v = inspect_volume(env, name);
    PathBuf::from(v["Mountpoint"].as_str().expect("Mountpoint"))
}
