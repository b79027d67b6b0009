//! Docker's other `-p` forms: ranges (`8080-8081:80-81`), a container
//! port alone (`80`, `IP::80`: a random host port). A mapping with host
//! port 0 gets its random port when the endpoint is reserved.

use std::net::Ipv4Addr;

use super::ports::{parse_proto, parse_publish, PortError, PortMapping, Proto};

/// The host port of a mapping the kernel picks at `run` (`-p 80`).
pub const RANDOM: u16 = 0;

fn range(spec: &str, text: &str) -> Result<(u16, u16), PortError> {
    let bad = |reason| PortError::Value {
        spec: spec.into(),
        reason,
    };
    let number = |t: &str| match t.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad("ports are numbers from 1 to 65535")),
        Ok(p) => Ok(p),
    };
    let (lo, hi) = match text.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => (number(text)?, number(text)?),
    };
    if lo > hi {
        return Err(bad("a range goes from low to high"));
    }
    Ok((lo, hi))
}

/// One `-p` value as the mappings it makes.
pub fn parse_publish_spec(spec: &str) -> Result<Vec<PortMapping>, PortError> {
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, parse_proto(spec, proto)?),
        None => (spec, Proto::Tcp),
    };
    let parts: Vec<&str> = ports.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => (None, "", *c),
        [h, c] => (None, *h, *c),
        [ip, h, c] => (Some(*ip), *h, *c),
        _ => return Err(PortError::Syntax(spec.into())),
    };
    let simple = !host.is_empty() && !host.contains('-') && !container.contains('-');
    if simple {
        return parse_publish(spec).map(|m| vec![m]);
    }
    let host_ip = match ip {
        Some(ip) => Some(
            ip.parse::<Ipv4Addr>()
                .map_err(|_| PortError::Syntax(spec.into()))?,
        )
        .filter(|ip| !ip.is_unspecified()),
        None => None,
    };
    let (c_lo, c_hi) = range(spec, container)?;
    let hosts: Vec<u16> = if host.is_empty() {
        vec![RANDOM; usize::from(c_hi - c_lo) + 1]
    } else {
        let (h_lo, h_hi) = range(spec, host)?;
        if h_hi - h_lo != c_hi - c_lo {
            return Err(PortError::Value {
                spec: spec.into(),
                reason: "the host and container ranges must be as long",
            });
        }
        (h_lo..=h_hi).collect()
    };
    Ok(hosts
        .into_iter()
        .zip(c_lo..=c_hi)
        .map(|(host_port, container_port)| PortMapping {
            host_ip,
            host_port,
            container_port,
            proto,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(spec: &str) -> Vec<(u16, u16)> {
        parse_publish_spec(spec)
            .unwrap()
            .iter()
            .map(|m| (m.host_port, m.container_port))
            .collect()
    }

    #[test]
    fn ranges_map_port_by_port() {
        assert_eq!(
            pairs("8080-8082:80-82"),
            [(8080, 80), (8081, 81), (8082, 82)]
        );
        let udp = parse_publish_spec("127.0.0.1:53-54:53-54/udp").unwrap();
        assert!(udp
            .iter()
            .all(|m| m.proto == Proto::Udp && m.host_ip == Some(Ipv4Addr::LOCALHOST)));
    }

    #[test]
    fn a_container_port_alone_gets_a_random_host_port() {
        assert_eq!(pairs("80"), [(RANDOM, 80)]);
        assert_eq!(pairs("80-81"), [(RANDOM, 80), (RANDOM, 81)]);
        let m = parse_publish_spec("127.0.0.1::80").unwrap();
        assert_eq!(
            (m[0].host_ip, m[0].host_port),
            (Some(Ipv4Addr::LOCALHOST), RANDOM)
        );
        assert_eq!(pairs("8080:80"), [(8080, 80)]);
    }

    #[test]
    fn bad_ranges_are_refused() {
        for spec in ["8080-8081:80", "90-80:90-80", "x::80", "1:2:3:4", "0-1:0-1"] {
            assert!(parse_publish_spec(spec).is_err(), "{spec}");
        }
    }
}
