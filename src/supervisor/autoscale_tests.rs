use super::*;

fn spec() -> AutoscaleSpec {
    AutoscaleSpec::new(1, 10, 0.5)
}

fn secs(n: u64) -> Time {
    Time::from_secs(n)
}

#[test]
fn hpa_defaults() {
    let s = spec();
    assert_eq!(
        (s.tolerance, s.scale_down_window),
        (0.1, Duration::from_secs(300))
    );
    assert_eq!(s.scale_up_window, Duration::ZERO);
    assert_eq!(s.validate(), Ok(()));
}

#[test]
fn invalid_specs_are_rejected() {
    assert_eq!(
        AutoscaleSpec::new(5, 2, 0.5).validate(),
        Err(AutoscaleError::MinAboveMax { min: 5, max: 2 })
    );
    assert!(matches!(
        AutoscaleSpec::new(1, 2, 0.0).validate(),
        Err(AutoscaleError::BadTarget { .. })
    ));
    let mut s = spec();
    s.tolerance = 1.5;
    assert!(matches!(
        s.validate(),
        Err(AutoscaleError::BadTolerance { .. })
    ));
}

#[test]
fn desired_is_ceil_of_current_times_ratio() {
    assert_eq!(recommend(&spec(), 2, 1.0), 4);
    assert_eq!(recommend(&spec(), 3, 0.8), 5); // 4.8
    assert_eq!(recommend(&spec(), 4, 0.2), 2); // 1.6
    assert_eq!(
        recommend(&AutoscaleSpec::new(1, 10, 0.6), 2, 0.9),
        3,
        "no float noise"
    );
}

#[test]
fn within_tolerance_nothing_changes() {
    assert_eq!(recommend(&spec(), 4, 0.54), 4);
    assert_eq!(recommend(&spec(), 4, 0.46), 4);
    assert_eq!(recommend(&spec(), 4, 0.56), 5);
}

#[test]
fn results_are_clamped_to_min_and_max() {
    let h = AutoscaleHistory::default();
    assert_eq!(decide(&spec(), &h, 8, Some(5.0), secs(0)).1, 10);
    assert_eq!(decide(&spec(), &h, 1, Some(0.0), secs(0)).1, 1);
    assert_eq!(decide(&spec(), &h, 0, None, secs(0)).1, 1);
}

#[test]
fn scale_up_is_immediate() {
    let (h, n) = decide(&spec(), &AutoscaleHistory::default(), 2, Some(1.0), secs(0));
    assert_eq!(n, 4);
    assert_eq!(
        h.recommendations,
        vec![Recommendation {
            at: secs(0),
            replicas: 4
        }]
    );
}

#[test]
fn scale_down_waits_for_the_stabilisation_window() {
    // Load at 4 replicas, then it drops: recommendations fall to 2.
    let s = spec();
    let (mut h, n) = decide(&s, &AutoscaleHistory::default(), 4, Some(0.5), secs(0));
    assert_eq!(n, 4);
    let mut replicas = 4;
    for t in (15..300).step_by(15) {
        let (h2, n) = decide(&s, &h, replicas, Some(0.25), secs(t));
        assert_eq!(n, 4, "still within the window at {t} s");
        h = h2;
        replicas = n;
    }
    // The 4-replica recommendation from t=0 has left the window.
    let (_, n) = decide(&s, &h, replicas, Some(0.25), secs(300));
    assert_eq!(n, 2);
}

#[test]
fn a_brief_dip_does_not_scale_down() {
    let s = spec();
    let (h, _) = decide(&s, &AutoscaleHistory::default(), 6, Some(0.5), secs(0));
    let (h, n) = decide(&s, &h, 6, Some(0.1), secs(15));
    assert_eq!(n, 6);
    let (_, n) = decide(&s, &h, 6, Some(0.5), secs(30));
    assert_eq!(n, 6);
}

#[test]
fn scale_down_goes_to_the_highest_recommendation_in_the_window() {
    let s = spec();
    let old = |at, replicas| Recommendation {
        at: secs(at),
        replicas,
    };
    let h = AutoscaleHistory {
        recommendations: vec![old(0, 8), old(100, 5), old(200, 3)],
    };
    // At 350 s, the 8 has expired; 5 is the highest left.
    let (h2, n) = decide(&s, &h, 8, Some(0.1), secs(350));
    assert_eq!(n, 5);
    assert_eq!(h2.recommendations.len(), 3, "expired entries are pruned");
}

#[test]
fn scale_up_window_takes_the_lowest_recommendation() {
    let mut s = spec();
    s.scale_up_window = Duration::from_secs(60);
    let h = AutoscaleHistory {
        recommendations: vec![Recommendation {
            at: secs(30),
            replicas: 3,
        }],
    };
    assert_eq!(decide(&s, &h, 2, Some(2.0), secs(45)).1, 3);
}
