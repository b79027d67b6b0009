//! Kubernetes resource quantities as compose numbers.

/// A CPU quantity ("500m", "2", "1.5") in CPUs.
pub fn cpus(q: &str) -> Option<f64> {
    let v = match q.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok()? / 1000.0,
        None => q.parse::<f64>().ok()?,
    };
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// A memory quantity ("128Mi", "1G", "1048576", "1e6") in bytes.
pub fn bytes(q: &str) -> Option<u64> {
    const SUFFIXES: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, scale) = SUFFIXES
        .iter()
        .find_map(|(s, f)| q.strip_suffix(s).map(|n| (n, *f)))
        .unwrap_or((q, 1.0));
    let v = number.parse::<f64>().ok()? * scale;
    (v.is_finite() && v >= 0.0).then(|| v.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        assert_eq!(cpus("500m"), Some(0.5));
        assert_eq!(cpus("2"), Some(2.0));
        assert_eq!(cpus("1.5"), Some(1.5));
        assert_eq!(cpus("x"), None);
        assert_eq!(bytes("128Mi"), Some(128 << 20));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("1048576"), Some(1 << 20));
        assert_eq!(bytes("1e3"), Some(1000));
        assert_eq!(bytes("-1"), None);
        assert_eq!(bytes("12Q"), None);
    }
}
