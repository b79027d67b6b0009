//! Root-only load-balancing scenarios (issue 6), each in its own network
//! namespace (see `networld`): a service's published port and virtual IP
//! spread over its healthy replicas, an unhealthy replica gets no new
//! connections, its replacement joins once healthy, DNS answers service
//! names, and `down` leaves no rule, address or network behind.

mod networld;

use networld::{value, world};

/// Shell helpers shared by the scenarios: `members` lists the web
/// replicas the balancer sends to (from `ps`), `hits N` makes N requests
/// to the published port and counts answers per replica hostname.
const HELPERS: &str = r#"
trap '$R down -p lb >/dev/null 2>&1; $R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT
members() { $R ps --format json | jq -r '[.[] | select(.Service=="web" and .Balancer=="member") | .Id[0:12]] | sort | join(" ")'; }
wait_members() { for i in $(seq 200); do [ "$(members | wc -w)" = "$1" ] && return 0; sleep 0.1; done; return 1; }
hits() { for i in $(seq $1); do busybox wget -qO- http://127.0.0.1:18080/; done | sort | uniq -c | awk '{print $2"="$1}' | tr '\n' ' '; }
"#;

fn compose(w: &networld::World) -> String {
    let file = w.root.path().join("lb.yaml");
    std::fs::write(
        &file,
        r#"
name: lb
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && touch /tmp/ok && exec httpd -f -p 80 -h /www"]
    ports: ["18080:80"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 300ms
      retries: 1
    deploy:
      replicas: 3
  api:
    image: busybox
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
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
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= line in:\n{out}"));
    line.split_whitespace()
        .map(|kv| {
            let (host, n) = kv.split_once('=').unwrap();
            (host.to_string(), n.parse().unwrap())
        })
        .collect()
}

#[test]
fn a_service_port_and_vip_spread_over_healthy_replicas_and_down_leaves_nothing() {
    let Some(w) = world("lb") else { return };
    let file = compose(&w);
    let out = w.run(&format!(
        r#"{HELPERS}
$R up -d -f {file} >/dev/null || echo "up failed"
wait_members 3 || echo "never 3 members"
echo "members=$(members)"
echo "hits=$(hits 30)"
echo "vip-hits=$(for i in 1 2 3 4 5 6; do $R exec lb-client-1 wget -qO- http://web/; done | sort -u | wc -l)"
echo "self-hits=$(for i in 1 2 3; do $R exec lb-web-1 wget -qO- http://web/; done | wc -l)"
echo "tasks=$($R exec lb-client-1 nslookup tasks.web | grep -c '^Address: ')"
echo "web-dns=$($R exec lb-client-1 nslookup web | awk '/^Address: /{{print $2}}')"
echo "vip=$($R inspect lb-web-1 | jq -r '.[0].LoadBalancer.VirtualIP')"
echo "api-dns=$($R exec lb-client-1 nslookup api | grep -c '^Address: ')"
old=$($R inspect lb-web-2 | jq -r '.[0].Id[0:12]')
echo "old=$old"
$R exec lb-web-2 rm /tmp/ok
for i in $(seq 200); do members | grep -q "$old" || break; sleep 0.05; done
echo "after-unhealthy=$(hits 12)"
wait_members 3 || echo "not back to 3"
echo "members-again=$(members)"
echo "hits-again=$(hits 30)"
$R scale -p lb web=1 >/dev/null
wait_members 1 || echo "never 1 member"
echo "scaled=$(hits 6)"
$R down -p lb >/dev/null
echo "rules=$(nft list ruleset | grep -c -E 'numgen|reject')"
echo "addresses=$(ip -4 -o addr | grep -vc ' lo ')"
echo "networks=$($R network ls | tail -n +2 | wc -l)"
"#
    ));
    assert!(
        !out.contains("up failed") && !out.contains("never 3"),
        "{out}"
    );
    let members: Vec<&str> = value(&out, "members").split_whitespace().collect();
    assert_eq!(members.len(), 3, "{out}");
    // Round-robin: 30 connections, 10 to each replica.
    let hits = counts(&out, "hits");
    assert_eq!(hits.len(), 3, "{out}");
    assert!(
        hits.iter()
            .all(|(h, n)| *n == 10 && members.contains(&h.as_str())),
        "{out}"
    );
    assert_eq!(value(&out, "vip-hits"), "3", "the VIP balances too:\n{out}");
    // With br_netfilter the connection a replica makes to itself through
    // the VIP is balanced again on its way back; it is served either way.
    assert_eq!(
        value(&out, "self-hits"),
        "3",
        "a replica reaches its own VIP:\n{out}"
    );
    assert_eq!(value(&out, "tasks"), "3", "{out}");
    let vip = value(&out, "vip");
    assert_eq!(value(&out, "web-dns"), vip, "{out}");
    assert_eq!(
        value(&out, "api-dns"),
        "2",
        "dnsrr lists the replicas:\n{out}"
    );
    // The unhealthy replica takes no new connection; its replacement does
    // once healthy.
    let old = value(&out, "old");
    let after = counts(&out, "after-unhealthy");
    assert_eq!(after.iter().map(|(_, n)| n).sum::<usize>(), 12, "{out}");
    assert!(after.iter().all(|(h, _)| h != old), "{out}");
    let again: Vec<&str> = value(&out, "members-again").split_whitespace().collect();
    assert_eq!(again.len(), 3, "{out}");
    assert!(!again.contains(&old), "{out}");
    let hits_again = counts(&out, "hits-again");
    assert_eq!(hits_again.len(), 3, "the replacement gets traffic:\n{out}");
    assert!(!out.contains("never 1 member"), "{out}");
    assert_eq!(counts(&out, "scaled").len(), 1, "scale down drains:\n{out}");
    assert_eq!(value(&out, "rules"), "0", "{out}");
    assert_eq!(
        value(&out, "addresses"),
        "0",
        "no VIP or bridge left:\n{out}"
    );
    assert_eq!(value(&out, "networks"), "0", "{out}");
}

#[test]
fn a_busy_published_port_fails_up_and_changes_nothing() {
    let Some(w) = world("lbbusy") else { return };
    let file = compose(&w);
    let out = w.run(&format!(
        r#"{HELPERS}
busybox nc -l -p 18080 >/dev/null 2>&1 & sleep 0.2
$R up -d -f {file}; echo "up=$?"
kill $!
echo "containers=$($R ps -aq | wc -l)"
echo "networks=$($R network ls | tail -n +2 | wc -l)"
echo "projects=$(ls {root}/projects 2>/dev/null | wc -l)"
"#,
        root = w.root.path().display()
    ));
    assert!(
        out.contains("host port 0.0.0.0:18080/tcp is already in use"),
        "{out}"
    );
    assert!(!out.contains("up=0"), "{out}");
    assert_eq!(value(&out, "containers"), "0", "{out}");
    assert_eq!(value(&out, "networks"), "0", "{out}");
    assert_eq!(value(&out, "projects"), "0", "{out}");
}

/// The kernel balancer's choices on /metrics: each new connection through
/// the published port or the VIP is one selection of the replica nft sent
/// it to (heard as a new conntrack entry), as the clients saw it.
#[test]
fn metrics_count_the_kernel_balancers_selections_per_backend() {
    let Some(w) = world("lbrrmetrics") else {
        return;
    };
    let file = w.root.path().join("rr.yaml");
    std::fs::write(
        &file,
        r#"
name: lb
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["18080:80"]
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
    let file = file.display();
    let out = w.run(&format!(
        r#"{HELPERS}
scrape() {{ curl -s --max-time 5 http://127.0.0.1:19464/metrics; }}
wait_scrape() {{ for i in $(seq 100); do scrape >/dev/null && return 0; sleep 0.1; done; return 1; }}
lb() {{ scrape | grep "^rcorch_lb_backend_$1{{" | grep 'service="web"' | sed -E 's/.*name="([^"]*)".* ([0-9]+)$/\1=\2/' | sort | tr '\n' ' '; }}
by_name() {{ s=""; for c in lb-web-1 lb-web-2; do s="$s;s/$($R inspect $c | jq -r '.[0].Id[0:12]')/$c/"; done; sed "${{s#;}}"; }}
$R up -d --metrics 127.0.0.1:19464 -f {file} >/dev/null || echo "up failed"
wait_members 2 || echo "never 2 members"
wait_scrape || echo "no scrape"
echo "before=$(lb selections_total)"
h=$(hits 6)
v=$(for i in 1 2 3 4; do $R exec lb-client-1 wget -qO- http://web/; done | sort | uniq -c | awk '{{print $2"="$1}}' | tr '\n' ' ')
echo "hits=$(echo $h | tr ' ' '\n' | by_name | sort | tr '\n' ' ')"
echo "vip=$(echo $v | tr ' ' '\n' | by_name | sort | tr '\n' ' ')"
sleep 0.3
echo "selections=$(lb selections_total)"
echo "accepted=$(lb connections_total | wc -w)"
$R down -p lb >/dev/null
"#
    ));
    assert!(
        !out.contains("up failed") && !out.contains("never 2") && !out.contains("no scrape"),
        "{out}"
    );
    let zero = vec![("lb-web-1".to_string(), 0), ("lb-web-2".to_string(), 0)];
    assert_eq!(counts(&out, "before"), zero, "members start at 0:\n{out}");
    let mut seen = counts(&out, "hits");
    for (name, n) in counts(&out, "vip") {
        match seen.iter_mut().find(|(s, _)| *s == name) {
            Some((_, m)) => *m += n,
            None => seen.push((name, n)),
        }
    }
    seen.sort();
    assert_eq!(seen.iter().map(|(_, n)| n).sum::<usize>(), 10, "{out}");
    assert_eq!(counts(&out, "selections"), seen, "{out}");
    assert_eq!(
        value(&out, "accepted"),
        "0",
        "the kernel's backends show selections only:\n{out}"
    );
}
