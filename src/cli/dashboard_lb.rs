//! The balancer's per-backend selection counters for `dashboard`: they live
//! in the supervisor's memory, so they are read from its `/metrics` when
//! the project serves one (`x-rcorch-metrics`, `up --metrics`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Selections so far by (service, backend address).
pub type Selections = BTreeMap<(String, String), u64>;

const FAMILY: &str = "rcorch_lb_backend_selections_total{";

/// A label's value in a series' `{k="v",…}` (values here hold no quotes).
fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{key}=\""))? + key.len() + 2;
    let rest = &labels[start..];
    Some(&rest[..rest.find('"')?])
}

/// The selection counters of `project`'s backends in a text exposition.
pub fn parse(text: &str, project: &str) -> Selections {
    text.lines()
        .filter_map(|line| {
            let series = line.strip_prefix(FAMILY)?;
            let (labels, value) = series.rsplit_once('}')?;
            if label(labels, "project")? != project {
                return None;
            }
            let value = value.split_whitespace().next()?.parse::<f64>().ok()?;
            let key = (label(labels, "service")?, label(labels, "backend")?);
            Some(((key.0.to_string(), key.1.to_string()), value as u64))
        })
        .collect()
}

/// A short GET of `/metrics` at `addr`: a slow or absent server costs at
/// most the timeouts, and reads as nothing known.
pub fn fetch(addr: &str, project: &str) -> Option<Selections> {
    let addr = crate::metrics::http::parse_addr(addr).ok()?;
    let timeout = Duration::from_millis(300);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    Some(parse(body, project))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_are_read_per_service_and_backend_of_the_project_only() {
        let text = r#"# HELP rcorch_lb_backend_selections_total New connections the load balancer sent to the backend.
# TYPE rcorch_lb_backend_selections_total counter
rcorch_lb_backend_selections_total{project="shop",service="web",name="shop-web-1",backend="10.89.0.2"} 7
rcorch_lb_backend_selections_total{project="shop",service="web",name="",backend="10.89.0.3"} 0
rcorch_lb_backend_selections_total{project="other",service="web",name="x",backend="10.89.0.9"} 5
rcorch_lb_backend_connections_total{project="shop",service="web",name="shop-web-1",backend="10.89.0.2"} 6
"#;
        let key = |a: &str| ("web".to_string(), a.to_string());
        assert_eq!(
            parse(text, "shop"),
            Selections::from([(key("10.89.0.2"), 7), (key("10.89.0.3"), 0)])
        );
        assert_eq!(
            parse("garbage\nrcorch_lb_backend_selections_total{", "shop"),
            Selections::new()
        );
    }
}
