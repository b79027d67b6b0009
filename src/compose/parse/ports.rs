//! `ports`: short syntax ("127.0.0.1:8080:80/udp", ranges) and long syntax.

use std::net::IpAddr;

use serde_norway::Value;

use super::value::{key_string, scalar_text, untag};
use super::{Ctx, Result};
use crate::compose::locate::KeyPath;
use crate::compose::model::{Port, PortRange, Protocol};

const SHORT_FORM: &str = "[HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTOCOL]";

fn protocol(s: &str) -> Option<Protocol> {
    match s {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        "sctp" => Some(Protocol::Sctp),
        _ => None,
    }
}

/// "80" or "8000-8010".
pub fn parse_range(s: &str) -> Option<PortRange> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let range = PortRange {
        start: a.parse().ok()?,
        end: b.parse().ok()?,
    };
    (range.start <= range.end).then_some(range)
}

/// Parses the short syntax; a container range becomes one port per entry.
pub fn parse_short(spec: &str) -> Option<Vec<Port>> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, protocol(p)?),
        None => (spec, Protocol::Tcp),
    };
    let (host_ip, rest) = match rest.strip_prefix('[') {
        Some(bracketed) => {
            let (ip, after) = bracketed.split_once("]:")?;
            (Some(ip), after)
        }
        None => match rest.rsplitn(3, ':').collect::<Vec<_>>().as_slice() {
            [_, _, ip] => (Some(*ip), &rest[ip.len() + 1..]),
            _ => (None, rest),
        },
    };
    let host_ip = host_ip.map(str::parse::<IpAddr>).transpose().ok()?;
    let (published, target) = match rest.split_once(':') {
        Some(("", t)) => (None, parse_range(t)?),
        Some((p, t)) => (Some(parse_range(p)?), parse_range(t)?),
        None => (None, parse_range(rest)?),
    };
    let count = target.end - target.start;
    if count == 0 {
        return Some(vec![Port {
            target: target.start,
            published,
            host_ip,
            protocol: proto,
        }]);
    }
    // A container range maps to an equally long host range (or random ports).
    if published.is_some_and(|p| p.end - p.start != count) {
        return None;
    }
    Some(
        (0..=count)
            .map(|i| Port {
                target: target.start + i,
                published: published.map(|p| PortRange {
                    start: p.start + i,
                    end: p.start + i,
                }),
                host_ip,
                protocol: proto,
            })
            .collect(),
    )
}

pub fn ports(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Vec<Port>> {
    let mut out = Vec::new();
    for (i, item) in ctx.sequence(v, at)?.iter().enumerate() {
        let here = at.index(i);
        match untag(item) {
            Value::Mapping(_) => out.push(long(ctx, item, &here)?),
            other => {
                let spec = ctx.string(other, &here)?;
                let parsed =
                    parse_short(&spec).ok_or_else(|| ctx.invalid(&here, &spec, SHORT_FORM))?;
                out.extend(parsed);
            }
        }
    }
    Ok(out)
}

/// `expose:` entries: a container port or range, with an optional
/// protocol ("3000", "3000-3005", "53/udp"), kept as written.
pub fn expose(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<Vec<String>> {
    let entries = ctx.string_list(v, at)?;
    for (i, entry) in entries.iter().enumerate() {
        let (range, proto) = entry.split_once('/').unwrap_or((entry, "tcp"));
        if parse_range(range).is_none() || protocol(proto).is_none() {
            let here = match untag(v) {
                Value::Sequence(_) => at.index(i),
                _ => at.clone(),
            };
            return Err(ctx.invalid(
                &here,
                entry,
                "a container port or range, like 3000, 3000-3005 or 53/udp",
            ));
        }
    }
    Ok(entries)
}

/// Long-syntax port keys rcorch reads.
const PORT_KEYS: &[&str] = &[
    "target",
    "published",
    "host_ip",
    "protocol",
    "name",
    "app_protocol",
];

fn long(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Port> {
    let mut port = Port {
        target: 0,
        published: None,
        host_ip: None,
        protocol: Protocol::Tcp,
    };
    let mut has_target = false;
    for (k, v) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        let text = scalar_text(v).unwrap_or_default();
        match key.as_str() {
            "target" => {
                port.target = text
                    .parse()
                    .map_err(|_| ctx.invalid(&here, &text, "a port number"))?;
                has_target = true;
            }
            "published" => {
                let range = parse_range(&text)
                    .ok_or_else(|| ctx.invalid(&here, &text, "a port or range"))?;
                port.published = Some(range);
            }
            "host_ip" => {
                let ip = text
                    .parse()
                    .map_err(|_| ctx.invalid(&here, &text, "an IP address"))?;
                port.host_ip = Some(ip);
            }
            "protocol" => {
                port.protocol =
                    protocol(&text).ok_or_else(|| ctx.invalid(&here, &text, "tcp, udp or sctp"))?;
            }
            // Descriptive only.
            "name" | "app_protocol" => {}
            _ => ctx.unhandled(&here, &key, PORT_KEYS, &["mode"])?,
        }
    }
    if !has_target {
        return Err(ctx.missing(at, "target"));
    }
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> Port {
        let mut ports = parse_short(spec).unwrap();
        assert_eq!(ports.len(), 1, "{spec}");
        ports.remove(0)
    }

    fn range(start: u16, end: u16) -> Option<PortRange> {
        Some(PortRange { start, end })
    }

    #[test]
    fn short_forms() {
        let p = one("80");
        assert_eq!((p.target, p.published, p.host_ip), (80, None, None));
        let p = one("8080:80");
        assert_eq!((p.target, p.published), (80, range(8080, 8080)));
        let p = one("127.0.0.1:8080:80/udp");
        assert_eq!(p.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(p.protocol, Protocol::Udp);
        let p = one("127.0.0.1::80");
        assert_eq!((p.published, p.host_ip.is_some()), (None, true));
        let p = one("[::1]:8080:80");
        assert_eq!(p.host_ip, Some("::1".parse().unwrap()));
        let p = one("::1:8080:80");
        assert_eq!(p.host_ip, Some("::1".parse().unwrap()));
        let p = one("9000-9010:80");
        assert_eq!(p.published, range(9000, 9010));
    }

    #[test]
    fn container_ranges_expand() {
        let ports = parse_short("8000-8002:80-82/tcp").unwrap();
        let pairs: Vec<_> = ports
            .iter()
            .map(|p| (p.published.unwrap().start, p.target))
            .collect();
        assert_eq!(pairs, [(8000, 80), (8001, 81), (8002, 82)]);
        assert_eq!(parse_short("80-81").unwrap().len(), 2);
    }

    #[test]
    fn bad_short_forms() {
        for bad in [
            "",
            "x",
            "80/icmp",
            "70000",
            "8080:",
            "1.2.3:80:80",
            "80-79",
            "8000-8001:80-82",
            "[::1:80:80",
        ] {
            assert_eq!(parse_short(bad), None, "{bad}");
        }
    }
}
