//! Root-only: `version`, `info`/`system info`, `system df`, `system prune`,
//! `network create --label/-d`, `network prune`, checked by what they
//! report and remove.

mod common;

use common::TestEnv;

const NONE: [&str; 2] = ["--network", "none"];

#[test]
fn version_and_info_report_through_templates() {
    let Some(env) = TestEnv::new() else { return };
    let v = env
        .rcorch(&["version", "--format", "{{.Client.Version}}"])
        .ok();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    env.run_detached(&[&NONE[..], &["--name", "up"]].concat(), &["sleep", "1000"]);
    env.run_detached(
        &[&NONE[..], &["--name", "frozen"]].concat(),
        &["sleep", "1000"],
    );
    env.rcorch(&[
        "create",
        "--network",
        "none",
        "--name",
        "new",
        "busybox",
        "true",
    ])
    .ok();
    env.rcorch(&["pause", "frozen"]).ok();
    let t = "{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}} {{.Images}}";
    assert_eq!(env.rcorch(&["info", "--format", t]).ok(), "3 1 1 1 1");
    let root = env
        .rcorch(&["system", "info", "--format", "{{.DockerRootDir}}"])
        .ok();
    assert_eq!(root, env.root.display().to_string());
    let text = env.rcorch(&["info"]).ok();
    assert!(
        text.contains("Cgroup Version:") && text.contains(" Paused: 1"),
        "{text}"
    );
    env.rcorch(&["unpause", "frozen"]).ok();
}

