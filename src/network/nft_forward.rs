//! The `forward` chain's fences between rcorch's bridges.

use nftables::expr::{Expression, MetaKey, NamedExpression};
use nftables::stmt::{Operator, Statement};

use super::names::EVERY_BRIDGE;
use super::nft::{eq, matches, meta, string, NetRules};

/// Isolation: no forwarding between a network's bridge and any other
/// rcorch bridge, of this root or another (by wildcard, so a lost
/// network's bridge is fenced too), none off an internal one, and none in
/// or out of a bridge of this root (`own`) no network names: a lost
/// network's rules are gone with its record, so what an internal one's
/// fence did is kept by this one. Another root's bridges are its own
/// table's business: fencing them here would cut that root's traffic.
pub(super) fn forward_rules(networks: &[NetRules], own: &str) -> Vec<Vec<Statement<'static>>> {
    let mut rules = Vec::new();
    let known = || {
        let items = networks
            .iter()
            .map(|n| nftables::expr::SetItem::Element(string(&n.bridge)));
        Expression::Named(NamedExpression::Set(items.collect()))
    };
    for key in [MetaKey::Iifname, MetaKey::Oifname] {
        rules.push(vec![
            eq(meta(key), string(own)),
            matches(meta(key), Operator::NEQ, known()),
            Statement::Drop(None),
        ]);
    }
    for a in networks {
        for (inner, outer) in [
            (MetaKey::Iifname, MetaKey::Oifname),
            (MetaKey::Oifname, MetaKey::Iifname),
        ] {
            let others: Vec<Vec<Statement<'static>>> = if a.internal {
                vec![vec![]]
            } else {
                EVERY_BRIDGE
                    .iter()
                    .map(|w| vec![eq(meta(outer), string(w))])
                    .collect()
            };
            for other in others {
                rules.push(
                    [
                        vec![eq(meta(inner), string(&a.bridge))],
                        other,
                        vec![
                            matches(meta(outer), Operator::NEQ, string(&a.bridge)),
                            Statement::Drop(None),
                        ],
                    ]
                    .concat(),
                );
            }
        }
    }
    rules
}
