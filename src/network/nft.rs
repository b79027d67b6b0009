//! rcorch's nftables ruleset, planned as data and applied in one atomic batch.
//!
//! Everything lives in the root's own table (`inet rcorch` for the default
//! root, `inet rcorch-TAG` for others: `names`); the batch re-creates only that
//! table (`add`, `delete`, `add`, then its chains and rules), so other
//! tables are never read, flushed or edited. `nft -j -f -` applies the batch
//! as one transaction: the old rules stay until the new ones are in.
//!
//! Published ports are DNAT rules in `prerouting` (from other hosts) and
//! `output` (from the host itself). Reaching them on 127.0.0.1 works because
//! rcorch sets `route_localnet` on its bridges and masquerades loopback
//! sources leaving a bridge (the kernel-only hairpin; no userspace proxy).

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::Ipv4Addr;

use nftables::batch::Batch;
use nftables::expr::{Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression};
use nftables::expr::{Payload, PayloadField, Prefix};
use nftables::schema::{Chain, NfListObject, Nftables, Rule, Table};
use nftables::stmt::{JumpTarget, Match, NATFamily, Operator, Statement, NAT};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use thiserror::Error;

use super::names::HostNames;
use super::nft_forward::forward_rules;
use super::services::{dnat_rules, hairpin_rule, input_rules};
use super::stale_tables::OWNER_MARK;
use super::{NetState, Proto, ServiceLb};

const FAMILY: NfFamily = NfFamily::INet;

#[derive(Debug, Error)]
pub enum NftError {
    /// nft rejected the batch or could not be run.
    #[error("cannot apply rcorch's nftables rules: {}", describe(.0))]
    Apply(#[from] nftables::helper::NftablesError),
}

/// The cause in words: the install hint only when nft really is missing,
/// nft's own message when it ran and refused.
fn describe(e: &nftables::helper::NftablesError) -> String {
    use nftables::helper::NftablesError as E;
    match e {
        E::NftExecution { inner, .. } if inner.kind() == std::io::ErrorKind::NotFound => {
            format!("the nft command is not installed (install the nftables package): {inner}")
        }
        E::NftFailed { stderr, .. } if !stderr.trim().is_empty() => {
            format!("nft refused them: {}", stderr.trim())
        }
        other => other.to_string(),
    }
}

/// One network, as the ruleset sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NetRules {
    pub bridge: String,
    pub subnet: super::Subnet,
    pub internal: bool,
}

/// One published port, resolved to the container's address.
#[derive(Debug, Clone, PartialEq)]
pub struct PortRule {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub proto: Proto,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

/// What the ruleset is built from: derived from the whole network state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RulesetPlan {
    /// Whose table and bridges.
    pub names: HostNames,
    /// The root marked in the table (`stale_tables`); tagged roots only.
    pub owner: Option<std::path::PathBuf>,
    pub networks: Vec<NetRules>,
    pub ports: Vec<PortRule>,
    /// Load-balanced services (`services`).
    pub services: Vec<ServiceLb>,
}

impl RulesetPlan {
    pub fn from_state(state: &NetState, names: &HostNames) -> RulesetPlan {
        let networks = state
            .networks
            .values()
            .map(|n| NetRules {
                bridge: n.bridge.clone(),
                subnet: n.subnet,
                internal: n.internal,
            })
            .collect();
        let ports = state
            .endpoints
            .values()
            .filter(|e| state.networks.get(&e.network).is_some_and(|n| !n.internal))
            .flat_map(|e| {
                e.ports.iter().map(|p| PortRule {
                    host_ip: p.host_ip,
                    host_port: p.host_port,
                    proto: p.proto,
                    container_ip: e.ip,
                    container_port: p.container_port,
                })
            })
            .collect();
        let services = state.services.values().cloned().collect();
        RulesetPlan {
            names: names.clone(),
            owner: None,
            networks,
            ports,
            services,
        }
    }
}

impl RulesetPlan {
    /// Marks the table as `root`'s, if it is a tagged root's table.
    pub fn owned_by(mut self, root: &std::path::Path) -> RulesetPlan {
        self.owner = self.names.tag.as_ref().map(|_| root.to_path_buf());
        self
    }
}

/// nft refuses longer rule comments.
const COMMENT_MAX: usize = 128;

