use super::*;
use crate::network::ports::parse_publish;
use crate::network::{Endpoint, Network, Subnet};

fn state() -> NetState {
    let mut s = NetState::default();
    for (name, subnet) in [("app", "10.1.0.0/24"), ("other", "10.2.0.0/24")] {
        let subnet: Subnet = subnet.parse().unwrap();
        s.networks.insert(
            name.into(),
            Network {
                name: name.into(),
                bridge: format!("br-{name}"),
                gateway: subnet.first_host(),
                subnet,
                internal: false,
                created: String::new(),
                labels: Default::default(),
            },
        );
    }
    for (id, net, ip, ports) in [
        ("w1", "app", "10.1.0.2", vec![]),
        ("w2", "app", "10.1.0.3", vec![]),
        ("w3", "app", "10.1.0.4", vec![]),
        (
            "x1",
            "other",
            "10.2.0.2",
            vec![parse_publish("9000:80").unwrap()],
        ),
    ] {
        s.insert_endpoint(Endpoint {
            container_id: id.into(),
            container_name: format!("c-{id}"),
            network: net.into(),
            ip: ip.parse().unwrap(),
            aliases: vec![],
            ports,
            host_veth: format!("rc{id}"),
            ifname: "eth0".into(),
            default_route: false,
        });
    }
    s
}

fn request(members: &[&str], ports: &[&str]) -> ServiceRequest {
    ServiceRequest {
        project: "p".into(),
        service: "web".into(),
        network: "app".into(),
        vip: true,
        ports: ports.iter().map(|p| parse_publish(p).unwrap()).collect(),
        members: members.iter().map(|m| m.to_string()).collect(),
        replicas: ["w1", "w2", "w3"].iter().map(|m| m.to_string()).collect(),
        strategy: Strategy::RoundRobin,
        vip_ports: vec![],
    }
}

