//! Root-only: a damaged record of one container (truncated, garbage, empty
//! or missing config or state) never blocks commands about the others, is
//! reported with its path, and `rm -f` still removes it and its processes.

mod common;

use std::fs;
use std::time::Duration;

use common::project::Project;
use common::{pid_alive, wait_for, TestEnv};

const WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy)]
enum Damage {
    Truncate,
    Garbage,
    Empty,
    Missing,
    /// A directory where the file should be.
    Directory,
}

fn damage(path: &std::path::Path, how: Damage) {
    let bytes = fs::read(path).expect("record to damage");
    match how {
        Damage::Truncate => fs::write(path, &bytes[..bytes.len() / 2]).unwrap(),
        Damage::Garbage => fs::write(path, b"\x00\x01not json\xff").unwrap(),
        Damage::Empty => fs::write(path, b"").unwrap(),
        Damage::Missing => fs::remove_file(path).unwrap(),
        Damage::Directory => {
            fs::remove_file(path).unwrap();
            fs::create_dir(path).unwrap();
        }
    }
}

const KINDS: [Damage; 4] = [
    Damage::Truncate,
    Damage::Garbage,
    Damage::Empty,
    Damage::Missing,
];

#[test]
fn a_damaged_container_record_blocks_nothing_and_is_removable() {
    let Some(env) = TestEnv::new() else { return };
    for file in ["config.json", "state.json"] {
        for how in KINDS.into_iter().chain([Damage::Directory]) {
            let case = format!("{file} {how:?}");
            let healthy = env.run_detached(&[], &["sleep", "30"]);
            let broken = env.run_detached(&[], &["sleep", "30"]);
            let broken_pid = env.inspect(&broken)["State"]["Pid"].as_i64().unwrap() as i32;
            let dir = env.root.join("containers").join(&broken);
            damage(&dir.join(file), how);

            let ps = env.rcorch(&["ps", "-a"]);
            assert_eq!(ps.code, 0, "{case}: {ps:?}");
            assert!(ps.stdout.contains(&healthy[..12]), "{case}: {ps:?}");
            assert!(!ps.stdout.contains(&broken[..12]), "{case}: {ps:?}");
            let reports = ps.stderr.matches(&broken[..12]).count();
            assert!(reports >= 1, "{case}: not reported: {ps:?}");
            assert_eq!(
                ps.stderr.lines().count(),
                1,
                "{case}: reported more than once: {ps:?}"
            );
            assert!(
                ps.stderr.contains(&dir.join(file).display().to_string()),
                "{case}: {ps:?}"
            );

            let inspect = env.rcorch(&["inspect", &healthy]);
            assert_eq!(inspect.code, 0, "{case}: {inspect:?}");
            let bad = env.rcorch(&["inspect", &broken]);
            assert_eq!(bad.code, 1, "{case}: {bad:?}");
            assert!(bad.stderr.contains("system check"), "{case}: {bad:?}");
            let run = env.rcorch(&["run", "--rm", "busybox", "true"]);
            assert_eq!(run.code, 0, "{case}: {run:?}");

            env.rcorch(&["rm", "-f", &healthy]).ok();
            let rm = env.rcorch(&["rm", "-f", &broken]);
            assert_eq!(rm.code, 0, "{case}: {rm:?}");
            assert!(!dir.exists(), "{case}: directory left");
            assert!(
                wait_for(WAIT, || !pid_alive(broken_pid)),
                "{case}: the damaged container's process survived rm -f"
            );
            assert_eq!(env.rcorch(&["ps", "-aq"]).ok(), "", "{case}");
            assert!(
                wait_for(WAIT, || env.leftovers().is_empty()),
                "{case}: {:?}",
                env.leftovers()
            );
        }
    }
}

const ONE_SLEEPER: &str = r#"
services:
  s:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 1s
    network_mode: none
"#;