/// `chain owner { accept comment "rcorch root PATH" }`: never jumped to,
/// it only says whose the table is. None when the path is too long.
fn owner_chain(table: &str, root: &std::path::Path) -> Option<[NfListObject<'static>; 2]> {
    let comment = format!("{OWNER_MARK}{}", root.to_str()?);
    if comment.len() > COMMENT_MAX {
        return None;
    }
    let chain = NfListObject::Chain(Chain {
        family: FAMILY,
        table: table.to_string().into(),
        name: "owner".into(),
        ..Chain::default()
    });
    let rule = NfListObject::Rule(Rule {
        family: FAMILY,
        table: table.to_string().into(),
        chain: "owner".into(),
        expr: vec![Statement::Accept(None)].into(),
        handle: None,
        index: None,
        comment: Some(comment.into()),
    });
    Some([chain, rule])
}

pub(super) fn field(protocol: &'static str, name: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: protocol.into(),
            field: name.into(),
        },
    )))
}

pub(super) fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

pub(super) fn matches(
    left: Expression<'static>,
    op: Operator,
    right: Expression<'static>,
) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

pub(super) fn eq(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    matches(left, Operator::EQ, right)
}

pub(super) fn string(s: &str) -> Expression<'static> {
    Expression::String(Cow::Owned(s.to_string()))
}

pub(super) fn prefix(subnet: &super::Subnet) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(string(&subnet.network.to_string())),
        len: subnet.prefix as u32,
    }))
}

pub(super) fn fib_daddr_local() -> Statement<'static> {
    let fib = Fib {
        result: FibResult::Type,
        flags: HashSet::from([FibFlag::Daddr]),
    };
    eq(
        Expression::Named(NamedExpression::Fib(fib)),
        string("local"),
    )
}

fn rule(table: &str, chain: &str, expr: Vec<Statement<'static>>) -> NfListObject<'static> {
    NfListObject::Rule(Rule {
        family: FAMILY,
        table: table.to_string().into(),
        chain: chain.to_string().into(),
        expr: expr.into(),
        handle: None,
        index: None,
        comment: None,
    })
}

struct Hooked {
    kind: NfChainType,
    hook: NfHook,
    prio: i32,
}

fn base_chain(table: &str, name: &str, h: Hooked) -> NfListObject<'static> {
    NfListObject::Chain(Chain {
        family: FAMILY,
        table: table.to_string().into(),
        name: name.to_string().into(),
        _type: Some(h.kind),
        hook: Some(h.hook),
        prio: Some(h.prio),
        policy: Some(NfChainPolicy::Accept),
        ..Chain::default()
    })
}

fn table(name: &str) -> NfListObject<'static> {
    NfListObject::Table(Table {
        family: FAMILY,
        name: name.to_string().into(),
        handle: None,
    })
}

/// The whole batch: re-create the root's table with every rule the plan
/// needs. With no networks the table is only removed.
pub fn build_ruleset(plan: &RulesetPlan) -> Nftables<'static> {
    let t = plan.names.table.as_str();
    let mut batch = Batch::new();
    // `add` first so the `delete` never fails on a fresh host.
    batch.add(table(t));
    batch.delete(table(t));
    if plan.networks.is_empty() {
        return batch.to_nftables();
    }
    batch.add(table(t));
    let hooked = |kind, hook, prio| Hooked { kind, hook, prio };
    for (name, h) in [
        (
            "prerouting",
            hooked(NfChainType::NAT, NfHook::Prerouting, -100),
        ),
        ("output", hooked(NfChainType::NAT, NfHook::Output, -100)),
        (
            "postrouting",
            hooked(NfChainType::NAT, NfHook::Postrouting, 100),
        ),
        ("forward", hooked(NfChainType::Filter, NfHook::Forward, 0)),
        ("input", hooked(NfChainType::Filter, NfHook::Input, 0)),
    ] {
        batch.add(base_chain(t, name, h));
    }
    let marked = plan.owner.as_deref().and_then(|root| owner_chain(t, root));
    for object in marked.into_iter().flatten() {
        batch.add(object);
    }
    for name in ["published", "services"] {
        batch.add(NfListObject::Chain(Chain {
            family: FAMILY,
            table: t.to_string().into(),
            name: name.into(),
            ..Chain::default()
        }));
    }
    let jump = |target: &str| {
        Statement::Jump(JumpTarget {
            target: target.to_string().into(),
        })
    };
    for hook in ["prerouting", "output"] {
        batch.add(rule(t, hook, vec![jump("services")]));
        batch.add(rule(t, hook, vec![fib_daddr_local(), jump("published")]));
    }
    for p in &plan.ports {
        batch.add(rule(t, "published", dnat_rule(p)));
    }
    for service in &plan.services {
        for r in dnat_rules(service) {
            batch.add(rule(t, "services", r));
        }
        for r in input_rules(service) {
            batch.add(rule(t, "input", r));
        }
    }
    for n in &plan.networks {
        batch.add(rule(t, "postrouting", hairpin_rule(&n.bridge, &n.subnet)));
        for r in postrouting_rules(n) {
            batch.add(rule(t, "postrouting", r));
        }
    }
    for r in forward_rules(&plan.networks, &plan.names.own_bridges()) {
        batch.add(rule(t, "forward", r));
    }
    batch.to_nftables()
}

