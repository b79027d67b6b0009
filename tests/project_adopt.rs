//! Root-only: the supervisor's crash and re-adoption, live scaling, and a
//! `down` that leaves nothing behind.

mod common;

use std::time::Duration;

use common::project::Project;
use common::{pid_alive, wait_for, TestEnv};

const WAIT: Duration = Duration::from_secs(20);

fn web(replicas: u32) -> String {
    format!(
        r#"
services:
  web:
    image: busybox
    command: ["sleep", "1000"]
    restart: always
    stop_grace_period: 1s
    deploy:
      replicas: {replicas}
"#
    )
}

fn ids(p: &Project, service: &str) -> Vec<String> {
    let mut v: Vec<String> = p.running(service).into_iter().map(|r| r.id).collect();
    v.sort();
    v
}

#[test]
fn supervisor_crash_then_up_adopts() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "adopt", &web(3));
    p.up();
    let before = ids(&p, "web");
    assert_eq!(before.len(), 3);
    let old = p.supervisor_pid().expect("supervisor.pid after up");
    assert!(pid_alive(old));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill supervisor");
    assert!(
        wait_for(WAIT, || !pid_alive(old)),
        "supervisor survived SIGKILL"
    );
    // Containers outlive their supervisor.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        ids(&p, "web"),
        before,
        "containers changed without a supervisor"
    );

    p.up();
    // When everything already runs, `up` may return before the new
    // supervisor has written its pid file.
    let took_over = wait_for(WAIT, || {
        p.supervisor_pid()
            .is_some_and(|pid| pid != old && pid_alive(pid))
    });
    assert!(took_over, "no new supervisor: {:?}", p.supervisor_pid());
    // Give a wrongly duplicating supervisor the chance to show it.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        ids(&p, "web"),
        before,
        "not adopted: {:#?}",
        p.replicas("web")
    );
    let all = p.replicas("web");
    assert_eq!(all.len(), 3, "duplicates or leftovers: {all:#?}");
    let mut names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
    names.dedup();
    assert_eq!(names, ["adopt-web-1", "adopt-web-2", "adopt-web-3"]);
    // The adopted replicas are still supervised: a killed one comes back.
    let pid = env.inspect(&before[0])["State"]["Pid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let healed = wait_for(WAIT, || {
        let now = ids(&p, "web");
        now.len() == 3 && !now.contains(&before[0])
    });
    assert!(healed, "adopted replica not restarted: {:#?}", p.events());
}

#[test]
fn scale_up_and_down() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "sc", &web(2));
    p.up();
    assert_eq!(p.running("web").len(), 2);

    p.cmd("scale", &["web=5"]).ok();
    assert!(
        p.wait_running("web", 5, WAIT),
        "not 5: {:#?}\n{:#?}",
        p.replicas("web"),
        p.events()
    );
    let names: Vec<String> = p.running("web").into_iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        ["sc-web-1", "sc-web-2", "sc-web-3", "sc-web-4", "sc-web-5"]
    );

    p.cmd("scale", &["web=2"]).ok();
    // Scaled-down replicas are removed, not just stopped.
    let shrunk = wait_for(WAIT, || {
        let all = p.replicas("web");
        all.len() == 2 && all.iter().all(|r| r.running)
    });
    assert!(shrunk, "not 2: {:#?}\n{:#?}", p.replicas("web"), p.events());
    let names: Vec<String> = p.replicas("web").into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["sc-web-1", "sc-web-2"]);
    let removed: Vec<String> = p
        .events()
        .into_iter()
        .filter(|l| l.contains(" remove ") && l.contains("ScaleDown"))
        .collect();
    assert_eq!(removed.len(), 3, "{:#?}", p.events());
    // The count sticks: nothing comes back later.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(p.replicas("web").len(), 2);
}

#[test]
fn down_leaves_nothing() {
    let Some(env) = TestEnv::new() else { return };
    let before = env.leftovers();
    let p = Project::new(&env, "gone", &web(3));
    p.up();
    let sup = p.supervisor_pid().expect("supervisor.pid");
    assert!(p.dir().exists());
    let out = p.down();
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(!pid_alive(sup), "supervisor {sup} still alive after down");
    assert!(!p.dir().exists(), "{} still exists", p.dir().display());
    // Nothing is recreated afterwards by a lingering supervisor.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(env.leftovers(), before);
    assert!(p.replicas("web").is_empty(), "{:#?}", p.replicas("web"));
    // down again is harmless.
    let again = p.down();
    assert_eq!(again.code, 0, "{again:#?}");
}

/// What a systemd restart does: `supervise NAME` after the old supervisor
/// was SIGKILLed adopts the running replicas.
#[test]
fn supervise_again_adopts() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "resup", &web(2));
    p.up();
    let before = ids(&p, "web");
    let old = p.supervisor_pid().expect("supervisor.pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_for(WAIT, || !pid_alive(old)));
    let mut sup = env.spawn(&["supervise", "resup"]);
    let new_pid = sup.id() as i32;
    let took_over = wait_for(WAIT, || p.supervisor_pid() == Some(new_pid));
    std::thread::sleep(Duration::from_secs(1));
    let after = p.replicas("web");
    let _ = sup.kill();
    let _ = sup.wait();
    assert!(took_over, "supervise did not take over");
    assert_eq!(after.len(), 2, "{after:#?}");
    let mut after_ids: Vec<String> = after.into_iter().map(|r| r.id).collect();
    after_ids.sort();
    assert_eq!(after_ids, before);
}
