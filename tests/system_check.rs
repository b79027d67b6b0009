//! Root-only: `rcorch system check` reports every unreadable record
//! (containers, projects, network state, volumes, images index) and
//! `--repair` restores what can be restored and removes or sets aside the
//! rest, saying which; afterwards the instance checks clean and works.

mod common;

use std::fs;

use common::{pid_alive, wait_for, TestEnv};

#[test]
fn check_reports_every_damaged_record_and_repair_puts_each_right() {
    let Some(env) = TestEnv::new() else { return };
    let stopped = env.run_detached(&["--network", "none"], &["true"]);
    env.wait_exited(&stopped, std::time::Duration::from_secs(15));
    let running = env.run_detached(&["--network", "none"], &["sleep", "30"]);
    let running_pid = env.inspect(&running)["State"]["Pid"].as_i64().unwrap() as i32;
    env.rcorch(&["volume", "create", "keep"]).ok();
    let c = env.root.join("containers");
    let project = env.root.join("projects/shop");
    fs::create_dir_all(&project).unwrap();
    fs::create_dir_all(env.root.join("networks")).unwrap();
    let damaged = [
        c.join(&stopped).join("state.json"),
        c.join(&running).join("config.json"),
        env.root.join("volumes/keep/meta.json"),
        project.join("desired.json"),
        project.join("health.json"),
        env.root.join("networks/state.json"),
    ];
    for path in &damaged {
        fs::write(path, b"{\"torn\": ").unwrap();
    }

    let check = env.rcorch(&["system", "check"]);
    assert_eq!(check.code, 1, "{check:?}");
    for path in &damaged {
        let shown = path.display().to_string();
        assert_eq!(
            check.stdout.matches(&shown).count(),
            1,
            "{shown}: {check:?}"
        );
    }
    assert!(
        fs::read(&damaged[0]).unwrap().starts_with(b"{\"torn"),
        "check changed a record"
    );

    let repair = env.rcorch(&["system", "check", "--repair"]);
    assert_eq!(repair.code, 0, "{repair:?}");
    let line = |path: &std::path::Path| {
        let shown = path.display().to_string();
        repair
            .stdout
            .lines()
            .find(|l| l.starts_with(&shown))
            .unwrap_or_else(|| panic!("{shown} not in {repair:?}"))
            .to_string()
    };
    assert!(line(&damaged[0]).contains("restored"), "{repair:?}");
    assert!(line(&damaged[1]).contains("removed"), "{repair:?}");
    assert!(line(&damaged[2]).contains("restored"), "{repair:?}");
    assert!(line(&damaged[3]).contains("set aside"), "{repair:?}");
    assert!(line(&damaged[4]).contains("removed"), "{repair:?}");
    assert!(line(&damaged[5]).contains("set aside"), "{repair:?}");
    assert!(project.join("desired.json.damaged").exists());

    assert_eq!(env.rcorch(&["system", "check"]).code, 0);
    assert!(wait_for(std::time::Duration::from_secs(10), || !pid_alive(
        running_pid
    )));
    let ps = env.rcorch(&["ps", "-aq"]).ok();
    assert_eq!(ps, &stopped[..12], "only the restored container is left");
    assert_eq!(env.inspect(&stopped)["State"]["Status"], "exited");
    assert_eq!(env.rcorch(&["volume", "ls", "-q"]).ok(), "keep");
    env.rcorch(&["run", "--rm", "--network", "none", "busybox", "true"])
        .ok();
    env.rcorch(&["rm", &stopped]).ok();
    env.rcorch(&["volume", "rm", "keep"]).ok();

    // The images index last: setting it aside forgets busybox.
    let index = env.root.join("images/images.json");
    fs::write(&index, b"").unwrap();
    let check = env.rcorch(&["system", "check", "--repair"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check.stdout.contains("images.json (empty): set aside"),
        "{check:?}"
    );
    assert_eq!(env.rcorch(&["images"]).code, 0);
}
