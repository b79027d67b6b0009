use std::time::Duration;

use super::*;

fn config() -> ContainerConfig {
    let mut c: ContainerConfig =
        serde_json::from_str(include_str!("testdata/config.json")).unwrap();
    c.id = "c0ffee".repeat(10) + "abcd";
    c.name = "web".into();
    c.image = "busybox:latest".into();
    c.labels = BTreeMap::from([("tier".to_string(), "front".to_string())]);
    c
}

#[test]
fn messages_carry_docker_fields() {
    let at = UNIX_EPOCH + Duration::from_nanos(1_765_000_000_123_456_789);
    let m = message(&config(), "die", &[("exitCode", "3".into())], at);
    assert_eq!(m["Type"], "container");
    assert_eq!(m["Action"], "die");
    assert_eq!(m["status"], "die");
    assert_eq!(m["from"], "busybox:latest");
    assert_eq!(m["Actor"]["ID"], m["id"]);
    let a = &m["Actor"]["Attributes"];
    assert_eq!(
        (&a["name"], &a["image"], &a["exitCode"], &a["tier"]),
        (
            &json!("web"),
            &json!("busybox:latest"),
            &json!("3"),
            &json!("front")
        )
    );
    assert_eq!(m["time"], 1_765_000_000u64);
    assert_eq!(m["timeNano"], 1_765_000_000_123_456_789u64);
}

#[test]
fn the_log_rotates_once_past_its_limit_and_keeps_two_files() {
    let root = std::env::temp_dir().join(format!("rcorch-events-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let log = EventLog::with_limit(&root, 600);
    let c = config();
    for i in 0..20u64 {
        let at = UNIX_EPOCH + Duration::from_secs(i);
        log.record(&message(&c, "start", &[], at));
    }
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    assert!(size(&log.rotated()) > 0, "rotated");
    // Each file holds at most the limit plus the line that crossed it.
    let line = message(&c, "start", &[], UNIX_EPOCH).to_string().len() as u64 + 1;
    assert!(size(&log.current()) < 600 + line);
    assert!(size(&log.rotated()) < 600 + line);
    let kept = log.read_all();
    let times: Vec<u64> = kept.iter().map(|m| m["time"].as_u64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {times:?}"
    );
    assert_eq!(*times.last().unwrap(), 19);
    assert!(times.len() < 20, "the oldest went with a rotation");
    std::fs::remove_dir_all(&root).unwrap();
}
