use super::*;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn host() -> Capacity {
    Capacity {
        cpus: 2.0,
        memory: GIB,
        pids: 1000,
    }
}

fn mem(bytes: u64) -> Reservation {
    Reservation {
        memory: Some(bytes),
        ..Reservation::default()
    }
}

#[test]
fn a_replica_that_fits_is_admitted() {
    assert_eq!(admit(&host(), &[mem(256 * MIB)], &mem(512 * MIB)), Ok(()));
    assert_eq!(admit(&host(), &[mem(512 * MIB)], &mem(512 * MIB)), Ok(()));
    assert_eq!(admit(&host(), &[], &Reservation::default()), Ok(()));
}

#[test]
fn a_replica_that_does_not_fit_says_why_with_the_numbers() {
    let short = admit(&host(), &[mem(512 * MIB)], &mem(768 * MIB)).unwrap_err();
    assert_eq!(short.resource, Resource::Memory);
    assert_eq!(
        short.to_string(),
        "insufficient memory: 512 MiB reserved of 1 GiB, 768 MiB requested"
    );
}

#[test]
fn cpus_and_pids_are_checked_too_and_sum_without_float_noise() {
    let cpus = |c: f64| Reservation {
        cpus: Some(c),
        ..Reservation::default()
    };
    let running = [cpus(0.1), cpus(0.2), cpus(0.7)];
    assert_eq!(admit(&host(), &running, &cpus(1.0)), Ok(()));
    let e = admit(&host(), &running, &cpus(1.5)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "insufficient cpus: 1 reserved of 2, 1.5 requested"
    );
    let pids = Reservation {
        pids: Some(600),
        ..Reservation::default()
    };
    let e = admit(&host(), &[pids], &pids).unwrap_err();
    assert_eq!(e.resource, Resource::Pids);
}

#[test]
fn replicas_without_reservations_take_no_room() {
    let none = Reservation::default();
    assert_eq!(admit(&host(), &[none, none], &mem(GIB)), Ok(()));
    assert!(reserved(&[none]).is_empty());
}

#[test]
fn a_reservation_above_the_host_total_is_refused_before_starting() {
    let e = validate("web", &mem(2 * GIB), None, &host()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("services.web.deploy.resources.reservations.memory") && msg.contains("2 GiB"),
        "{msg}"
    );
    assert_eq!(validate("web", &mem(GIB), None, &host()), Ok(()));
}

#[test]
fn a_memory_limit_below_the_reservation_is_an_error() {
    let e = validate("db", &mem(512 * MIB), Some(256 * MIB), &host()).unwrap_err();
    assert!(matches!(e, ReservationError::LimitBelowReservation { .. }));
    assert!(e.to_string().contains("256 MiB"), "{e}");
    assert_eq!(
        validate("db", &mem(256 * MIB), Some(256 * MIB), &host()),
        Ok(())
    );
}

#[test]
fn bytes_print_in_binary_units() {
    assert_eq!(human_bytes(512 * MIB), "512 MiB");
    assert_eq!(human_bytes(GIB + GIB / 2), "1.5 GiB");
    assert_eq!(human_bytes(100), "100 B");
}
