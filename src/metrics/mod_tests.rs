use super::*;

fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sample_families() -> Vec<Family> {
    let mut cpu = Family::new(
        "container_cpu_usage_seconds_total",
        Kind::Counter,
        "Cumulative cpu time consumed in seconds.",
    );
    cpu.push(l(&[("name", "a\"b\\c\nd")]), 0.451638907);
    let mut mem = Family::new(
        "container_memory_usage_bytes",
        Kind::Gauge,
        "Current memory usage in bytes.",
    );
    mem.push(l(&[("name", "web")]), 2437120.0);
    let mut failcnt = Family::new(
        "container_memory_failcnt",
        Kind::Counter,
        "Number of memory usage hits limits",
    );
    failcnt.push(vec![], 3.0);
    let empty = Family::new("container_processes", Kind::Gauge, "unused");
    vec![cpu, mem, failcnt, empty]
}

#[test]
fn text_format_0_0_4() {
    let text = render(&sample_families(), Format::Text);
    assert_eq!(
        text,
        "# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.\n\
         # TYPE container_cpu_usage_seconds_total counter\n\
         container_cpu_usage_seconds_total{name=\"a\\\"b\\\\c\\nd\"} 0.451638907\n\
         # HELP container_memory_usage_bytes Current memory usage in bytes.\n\
         # TYPE container_memory_usage_bytes gauge\n\
         container_memory_usage_bytes{name=\"web\"} 2437120\n\
         # HELP container_memory_failcnt Number of memory usage hits limits\n\
         # TYPE container_memory_failcnt counter\n\
         container_memory_failcnt 3\n"
    );
}

#[test]
fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
    let text = render(&sample_families(), Format::OpenMetrics);
    assert!(
        text.contains("# TYPE container_cpu_usage_seconds counter\n"),
        "{text}"
    );
    assert!(
        text.contains("# HELP container_cpu_usage_seconds Cumulative"),
        "{text}"
    );
    assert!(
        text.contains("\ncontainer_cpu_usage_seconds_total{name="),
        "{text}"
    );
    assert!(
        text.contains("# TYPE container_memory_failcnt unknown\n"),
        "{text}"
    );
    assert!(
        text.ends_with("container_memory_failcnt 3\n# EOF\n"),
        "{text}"
    );
    assert!(!text.contains("container_processes"), "{text}");
}

#[test]
fn accept_header_picks_the_format() {
    // What Prometheus 2.x sends.
    let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(Format::from_accept(Some(prom)), Format::OpenMetrics);
    assert_eq!(Format::from_accept(Some("text/plain")), Format::Text);
    assert_eq!(Format::from_accept(Some("*/*")), Format::Text);
    assert_eq!(Format::from_accept(None), Format::Text);
}

#[test]
fn numbers_and_label_names() {
    assert_eq!(number(1.0), "1");
    assert_eq!(number(1733526000.25), "1733526000.25");
    assert_eq!(number(f64::NAN), "NaN");
    assert_eq!(number(f64::INFINITY), "+Inf");
    assert_eq!(
        sanitize_label_name("com.docker.compose.container-number"),
        "com_docker_compose_container_number"
    );
}
