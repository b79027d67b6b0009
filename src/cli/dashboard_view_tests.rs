use super::*;

const MIB: u64 = 1024 * 1024;

fn history(cpu: &[f64], memory_mib: &[u64], limit_mib: Option<u64>) -> History {
    History {
        cpu_ns: 0,
        cpu: cpu.to_vec(),
        memory: memory_mib.iter().map(|m| m * MIB).collect(),
        memory_limit: limit_mib.map(|l| l * MIB),
    }
}

/// web: 2 replicas behind a balancer, health-checked; db: held back by
/// admission.
fn model() -> DashboardModel {
    DashboardModel {
        project: "shop".into(),
        time: "02:10:00".into(),
        services: vec![
            ServiceView {
                name: "web".into(),
                desired: 2,
                stopped: false,
                running: 2,
                healthy: Some(1),
                pending: Vec::new(),
            },
            ServiceView {
                name: "db".into(),
                desired: 1,
                stopped: false,
                running: 0,
                healthy: None,
                pending: vec![("db.1".into(), "needs 4 CPUs, 2 free".into())],
            },
        ],
        replicas: vec![
            ReplicaView {
                name: "shop-web-1".into(),
                history: history(&[0.0, 25.0, 50.0, 100.0], &[8, 16, 32, 64], Some(64)),
            },
            ReplicaView {
                name: "shop-web-2".into(),
                history: history(&[], &[3], None),
            },
        ],
        backends: vec![
            BackendView {
                service: "web".into(),
                replica: "shop-web-1".into(),
                address: "10.89.0.2".into(),
                member: true,
                connections: Some(3),
                selections: Some(12),
            },
            BackendView {
                service: "web".into(),
                replica: "shop-web-2".into(),
                address: "10.89.0.3".into(),
                member: false,
                connections: None,
                selections: None,
            },
        ],
        events: (1..=10).map(|i| format!("event {i}")).collect(),
    }
}

#[test]
fn a_project_shows_services_replicas_with_sparklines_backends_and_the_last_events() {
    let expected = [
        "rcorch dashboard: project shop  02:10:00  (q quits)",
        "",
        "SERVICE  DESIRED  RUNNING  HEALTHY  PENDING",
        "web      2        2        1        -",
        "db       1        0        -        db.1: needs 4 CPUs, 2 free",
        "",
        "REPLICA     CPU %    CPU (last 30 s)                 MEM USAGE / LIMIT  MEM (last 30 s)",
        "shop-web-1  100.00%  ▁▃▅█                            64.0MiB / 64.0MiB  ▂▃▅█",
        "shop-web-2  --                                       3.0MiB / no limit  █",
        "",
        "BACKEND     SERVICE  ADDRESS    BALANCER  CONNECTIONS  SELECTED",
        "shop-web-1  web      10.89.0.2  member    3            12",
        "shop-web-2  web      10.89.0.3  out       --           --",
        "",
        "EVENTS",
        "event 3",
        "event 4",
        "event 5",
        "event 6",
        "event 7",
        "event 8",
        "event 9",
        "event 10",
    ];
    assert_eq!(render(&model(), 200, 100), expected);
}

#[test]
fn lines_are_cut_to_the_width_and_the_frame_to_the_height() {
    let frame = render(&model(), 20, 8);
    assert_eq!(
        frame,
        [
            "rcorch dashboard: pr",
            "",
            "SERVICE  DESIRED  RU",
            "web      2        2 ",
            "db       1        0 ",
            "",
            "REPLICA     CPU %   ",
            "shop-web-1  100.00% ",
        ]
    );
    // Block characters count as one column each.
    let frame = render(&model(), 26, 8);
    assert_eq!(frame[7], "shop-web-1  100.00%  ▁▃▅█ ");
}

#[test]
fn an_empty_project_says_so_and_still_shows_its_events() {
    let model = DashboardModel {
        project: "empty".into(),
        time: "00:00:00".into(),
        events: vec!["2026-12-08T02:00:00Z web down".into()],
        ..Default::default()
    };
    assert_eq!(
        render(&model, 80, 24),
        [
            "rcorch dashboard: project empty  00:00:00  (q quits)",
            "",
            "no services (is the project up?)",
            "",
            "EVENTS",
            "2026-12-08T02:00:00Z web down",
        ]
    );
}