/// `meta nfproto ipv4 [ip daddr H] tcp dport P dnat ip to C:P'`
fn dnat_rule(p: &PortRule) -> Vec<Statement<'static>> {
    let proto = match p.proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    };
    let mut expr = vec![eq(meta(MetaKey::Nfproto), string("ipv4"))];
    if let Some(ip) = p.host_ip {
        expr.push(eq(field("ip", "daddr"), string(&ip.to_string())));
    }
    expr.push(eq(
        field(proto, "dport"),
        Expression::Number(p.host_port.into()),
    ));
    expr.push(Statement::DNAT(Some(NAT {
        addr: Some(string(&p.container_ip.to_string())),
        family: Some(NATFamily::IP),
        port: Some(Expression::Number(p.container_port.into())),
        flags: None,
    })));
    expr
}

/// Masquerade what leaves the subnet (not internal networks), and loopback
/// sources DNAT'd onto the bridge (the 127.0.0.1 hairpin).
fn postrouting_rules(n: &NetRules) -> Vec<Vec<Statement<'static>>> {
    let mut rules = vec![vec![
        eq(meta(MetaKey::Oifname), string(&n.bridge)),
        eq(
            field("ip", "saddr"),
            prefix(&super::Subnet::new(Ipv4Addr::LOCALHOST, 8)),
        ),
        Statement::Masquerade(None),
    ]];
    if !n.internal {
        rules.push(vec![
            eq(field("ip", "saddr"), prefix(&n.subnet)),
            matches(meta(MetaKey::Oifname), Operator::NEQ, string(&n.bridge)),
            Statement::Masquerade(None),
        ]);
    }
    rules
}

/// Deletes the table `name` (one of a root that is gone).
pub fn delete_table(name: &str) -> Result<(), NftError> {
    let mut batch = Batch::new();
    batch.add(table(name));
    batch.delete(table(name));
    apply(&batch.to_nftables())
}

/// Applies the batch with `nft -j -f -` (one transaction). Run here, not
/// through `nftables::helper::apply_ruleset`: that one leaves nft's stderr
/// inherited, so in the supervisor (stderr on /dev/null) nft's reason for
/// refusing was lost.
pub fn apply(ruleset: &Nftables) -> Result<(), NftError> {
    use nftables::helper::NftablesError as E;
    use std::io::Write;
    use std::process::{Command, Stdio};
    let payload = serde_json::to_string(ruleset).map_err(E::NftInvalidJson)?;
    let program = std::ffi::OsString::from("nft");
    let failed = |inner| E::NftExecution {
        program: program.clone(),
        inner,
    };
    let mut child = Command::new(&program)
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(failed)?;
    let written = child
        .stdin
        .take()
        .map(|mut i| i.write_all(payload.as_bytes()));
    let output = child.wait_with_output().map_err(failed)?;
    if output.status.success() {
        return written.transpose().map(drop).map_err(|e| failed(e).into());
    }
    Err(E::NftFailed {
        program,
        hint: "applying ruleset".into(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
    .into())
}

#[cfg(test)]
#[path = "nft_tests.rs"]
mod tests;
