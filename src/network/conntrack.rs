//! Forgetting the UDP flows the kernel balancer sent to a member that left.
//! UDP has no end, so its conntrack entry (refreshed by every datagram)
//! keeps steering a client's packets to the departed replica; TCP needs
//! nothing (new connections get new entries, open ones may finish).
//!
//! ctnetlink cannot delete by reply address alone (a delete needs a whole
//! tuple; a filtered flush knows marks and zones, not addresses), so: dump
//! the table, pick UDP entries that were DNAT'd to the member, and delete
//! each by its original tuple, copied from the dump. Message building and
//! parsing are pure; the socket is a thin shell.
//!
//! The same messages come as events: `subscribe_new` hears of every new
//! entry (the first packet of each connection, after NAT chose its target),
//! which is how the kernel balancer's choices are counted.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    bind, recv, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};
use nix::sys::time::TimeVal;

/// Errors from talking to ctnetlink.
#[derive(Debug, thiserror::Error)]
pub enum ConntrackError {
    /// The netlink socket could not be opened, bound or used.
    #[error("conntrack netlink {step}: {source}")]
    Socket {
        step: &'static str,
        source: nix::Error,
    },
    /// The kernel refused a request.
    #[error("conntrack netlink request refused: errno {errno}")]
    Refused { errno: i32 },
}

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLA_TYPE_MASK: u16 = 0x3fff;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_STATUS: u16 = 3;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_PROTO_NUM: u16 = 1;
const IPS_DST_NAT: u32 = 1 << 5;
/// The multicast group of new entries (NFNLGRP_CONNTRACK_NEW).
const GROUP_NEW: u32 = 1;
const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPPROTO_UDP: u8 = 17;
const HEADER: usize = 16 + 4; // nlmsghdr + nfgenmsg

/// A ctnetlink request: nlmsghdr, nfgenmsg (AF_INET, version 0), `attrs`.
fn message(kind: u16, flags: u16, seq: u32, attrs: &[u8]) -> Vec<u8> {
    let len = (HEADER + attrs.len()) as u32;
    let mut m = Vec::with_capacity(len as usize);
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | kind).to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
    m.extend_from_slice(&[libc::AF_INET as u8, 0, 0, 0]);
    m.extend_from_slice(attrs);
    m
}

/// Dump every IPv4 conntrack entry.
pub fn dump_request(seq: u32) -> Vec<u8> {
    message(IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq, &[])
}

/// Delete the entry whose original tuple is `orig` (a whole
/// CTA_TUPLE_ORIG attribute, header included, as the dump gave it).
pub fn delete_request(seq: u32, orig: &[u8]) -> Vec<u8> {
    message(IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, orig)
}

/// What the dump says of one entry, as far as choosing it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The CTA_TUPLE_ORIG attribute, ready for `delete_request`.
    pub orig: Vec<u8>,
    pub proto: u8,
    /// Who answers: the DNAT target of a balanced flow.
    pub reply_src: Option<Ipv4Addr>,
    pub dnat: bool,
}

/// netlink attributes in `buf`: (type without flags, whole attribute, payload).
fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8], &[u8])> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > rest.len() {
            return None;
        }
        let (whole, payload) = (&rest[..len], &rest[4..len]);
        rest = &rest[((len + 3) & !3).min(rest.len())..];
        Some((kind, whole, payload))
    })
}

fn find(buf: &[u8], kind: u16) -> Option<(&[u8], &[u8])> {
    attrs(buf)
        .find(|(k, _, _)| *k == kind)
        .map(|(_, whole, payload)| (whole, payload))
}

/// One conntrack message's attributes (after the nfgenmsg) -> its entry.
pub fn parse_entry(body: &[u8]) -> Option<Entry> {
    let (orig, orig_payload) = find(body, CTA_TUPLE_ORIG)?;
    let proto = find(find(orig_payload, CTA_TUPLE_PROTO)?.1, CTA_PROTO_NUM)?
        .1
        .first()
        .copied()?;
    let reply_src = find(body, CTA_TUPLE_REPLY)
        .and_then(|(_, r)| find(r, CTA_TUPLE_IP))
        .and_then(|(_, ip)| find(ip, CTA_IP_V4_SRC))
        .and_then(|(_, a)| <[u8; 4]>::try_from(a).ok())
        .map(Ipv4Addr::from);
    let status = find(body, CTA_STATUS)
        .and_then(|(_, s)| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_be_bytes);
    Some(Entry {
        orig: orig.to_vec(),
        proto,
        reply_src,
        dnat: status & IPS_DST_NAT != 0,
    })
}

/// A datagram of netlink messages -> (type, body after nfgenmsg / errno).
pub fn messages(buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut rest = buf;
    while rest.len() >= 16 {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        if len < 16 || len > rest.len() {
            break;
        }
        let body = match kind {
            NLMSG_ERROR | NLMSG_DONE => &rest[16..len],
            _ => rest.get(HEADER..len).unwrap_or(&[]),
        };
        out.push((kind, body));
        rest = &rest[((len + 3) & !3).min(rest.len())..];
    }
    out
}