#[test]
fn a_stopped_service_says_so_beside_its_replica_count() {
    let mut model = model();
    model.services[0].stopped = true;
    model.services[0].running = 0;
    model.services[0].healthy = Some(0);
    let frame = render(&model, 200, 100);
    assert_eq!(frame[2], "SERVICE  DESIRED      RUNNING  HEALTHY  PENDING");
    assert_eq!(frame[3], "web      2 (stopped)  0        0        -");
}

#[test]
fn sparklines_scale_to_the_ceiling_and_flatten_without_one() {
    assert_eq!(
        sparkline(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 7.0),
        "▁▂▃▄▅▆▇█"
    );
    assert_eq!(sparkline(&[14.0, -1.0], 7.0), "█▁");
    assert_eq!(sparkline(&[3.0, 5.0], 0.0), "▁▁");
    // An idle replica's CPU noise stays low: the scale is at least 1%.
    assert_eq!(cpu_line(&history(&[0.0, 0.1, 0.0], &[], None)), "▁▂▁");
}

fn reading(id: &str, cpu_ns: u64, memory: u64) -> Reading {
    Reading {
        id: id.into(),
        cpu_ns,
        memory,
        memory_limit: Some(100),
    }
}

#[test]
fn advance_rates_cpu_from_the_last_sample_caps_the_history_and_drops_the_gone() {
    let second = Duration::from_secs(1);
    let first = advance(&BTreeMap::new(), &[reading("a", 1_000, 10)], second);
    // The first reading has no rate yet, only its memory.
    assert_eq!(first["a"].cpu, Vec::<f64>::new());
    assert_eq!(first["a"].memory, [10]);
    let mut now = first;
    for i in 1..=40u64 {
        let readings = [
            reading("a", 1_000 + i * 500_000_000, 10 + i),
            reading("b", i, 1),
        ];
        now = advance(&now, &readings, second);
    }
    assert_eq!(now["a"].cpu.len(), HISTORY);
    assert!(now["a"].cpu.iter().all(|&c| c == 50.0));
    assert_eq!(now["a"].memory.len(), HISTORY);
    assert_eq!(now["a"].memory.last(), Some(&50));
    assert_eq!(now["a"].memory[0], 21);
    assert_eq!(now["a"].memory_limit, Some(100));
    let later = advance(&now, &[reading("b", 41, 1)], second);
    assert_eq!(later.keys().collect::<Vec<_>>(), ["b"]);
}

#[test]
fn on_a_narrow_terminal_the_sparklines_keep_the_last_samples_that_fit() {
    let cpu: Vec<f64> = (0..30).map(f64::from).collect();
    let memory: Vec<u64> = (0..30).map(|i| 2 * i).collect();
    let model = DashboardModel {
        project: "p".into(),
        time: "00:00:00".into(),
        services: model().services,
        replicas: vec![ReplicaView {
            name: "shop-web-1".into(),
            history: history(&cpu, &memory, Some(64)),
        }],
        ..Default::default()
    };
    let frame = render(&model, 80, 24);
    // 80 columns: 42 for the rest, 19 samples for each sparkline.
    assert_eq!(
        &frame[6..8],
        [
            "REPLICA     CPU %   CPU (last 19 s)      MEM USAGE / LIMIT  MEM (last 19 s)",
            "shop-web-1  29.00%  ▄▄▄▄▅▅▅▅▆▆▆▆▇▇▇▇███  58.0MiB / 64.0MiB  ▃▄▄▄▄▅▅▅▅▅▆▆▆▆▆▇▇▇▇",
        ]
    );
    // Never fewer than 8 samples, even when the line is then cut.
    assert_eq!(render(&model, 30, 24)[7], "shop-web-1  29.00%  ▆▇▇▇▇███  ");
}
