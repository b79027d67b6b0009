use super::*;

fn port() -> ServicePort {
    ServicePort {
        proto: Proto::Tcp,
        port: 80,
        vip: Some(Ipv4Addr::new(10, 99, 0, 5)),
        published: Some(8080),
    }
}

fn backend(last: u8) -> Backend {
    Backend {
        addr: Ipv4Addr::new(10, 0, 0, last),
        port: 80,
    }
}

fn plan(members: &[Backend]) -> DnatPlan {
    dnat_plan("rcorch", "shop", "web", port(), members)
}

#[test]
fn base_snapshot() {
    let expected = "\
add table ip rcorch
add map ip rcorch service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }
add map ip rcorch service-ports { type inet_proto . inet_service : verdict ; }
add chain ip rcorch prerouting { type nat hook prerouting priority dstnat ; }
flush chain ip rcorch prerouting
add rule ip rcorch prerouting ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip rcorch prerouting fib daddr type local meta l4proto . th dport vmap @service-ports
add chain ip rcorch output { type nat hook output priority -100 ; }
flush chain ip rcorch output
add rule ip rcorch output ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip rcorch output fib daddr type local meta l4proto . th dport vmap @service-ports
add chain ip rcorch postrouting { type nat hook postrouting priority srcnat ; }
flush chain ip rcorch postrouting
add rule ip rcorch postrouting meta mark and 0x4000 == 0x4000 masquerade
";
    assert_eq!(render_base("rcorch"), expected);
}

#[test]
fn plan_orders_and_dedups_members() {
    let p = plan(&[backend(4), backend(2), backend(3), backend(2)]);
    let addrs: Vec<u8> = p
        .endpoints
        .iter()
        .map(|e| e.backend.addr.octets()[3])
        .collect();
    assert_eq!(addrs, vec![2, 3, 4]);
    assert_eq!(p.chain, "svc-shop-web-tcp-80");
    assert_eq!(p.endpoints[0].chain, "ep-shop-web-tcp-80_10.0.0.2_80");
}

#[test]
fn apply_snapshot_three_replicas() {
    let expected = "\
add chain ip rcorch ep-shop-web-tcp-80_10.0.0.2_80
flush chain ip rcorch ep-shop-web-tcp-80_10.0.0.2_80
add rule ip rcorch ep-shop-web-tcp-80_10.0.0.2_80 ip saddr 10.0.0.2 meta mark set meta mark or 0x4000
add rule ip rcorch ep-shop-web-tcp-80_10.0.0.2_80 meta l4proto tcp dnat to 10.0.0.2:80
add chain ip rcorch ep-shop-web-tcp-80_10.0.0.3_80
flush chain ip rcorch ep-shop-web-tcp-80_10.0.0.3_80
add rule ip rcorch ep-shop-web-tcp-80_10.0.0.3_80 ip saddr 10.0.0.3 meta mark set meta mark or 0x4000
add rule ip rcorch ep-shop-web-tcp-80_10.0.0.3_80 meta l4proto tcp dnat to 10.0.0.3:80
add chain ip rcorch ep-shop-web-tcp-80_10.0.0.4_80
flush chain ip rcorch ep-shop-web-tcp-80_10.0.0.4_80
add rule ip rcorch ep-shop-web-tcp-80_10.0.0.4_80 ip saddr 10.0.0.4 meta mark set meta mark or 0x4000
add rule ip rcorch ep-shop-web-tcp-80_10.0.0.4_80 meta l4proto tcp dnat to 10.0.0.4:80
add chain ip rcorch svc-shop-web-tcp-80
flush chain ip rcorch svc-shop-web-tcp-80
add rule ip rcorch svc-shop-web-tcp-80 numgen inc mod 3 vmap { \
0 : goto ep-shop-web-tcp-80_10.0.0.2_80, \
1 : goto ep-shop-web-tcp-80_10.0.0.3_80, \
2 : goto ep-shop-web-tcp-80_10.0.0.4_80 }
add element ip rcorch service-ips { 10.99.0.5 . tcp . 80 : goto svc-shop-web-tcp-80 }
add element ip rcorch service-ports { tcp . 8080 : goto svc-shop-web-tcp-80 }
";
    assert_eq!(
        render_apply(&plan(&[backend(2), backend(3), backend(4)]), None),
        expected
    );
}

#[test]
fn a_replica_leaving_rewrites_the_service_chain_and_drops_its_endpoint() {
    let before = plan(&[backend(2), backend(3)]);
    let after = plan(&[backend(3)]);
    let script = render_apply(&after, Some(&before));
    assert!(script.contains(
        "add rule ip rcorch svc-shop-web-tcp-80 numgen inc mod 1 vmap { 0 : goto ep-shop-web-tcp-80_10.0.0.3_80 }\n"
    ));
    assert!(script.ends_with(
        "flush chain ip rcorch ep-shop-web-tcp-80_10.0.0.2_80\n\
         delete chain ip rcorch ep-shop-web-tcp-80_10.0.0.2_80\n"
    ));
    assert!(!script.contains("delete chain ip rcorch ep-shop-web-tcp-80_10.0.0.3_80"));
}

#[test]
fn no_member_rejects_and_udp_without_vip() {
    let udp = ServicePort {
        proto: Proto::Udp,
        port: 53,
        vip: None,
        published: Some(5353),
    };
    let p = dnat_plan("rcorch", "shop", "dns", udp, &[]);
    let expected = "\
add chain ip rcorch svc-shop-dns-udp-53
flush chain ip rcorch svc-shop-dns-udp-53
add rule ip rcorch svc-shop-dns-udp-53 reject
add element ip rcorch service-ports { udp . 5353 : goto svc-shop-dns-udp-53 }
";
    assert_eq!(render_apply(&p, None), expected);
}

#[test]
fn remove_snapshot() {
    let expected = "\
delete element ip rcorch service-ips { 10.99.0.5 . tcp . 80 }
delete element ip rcorch service-ports { tcp . 8080 }
flush chain ip rcorch svc-shop-web-tcp-80
delete chain ip rcorch svc-shop-web-tcp-80
flush chain ip rcorch ep-shop-web-tcp-80_10.0.0.2_80
delete chain ip rcorch ep-shop-web-tcp-80_10.0.0.2_80
";
    assert_eq!(render_remove(&plan(&[backend(2)])), expected);
}
