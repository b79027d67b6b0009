//! `-p [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]` and `-P`, as pure parsing;
//! plus the one edge check that a host port is free right now.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PortError {
    #[error("invalid port mapping \"{0}\": expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]")]
    Syntax(String),
    #[error("invalid port mapping \"{spec}\": {reason}")]
    Value { spec: String, reason: &'static str },
    #[error("host port {host_ip}:{port}/{proto} is already in use")]
    Busy {
        host_ip: Ipv4Addr,
        port: u16,
        proto: Proto,
    },
    #[error("no free host port for -P")]
    NoFreePort,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One published port. `host_ip` None means every host address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl PortMapping {
    /// Two mappings clash when they take the same port and protocol on an
    /// overlapping host address.
    pub fn clashes(&self, other: &PortMapping) -> bool {
        self.proto == other.proto
            && self.host_port == other.host_port
            && (self.host_ip.is_none() || other.host_ip.is_none() || self.host_ip == other.host_ip)
    }
}

impl std::fmt::Display for PortMapping {
    /// Docker's `port` format: `80/tcp -> 0.0.0.0:8080`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ip = self.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        write!(
            f,
            "{}/{} -> {}:{}",
            self.container_port, self.proto, ip, self.host_port
        )
    }
}

fn port(spec: &str, text: &str) -> Result<u16, PortError> {
    match text.parse::<u16>() {
        Ok(0) => Err(PortError::Value {
            spec: spec.into(),
            reason: "port 0 is not allowed",
        }),
        Ok(p) => Ok(p),
        Err(_) => Err(PortError::Value {
            spec: spec.into(),
            reason: "ports are numbers from 1 to 65535",
        }),
    }
}

pub fn parse_proto(spec: &str, text: &str) -> Result<Proto, PortError> {
    match text {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        _ => Err(PortError::Value {
            spec: spec.into(),
            reason: "protocol must be tcp or udp",
        }),
    }
}

/// Parses one `-p` value. A bare `CONTAINERPORT` is rejected: rcorch asks
/// for an explicit host port (or `-P` for random ones).
pub fn parse_publish(spec: &str) -> Result<PortMapping, PortError> {
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, parse_proto(spec, proto)?),
        None => (spec, Proto::Tcp),
    };
    let parts: Vec<&str> = ports.split(':').collect();
    let (host_ip, host_port, container_port) = match parts.as_slice() {
        [h, c] => (None, *h, *c),
        [ip, h, c] => {
            let ip = ip
                .parse::<Ipv4Addr>()
                .map_err(|_| PortError::Syntax(spec.into()))?;
            (Some(ip).filter(|ip| !ip.is_unspecified()), *h, *c)
        }
        _ => return Err(PortError::Syntax(spec.into())),
    };
    Ok(PortMapping {
        host_ip,
        host_port: port(spec, host_port)?,
        container_port: port(spec, container_port)?,
        proto,
    })
}

/// An image's `ExposedPorts` keys ("80/tcp", "53/udp", "8080").
pub fn parse_exposed(key: &str) -> Result<(u16, Proto), PortError> {
    let (p, proto) = match key.split_once('/') {
        Some((p, proto)) => (p, parse_proto(key, proto)?),
        None => (key, Proto::Tcp),
    };
    Ok((port(key, p)?, proto))
}

/// Whether the host port can be bound right now (the edge check that turns
/// a clash with any other program into a clear error before anything is made).
pub fn host_port_free(mapping: &PortMapping) -> bool {
    let addr = SocketAddrV4::new(
        mapping.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
        mapping.host_port,
    );
    match mapping.proto {
        Proto::Tcp => TcpListener::bind(addr).is_ok(),
        Proto::Udp => UdpSocket::bind(addr).is_ok(),
    }
}

/// A free ephemeral port from the kernel, for `-P`.
pub fn random_host_port(proto: Proto) -> Result<u16, PortError> {
    let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
    let port = match proto {
        Proto::Tcp => TcpListener::bind(any).and_then(|l| l.local_addr()),
        Proto::Udp => UdpSocket::bind(any).and_then(|s| s.local_addr()),
    };
    port.map(|a| a.port()).map_err(|_| PortError::NoFreePort)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_publish_forms() {
        let m = parse_publish("8080:80").unwrap();
        assert_eq!(
            (m.host_ip, m.host_port, m.container_port, m.proto),
            (None, 8080, 80, Proto::Tcp)
        );
        let m = parse_publish("127.0.0.1:53:5353/udp").unwrap();
        assert_eq!(m.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(
            (m.host_port, m.container_port, m.proto),
            (53, 5353, Proto::Udp)
        );
        assert_eq!(parse_publish("0.0.0.0:1:2").unwrap().host_ip, None);
        assert_eq!(m.to_string(), "5353/udp -> 127.0.0.1:53");
    }

    #[test]
    fn rejects_bad_publish_values() {
        assert!(matches!(parse_publish("80"), Err(PortError::Syntax(_))));
        assert!(matches!(parse_publish("x:1:2"), Err(PortError::Syntax(_))));
        assert!(matches!(
            parse_publish("0:80"),
            Err(PortError::Value { .. })
        ));
        assert!(matches!(
            parse_publish("70000:80"),
            Err(PortError::Value { .. })
        ));
        assert!(matches!(
            parse_publish("1:80/sctp"),
            Err(PortError::Value { .. })
        ));
    }

    #[test]
    fn clashes_need_same_port_proto_and_overlapping_address() {
        let a = parse_publish("8080:80").unwrap();
        let b = parse_publish("127.0.0.1:8080:81").unwrap();
        let c = parse_publish("127.0.0.2:8080:81").unwrap();
        let d = parse_publish("8080:80/udp").unwrap();
        assert!(a.clashes(&b) && b.clashes(&a));
        assert!(!b.clashes(&c));
        assert!(!a.clashes(&d));
    }

    #[test]
    fn parses_exposed_keys() {
        assert_eq!(parse_exposed("80/tcp"), Ok((80, Proto::Tcp)));
        assert_eq!(parse_exposed("53/udp"), Ok((53, Proto::Udp)));
        assert_eq!(parse_exposed("8080"), Ok((8080, Proto::Tcp)));
    }
}
