//! Root-only: compose `build:` — `up` builds missing images (named
//! `image:` or PROJECT-SERVICE), reuses them next time, `up --build`
//! rebuilds. Needs RCORCH_TEST_BUSYBOX_TAR.

mod common;

use std::fs;

use common::project::Project;
use common::TestEnv;

const YAML: &str = "services:
  web:
    build: ./web
    network_mode: none
  worker:
    network_mode: none
    image: app/worker:dev
    build:
      context: .
      dockerfile_inline: |
        FROM busybox
        ARG MSG
        RUN echo \"$$MSG\" > /msg
        CMD [\"sleep\", \"3600\"]
      args:
        MSG: from-args
      labels:
        built.by: compose
      network: none
";

#[test]
fn up_builds_missing_images_and_up_build_rebuilds() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "capp", YAML);
    let web = env.scratch.join("capp/web");
    fs::create_dir_all(&web).unwrap();
    fs::write(
        web.join("Dockerfile"),
        "FROM busybox\nCOPY v /v\nCMD [\"sleep\", \"3600\"]\n",
    )
    .unwrap();
    fs::write(web.join("v"), "one").unwrap();
    let out = p.up();
    assert!(
        out.stderr.contains("building web as capp-web"),
        "{}",
        out.stderr
    );
    let images = env.rcorch(&["images"]).ok();
    assert!(
        images.contains("capp-web") && images.contains("app/worker"),
        "{images}"
    );
    let msg = env
        .rcorch(&[
            "run",
            "--rm",
            "--network",
            "none",
            "app/worker:dev",
            "cat",
            "/msg",
        ])
        .ok();
    assert_eq!(msg, "from-args");
    // Present images are not rebuilt; --build rebuilds (and sees the change).
    fs::write(web.join("v"), "two").unwrap();
    let again = p.cmd("up", &["-d", "--wait-timeout", "30"]);
    assert!(!again.stderr.contains("building"), "{}", again.stderr);
    let rebuilt = p.cmd("up", &["-d", "--build", "--wait-timeout", "30"]);
    assert_eq!(rebuilt.code, 0, "{rebuilt:?}");
    assert!(
        rebuilt.stderr.contains("building web"),
        "{}",
        rebuilt.stderr
    );
    let v = env
        .rcorch(&["run", "--rm", "--network", "none", "capp-web", "cat", "/v"])
        .ok();
    assert_eq!(v, "two");
    let config = p.cmd("config", &[]).ok();
    assert!(config.contains("dockerfile_inline"), "{config}");
    p.down();
}
