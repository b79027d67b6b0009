//! Prometheus histograms: cumulative buckets, sum and count, rendered as
//! `NAME_bucket{le="..."}`, `NAME_sum` and `NAME_count`.

use super::{Family, Sample};

/// Seconds, from 5 ms to 10 s (the client libraries' default buckets).
pub const SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Seconds, 100 ms to 5 min: a replacement waits out its restart backoff
/// (up to 60 s) and its start.
pub const HEAL_SECONDS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations at or below each bound (not cumulative).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

impl Family {
    /// One histogram's samples under `labels`.
    pub fn push_histogram(&mut self, labels: Vec<(String, String)>, h: &Histogram) {
        let mut cumulative = 0;
        let with_le = |le: String| {
            let mut l = labels.clone();
            l.push(("le".into(), le));
            l
        };
        for (bound, n) in h.bounds.iter().zip(&h.counts) {
            cumulative += n;
            self.push_suffixed("_bucket", with_le(format!("{bound}")), cumulative as f64);
        }
        self.push_suffixed("_bucket", with_le("+Inf".into()), h.count as f64);
        self.push_suffixed("_sum", labels.clone(), h.sum);
        self.push_suffixed("_count", labels, h.count as f64);
    }

    fn push_suffixed(&mut self, suffix: &'static str, labels: Vec<(String, String)>, value: f64) {
        self.samples.push(Sample {
            labels,
            value,
            suffix,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{render, Format, Kind};

    #[test]
    fn buckets_are_cumulative_with_sum_and_count() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.5, 0.7, 3.0] {
            h.observe(v);
        }
        let mut f = Family::new("rcorch_x_seconds", Kind::Histogram, "X.");
        f.push_histogram(vec![("service".into(), "web".into())], &h);
        let text = render(&[f.clone()], Format::Text);
        let want = "# HELP rcorch_x_seconds X.\n# TYPE rcorch_x_seconds histogram\n\
rcorch_x_seconds_bucket{service=\"web\",le=\"0.1\"} 1\n\
rcorch_x_seconds_bucket{service=\"web\",le=\"1\"} 3\n\
rcorch_x_seconds_bucket{service=\"web\",le=\"+Inf\"} 4\n\
rcorch_x_seconds_sum{service=\"web\"} 4.25\n\
rcorch_x_seconds_count{service=\"web\"} 4\n";
        assert_eq!(text, want);
        assert!(render(&[f], Format::OpenMetrics).contains("# TYPE rcorch_x_seconds histogram\n"));
    }
}
