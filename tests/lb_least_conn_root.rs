//! Root-only least-connections scenario (issue 6): a service labelled
//! `rcorch.lb.strategy: least-connections` is served by the supervisor's
//! userspace proxy; while one replica holds a long-lived connection, every
//! new one (published port or VIP) goes to the other; once released, both
//! get traffic again; `down` leaves no listener.

mod networld;

use networld::{value, world};

const HELPERS: &str = r#"
trap '$R down -p lc >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
members() { $R ps --format json | jq -r '[.[] | select(.Service=="web" and .Balancer=="member") | .Id[0:12]] | sort | join(" ")'; }
wait_members() { for i in $(seq 200); do [ "$(members | wc -w)" = "$1" ] && return 0; sleep 0.1; done; return 1; }
# The proxy's connections to the backends' port 80 not yet closed by it
# (TIME_WAIT and CLOSE are done): wget stops reading at Content-Length, so
# its connection may still be open in the proxy when the next one comes.
relayed() { awk '$3 ~ /:0050$/ && $4 != "06" && $4 != "07"' /proc/net/tcp | wc -l; }
settle() { for i in $(seq 100); do [ "$(relayed)" -le "$1" ] && return 0; sleep 0.05; done; echo "unsettled=$(relayed)"; }
# hits N HELD: N requests, each once only HELD connections are relayed.
hits() { for i in $(seq $1); do settle $2 >&2; busybox wget -qO- http://127.0.0.1:18080/; done | sort | uniq -c | awk '{print $2"="$1}' | tr '\n' ' '; }
vip_hits() { for i in $(seq $1); do settle $2 >&2; $R exec lc-client-1 wget -qO- http://web/; done | sort | uniq -c | awk '{print $2"="$1}' | tr '\n' ' '; }
# The replica whose httpd holds an established connection.
holder() { for c in lc-web-1 lc-web-2; do
  $R exec $c netstat -tn 2>/dev/null | grep ':80 ' | grep -q ESTABLISHED && $R inspect $c | jq -r '.[0].Id[0:12]'
done; }
# Listening TCP sockets on port 18080 (0x46A0) in this namespace.
listeners() { grep -c ':46A0 [0-9A-F:]* 0A' /proc/net/tcp; }
"#;

fn compose(w: &networld::World) -> String {
    let file = w.root.path().join("lc.yaml");
    std::fs::write(
        &file,
        r#"
name: lc
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["18080:80"]
    labels:
      rcorch.lb.strategy: least-connections
    stop_grace_period: 1s
    deploy:
      replicas: 2
  client:
    image: busybox
    command: ["sleep", "3600"]
    stop_grace_period: 1s
"#,
    )
    .unwrap();
    file.display().to_string()
}

/// `A=N B=N ` -> the counts per hostname.
fn counts(out: &str, key: &str) -> Vec<(String, usize)> {
    value(out, key)
        .split_whitespace()
        .map(|kv| {
            let (host, n) = kv.split_once('=').unwrap();
            (host.to_string(), n.parse().unwrap())
        })
        .collect()
}

#[test]
fn a_held_connection_sends_new_ones_to_the_other_replica_until_released() {
    let Some(w) = world("lbleast") else { return };
    let file = compose(&w);
    let out = w.run(&format!(
        r#"{HELPERS}
$R up -d -f {file} >/dev/null || echo "up failed"
wait_members 2 || echo "never 2 members"
echo "members=$(members)"
echo "strategy=$($R inspect lc-web-1 | jq -r '.[0].LoadBalancer.Strategy')"
echo "column=$($R ps | grep -c 'member (least-connections)')"
echo "listening=$(listeners)"
exec 3<>/dev/tcp/127.0.0.1/18080
for i in $(seq 100); do [ "$(relayed)" = 1 ] && break; sleep 0.05; done
echo "holder=$(holder)"
echo "held-hits=$(hits 8 1)"
echo "held-vip-hits=$(vip_hits 4 1)"
exec 3>&-
echo "released-hits=$(hits 10 0)"
echo "released-vip-hits=$(vip_hits 4 0)"
$R down -p lc >/dev/null
echo "after-down=$(listeners)"
echo "rules=$(nft list ruleset | grep -c -E 'numgen|reject')"
"#
    ));
    assert!(
        !out.contains("up failed") && !out.contains("never 2"),
        "{out}"
    );
    let members: Vec<&str> = value(&out, "members").split_whitespace().collect();
    assert_eq!(members.len(), 2, "{out}");
    assert_eq!(value(&out, "strategy"), "least-connections", "{out}");
    assert_eq!(value(&out, "column"), "2", "{out}");
    assert_eq!(value(&out, "listening"), "1", "the proxy listens:\n{out}");
    let holder = value(&out, "holder");
    assert!(members.contains(&holder), "one replica holds it:\n{out}");
    let other = members.iter().find(|m| **m != holder).unwrap().to_string();
    assert_eq!(
        counts(&out, "held-hits"),
        vec![(other.clone(), 8)],
        "all new connections avoid the busy replica:\n{out}"
    );
    assert_eq!(
        counts(&out, "held-vip-hits"),
        vec![(other, 4)],
        "the VIP shares the same counts:\n{out}"
    );
    let released = counts(&out, "released-hits");
    assert_eq!(released.len(), 2, "both get traffic again:\n{out}");
    assert!(released.iter().all(|(_, n)| *n == 5), "{out}");
    assert_eq!(counts(&out, "released-vip-hits").len(), 2, "{out}");
    assert_eq!(value(&out, "after-down"), "0", "no listener left:\n{out}");
    assert_eq!(value(&out, "rules"), "0", "{out}");
}

/// `name=N name=N ` (sorted by name) of one `rcorch_lb_backend_*` family.
const SCRAPE: &str = r#"
scrape() { curl -s --max-time 5 http://127.0.0.1:19464/metrics; }
wait_scrape() { for i in $(seq 100); do scrape >/dev/null && return 0; sleep 0.1; done; return 1; }
lb() { scrape | grep "^rcorch_lb_backend_$1{" | grep 'service="web"' | sed -E 's/.*name="([^"]*)".* ([0-9]+)$/\1=\2/' | sort | tr '\n' ' '; }
# Each replica's name and the hostname its httpd answers with.
names() { for c in lc-web-1 lc-web-2; do echo -n "$($R inspect $c | jq -r '.[0].Id[0:12]'):$c "; done; }
"#;

#[test]
fn metrics_count_selections_and_connections_per_backend() {
    let Some(w) = world("lbmetrics") else { return };
    let file = compose(&w);
    let out = w.run(&format!(
        r#"{HELPERS}{SCRAPE}
$R up -d --metrics 127.0.0.1:19464 -f {file} >/dev/null || echo "up failed"
wait_members 2 || echo "never 2 members"
wait_scrape || echo "no scrape"
echo "names=$(names)"
echo "labels=$(scrape | grep '^rcorch_lb_backend_selections_total{{' | grep -c 'project="lc",service="web",name="lc-web-[12]",backend="[0-9.]*"')"
echo "before=$(lb selections_total)"
echo "hits=$(hits 6 0)"
echo "selections=$(lb selections_total)"
echo "accepted=$(lb connections_total)"
exec 3<>/dev/tcp/127.0.0.1/18080
sleep 0.3
echo "held-open=$(lb open_connections)"
echo "held-selections=$(lb selections_total)"
exec 3>&-
sleep 0.3
echo "released-open=$(lb open_connections)"
$R down -p lc >/dev/null
"#
    ));
    assert!(
        !out.contains("up failed") && !out.contains("never 2") && !out.contains("no scrape"),
        "{out}"
    );
    // hostname (short id) -> replica name
    let names: Vec<(String, String)> = value(&out, "names")
        .split_whitespace()
        .map(|kv| {
            let (id, name) = kv.split_once(':').unwrap();
            (id.to_string(), name.to_string())
        })
        .collect();
    let name_of = |id: &str| names.iter().find(|(i, _)| i == id).unwrap().1.clone();
    assert_eq!(
        value(&out, "labels"),
        "2",
        "both backends, labelled:\n{out}"
    );
    let zero = vec![("lc-web-1".to_string(), 0), ("lc-web-2".to_string(), 0)];
    assert_eq!(counts(&out, "before"), zero, "members start at 0:\n{out}");
    // What the clients saw, per replica name, is what the counters say.
    let mut seen: Vec<(String, usize)> = counts(&out, "hits")
        .into_iter()
        .map(|(id, n)| (name_of(&id), n))
        .collect();
    seen.sort();
    assert_eq!(seen.iter().map(|(_, n)| n).sum::<usize>(), 6, "{out}");
    assert_eq!(counts(&out, "selections"), seen, "{out}");
    assert_eq!(counts(&out, "accepted"), seen, "{out}");
    let held = counts(&out, "held-open");
    assert_eq!(
        held.iter().map(|(_, n)| n).sum::<usize>(),
        1,
        "one open connection:\n{out}"
    );
    let total: usize = counts(&out, "held-selections").iter().map(|(_, n)| n).sum();
    assert_eq!(total, 7, "{out}");
    assert_eq!(counts(&out, "released-open"), zero, "closed again:\n{out}");
}