#[test]
fn system_df_counts_images_containers_and_volumes() {
    let Some(env) = TestEnv::new() else { return };
    env.run_detached(
        &[&NONE[..], &["--name", "a", "-v", "data:/data"]].concat(),
        &["sleep", "1000"],
    );
    env.run_busybox(&[&NONE[..], &["--name", "b"]].concat(), &["true"]);
    env.rcorch(&[
        "create",
        "--network",
        "none",
        "--name",
        "c",
        "busybox",
        "true",
    ])
    .ok();
    env.rcorch(&["volume", "create", "spare"]).ok();
    let df = env.rcorch(&["system", "df"]).ok();
    let row = |kind: &str| -> Vec<String> {
        let line = df
            .lines()
            .find(|l| l.trim_start().starts_with(kind))
            .unwrap_or_else(|| panic!("{df}"));
        line.trim_start()[kind.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("Images")[..2], ["1", "1"], "{df}");
    assert_eq!(row("Containers")[..2], ["2", "1"], "{df}");
    assert_eq!(row("Local Volumes")[..2], ["2", "1"], "{df}");
}

#[test]
fn system_prune_removes_what_nothing_uses_and_only_with_f() {
    let Some(env) = TestEnv::new() else { return };
    env.run_detached(
        &[&NONE[..], &["--name", "keep"]].concat(),
        &["sleep", "1000"],
    );
    env.rcorch(&[
        "create",
        "--network",
        "none",
        "--name",
        "idle",
        "busybox",
        "true",
    ])
    .ok();
    env.rcorch(&[
        "network",
        "create",
        "--label",
        "tier=back",
        "-d",
        "bridge",
        "spare",
    ])
    .ok();
    env.rcorch(&["volume", "create", "junk"]).ok();
    let refused = common::assert_unchanged(&env, || env.rcorch(&["system", "prune"]));
    assert!(
        refused.code != 0 && refused.stderr.contains("-f"),
        "{refused:#?}"
    );
    let out = env.rcorch(&["system", "prune", "-f", "--volumes"]).ok();
    assert!(
        out.contains("Deleted Containers:") && out.contains("spare"),
        "{out}"
    );
    let names = env.rcorch(&["ps", "-a", "--format", "{{.Names}}"]).ok();
    assert_eq!(names, "keep");
    let nets = env.rcorch(&["network", "ls", "--format", "{{.Name}}"]).ok();
    assert!(!nets.contains("spare"), "{nets}");
    assert!(!env.rcorch(&["volume", "ls", "-q"]).ok().contains("junk"));
    assert_eq!(
        env.rcorch(&["images", "-q"]).ok().lines().count(),
        1,
        "busybox is in use"
    );
}

#[test]
fn networks_take_labels_and_prune_keeps_the_used_ones() {
    let Some(env) = TestEnv::new() else { return };
    env.rcorch(&[
        "network",
        "create",
        "--label",
        "tier=back",
        "--label",
        "x",
        "labelled",
    ])
    .ok();
    env.rcorch(&["network", "create", "-d", "bridge", "used"])
        .ok();
    let labels = env
        .rcorch(&["network", "inspect", "-f", "{{json .Labels}}", "labelled"])
        .ok();
    assert_eq!(labels, r#"{"tier":"back","x":""}"#);
    let found = env
        .rcorch(&[
            "network",
            "ls",
            "-f",
            "label=tier=back",
            "--format",
            "{{.Name}}",
        ])
        .ok();
    assert_eq!(found, "labelled");
    let overlay = env.rcorch(&["network", "create", "-d", "overlay", "o"]);
    assert!(
        overlay.code != 0 && overlay.stderr.contains("overlay"),
        "{overlay:#?}"
    );
    env.run_detached(&["--network", "used", "--name", "on"], &["sleep", "1000"]);
    let refused = env.rcorch(&["network", "prune"]);
    assert!(
        refused.code != 0 && refused.stderr.contains("-f"),
        "{refused:#?}"
    );
    let out = env.rcorch(&["network", "prune", "-f"]).ok();
    assert_eq!(out, "Deleted Networks:\nlabelled");
    let left = env.rcorch(&["network", "ls", "--format", "{{.Name}}"]).ok();
    assert_eq!(left, "used", "the network in use stays");
}

#[test]
fn image_history_lists_the_build_steps_newest_first_with_layer_sizes() {
    let Some(env) = TestEnv::new() else { return };
    let dir = env.scratch.join("hist");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nRUN head -c 300000 /dev/zero > /blob\nCMD [\"sh\"]\n",
    )
    .unwrap();
    env.rcorch(&[
        "build",
        "--network",
        "none",
        "-q",
        "-t",
        "hist:1",
        dir.to_str().unwrap(),
    ])
    .ok();
    let out = env
        .rcorch(&[
            "image",
            "history",
            "--format",
            "{{.CreatedBy}}|{{.Size}}",
            "hist:1",
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("CMD") && lines[0].ends_with("|0B"),
        "{out}"
    );
    assert!(lines[1].contains("RUN head -c 300000"), "{out}");
    assert!(
        !lines[1].ends_with("|0B"),
        "the RUN layer has its size: {out}"
    );
    let ids = env.rcorch(&["image", "history", "-q", "hist:1"]).ok();
    let id = env.rcorch(&["images", "-q", "hist"]).ok();
    assert_eq!(ids.lines().next(), Some(id.trim()), "{ids}");
    assert_eq!(ids.lines().nth(1), Some("<missing>"));
    // Top-level `history` is the image's, as `docker history`.
    assert_eq!(env.rcorch(&["history", "-q", "hist:1"]).ok(), ids);
    let full = env.rcorch(&["history", "-q", "--no-trunc", "hist:1"]).ok();
    let long = env.rcorch(&["images", "-q", "--no-trunc", "hist"]).ok();
    assert_eq!(full.lines().next(), Some(long.trim()), "{full}");
    assert!(long.starts_with("sha256:") && long.len() == 71, "{long}");
    let table = env.rcorch(&["history", "--no-trunc", "hist:1"]).ok();
    assert!(table.starts_with("IMAGE "), "{table}");
    assert!(
        table.contains("RUN head -c 300000 /dev/zero > /blob"),
        "{table}"
    );
    let bytes = env
        .rcorch(&["history", "-H=false", "--format", "{{.Size}}", "hist:1"])
        .ok();
    let run_layer: u64 = bytes.lines().nth(1).unwrap().parse().unwrap();
    assert!(run_layer >= 300000, "{bytes}");
    // The project's revisions moved under `compose`: the old line says so.
    let old = env.rcorch(&["history", "-p", "shop", "web"]);
    assert_ne!(old.code, 0, "{old:#?}");
    let hint = "did you mean 'rcorch compose -p shop history web'?";
    assert!(old.stderr.contains(hint), "{old:#?}");
}
