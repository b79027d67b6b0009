use super::*;
use crate::metrics::{render, Format};

fn backend(service: &str, address: &str) -> Backend {
    Backend {
        service: service.into(),
        network: "shop_default".into(),
        address: address.into(),
    }
}

#[test]
fn counters_count_selections_accepts_and_open_connections() {
    let stats = LbStats::default();
    let a = stats.backend(&backend("web", "10.1.0.2"));
    for _ in 0..3 {
        a.selected();
    }
    let first = a.connected();
    let second = a.connected();
    drop(first);
    // the same backend again: the same counters
    stats.backend(&backend("web", "10.1.0.2")).selected();
    let figures = stats.figures();
    assert_eq!(figures.len(), 1);
    assert_eq!(
        (
            figures[0].selections,
            figures[0].connections,
            figures[0].open
        ),
        (4, 2, 1)
    );
    drop(second);
    assert_eq!(stats.figures()[0].open, 0);
}

#[test]
fn departed_backends_are_forgotten_once_no_connection_holds_them() {
    let stats = LbStats::default();
    let kept = backend("web", "10.1.0.2");
    let gone = backend("web", "10.1.0.3");
    stats.backend(&kept).selected();
    let held = stats.backend(&gone).connected();
    stats.retain(|b| *b == kept);
    assert_eq!(stats.figures().len(), 2, "an open connection keeps it");
    drop(held);
    stats.retain(|b| *b == kept);
    let left: Vec<Backend> = stats.figures().into_iter().map(|f| f.backend).collect();
    assert_eq!(left, vec![kept]);
}

#[test]
fn families_label_project_service_replica_and_address() {
    let stats = LbStats::default();
    // a proxied backend, and one the kernel balances (selections only)
    let a = stats.backend(&backend("web", "10.1.0.2"));
    a.mark_proxied();
    a.selected();
    a.selected();
    let _open = a.connected();
    stats.backend(&backend("web", "10.1.0.3")).selected();
    let names = BTreeMap::from([(
        ("shop_default".to_string(), "10.1.0.2".to_string()),
        "shop-web-1".to_string(),
    )]);
    let figures = named(stats.figures(), &names);
    let text = render(&families("shop", &figures), Format::Text);
    let one = "project=\"shop\",service=\"web\",name=\"shop-web-1\",backend=\"10.1.0.2\"";
    let two = "project=\"shop\",service=\"web\",name=\"\",backend=\"10.1.0.3\"";
    for line in [
        "# TYPE rcorch_lb_backend_selections_total counter".to_string(),
        format!("rcorch_lb_backend_selections_total{{{one}}} 2"),
        format!("rcorch_lb_backend_selections_total{{{two}}} 1"),
        format!("rcorch_lb_backend_connections_total{{{one}}} 1"),
        "# TYPE rcorch_lb_backend_open_connections gauge".to_string(),
        format!("rcorch_lb_backend_open_connections{{{one}}} 1"),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    let unknown = text.lines().filter(|l| l.contains("10.1.0.3"));
    assert_eq!(unknown.count(), 1, "only its selections:\n{text}");
}

#[test]
fn no_backend_no_family() {
    let text = render(&families("shop", &[]), Format::Text);
    assert_eq!(text, "");
}