#[test]
fn a_damaged_project_record_blocks_no_other_project_and_down_still_works() {
    let Some(env) = TestEnv::new() else { return };
    let (a, b) = (
        Project::new(&env, "dmga", ONE_SLEEPER),
        Project::new(&env, "dmgb", ONE_SLEEPER),
    );
    a.up();
    b.up();
    for file in ["desired.json", "health.json"] {
        let path = a.dir().join(file);
        if path.exists() {
            damage(&path, Damage::Truncate);
        }
    }
    let ps = env.rcorch(&["ps"]);
    assert_eq!(ps.code, 0, "{ps:?}");
    assert!(
        ps.stdout.contains("dmga-s-1") && ps.stdout.contains("dmgb-s-1"),
        "{ps:?}"
    );
    let again = b.cmd("up", &["-d", "--wait-timeout", "30"]);
    assert_eq!(again.code, 0, "the other project: {again:?}");
    let down = a.down();
    assert_eq!(down.code, 0, "down of the damaged project: {down:?}");
    assert!(!env.rcorch(&["ps", "-a"]).ok().contains("dmga-s-1"));
    assert_eq!(b.down().code, 0);
    common::project::kill_supervisors(&env.root);
}

/// `rmi` never removes the image of a container whose record is damaged:
/// the image its surviving bytes name, or any image when none survives.
#[test]
fn a_damaged_container_record_keeps_its_image_in_use() {
    let Some(env) = TestEnv::new() else { return };
    for how in KINDS {
        let case = format!("config.json {how:?}");
        let broken = env.run_detached(&[], &["sleep", "30"]);
        let record = env
            .root
            .join("containers")
            .join(&broken)
            .join("config.json");
        damage(&record, how);

        let rmi = env.rcorch(&["rmi", "busybox"]);
        assert_eq!(rmi.code, 1, "{case}: {rmi:?}");
        assert!(rmi.stderr.contains(&broken[..12]), "{case}: {rmi:?}");
        assert!(rmi.stderr.contains("system check"), "{case}: {rmi:?}");
        let images = env.rcorch(&["images"]);
        assert!(images.stdout.contains("busybox"), "{case}: {images:?}");

        let rm = env.rcorch(&["rm", "-f", &broken]);
        assert_eq!(rm.code, 0, "{case}: {rm:?}");
        assert!(
            wait_for(WAIT, || env.leftovers().is_empty()),
            "{case}: {:?}",
            env.leftovers()
        );
    }
}

/// The container's IPv4 address on `ifname`, as the kernel has it.
fn address_of(env: &TestEnv, container: &str) -> String {
    let out = env.rcorch(&["exec", container, "ip", "-4", "-o", "addr", "show", "eth0"]);
    address_in(&out.ok())
}

fn address_in(ip_addr: &str) -> String {
    let mut inet = ip_addr.split_whitespace().skip_while(|w| *w != "inet");
    inet.nth(1).unwrap_or_default().to_string()
}

