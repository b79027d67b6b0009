use super::*;

fn create(name: &str, subnet: Option<&str>) -> CreateRequest {
    CreateRequest {
        name: name.into(),
        subnet: subnet.map(str::to_string),
        ..CreateRequest::default()
    }
}

fn add(state: &mut NetState, req: CreateRequest) -> Network {
    let n = plan_network(state, &req, &HostNet::default(), "now").unwrap();
    state.networks.insert(n.name.clone(), n.clone());
    n
}

fn ep(id: &str, network: &str, ports: &[&str]) -> EndpointRequest {
    EndpointRequest {
        container_id: id.into(),
        container_name: format!("c-{id}"),
        network: network.into(),
        ip: None,
        aliases: vec![],
        ports: ports
            .iter()
            .map(|p| ports::parse_publish(p).unwrap())
            .collect(),
    }
}

#[test]
fn networks_get_distinct_bridges_and_default_subnets() {
    let mut state = NetState::default();
    let d = add(&mut state, create("bridge", None));
    assert_eq!(
        (d.bridge.as_str(), d.subnet.to_string()),
        ("rcorch0", "172.17.0.0/16".into())
    );
    assert_eq!(d.gateway.to_string(), "172.17.0.1");
    let a = add(&mut state, create("a", None));
    let b = add(&mut state, create("b", Some("10.89.0.0/24")));
    assert_eq!(
        (a.bridge.as_str(), a.subnet.to_string()),
        ("rcorch1", "172.18.0.0/16".into())
    );
    assert_eq!(b.bridge, "rcorch2");
}

#[test]
fn bad_network_requests_are_refused() {
    let mut state = NetState::default();
    add(&mut state, create("a", Some("10.89.0.0/16")));
    assert!(matches!(
        plan_network(
            &state,
            &create("b", Some("10.89.3.0/24")),
            &HostNet::default(),
            ""
        ),
        Err(NetError::Overlap { .. })
    ));
    assert!(matches!(
        plan_network(&state, &create("a", None), &HostNet::default(), ""),
        Err(NetError::Exists(_))
    ));
    assert!(matches!(
        plan_network(
            &state,
            &create("c", Some("10.1.2.3")),
            &HostNet::default(),
            ""
        ),
        Err(NetError::Ipam(IpamError::Cidr(_)))
    ));
    assert!(matches!(
        plan_network(&state, &create("bad name", None), &HostNet::default(), ""),
        Err(NetError::Name(_))
    ));
    assert!(matches!(
        plan_network(&state, &create("host", None), &HostNet::default(), ""),
        Err(NetError::Name(_))
    ));
}

#[test]
fn endpoints_get_distinct_addresses_and_ports_cannot_clash() {
    let mut state = NetState::default();
    add(&mut state, create("n", Some("10.89.0.0/24")));
    let mut ips = BTreeSet::new();
    for i in 0..20 {
        let e = plan_endpoint(&state, &ep(&format!("id{i}"), "n", &[])).unwrap();
        ips.insert(e.ip);
        state.endpoints.insert(e.container_id.clone(), e);
    }
    assert_eq!(ips.len(), 20);
    let e = plan_endpoint(&state, &ep("p1", "n", &["8080:80"])).unwrap();
    state.endpoints.insert(e.container_id.clone(), e);
    assert!(matches!(
        plan_endpoint(&state, &ep("p2", "n", &["127.0.0.1:8080:81"])),
        Err(NetError::Port(PortError::Busy { port: 8080, .. }))
    ));
    assert!(matches!(
        plan_endpoint(&state, &ep("p3", "nope", &[])),
        Err(NetError::Unknown(_))
    ));
}

#[test]
fn a_new_network_keeps_clear_of_a_lost_networks_bridge_and_route() {
    let state = NetState::default();
    let host = HostNet {
        routes: vec!["172.17.0.0/16".parse().unwrap()],
        links: ["rcorch1".to_string()].into(),
        ..HostNet::default()
    };
    let n = plan_network(&state, &create("a", None), &host, "").unwrap();
    assert_eq!(n.bridge, "rcorch2");
    assert_eq!(n.subnet.to_string(), "172.18.0.0/16");
}

/// A second root in the namespace: its bridges carry its tag, and its
/// default network keeps clear of the first root's, routed on the host.
#[test]
fn another_roots_default_network_gets_its_own_bridge_and_a_free_subnet() {
    let names = HostNames::for_root(std::path::Path::new("/tmp/second"));
    let host = HostNet {
        routes: vec!["172.17.0.0/16".parse().unwrap()],
        links: Default::default(),
        names: names.clone(),
    };
    let state = NetState::default();
    let n = plan_network(&state, &create("bridge", None), &host, "").unwrap();
    assert_eq!(n.bridge, names.bridge(0));
    assert_eq!(n.subnet.to_string(), "172.18.0.0/16");
    let n = plan_network(&state, &create("a", None), &host, "").unwrap();
    assert_eq!(n.bridge, names.bridge(1));
}