fn least_connections(members: &[&str], ports: &[&str], vip_ports: &[u16]) -> ServiceRequest {
    ServiceRequest {
        strategy: Strategy::LeastConnections,
        vip_ports: vip_ports.to_vec(),
        ..request(members, ports)
    }
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn a_service_gets_a_free_vip_and_its_members_addresses_in_order() {
    let s = state();
    let entry = plan_service(&s, &request(&["w3", "w1"], &["8080:80"])).unwrap();
    assert_eq!(
        entry.vip,
        Some(ip("10.1.0.5")),
        "after gateway and replicas"
    );
    assert_eq!(entry.backends, vec![ip("10.1.0.4"), ip("10.1.0.2")]);
    assert_eq!(entry.replicas.len(), 3);
    assert_eq!(entry.ports[0].host_port, 8080);
}

#[test]
fn the_vip_is_kept_across_membership_changes_and_never_given_to_a_container() {
    let mut s = state();
    let first = plan_service(&s, &request(&["w1"], &[])).unwrap();
    s.services.insert(ServiceLb::key("p", "web"), first.clone());
    let again = plan_service(&s, &request(&["w1", "w2"], &[])).unwrap();
    assert_eq!(again.vip, first.vip);
    assert!(s.used_addresses("app").contains(&first.vip.unwrap()));
}

#[test]
fn members_elsewhere_or_unknown_are_skipped_and_dnsrr_has_no_vip() {
    let s = state();
    let mut req = request(&["x1", "gone", "w2"], &[]);
    req.vip = false;
    let entry = plan_service(&s, &req).unwrap();
    assert_eq!(entry.vip, None);
    assert_eq!(entry.backends, vec![ip("10.1.0.3")]);
}

#[test]
fn published_ports_clash_with_containers_and_other_services_but_not_itself() {
    let mut s = state();
    let err = plan_service(&s, &request(&["w1"], &["9000:80"])).unwrap_err();
    assert!(err.to_string().contains("9000"), "{err}");
    let mine = plan_service(&s, &request(&["w1"], &["8080:80"])).unwrap();
    s.services.insert(ServiceLb::key("p", "web"), mine);
    assert!(plan_service(&s, &request(&["w1", "w2"], &["8080:80"])).is_ok());
    let mut other = request(&["w2"], &["8080:80"]);
    other.service = "api".into();
    assert!(plan_service(&s, &other).is_err());
}

#[test]
fn unknown_network_is_an_error() {
    let mut req = request(&[], &[]);
    req.network = "nope".into();
    assert!(matches!(
        plan_service(&state(), &req),
        Err(NetError::Unknown(n)) if n == "nope"
    ));
}

#[test]
fn removing_a_project_keeps_other_projects_services() {
    let mut s = state();
    let mine = plan_service(&s, &request(&["w1"], &[])).unwrap();
    let mut theirs = mine.clone();
    theirs.project = "q".into();
    s.services.insert(ServiceLb::key("p", "web"), mine);
    s.services.insert(ServiceLb::key("q", "web"), theirs);
    let gone = remove_project(&mut s, "p");
    assert_eq!(gone.len(), 1);
    assert_eq!(s.services.keys().collect::<Vec<_>>(), ["q/web"]);
}

fn json(rule: &[Statement<'static>]) -> String {
    serde_json::to_string(rule).unwrap()
}

#[test]
fn vip_and_published_port_spread_round_robin_over_the_members() {
    let s = state();
    let entry = plan_service(&s, &request(&["w1", "w2"], &["8080:80"])).unwrap();
    let rules: Vec<String> = dnat_rules(&entry).iter().map(|r| json(r)).collect();
    let map = r#"{"map":{"key":{"numgen":{"mode":"inc","mod":2}},"data":{"set":[[0,"10.1.0.2"],[1,"10.1.0.3"]]}}}"#;
    assert_eq!(rules.len(), 2);
    assert!(rules[0].contains(r#""right":"10.1.0.5""#), "{}", rules[0]);
    assert!(
        rules[0].contains(&format!(r#"{{"dnat":{{"addr":{map},"family":"ip"}}}}"#)),
        "{}",
        rules[0]
    );
    assert!(
        rules[1].contains(r#"{"fib":{"result":"type","flags":["daddr"]}}"#),
        "{}",
        rules[1]
    );
    assert!(
        rules[1].contains(&format!(
            r#"{{"dnat":{{"addr":{map},"family":"ip","port":80}}}}"#
        )),
        "{}",
        rules[1]
    );
}

#[test]
fn a_service_without_members_has_no_dnat_and_its_vip_is_refused() {
    let s = state();
    let entry = plan_service(&s, &request(&[], &["8080:80"])).unwrap();
    assert!(dnat_rules(&entry).is_empty());
    let input = input_rules(&entry);
    assert_eq!(input.len(), 1);
    assert!(json(&input[0]).contains(r#""reject":null"#));
}

#[test]
fn hairpin_masquerades_dnat_back_onto_the_same_bridge() {
    let rule = json(&hairpin_rule("br-app", &"10.1.0.0/24".parse().unwrap()));
    assert!(
        rule.contains(r#"{"match":{"left":{"ct":{"key":"status"}},"right":"dnat","op":"in"}}"#),
        "{rule}"
    );
    assert!(
        rule.contains(r#""right":"br-app""#) && rule.contains("masquerade"),
        "{rule}"
    );
}

#[test]
fn least_connections_leaves_tcp_to_the_proxy_and_keeps_udp_in_the_kernel() {
    let s = state();
    let req = least_connections(&["w1", "w2"], &["8080:80", "5353:53/udp"], &[80]);
    let entry = plan_service(&s, &req).unwrap();
    let rules: Vec<String> = dnat_rules(&entry).iter().map(|r| json(r)).collect();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert!(
        rules[0].contains(r#""right":{"set":["udp"]}"#),
        "{}",
        rules[0]
    );
    assert!(
        rules[1].contains(r#""dport"}},"right":5353"#),
        "{}",
        rules[1]
    );
    let input: Vec<String> = input_rules(&entry).iter().map(|r| json(r)).collect();
    assert_eq!(input.len(), 2);
    assert!(
        input[0].contains(r#""right":{"set":[80]}"#) && input[0].contains("accept"),
        "{}",
        input[0]
    );
    assert!(input[1].contains("reject"), "{}", input[1]);
}

#[test]
fn the_proxy_listens_on_published_tcp_ports_and_the_vip_ports() {
    let s = state();
    let req = least_connections(
        &["w1"],
        &["8080:80", "127.0.0.1:9090:90", "53:53/udp"],
        &[80, 90],
    );
    let entry = plan_service(&s, &req).unwrap();
    let routes: Vec<String> = proxy_routes(&entry)
        .iter()
        .map(|r| format!("{}->{}", r.listen, r.target_port))
        .collect();
    assert_eq!(
        routes,
        [
            "0.0.0.0:8080->80",
            "10.1.0.5:80->80",
            "10.1.0.5:90->90",
            "127.0.0.1:9090->90"
        ]
    );
    // A wildcard listener covers the VIP's same port.
    let entry = plan_service(&s, &least_connections(&["w1"], &["80:80"], &[80])).unwrap();
    assert_eq!(proxy_routes(&entry).len(), 1);
    // Round-robin services have no listener at all.
    let entry = plan_service(&s, &request(&["w1"], &["8080:80"])).unwrap();
    assert!(proxy_routes(&entry).is_empty());
}

#[test]
fn a_departed_endpoint_leaves_every_service_on_its_network_only() {
    let mut s = state();
    let entry = plan_service(&s, &request(&["w1", "w2"], &["8080:80"])).unwrap();
    s.services.insert(ServiceLb::key("p", "web"), entry);
    let mut elsewhere = plan_service(&s, &request(&["w1"], &[])).unwrap();
    elsewhere.service = "api".into();
    elsewhere.network = "other".into();
    s.services.insert(ServiceLb::key("p", "api"), elsewhere);
    let w1 = s
        .endpoints
        .values()
        .find(|e| e.container_id == "w1")
        .cloned()
        .unwrap();
    assert!(drop_departed(&mut s, std::slice::from_ref(&w1)));
    let web = &s.services["p/web"];
    assert_eq!(web.backends, vec![ip("10.1.0.3")]);
    assert!(!web.replicas.contains(&w1.ip));
    let rule = serde_json::to_string(&dnat_rules(web)).unwrap();
    assert!(!rule.contains("10.1.0.2"), "{rule}");
    // Same address on another network: not this endpoint.
    assert_eq!(s.services["p/api"].backends, vec![ip("10.1.0.2")]);
    assert!(!drop_departed(&mut s, &[w1]), "nothing left to drop");
}
