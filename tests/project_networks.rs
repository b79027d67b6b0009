//! Root-only: a service's replicas join all of its compose networks (the
//! first at `run`, the others right after), with their aliases, so services
//! meet only where they share a network. Each scenario runs in its own
//! network namespace (see `networld`).

mod networld;

use networld::world;

const HELPERS: &str = r#"
trap '$R down -p nets >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
# (busybox wget -T crashes here; timeout bounds it instead)
get() { $R exec "$1" timeout 3 wget -qO- "http://$2/" 2>/dev/null || echo unreachable; }
# The resolver reloads its zones every 200 ms: wait for a name to appear.
wait_addrs() { for i in $(seq 50); do [ "$(addrs "$1" "$2" | wc -w)" -ge "$3" ] && return 0; sleep 0.1; done; }
addrs() { $R exec "$1" nslookup "$2" 2>/dev/null | awk '/^Address: /{print $2}' | sort | tr '\n' ' '; }
"#;

const COMPOSE: &str = r#"
name: nets
services:
  front:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo front > /www/index.html && exec httpd -f -p 80 -h /www"]
    stop_grace_period: 1s
    networks:
      public: { aliases: [www] }
      internal: {}
  back:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo back > /www/index.html && exec httpd -f -p 80 -h /www"]
    stop_grace_period: 1s
    networks:
      internal: { aliases: [db] }
  other:
    image: busybox
    command: ["sleep", "3600"]
    init: true
    networks: [public]
  broken:
    image: busybox
    command: ["sleep", "3600"]
    init: true
    networks:
      internal: {}
      public: { aliases: ["-not-a-name"] }
networks:
  public: {}
  internal: {}
"#;

fn value<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= line in:\n{out}"))
        .trim()
}

#[test]
fn replicas_join_all_their_networks_and_meet_only_where_they_share_one() {
    let Some(w) = world("projnets") else { return };
    let file = w.root.path().join("nets.yaml");
    std::fs::write(&file, COMPOSE).unwrap();
    let out = w.run(&format!(
        r#"{HELPERS}
$R up -d --wait-timeout 30 -f {file} front back other >/dev/null || echo "up failed"
echo "front-links=$($R exec nets-front-1 ip -4 -o addr | grep -vc ' lo ')"
echo "front-to-back=$(get nets-front-1 back)"
echo "front-to-alias=$(get nets-front-1 db)"
wait_addrs nets-other-1 front 1
echo "other-to-front=$(get nets-other-1 front)"
echo "other-to-www=$(get nets-other-1 www)"
echo "other-to-back=$(get nets-other-1 back)"
back_ip=$($R inspect nets-back-1 | jq -r '.[0].NetworkSettings.Networks[].IPAddress')
echo "other-to-back-ip=$(get nets-other-1 $back_ip)"
$R scale -p nets front=2 >/dev/null || echo "scale failed"
echo "front2-to-back=$(get nets-front-2 back)"
wait_addrs nets-other-1 front 2
echo "front-addrs=$(addrs nets-other-1 front | wc -w)"
# A replica that cannot join a network is removed and retried.
$R up -d --wait-timeout 2 -f {file} broken >/dev/null 2>&1 && echo "broken up"
sleep 0.5
echo "join-failures=$($R events -p nets --since 0 --until 0s | grep -c 'broken-1 start-failed .*cannot join network nets_public')"
echo "broken-running=$($R ps --format json | jq '[.[] | select(.Service=="broken")] | length')"
$R down -p nets >/dev/null
echo "containers=$($R ps -aq | wc -l)"
echo "networks=$($R network ls | tail -n +2 | wc -l)"
echo "addresses=$(ip -4 -o addr | grep -vc ' lo ')"
"#,
        file = file.display()
    ));
    assert!(
        !out.contains("up failed") && !out.contains("scale failed"),
        "{out}"
    );
    assert_eq!(
        value(&out, "front-links"),
        "2",
        "front is on both networks:\n{out}"
    );
    assert_eq!(value(&out, "front-to-back"), "back", "{out}");
    assert_eq!(value(&out, "front-to-alias"), "back", "{out}");
    // `public` is front's second network: joined after the start.
    assert_eq!(value(&out, "other-to-front"), "front", "{out}");
    assert_eq!(value(&out, "other-to-www"), "front", "{out}");
    assert_eq!(value(&out, "other-to-back"), "unreachable", "{out}");
    assert_eq!(value(&out, "other-to-back-ip"), "unreachable", "{out}");
    assert_eq!(value(&out, "front2-to-back"), "back", "{out}");
    assert_eq!(
        value(&out, "front-addrs"),
        "2",
        "both replicas on public:\n{out}"
    );
    assert!(!out.contains("broken up"), "{out}");
    let failures: u32 = value(&out, "join-failures").parse().unwrap();
    assert!(failures >= 1, "{out}");
    assert_eq!(value(&out, "broken-running"), "0", "{out}");
    assert_eq!(value(&out, "containers"), "0", "{out}");
    assert_eq!(value(&out, "networks"), "0", "{out}");
    assert_eq!(value(&out, "addresses"), "0", "{out}");
}
