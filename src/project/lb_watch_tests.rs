use super::*;
use crate::network::strategy::Strategy;

fn entry(service: &str, strategy: Strategy, backends: &[[u8; 4]]) -> ServiceLb {
    ServiceLb {
        project: "shop".into(),
        service: service.into(),
        network: "shop_default".into(),
        vip: Some(Ipv4Addr::new(10, 1, 0, 100)),
        ports: Vec::new(),
        backends: backends.iter().map(|b| Ipv4Addr::from(*b)).collect(),
        replicas: Vec::new(),
        strategy,
        vip_ports: vec![80],
    }
}

fn backend(service: &str, address: &str) -> Backend {
    Backend {
        service: service.into(),
        network: "shop_default".into(),
        address: address.into(),
    }
}

fn new_entry(reply_src: [u8; 4], dnat: bool) -> Entry {
    Entry {
        orig: Vec::new(),
        proto: 6,
        reply_src: Some(Ipv4Addr::from(reply_src)),
        dnat,
    }
}

#[test]
fn members_are_backends_marked_by_who_balances_them() {
    let entries = [
        entry("web", Strategy::RoundRobin, &[[10, 1, 0, 2], [10, 1, 0, 3]]),
        entry("api", Strategy::LeastConnections, &[[10, 1, 0, 4]]),
    ];
    assert_eq!(
        backends_of(entries.iter()),
        [
            (backend("web", "10.1.0.2"), false),
            (backend("web", "10.1.0.3"), false),
            (backend("api", "10.1.0.4"), true),
        ]
    );
    let kernel = kernel_backends(entries.iter());
    assert_eq!(kernel.len(), 3);
    assert_eq!(
        kernel[&Ipv4Addr::new(10, 1, 0, 3)],
        backend("web", "10.1.0.3")
    );
}

#[test]
fn only_entries_dnatted_to_a_member_are_selections() {
    let entries = [entry("web", Strategy::RoundRobin, &[[10, 1, 0, 2]])];
    let kernel = kernel_backends(entries.iter());
    assert_eq!(
        chosen(&new_entry([10, 1, 0, 2], true), &kernel),
        Some(&backend("web", "10.1.0.2"))
    );
    // reached at its own address (no DNAT), or DNAT to someone else
    assert_eq!(chosen(&new_entry([10, 1, 0, 2], false), &kernel), None);
    assert_eq!(chosen(&new_entry([10, 1, 0, 9], true), &kernel), None);
    let unknown = Entry {
        reply_src: None,
        ..new_entry([0; 4], true)
    };
    assert_eq!(chosen(&unknown, &kernel), None);
}

#[test]
fn stats_follow_the_members() {
    let stats = LbStats::default();
    let web2 = backend("web", "10.1.0.2");
    let web3 = backend("web", "10.1.0.3");
    let api = backend("api", "10.1.0.4");
    sync_stats(&stats, &[(web2.clone(), false), (api.clone(), true)]);
    let figures = stats.figures();
    assert_eq!(figures.len(), 2, "every member at zero");
    assert!(figures.iter().all(|f| f.selections == 0));
    assert!(figures.iter().find(|f| f.backend == api).unwrap().proxied);
    assert!(!figures.iter().find(|f| f.backend == web2).unwrap().proxied);
    stats.backend(&web2).selected();
    sync_stats(&stats, &[(web2.clone(), false), (web3.clone(), false)]);
    let left: Vec<(Backend, u64)> = stats
        .figures()
        .into_iter()
        .map(|f| (f.backend, f.selections))
        .collect();
    // api left (sorted by service first); web2 keeps its count
    assert_eq!(left, [(web2, 1), (web3, 0)]);
}
