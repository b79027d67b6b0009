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

const REBUILD: &str = "services:
  web:
    build: ./web
    network_mode: none
    stop_grace_period: 1s
  worker:
    network_mode: none
    stop_grace_period: 1s
    build:
      context: .
      dockerfile_inline: |
        FROM busybox
        CMD [\"sleep\", \"3600\"]
  follower:
    image: busybox
    network_mode: none
    stop_grace_period: 1s
    command: [\"sleep\", \"3600\"]
    depends_on:
      web: { condition: service_started, restart: true }
  bystander:
    image: busybox
    network_mode: none
    stop_grace_period: 1s
    command: [\"sleep\", \"3600\"]
    depends_on: [web]
";

/// The one running replica of `service`, once there is exactly one.
fn only_running(p: &Project, service: &str) -> String {
    assert!(p.wait_running(service, 1, std::time::Duration::from_secs(30)));
    p.running(service)[0].id.clone()
}

/// Waits until `service`'s only running replica has `/v` = `want`.
fn wait_serving(p: &Project, service: &str, want: &str) -> bool {
    common::wait_for(std::time::Duration::from_secs(30), || {
        let running = p.running(service);
        running.len() == 1 && p.env.rcorch(&["exec", &running[0].id, "cat", "/v"]).stdout == want
    })
}

#[test]
fn up_build_replaces_only_the_replicas_whose_image_changed() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "rapp", REBUILD);
    let web = env.scratch.join("rapp/web");
    fs::create_dir_all(&web).unwrap();
    fs::write(
        web.join("Dockerfile"),
        "FROM busybox\nCOPY v /v\nCMD [\"sleep\", \"3600\"]\n",
    )
    .unwrap();
    fs::write(web.join("v"), "one").unwrap();
    p.up();
    assert!(wait_serving(&p, "web", "one"));
    let ids = |p: &Project| ["worker", "follower", "bystander"].map(|s| only_running(p, s));
    let [worker, follower, bystander] = ids(&p);
    let web_before = only_running(&p, "web");
    fs::write(web.join("v"), "two").unwrap();
    let rebuilt = p.cmd("up", &["-d", "--build", "--wait-timeout", "60"]);
    assert_eq!(rebuilt.code, 0, "{rebuilt:?}");
    assert!(wait_serving(&p, "web", "two"), "{:?}", p.events());
    assert_ne!(only_running(&p, "web"), web_before);
    let [worker2, follower2, bystander2] = ids(&p);
    assert_eq!(worker2, worker, "an unchanged build keeps its container");
    assert_eq!(bystander2, bystander, "a plain dependent is left alone");
    assert_ne!(follower2, follower, "restart: true follows its dependency");
    // `compose build` then a plain `up` replaces it too.
    fs::write(web.join("v"), "three").unwrap();
    let args = ["compose", "-f", p.file_str(), "-p", "rapp", "build", "web"];
    assert_eq!(env.rcorch(&args).code, 0);
    p.up();
    assert!(wait_serving(&p, "web", "three"), "{:?}", p.events());
    assert_eq!(only_running(&p, "worker"), worker);
    p.down();
}

const ROLLBACK: &str = "services:
  web:
    build: ./web
    network_mode: none
    stop_grace_period: 1s
";

#[test]
fn rollback_after_up_build_runs_the_previous_image_again() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "rbapp", ROLLBACK);
    let web = env.scratch.join("rbapp/web");
    fs::create_dir_all(&web).unwrap();
    let dockerfile = |v: &str| {
        let text = format!("FROM busybox\nRUN echo -n {v} > /v\nCMD [\"sleep\", \"3600\"]\n");
        fs::write(web.join("Dockerfile"), text).unwrap();
    };
    dockerfile("one");
    p.up();
    assert!(wait_serving(&p, "web", "one"), "{:?}", p.events());
    dockerfile("two");
    let rebuilt = p.cmd("up", &["-d", "--build", "--wait-timeout", "60"]);
    assert_eq!(rebuilt.code, 0, "{rebuilt:?}");
    assert!(wait_serving(&p, "web", "two"), "{:?}", p.events());
    // The first build lost its tag: a prune must keep it for the rollback.
    let pruned = env.rcorch(&["image", "prune"]);
    assert_eq!(pruned.code, 0, "{pruned:?}");
    let back = env.rcorch(&["rollback", "-p", "rbapp", "web"]);
    assert_eq!(back.code, 0, "{back:?}");
    assert!(wait_serving(&p, "web", "one"), "{:?}", p.events());
    let ps = env.rcorch(&["ps", "--format", "{{.Image}}"]).ok();
    assert_eq!(ps, "rbapp-web", "shown under the service's image name");
    // The history tells the builds apart: revision 3 runs revision 1's.
    let history = env
        .rcorch(&["compose", "-p", "rbapp", "history", "web"])
        .ok();
    let ids: Vec<&str> = history
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(3).unwrap_or(""))
        .collect();
    assert_eq!(ids.len(), 3, "{history}");
    assert!(ids.iter().all(|id| id.len() == 12), "{history}");
    assert_ne!(ids[0], ids[1], "{history}");
    assert_eq!(ids[2], ids[0], "{history}");
    // Revision 2's image removed by force: a rollback to it is refused by
    // name and changes nothing.
    assert_eq!(env.rcorch(&["rmi", "-f", "rbapp-web"]).code, 0);
    let desired = fs::read(p.dir().join("desired.json")).unwrap();
    let gone = env.rcorch(&["rollback", "-p", "rbapp", "--to", "2", "web"]);
    assert_ne!(gone.code, 0, "{gone:?}");
    assert!(gone.stderr.contains("revision 2"), "{gone:?}");
    assert!(gone.stderr.contains("removed"), "{gone:?}");
    assert_eq!(fs::read(p.dir().join("desired.json")).unwrap(), desired);
    p.down();
}