/// A damaged record of network A never stops commands about network B or
/// the default bridge; while its copy is whole A keeps working and
/// `system check --repair` rewrites it; when both are lost A is refused,
/// and `network rm A` or the repair frees the name.
#[test]
fn a_damaged_network_record_blocks_no_other_network() {
    let Some(env) = TestEnv::new() else { return };
    env.rcorch(&["network", "create", "netb"]).ok();
    for lose_copy in [false, true] {
        for how in KINDS {
            let case = format!("{how:?}, copy lost: {lose_copy}");
            env.rcorch(&["network", "create", "neta"]).ok();
            let on_a = env.run_detached(&["--network", "neta"], &["sleep", "60"]);
            let held = address_of(&env, &on_a);
            assert!(!held.is_empty(), "{case}");
            let record = env.root.join("networks/records/neta.json");
            damage(&record, how);
            if lose_copy {
                damage(&env.root.join("networks/copies/neta.json"), Damage::Garbage);
            }

            let ls = env.rcorch(&["network", "ls"]);
            assert_eq!(ls.code, 0, "{case}: {ls:?}");
            assert!(ls.stdout.contains("netb"), "{case}: {ls:?}");
            assert_eq!(ls.stderr.lines().count(), 1, "{case}: {ls:?}");
            assert!(
                ls.stderr.contains(&record.display().to_string()),
                "{case}: {ls:?}"
            );
            let check = env.rcorch(&["system", "check"]);
            assert_eq!(check.code, 1, "{case}: {check:?}");
            assert!(
                check.stdout.contains(&record.display().to_string()),
                "{case}: {check:?}"
            );
            if !lose_copy {
                let repair = env.rcorch(&["system", "check", "--repair"]);
                assert!(
                    repair.stdout.contains("restored from its copy"),
                    "{case}: {repair:?}"
                );
                assert_eq!(env.rcorch(&["system", "check"]).code, 0, "{case}");
                damage(&record, how);
            }
            for net in ["netb", "bridge"] {
                let run = env.rcorch(&["run", "--rm", "--network", net, "busybox", "true"]);
                assert_eq!(run.code, 0, "{case}: run on {net}: {run:?}");
            }
            let on_a_again = env.rcorch(&[
                "run",
                "--rm",
                "--network",
                "neta",
                "busybox",
                "ip",
                "-4",
                "-o",
                "addr",
                "show",
                "eth0",
            ]);
            if !lose_copy {
                assert_eq!(on_a_again.code, 0, "{case}: {on_a_again:?}");
                assert_ne!(address_in(&on_a_again.stdout), held, "{case}");
                // The next change rewrote the record from its copy.
                assert_eq!(env.rcorch(&["system", "check"]).code, 0, "{case}");
                env.rcorch(&["rm", "-f", &on_a]).ok();
                env.rcorch(&["network", "rm", "neta"]).ok();
                continue;
            }
            assert_eq!(on_a_again.code, 125, "{case}: {on_a_again:?}");
            assert!(
                on_a_again.stderr.contains(&record.display().to_string())
                    && on_a_again.stderr.contains("system check --repair"),
                "{case}: {on_a_again:?}"
            );
            if matches!(how, Damage::Truncate | Damage::Garbage) {
                let repair = env.rcorch(&["system", "check", "--repair"]);
                assert!(repair.stdout.contains("set aside"), "{case}: {repair:?}");
            } else {
                env.rcorch(&["network", "rm", "neta"]).ok();
            }
            assert_eq!(env.rcorch(&["system", "check"]).code, 0, "{case}");
            // The name is free again (addresses: tests/network_damage_root.rs).
            env.rcorch(&["network", "create", "neta"]).ok();
            env.rcorch(&["rm", "-f", &on_a]).ok();
            env.rcorch(&["network", "rm", "neta"]).ok();
        }
    }
    env.rcorch(&["network", "rm", "netb"]).ok();
    assert!(
        wait_for(WAIT, || env.leftovers().is_empty()),
        "{:?}",
        env.leftovers()
    );
}

