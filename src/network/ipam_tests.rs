use super::*;

fn net(s: &str) -> Subnet {
    s.parse().unwrap()
}

#[test]
fn parses_and_validates_cidrs() {
    assert_eq!(net("10.89.0.0/24").to_string(), "10.89.0.0/24");
    assert_eq!(
        "10.89.0.0".parse::<Subnet>(),
        Err(IpamError::Cidr("10.89.0.0".into()))
    );
    assert!(matches!(
        "300.1.1.0/24".parse::<Subnet>(),
        Err(IpamError::Cidr(_))
    ));
    assert!(matches!(
        "10.0.0.0/33".parse::<Subnet>(),
        Err(IpamError::Cidr(_))
    ));
    assert!(matches!(
        "10.0.0.0/31".parse::<Subnet>(),
        Err(IpamError::Prefix { .. })
    ));
    match "10.89.0.5/24".parse::<Subnet>() {
        Err(IpamError::HostBits { suggested, .. }) => assert_eq!(suggested, net("10.89.0.0/24")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn overlap_is_symmetric_and_prefix_aware() {
    assert!(net("10.0.0.0/8").overlaps(&net("10.89.0.0/24")));
    assert!(net("10.89.0.0/24").overlaps(&net("10.0.0.0/8")));
    assert!(!net("10.89.0.0/24").overlaps(&net("10.89.1.0/24")));
    assert!(net("10.89.0.0/23").overlaps(&net("10.89.1.0/24")));
}

#[test]
fn allocates_lowest_free_skipping_gateway_and_broadcast() {
    let s = net("10.89.0.0/29");
    let gw = s.first_host();
    let mut used = BTreeSet::new();
    let mut got = vec![];
    while let Ok(ip) = allocate(&s, gw, &used, None) {
        used.insert(ip);
        got.push(ip.to_string());
    }
    assert_eq!(
        got,
        [
            "10.89.0.2",
            "10.89.0.3",
            "10.89.0.4",
            "10.89.0.5",
            "10.89.0.6"
        ]
    );
    assert_eq!(
        allocate(&s, gw, &used, None),
        Err(IpamError::Exhausted { subnet: s })
    );
    used.remove(&"10.89.0.4".parse().unwrap());
    assert_eq!(
        allocate(&s, gw, &used, None).unwrap().to_string(),
        "10.89.0.4"
    );
}

#[test]
fn a_requested_address_must_be_free_and_inside() {
    let s = net("10.89.0.0/24");
    let gw = s.first_host();
    let used: BTreeSet<Ipv4Addr> = ["10.89.0.7".parse().unwrap()].into();
    let ip = |t: &str| Some(t.parse::<Ipv4Addr>().unwrap());
    assert_eq!(
        allocate(&s, gw, &used, ip("10.89.0.9")),
        Ok("10.89.0.9".parse().unwrap())
    );
    assert!(matches!(
        allocate(&s, gw, &used, ip("10.89.0.7")),
        Err(IpamError::InUse { .. })
    ));
    assert!(matches!(
        allocate(&s, gw, &used, ip("10.89.0.1")),
        Err(IpamError::Reserved { .. })
    ));
    assert!(matches!(
        allocate(&s, gw, &used, ip("10.90.0.1")),
        Err(IpamError::OutsideSubnet { .. })
    ));
}

#[test]
fn gateway_defaults_to_first_host_and_is_checked() {
    let s = net("10.89.0.0/24");
    assert_eq!(gateway_for(&s, None).unwrap().to_string(), "10.89.0.1");
    assert_eq!(
        gateway_for(&s, Some("10.89.0.254")).unwrap().to_string(),
        "10.89.0.254"
    );
    assert!(gateway_for(&s, Some("10.89.1.1")).is_err());
    assert!(gateway_for(&s, Some("10.89.0.255")).is_err());
    assert!(gateway_for(&s, Some("nope")).is_err());
}

#[test]
fn default_subnet_avoids_routes_and_networks_but_not_the_default_route() {
    let routes = [Subnet::new(Ipv4Addr::UNSPECIFIED, 0), net("172.17.0.0/16")];
    assert_eq!(choose_subnet(&routes, &[]).unwrap(), net("172.18.0.0/16"));
    assert_eq!(
        choose_subnet(&routes, &[net("172.18.0.0/16")]).unwrap(),
        net("172.19.0.0/16")
    );
    let everything = [net("172.16.0.0/12"), net("10.0.0.0/8")];
    assert_eq!(
        choose_subnet(&everything, &[]),
        Err(IpamError::NoDefaultSubnet)
    );
}

#[test]
fn parses_proc_net_route() {
    let text =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
    let routes = parse_proc_net_route(text);
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0].prefix, 0);
    assert_eq!(routes[1], net("192.168.2.0/24"));
    let by_dev = parse_routes_by_dev(text);
    assert_eq!(by_dev[1], ("eth0".to_string(), net("192.168.2.0/24")));
}

#[test]
fn subnet_serializes_as_a_string() {
    let json = serde_json::to_string(&net("10.89.0.0/24")).unwrap();
    assert_eq!(json, "\"10.89.0.0/24\"");
    assert_eq!(
        serde_json::from_str::<Subnet>(&json).unwrap(),
        net("10.89.0.0/24")
    );
    assert!(serde_json::from_str::<Subnet>("\"10.89.0.0/99\"").is_err());
}
