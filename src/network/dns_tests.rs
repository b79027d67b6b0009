use super::*;
use crate::network::{Endpoint, Network};
use hickory_proto::op::Query;

fn state() -> NetState {
    let mut s = NetState::default();
    for (name, subnet) in [("a", "10.1.0.0/24"), ("b", "10.2.0.0/24")] {
        let subnet: crate::network::Subnet = subnet.parse().unwrap();
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
    for (id, name, net, ip, aliases) in [
        ("1", "web", "a", "10.1.0.2", vec!["www"]),
        ("2", "web2", "a", "10.1.0.3", vec!["www"]),
        ("3", "db", "b", "10.2.0.2", vec![]),
    ] {
        s.endpoints.insert(
            id.into(),
            Endpoint {
                container_id: id.into(),
                container_name: name.into(),
                network: net.into(),
                ip: ip.parse().unwrap(),
                aliases: aliases.into_iter().map(String::from).collect(),
                ports: vec![],
                host_veth: String::new(),
                ifname: "eth0".into(),
                default_route: false,
            },
        );
    }
    s
}

#[test]
fn zones_are_per_network_with_aliases() {
    let zones = zones(&state()).by_gateway;
    let a = &zones[&"10.1.0.1".parse().unwrap()];
    assert_eq!(a["www"].len(), 2);
    assert!(!a.contains_key("db"));
    assert!(zones[&"10.2.0.1".parse().unwrap()].contains_key("db"));
}

#[test]
fn decides_answer_nxdomain_or_forward() {
    let zones = zones(&state()).by_gateway;
    let a = &zones[&"10.1.0.1".parse().unwrap()];
    let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
    assert_eq!(
        decide(a, "web", RecordType::A),
        Answer::Addresses(vec![ip("10.1.0.2")])
    );
    assert_eq!(
        decide(a, "WEB.rcorch.", RecordType::A),
        Answer::Addresses(vec![ip("10.1.0.2")])
    );
    assert_eq!(decide(a, "web", RecordType::AAAA), Answer::NoData);
    assert_eq!(decide(a, "db", RecordType::A), Answer::NxDomain);
    assert_eq!(decide(a, "nope.rcorch", RecordType::A), Answer::NxDomain);
    assert_eq!(decide(a, "example.com", RecordType::A), Answer::Forward);
}

#[test]
fn builds_wire_replies() {
    let zones = zones(&state()).by_gateway;
    let a = &zones[&"10.1.0.1".parse().unwrap()];
    let query = |name: &str| {
        let mut m = Message::query();
        m.metadata.id = 7;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        m.to_vec().unwrap()
    };
    let reply = Message::from_vec(&respond(a, &query("web.rcorch.")).unwrap()).unwrap();
    assert_eq!(reply.metadata.id, 7);
    assert_eq!(reply.answers.len(), 1);
    let reply = Message::from_vec(&respond(a, &query("ghost.")).unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert!(respond(a, &query("example.com.")).is_none());
    assert!(respond(a, b"garbage").is_none());
}

#[test]
fn a_container_on_two_networks_resolves_names_on_both() {
    let mut s = state();
    let mut db_on_a = s.endpoints["3"].clone();
    db_on_a.network = "a".into();
    db_on_a.ip = "10.1.0.9".parse().unwrap();
    db_on_a.ifname = "eth1".into();
    s.insert_endpoint(db_on_a);
    let z = zones(&s);
    let (gw_a, gw_b) = ("10.1.0.1".parse().unwrap(), "10.2.0.1".parse().unwrap());
    // db, now also on a, sees web through its first network's resolver.
    let db_zone = z.for_query(gw_b, "10.2.0.2".parse().unwrap()).unwrap();
    assert!(db_zone.contains_key("web") && db_zone.contains_key("db"));
    assert_eq!(db_zone["db"].len(), 2);
    // web, only on a, still sees only a's names (db's a address among them).
    let web_zone = z.for_query(gw_a, "10.1.0.2".parse().unwrap()).unwrap();
    assert_eq!(web_zone["db"], ["10.1.0.9".parse::<Ipv4Addr>().unwrap()]);
    assert!(z
        .for_query(gw_b, "10.2.0.7".parse().unwrap())
        .is_some_and(|z| !z.contains_key("web")));
}

#[test]
fn services_answer_with_their_vip_or_members_and_tasks_with_every_replica() {
    let mut s = state();
    let gw = s.networks["a"].gateway;
    s.services.insert(
        "p/api".into(),
        crate::network::ServiceLb {
            project: "p".into(),
            service: "api".into(),
            network: "a".into(),
            vip: Some("10.1.0.9".parse().unwrap()),
            ports: vec![],
            backends: vec!["10.1.0.2".parse().unwrap()],
            replicas: vec!["10.1.0.2".parse().unwrap(), "10.1.0.3".parse().unwrap()],
            strategy: Default::default(),
            vip_ports: vec![],
        },
    );
    let z = &zones(&s).by_gateway[&gw];
    let a = |n: &str| decide(z, n, RecordType::A);
    assert_eq!(
        a("api"),
        Answer::Addresses(vec!["10.1.0.9".parse().unwrap()])
    );
    assert_eq!(a("API.rcorch."), a("api"));
    assert_eq!(
        a("tasks.api"),
        Answer::Addresses(vec![
            "10.1.0.2".parse().unwrap(),
            "10.1.0.3".parse().unwrap()
        ])
    );
    assert_eq!(
        a("tasks.nope"),
        Answer::Forward,
        "dotted names not ours go upstream"
    );
    s.services.get_mut("p/api").unwrap().vip = None;
    let z = &zones(&s).by_gateway[&gw];
    assert_eq!(
        decide(z, "api", RecordType::A),
        Answer::Addresses(vec!["10.1.0.2".parse().unwrap()])
    );
    let other = &zones(&s).by_gateway[&s.networks["b"].gateway];
    assert_eq!(decide(other, "api", RecordType::A), Answer::NxDomain);
}