/// The only running replica's `/marker` (written by the newer base
/// images), "none" without one; "" while replicas are being replaced.
fn marker(p: &Project, service: &str) -> String {
    let running = p.running(service);
    let [one] = running.as_slice() else {
        return String::new();
    };
    let id = &one.id;
    let probe = [
        "exec",
        id,
        "sh",
        "-c",
        "cat /marker 2>/dev/null || echo -n none",
    ];
    p.env.rcorch(&probe).stdout
}

#[test]
fn up_build_pull_always_rebuilds_on_a_fresh_base_and_plain_up_build_keeps_the_cached_one() {
    let Some(env) = TestEnv::new() else { return };
    let remote = "127.0.0.1:5000/test/base:v1";
    let Some(ns) = common::registry::registry_with(&env, remote) else {
        return;
    };
    let yaml = format!(
        "services:\n  web:\n    network_mode: none\n    stop_grace_period: 1s\n    build:\n      \
         context: .\n      dockerfile_inline: |\n        FROM {remote}\n        \
         CMD [\"sleep\", \"3600\"]\n"
    );
    let p = Project::new(&env, "bpull", &yaml);
    let up = |extra: &[&str]| {
        let mut args = vec!["up", "-f", p.file_str(), "-p", "bpull", "-d"];
        args.extend_from_slice(extra);
        args.extend(["--wait-timeout", "60"]);
        let out = ns.rcorch(&env, &args, None);
        assert_eq!(out.code, 0, "{out:#?}");
        out
    };
    let first = up(&[]);
    assert!(first.stderr.contains("pulling"), "a missing base is pulled");
    assert_eq!(marker(&p, "web"), "none");
    // The registry's tag moves on to a base with /marker; the store keeps
    // the old one under that name.
    let ctx = env.scratch.join("newbase");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo -n two > /marker\n",
    )
    .unwrap();
    let build = [
        "build",
        "-q",
        "--network",
        "none",
        "-t",
        "newbase:v2",
        ctx.to_str().unwrap(),
    ];
    env.rcorch(&build).ok();
    ns.rcorch(&env, &["push", "--insecure", "newbase:v2", remote], None)
        .ok();
    let cached = up(&["--build"]);
    assert!(!cached.stderr.contains("pulling"), "{cached:#?}");
    assert_eq!(marker(&p, "web"), "none", "without --pull the cached base");
    let fresh = up(&["--build", "--pull", "always"]);
    assert!(
        fresh.stderr.contains(&format!("pulling {remote}")),
        "{fresh:#?}"
    );
    let served = common::wait_for(std::time::Duration::from_secs(30), || {
        marker(&p, "web") == "two"
    });
    assert!(served, "{:?}", p.events());
    // `compose build --pull` refreshes the base too; `up` then runs it.
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo -n three > /marker\n",
    )
    .unwrap();
    env.rcorch(&build).ok();
    ns.rcorch(&env, &["push", "--insecure", "newbase:v2", remote], None)
        .ok();
    let compose = [
        "compose",
        "-f",
        p.file_str(),
        "-p",
        "bpull",
        "build",
        "--pull",
    ];
    ns.rcorch(&env, &compose, None).ok();
    up(&[]);
    let served = common::wait_for(std::time::Duration::from_secs(30), || {
        marker(&p, "web") == "three"
    });
    assert!(served, "{:?}", p.events());
    p.down();
}

