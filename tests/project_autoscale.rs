//! Root-only: `x-rcorch-autoscale` — a service whose replica burns CPU is
//! scaled up by its supervisor, and back down to `min` once it idles and
//! the stabilisation window has passed.

mod common;

use std::thread::sleep;
use std::time::{Duration, Instant};

use common::project::Project;
use common::TestEnv;

/// Generous: two cores shared with other builds and tests.
const WAIT: Duration = Duration::from_secs(90);

/// Every replica burns a CPU while the host file flag/burn exists (the
/// directory is bind-mounted, so removing it idles them all at once).
const BURN: &str = r#"
services:
  burn:
    image: busybox
    command: ["sh", "-c", "while [ -f /flag/burn ]; do :; done; exec sleep 1000"]
    stop_grace_period: 1s
    volumes:
      - ./flag:/flag
    x-rcorch-autoscale:
      min: 1
      max: 3
      target_cpu: 20
      window: 3s
      interval: 1s
"#;

/// Polls `cond` every 300 ms (each look runs `rcorch ps`) until true or `timeout`.
fn poll(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(300));
    }
}

fn desired_replicas(p: &Project) -> u64 {
    let text = std::fs::read_to_string(p.dir().join("desired.json")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    v["services"][0]["spec"]["replicas"].as_u64().unwrap_or(0)
}

#[test]
fn busy_service_scales_up_then_back_down_to_min() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "auto", BURN);
    let flag = p.file.parent().expect("project dir").join("flag");
    std::fs::create_dir_all(&flag).expect("flag dir");
    std::fs::write(flag.join("burn"), "").expect("flag file");
    p.up();

    let up = poll(WAIT, || p.running("burn").len() > 1);
    assert!(
        up,
        "not scaled up: {:#?}\n{:#?}",
        p.replicas("burn"),
        p.events()
    );
    let ups = p.events_of("burn", "autoscale");
    assert!(
        ups.iter().any(|l| l.contains("1 -> ") && l.contains("cpu")),
        "no scale-up event: {:#?}",
        p.events()
    );
    assert!((2..=3).contains(&desired_replicas(&p)), "within max");

    std::fs::remove_file(flag.join("burn")).expect("remove flag");
    let down = poll(WAIT, || {
        p.running("burn").len() == 1 && desired_replicas(&p) == 1
    });
    assert!(
        down,
        "not scaled down: {:#?}\n{:#?}",
        p.replicas("burn"),
        p.events()
    );
    let events = p.events_of("burn", "autoscale");
    assert!(
        events.iter().any(|l| l.contains("-> 1 replicas")),
        "no scale-down event: {events:#?}"
    );
    eprintln!("autoscale events: {events:#?}");
    // Never above max, as the events tell.
    assert!(events.iter().all(|l| !l.contains("-> 4")), "{events:#?}");
}
