use super::*;
use crate::network::{Endpoint, NetState};

fn network(name: &str, i: u8) -> Network {
    Network {
        name: name.into(),
        bridge: format!("rcorch{i}"),
        subnet: format!("10.{i}.0.0/24").parse().unwrap(),
        gateway: format!("10.{i}.0.1").parse().unwrap(),
        internal: false,
        created: String::new(),
        labels: Default::default(),
    }
}

fn endpoint(id: &str, net: &str, ip: &str) -> Endpoint {
    Endpoint {
        container_id: id.into(),
        container_name: id.into(),
        network: net.into(),
        ip: ip.parse().unwrap(),
        aliases: vec![],
        ports: vec![],
        host_veth: format!("rc{id}"),
        ifname: "eth0".into(),
        default_route: false,
    }
}

fn two_networks() -> NetState {
    let mut state = NetState::default();
    state.networks.insert("a".into(), network("a", 1));
    state.networks.insert("b".into(), network("b", 2));
    state.insert_endpoint(endpoint("x", "a", "10.1.0.2"));
    state.insert_endpoint(endpoint("y", "b", "10.2.0.2"));
    state
}

#[test]
fn saves_and_loads_under_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = NetStore::open(dir.path());
    let lock = store.lock().unwrap();
    assert_eq!(store.load(&lock).unwrap(), NetState::default());
    let state = two_networks();
    store.save(&lock, &state).unwrap();
    drop(lock);
    assert_eq!(store.read().unwrap(), state);
    assert!(store.record_path("a").exists() && store.record_path("b").exists());
}

fn lose(store: &NetStore, dir: &Path, name: &str) {
    std::fs::write(store.record_path(name), b"{\"network\": ").unwrap();
    std::fs::write(dir.join(format!("networks/copies/{name}.json")), b"").unwrap();
}

#[test]
fn a_lost_record_takes_only_its_network_and_survives_saves_until_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = NetStore::open(dir.path());
    let lock = store.lock().unwrap();
    store.save(&lock, &two_networks()).unwrap();
    lose(&store, dir.path(), "a");
    let mut state = store.load(&lock).unwrap();
    assert_eq!(state.networks.keys().collect::<Vec<_>>(), ["b"]);
    assert_eq!(state.endpoints.len(), 1);
    let damage = state.lost("a").expect("a is lost");
    assert_eq!(damage.path, store.record_path("a"));
    assert_eq!(damage.problem, "truncated");
    assert!(state.check_whole("a").is_err() && state.check_whole("b").is_ok());
    let reports = state.damage_reports();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].contains("rcorch network rm a"), "{reports:?}");

    state.insert_endpoint(endpoint("z", "b", "10.2.0.3"));
    store.save(&lock, &state).unwrap();
    assert_eq!(
        std::fs::read(store.record_path("a")).unwrap(),
        b"{\"network\": "
    );
    state.damaged.remove("a");
    store.save(&lock, &state).unwrap();
    assert!(!store.record_path("a").exists());
    assert_eq!(store.load(&lock).unwrap(), state);
}

#[test]
fn a_damaged_record_is_read_from_its_copy_and_healed_by_the_next_save() {
    let dir = tempfile::tempdir().unwrap();
    let store = NetStore::open(dir.path());
    let lock = store.lock().unwrap();
    store.save(&lock, &two_networks()).unwrap();
    std::fs::write(store.record_path("a"), b"\x00garbage").unwrap();
    let state = store.load(&lock).unwrap();
    assert_eq!(state.networks.len(), 2);
    assert!(state.damaged["a"].recovered && state.lost("a").is_none());
    store.save(&lock, &state).unwrap();
    assert!(store.load(&lock).unwrap().damaged.is_empty());
}

#[test]
fn the_single_file_of_earlier_versions_is_split_by_the_first_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = NetStore::open(dir.path());
    std::fs::create_dir_all(store.dir()).unwrap();
    let old = two_networks();
    std::fs::write(store.legacy_path(), serde_json::to_vec(&old).unwrap()).unwrap();
    assert_eq!(store.read().unwrap(), old, "read before the split");
    let lock = store.lock().unwrap();
    assert!(!store.legacy_path().exists());
    assert_eq!(store.load(&lock).unwrap(), old);
}

#[test]
fn a_damaged_single_file_is_left_for_system_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = NetStore::open(dir.path());
    std::fs::create_dir_all(store.dir()).unwrap();
    std::fs::write(store.legacy_path(), b"{\"networks\":").unwrap();
    let lock = store.lock().unwrap();
    assert!(store.legacy_path().exists());
    assert_eq!(store.load(&lock).unwrap(), NetState::default());
}

#[test]
fn concurrent_lockers_serialize() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let root = root.clone();
            std::thread::spawn(move || {
                let store = NetStore::open(&root);
                let lock = store.lock().unwrap();
                let mut state = store.load(&lock).unwrap();
                let n = state.networks.len() as u8;
                std::thread::sleep(std::time::Duration::from_millis(2));
                let mut net = network(&format!("n{i}"), 10 + i);
                net.bridge = format!("b{n}");
                state.networks.insert(net.name.clone(), net);
                store.save(&lock, &state).unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let state = NetStore::open(&root).read().unwrap();
    assert_eq!(state.networks.len(), 8);
    let bridges: std::collections::BTreeSet<_> =
        state.networks.values().map(|n| &n.bridge).collect();
    assert_eq!(bridges.len(), 8, "each locker saw the one before");
}