/// A damaged record of image X never stops `images` or `run` of image Y,
/// is reported with its path, and `rmi X` removes it (by name while the
/// name survives in its bytes, else by id).
#[test]
fn a_damaged_image_record_blocks_no_other_image() {
    let Some(env) = TestEnv::new() else { return };
    // An image of its own layer: one file.
    let content = env.scratch.join("x");
    fs::create_dir_all(&content).unwrap();
    fs::write(content.join("hello"), b"x").unwrap();
    let tar = env.scratch.join("x.tar");
    let made = std::process::Command::new("tar")
        .arg("-C")
        .arg(&content)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(made.success());
    let tar = tar.display().to_string();
    for how in KINDS {
        let case = format!("{how:?}");
        env.rcorch(&["tag", "busybox", "other:1"]).ok();
        let x = env.rcorch(&["import", &tar, "x:1"]);
        assert_eq!(x.code, 0, "{case}: {x:?}");
        let ids = env.rcorch(&[
            "images",
            "--no-trunc",
            "--format",
            "{{.Repository}} {{.ID}}",
        ]);
        let id = ids
            .ok()
            .lines()
            .find_map(|l| l.strip_prefix("x "))
            .unwrap_or_else(|| panic!("{case}: {ids:?}"))
            .to_string();
        let hex = id.trim_start_matches("sha256:").to_string();
        let record = env.root.join("images/records").join(format!("{hex}.json"));
        for file in [
            &record,
            &env.root.join("images/copies").join(format!("{hex}.json")),
        ] {
            damage(file, how);
        }
        let images = env.rcorch(&["images"]);
        assert_eq!(images.code, 0, "{case}: {images:?}");
        assert!(images.stdout.contains("other"), "{case}: {images:?}");
        let run = env.rcorch(&["run", "--rm", "--network", "none", "other:1", "true"]);
        assert_eq!(run.code, 0, "{case}: {run:?}");
        if !matches!(how, Damage::Missing) {
            assert_eq!(images.stderr.lines().count(), 1, "{case}: {images:?}");
            assert!(
                images.stderr.contains(&record.display().to_string()),
                "{case}: {images:?}"
            );
            let by = if matches!(how, Damage::Truncate) {
                "x:1"
            } else {
                &hex[..12]
            };
            let rmi = env.rcorch(&["rmi", by]);
            assert_eq!(rmi.code, 0, "{case}: {rmi:?}");
            assert!(rmi.stdout.contains(&hex), "{case}: {rmi:?}");
        }
        assert!(!record.exists(), "{case}");
        if matches!(how, Damage::Missing) {
            // Its layer is left behind: reported, and removed by --repair.
            let check = env.rcorch(&["system", "check"]);
            assert_eq!(check.code, 1, "{case}: {check:?}");
            assert!(check.stdout.contains("images/layers/"), "{case}: {check:?}");
            let repair = env.rcorch(&["system", "check", "--repair"]);
            assert_eq!(repair.code, 0, "{case}: {repair:?}");
        }
        assert_eq!(env.rcorch(&["system", "check"]).code, 0, "{case}");
        let names = env.rcorch(&["images", "--format", "{{.Repository}}"]).ok();
        assert!(!names.lines().any(|l| l == "x"), "{case}: {names}");
        env.rcorch(&["rmi", "other:1"]).ok();
    }
}

/// When a torn config keeps only the reference a container was run from
/// and that tag has since moved to another image, `rmi` still keeps the
/// image the container runs: its id is written beside the config at create.
#[test]
fn a_torn_container_record_keeps_its_image_after_its_tag_moves() {
    let Some(env) = TestEnv::new() else { return };
    let broken = env.run_detached(&["--network", "none"], &["sleep", "30"]);
    let image = env.inspect(&broken)["Image"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(image.starts_with("sha256:"), "{image}");
    let record = env
        .root
        .join("containers")
        .join(&broken)
        .join("config.json");
    let torn = format!(r#"{{"id":"{broken}","name":"torn","image":"busybox:latest","ima"#);
    fs::write(&record, torn).unwrap();
    let content = env.scratch.join("moved");
    fs::create_dir_all(&content).unwrap();
    fs::write(content.join("f"), b"f").unwrap();
    let tar = env.scratch.join("moved.tar");
    common::tar_dir(&content, &tar);
    env.rcorch(&["import", tar.to_str().unwrap(), "busybox:latest"])
        .ok();

    let rmi = env.rcorch(&["rmi", &image]);
    assert_eq!(rmi.code, 1, "{rmi:?}");
    assert!(rmi.stderr.contains(&broken[..12]), "{rmi:?}");
    let rm = env.rcorch(&["rm", "-f", &broken]);
    assert_eq!(rm.code, 0, "{rm:?}");
    let rmi = env.rcorch(&["rmi", &image]);
    assert_eq!(rmi.code, 0, "once the container is gone: {rmi:?}");
}
