use super::*;

fn nla(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    a.extend_from_slice(&kind.to_ne_bytes());
    a.extend_from_slice(payload);
    while a.len() % 4 != 0 {
        a.push(0);
    }
    a
}

fn nested(kind: u16, parts: &[Vec<u8>]) -> Vec<u8> {
    nla(kind | 0x8000, &parts.concat())
}

fn tuple(kind: u16, src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16) -> Vec<u8> {
    nested(
        kind,
        &[
            nested(CTA_TUPLE_IP, &[nla(1, &src), nla(2, &dst)]),
            nested(
                CTA_TUPLE_PROTO,
                &[
                    nla(CTA_PROTO_NUM, &[proto]),
                    nla(2, &sport.to_be_bytes()),
                    nla(3, &dport.to_be_bytes()),
                ],
            ),
        ],
    )
}

/// A client 10.1.0.9:5000 -> VIP 10.1.0.5:53, DNAT'd to 10.1.0.2.
fn udp_flow(backend: [u8; 4], status: u32) -> (Vec<u8>, Vec<u8>) {
    let orig = tuple(CTA_TUPLE_ORIG, [10, 1, 0, 9], [10, 1, 0, 5], 17, 5000, 53);
    let body = [
        orig.clone(),
        tuple(CTA_TUPLE_REPLY, backend, [10, 1, 0, 9], 17, 53, 5000),
        nla(CTA_STATUS, &status.to_be_bytes()),
    ]
    .concat();
    (orig, body)
}

#[test]
fn requests_carry_the_ctnetlink_header_and_the_original_tuple() {
    let d = dump_request(7);
    assert_eq!(d.len(), 20);
    assert_eq!(u32::from_ne_bytes(d[0..4].try_into().unwrap()), 20);
    assert_eq!(u16::from_ne_bytes(d[4..6].try_into().unwrap()), 0x0101);
    assert_eq!(u16::from_ne_bytes(d[6..8].try_into().unwrap()), 0x301);
    assert_eq!(u32::from_ne_bytes(d[8..12].try_into().unwrap()), 7);
    assert_eq!(&d[16..20], &[2, 0, 0, 0], "AF_INET, version 0, res_id 0");
    let (orig, _) = udp_flow([10, 1, 0, 2], IPS_DST_NAT);
    let del = delete_request(8, &orig);
    assert_eq!(del.len(), 20 + orig.len());
    assert_eq!(u16::from_ne_bytes(del[4..6].try_into().unwrap()), 0x0102);
    assert_eq!(u16::from_ne_bytes(del[6..8].try_into().unwrap()), 0x5);
    assert_eq!(&del[20..], &orig[..]);
}

#[test]
fn only_udp_flows_dnatted_to_a_leaving_member_are_chosen() {
    let framed = |body: Vec<u8>| {
        let mut m = message(0, 0, 1, &body);
        m[4..6].copy_from_slice(&0x0100u16.to_ne_bytes()); // IPCTNL_MSG_CT_NEW
        m
    };
    let (orig, to_member) = udp_flow([10, 1, 0, 2], IPS_DST_NAT | 0x8);
    let (_, to_other) = udp_flow([10, 1, 0, 3], IPS_DST_NAT);
    let (_, not_nat) = udp_flow([10, 1, 0, 2], 0);
    let tcp = [
        tuple(CTA_TUPLE_ORIG, [10, 1, 0, 9], [10, 1, 0, 5], 6, 5000, 80),
        tuple(CTA_TUPLE_REPLY, [10, 1, 0, 2], [10, 1, 0, 9], 6, 80, 5000),
        nla(CTA_STATUS, &IPS_DST_NAT.to_be_bytes()),
    ]
    .concat();
    let mut datagram: Vec<u8> = [to_member, to_other, not_nat, tcp]
        .into_iter()
        .flat_map(framed)
        .collect();
    datagram.extend(message(0, 0, 1, &[]));
    let done = datagram.len() - 20;
    datagram[done + 4..done + 6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
    let parsed = messages(&datagram);
    assert_eq!(parsed.len(), 5);
    assert_eq!(parsed[4].0, NLMSG_DONE);
    let entries: Vec<Entry> = parsed[..4]
        .iter()
        .filter_map(|(_, b)| parse_entry(b))
        .collect();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0].reply_src, Some(Ipv4Addr::new(10, 1, 0, 2)));
    let chosen = udp_flows_to(&entries, &[Ipv4Addr::new(10, 1, 0, 2)]);
    assert_eq!(chosen.len(), 1);
    assert_eq!(chosen[0].orig, orig);
    assert!(udp_flows_to(&entries, &[]).is_empty());
}

#[test]
fn truncated_input_stops_parsing_without_panicking() {
    let (_, body) = udp_flow([10, 1, 0, 2], IPS_DST_NAT);
    for cut in 0..body.len() {
        let _ = parse_entry(&body[..cut]);
    }
    assert!(messages(&[1, 2, 3]).is_empty());
    assert_eq!(parse_entry(&[]), None);
}

#[test]
fn only_new_entry_events_are_read_from_a_datagram() {
    let framed = |kind: u16, body: &[u8]| {
        let mut m = message(0, 0, 0, body);
        m[4..6].copy_from_slice(&kind.to_ne_bytes());
        m
    };
    let (_, to_a) = udp_flow([10, 1, 0, 2], IPS_DST_NAT);
    let (_, to_b) = udp_flow([10, 1, 0, 3], IPS_DST_NAT);
    let mut datagram = framed(0x0100, &to_a); // IPCTNL_MSG_CT_NEW
    datagram.extend(framed(0x0102, &to_b)); // a DELETE (destroy event)
    datagram.extend(framed(0x0100, &to_b));
    let got: Vec<Option<Ipv4Addr>> = new_entries(&datagram)
        .into_iter()
        .map(|e| e.reply_src)
        .collect();
    assert_eq!(
        got,
        [
            Some(Ipv4Addr::new(10, 1, 0, 2)),
            Some(Ipv4Addr::new(10, 1, 0, 3))
        ]
    );
    assert!(new_entries(&[]).is_empty());
}