/// The UDP entries DNAT'd to one of `members`: what to delete.
pub fn udp_flows_to<'a>(entries: &'a [Entry], members: &[Ipv4Addr]) -> Vec<&'a Entry> {
    entries
        .iter()
        .filter(|e| e.proto == IPPROTO_UDP && e.dnat)
        .filter(|e| e.reply_src.is_some_and(|ip| members.contains(&ip)))
        .collect()
}

fn err(step: &'static str) -> impl FnOnce(nix::Error) -> ConntrackError {
    move |source| ConntrackError::Socket { step, source }
}

fn open() -> Result<OwnedFd, ConntrackError> {
    // Never hang the supervisor on a silent kernel.
    netfilter_socket(0, TimeVal::new(1, 0))
}

/// A netfilter netlink socket bound to `groups`, whose reads give up
/// after `timeout`.
fn netfilter_socket(groups: u32, timeout: TimeVal) -> Result<OwnedFd, ConntrackError> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkNetFilter,
    )
    .map_err(err("socket"))?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups)).map_err(err("bind"))?;
    setsockopt(&fd, sockopt::ReceiveTimeout, &timeout).map_err(err("timeout"))?;
    Ok(fd)
}

fn dump(fd: &OwnedFd) -> Result<Vec<Entry>, ConntrackError> {
    send(fd.as_raw_fd(), &dump_request(1), MsgFlags::empty()).map_err(err("send"))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut entries = Vec::new();
    loop {
        let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()).map_err(err("recv"))?;
        for (kind, body) in messages(&buf[..n]) {
            match kind {
                NLMSG_DONE => return Ok(entries),
                NLMSG_ERROR => return Err(refused(body)),
                _ => entries.extend(parse_entry(body)),
            }
        }
    }
}

fn refused(body: &[u8]) -> ConntrackError {
    let errno = body
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, i32::from_ne_bytes);
    ConntrackError::Refused { errno: -errno }
}

/// A socket that receives an event for every new conntrack entry of this
/// network namespace; `recv_new` reads them.
pub fn subscribe_new() -> Result<OwnedFd, ConntrackError> {
    // A timeout, so the reader notices when it is asked to stop.
    netfilter_socket(1 << (GROUP_NEW - 1), TimeVal::new(0, 200_000))
}

/// The new entries in the next datagram; none after the timeout. ENOBUFS
/// (events dropped while the reader lagged) is not an error either: the
/// socket goes on, the dropped connections are not counted.
pub fn recv_new(fd: &OwnedFd, buf: &mut [u8]) -> Result<Vec<Entry>, ConntrackError> {
    match recv(fd.as_raw_fd(), buf, MsgFlags::empty()) {
        Ok(n) => Ok(new_entries(&buf[..n])),
        Err(nix::Error::EAGAIN | nix::Error::EINTR | nix::Error::ENOBUFS) => Ok(Vec::new()),
        Err(e) => Err(err("recv")(e)),
    }
}

/// The entries of the IPCTNL_MSG_CT_NEW messages in a datagram.
pub fn new_entries(datagram: &[u8]) -> Vec<Entry> {
    let new = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
    messages(datagram)
        .into_iter()
        .filter(|(kind, _)| *kind == new)
        .filter_map(|(_, body)| parse_entry(body))
        .collect()
}

/// Deletes the UDP flows the balancer DNAT'd to `members` (which just left);
/// returns how many. An entry gone meanwhile is not an error.
pub fn forget_udp_flows_to(members: &[Ipv4Addr]) -> Result<usize, ConntrackError> {
    if members.is_empty() {
        return Ok(0);
    }
    let fd = open()?;
    let entries = dump(&fd)?;
    let doomed = udp_flows_to(&entries, members);
    let mut buf = vec![0u8; 4096];
    for (seq, entry) in (2..).zip(&doomed) {
        send(
            fd.as_raw_fd(),
            &delete_request(seq, &entry.orig),
            MsgFlags::empty(),
        )
        .map_err(err("send"))?;
        let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()).map_err(err("recv"))?;
        // The ack: errno 0, or ENOENT for an entry that expired meanwhile.
        let acks = messages(&buf[..n])
            .into_iter()
            .filter(|(k, _)| *k == NLMSG_ERROR);
        for (_, body) in acks {
            if let ConntrackError::Refused { errno } = refused(body) {
                if errno != 0 && errno != libc::ENOENT {
                    return Err(ConntrackError::Refused { errno });
                }
            }
        }
    }
    Ok(doomed.len())
}

#[cfg(test)]
#[path = "conntrack_tests.rs"]
mod tests;
