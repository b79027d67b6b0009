//! The per-container `/etc/hosts` and `/etc/resolv.conf` for a bridged
//! container, as pure functions of its endpoint and the host's resolv.conf.

use std::net::Ipv4Addr;

use super::{Endpoint, DNS_DOMAIN};

const LOCALHOST: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

/// localhost plus the container's own address under its hostname, name and aliases.
pub fn hosts_file(endpoint: &Endpoint, hostname: &str) -> String {
    let mut names = vec![hostname.to_string()];
    for n in std::iter::once(&endpoint.container_name).chain(&endpoint.aliases) {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    format!("{LOCALHOST}{}\t{}\n", endpoint.ip, names.join(" "))
}

/// The nameservers of a resolv.conf text, in order.
pub fn parse_nameservers(resolv_conf: &str) -> Vec<String> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next().map(str::to_string))
                .flatten()
        })
        .collect()
}

/// `--dns` servers when given; else the network's embedded resolver at its
/// gateway, with rcorch's domain searched so bare container names resolve.
pub fn resolv_conf(dns_override: &[String], resolver: Ipv4Addr) -> String {
    if !dns_override.is_empty() {
        return dns_override
            .iter()
            .map(|s| format!("nameserver {s}\n"))
            .collect();
    }
    format!("search {DNS_DOMAIN}\nnameserver {resolver}\noptions ndots:0\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        Endpoint {
            container_id: "abc".into(),
            container_name: "web".into(),
            network: "bridge".into(),
            ip: "172.17.0.2".parse().unwrap(),
            aliases: vec!["www".into(), "web".into()],
            ports: vec![],
            host_veth: "rcabc".into(),
            ifname: "eth0".into(),
            default_route: false,
        }
    }

    #[test]
    fn hosts_names_the_container_once_each() {
        let text = hosts_file(&endpoint(), "abc123");
        assert!(text.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(text.ends_with("172.17.0.2\tabc123 web www\n"));
    }

    #[test]
    fn resolv_conf_points_at_the_gateway_unless_overridden() {
        let gw = "172.17.0.1".parse().unwrap();
        assert_eq!(
            resolv_conf(&[], gw),
            "search rcorch\nnameserver 172.17.0.1\noptions ndots:0\n"
        );
        assert_eq!(resolv_conf(&["1.1.1.1".into()], gw), "nameserver 1.1.1.1\n");
    }

    #[test]
    fn parses_nameservers() {
        let text = "# c\nnameserver 10.0.0.2\nsearch x\nnameserver  ::1\nnameserver\n";
        assert_eq!(parse_nameservers(text), ["10.0.0.2", "::1"]);
    }
}
