//! Root-only: `cp -L` copies what a symlink SRC leads to, resolved in the
//! source's own filesystem (the container's for CONTAINER:PATH, running
//! or stopped), under the link's name; without it the link itself is
//! copied. Checked by what lands on the host or inside the container.

mod common;

use std::path::Path;

use common::TestEnv;

/// Links whose absolute targets exist only inside the container, so a
/// resolution on the host would fail (or find something else).
const SETUP: &str = "mkdir -p /only-inside/dir && echo real > /only-inside/real && \
    echo deep > /only-inside/dir/f && ln -s /only-inside/real /tmp/link && \
    ln -s /only-inside/dir /tmp/dlink && ln -s ../only-inside/real /tmp/rel";

fn host(env: &TestEnv, name: &str) -> String {
    env.scratch.join(name).to_str().unwrap().to_string()
}

fn is_link(path: &str) -> bool {
    std::fs::symlink_metadata(path).unwrap().is_symlink()
}

/// Checks copies out of container `c` (running or stopped) into `tag`ged host paths.
fn check_out(env: &TestEnv, c: &str, tag: &str) {
    let out = |name: &str| host(env, &format!("{tag}-{name}"));
    env.rcorch(&["cp", &format!("{c}:/tmp/link"), &out("link")])
        .ok();
    assert!(is_link(&out("link")), "without -L the link itself");
    assert_eq!(
        std::fs::read_link(out("link")).unwrap(),
        Path::new("/only-inside/real")
    );
    env.rcorch(&["cp", "-L", &format!("{c}:/tmp/link"), &out("file")])
        .ok();
    assert!(!is_link(&out("file")));
    assert_eq!(std::fs::read_to_string(out("file")).unwrap(), "real\n");
    env.rcorch(&["cp", "-L", &format!("{c}:/tmp/rel"), &out("rel")])
        .ok();
    assert_eq!(std::fs::read_to_string(out("rel")).unwrap(), "real\n");
    std::fs::create_dir(out("into")).unwrap();
    env.rcorch(&["cp", "-L", &format!("{c}:/tmp/dlink"), &out("into")])
        .ok();
    let deep = format!("{}/dlink/f", out("into"));
    assert_eq!(
        std::fs::read_to_string(deep).unwrap(),
        "deep\n",
        "a directory, named as the link"
    );
    // To stdout: the tar holds a regular file named as the link.
    let tar = env.rcorch(&["cp", "-L", &format!("{c}:/tmp/link"), "-"]);
    assert_eq!(tar.code, 0, "{tar:#?}");
    let bytes = tar.stdout.as_bytes();
    assert!(bytes.starts_with(b"link\0"), "{:?}", &bytes[..16]);
    assert_eq!(bytes[156], b'0', "a regular file entry");
}

#[test]
fn cp_follow_link_copies_the_target_out_of_a_running_and_a_stopped_container() {
    let Some(env) = TestEnv::new() else { return };
    env.run_detached(
        &["--network", "none", "--name", "box"],
        &["sh", "-c", &format!("{SETUP} && sleep 1000")],
    );
    assert!(common::wait_for(std::time::Duration::from_secs(5), || {
        env.rcorch(&["exec", "box", "test", "-L", "/tmp/rel"]).code == 0
    }));
    check_out(&env, "box", "running");
    env.rcorch(&["stop", "-t", "0", "box"]).ok();
    check_out(&env, "box", "stopped");
}

#[test]
fn cp_follow_link_copies_a_host_links_target_in() {
    let Some(env) = TestEnv::new() else { return };
    std::fs::write(env.scratch.join("real.txt"), "host\n").unwrap();
    std::os::unix::fs::symlink(env.scratch.join("real.txt"), env.scratch.join("link")).unwrap();
    std::fs::create_dir(env.scratch.join("d")).unwrap();
    std::fs::write(env.scratch.join("d/f"), "in dir\n").unwrap();
    std::os::unix::fs::symlink("d", env.scratch.join("dlink")).unwrap();
    env.run_detached(&["--network", "none", "--name", "box"], &["sleep", "1000"]);
    env.rcorch(&["cp", &host(&env, "link"), "box:/tmp/plain"])
        .ok();
    env.rcorch(&["cp", "-L", &host(&env, "link"), "box:/tmp/"])
        .ok();
    env.rcorch(&["cp", "-L", &host(&env, "dlink"), "box:/tmp/"])
        .ok();
    let inside = |script: &str| env.rcorch(&["exec", "box", "sh", "-c", script]).ok();
    assert_eq!(inside("readlink /tmp/plain"), host(&env, "real.txt"));
    assert_eq!(inside("test -L /tmp/link || cat /tmp/link"), "host");
    assert_eq!(inside("test -L /tmp/dlink || cat /tmp/dlink/f"), "in dir");
    // A stopped container gets the target in its writable layer.
    env.rcorch(&["stop", "-t", "0", "box"]).ok();
    env.rcorch(&["cp", "-L", &host(&env, "link"), "box:/tmp/while-stopped"])
        .ok();
    env.rcorch(&["start", "box"]).ok();
    assert_eq!(
        inside("test -L /tmp/while-stopped || cat /tmp/while-stopped"),
        "host"
    );
    let dangling = env.scratch.join("dangling");
    std::os::unix::fs::symlink("/nonexistent-rcorch", &dangling).unwrap();
    let out = env.rcorch(&["cp", "-L", dangling.to_str().unwrap(), "box:/tmp/"]);
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(out.stderr.contains("No such file"), "{out:#?}");
}
