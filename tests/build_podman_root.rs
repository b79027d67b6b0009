//! Root-only: the same Dockerfile built by rcorch and by
//! `podman --runtime runc build --format docker` (same busybox base, a
//! private podman --root/--runroot removed afterwards) gives the same config
//! fields and the same file tree (paths, modes, owners, contents; the trees
//! are listed by running both images with rcorch). Skips without podman.

mod common;

use std::fs;
use std::process::Command;

use common::podman::{podman, PodmanDir};
use common::TestEnv;

const DOCKERFILE: &str = r#"FROM busybox
ENV APP=/app MODE="prod mode"
WORKDIR /app
COPY --chown=1000:1000 files/ ./
COPY single.txt /etc/single.txt
RUN mkdir -p /data && echo made > /data/made && chmod 0600 /data/made && ln -s /data/made /app/link && rm /etc/single.txt && rm /bin/vi
LABEL a=b "c d"="e f"
EXPOSE 80 53/udp
VOLUME /data
USER 1000:1000
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD wget -q -O- localhost || exit 1
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
"#;

const LIST: &str = "for f in $(find /app /data /etc /bin/vi 2>/dev/null | sort); do stat -c '%n %a %u:%g %F %s' $f; done; md5sum /app/a /app/sub/b /data/made";

#[test]
fn same_config_and_tree_as_podman_build() {
    let Some(env) = TestEnv::new() else { return };
    if Command::new("podman").arg("--version").output().is_err() {
        eprintln!("skipping: no podman");
        return;
    }
    let ctx = env.scratch.join("ctx");
    fs::create_dir_all(ctx.join("files/sub")).unwrap();
    fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
    fs::write(ctx.join("files/a"), "a\n").unwrap();
    fs::write(ctx.join("files/sub/b"), "b\n").unwrap();
    fs::write(ctx.join("single.txt"), "s\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(ctx.join("files/sub"), fs::Permissions::from_mode(0o751)).unwrap();

    let pod = PodmanDir(tempfile::tempdir_in("/var/tmp").unwrap());
    let tar = common::busybox_tar().to_str().unwrap().to_string();
    assert!(podman(pod.0.path(), &["import", &tar, "busybox:latest"])
        .status
        .success());
    let built = podman(
        pod.0.path(),
        &[
            "build",
            "--format",
            "docker",
            "--network",
            "none",
            "-q",
            "-t",
            "cmp",
            ctx.to_str().unwrap(),
        ],
    );
    assert!(built.status.success(), "{built:?}");
    let inspect = podman(pod.0.path(), &["image", "inspect", "cmp"]);
    let theirs: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let archive = env.scratch.join("cmp.tar");
    assert!(podman(
        pod.0.path(),
        &[
            "save",
            "--format",
            "docker-archive",
            "-o",
            archive.to_str().unwrap(),
            "cmp"
        ]
    )
    .status
    .success());

    let ours_id = env
        .rcorch(&[
            "build",
            "--network",
            "none",
            "-q",
            "-t",
            "ours",
            ctx.to_str().unwrap(),
        ])
        .ok();
    let hex = ours_id.strip_prefix("sha256:").unwrap();
    let ours: serde_json::Value =
        serde_json::from_slice(&fs::read(env.root.join("images/blobs/sha256").join(hex)).unwrap())
            .unwrap();
    let (o, t) = (&ours["config"], &theirs[0]["Config"]);
    for field in [
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "User",
        "ExposedPorts",
        "Volumes",
        "StopSignal",
    ] {
        assert_eq!(o[field], t[field], "{field}");
    }
    let mut their_labels = t["Labels"].clone();
    their_labels
        .as_object_mut()
        .unwrap()
        .remove("io.buildah.version");
    assert_eq!(o["Labels"], their_labels);
    let health = [
        &theirs[0]["HealthCheck"],
        &theirs[0]["Healthcheck"],
        &t["Healthcheck"],
    ];
    assert!(
        health.contains(&&o["Healthcheck"]),
        "{:?} vs {health:?}",
        o["Healthcheck"]
    );

    env.rcorch(&["load", "-i", archive.to_str().unwrap()]).ok();
    let list = |image: &str| {
        env.rcorch(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            "0",
            image,
            LIST,
        ])
        .ok()
    };
    let (mine, podmans) = (list("ours"), list("localhost/cmp:latest"));
    assert_eq!(mine, podmans);
    assert!(mine.contains("/app/sub 751 1000:1000 directory"), "{mine}");
    assert!(mine.contains("/data/made 600 0:0 regular file 5"), "{mine}");
    assert!(
        !mine.contains("/bin/vi") && !mine.contains("single.txt"),
        "{mine}"
    );
}