const PULLED: &str = "services:
  app:
    image: pinned/app:v
    network_mode: none
    stop_grace_period: 1s
  other:
    image: busybox
    network_mode: none
    stop_grace_period: 1s
    command: [\"sleep\", \"3600\"]
";

#[test]
fn up_after_the_tag_moved_replaces_only_that_services_replicas() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "papp", PULLED);
    let ctx = env.scratch.join("papp-ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nCOPY v /v\nCMD [\"sleep\", \"3600\"]\n",
    )
    .unwrap();
    let build = |v: &str| {
        fs::write(ctx.join("v"), v).unwrap();
        let args = ["build", "-q", "-t", "pinned/app:v", ctx.to_str().unwrap()];
        assert_eq!(env.rcorch(&args).code, 0);
    };
    build("one");
    p.up();
    assert!(wait_serving(&p, "app", "one"));
    let (app, other) = (only_running(&p, "app"), only_running(&p, "other"));
    // Unchanged: a second `up` keeps every container.
    p.up();
    assert_eq!(only_running(&p, "app"), app);
    // The tag now names another image, as after a `pull` or a `load`.
    build("two");
    let again = p.cmd("up", &["-d", "--wait-timeout", "60"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(wait_serving(&p, "app", "two"), "{:?}", p.events());
    assert_ne!(only_running(&p, "app"), app);
    assert_eq!(only_running(&p, "other"), other, "its image did not move");
    p.down();
}

#[test]
fn up_no_build_refuses_a_missing_image_and_build_conflicts_with_it() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "nb", YAML);
    fs::create_dir_all(env.scratch.join("nb/web")).unwrap();
    fs::write(env.scratch.join("nb/web/Dockerfile"), "FROM busybox\n").unwrap();
    let out = p.cmd("up", &["-d", "--no-build", "--wait-timeout", "30"]);
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(!out.stderr.contains("building"), "{out:#?}");
    assert!(out.stderr.contains("nb-web"), "names the image: {out:#?}");
    assert!(p.replicas("web").is_empty() && p.replicas("worker").is_empty());
    let images = env.rcorch(&["images"]).ok();
    assert!(!images.contains("nb-web"), "{images}");
    let both = p.cmd("up", &["-d", "--build", "--no-build"]);
    assert_ne!(both.code, 0);
    assert!(both.stderr.contains("--no-build"), "{both:#?}");
    assert_eq!(both.stderr.trim().lines().count(), 1, "{both:#?}");
}
