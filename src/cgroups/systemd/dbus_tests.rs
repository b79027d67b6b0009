//! Byte-exact checks of the codec against messages computed by hand from
//! the D-Bus specification's marshalling rules (alignment counted from the
//! message start, array lengths without the padding before the first
//! element, padding to the element alignment even for an empty array).

use super::*;

fn le(n: u32) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

fn text(s: &str) -> Vec<u8> {
    let mut v = le(s.len() as u32);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

/// `bytes` followed by zeros up to offset `to`.
fn padded(mut bytes: Vec<u8>, to: usize) -> Vec<u8> {
    assert!(bytes.len() <= to);
    bytes.resize(to, 0);
    bytes
}

#[test]
fn hello_marshals_byte_for_byte() {
    let mut msg = Message::call(
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "Hello",
        Vec::new(),
    );
    msg.destination = Some("org.freedesktop.DBus".into());
    msg.serial = 1;
    let mut want = vec![b'l', 1, 0, 1];
    want.extend(le(0)); // body length
    want.extend(le(1)); // serial
    want.extend(le(109)); // header fields: bytes 16..125
                          // PATH (1), type "o", at 16; its string aligned to 20.
    want.extend([1, 1, b'o', 0]);
    want.extend(text("/org/freedesktop/DBus")); // 20..46
    let mut want = padded(want, 48);
    want.extend([2, 1, b's', 0]);
    want.extend(text("org.freedesktop.DBus")); // 52..77
    let mut want = padded(want, 80);
    want.extend([3, 1, b's', 0]);
    want.extend(text("Hello")); // 84..94
    let mut want = padded(want, 96);
    want.extend([6, 1, b's', 0]);
    want.extend(text("org.freedesktop.DBus")); // 100..125
    let want = padded(want, 128); // the body starts 8-aligned
    assert_eq!(encode(&msg), want);
    assert_eq!(message_len(&want), Some(Ok(128)));
    assert_eq!(decode(&want).unwrap(), msg);
}

fn start_transient_body() -> Vec<Value> {
    vec![
        Value::Str("rcorch-x.scope".into()),
        Value::Str("fail".into()),
        Value::Array(
            "(sv)".into(),
            vec![
                property("Delegate", Value::Bool(true)),
                property("PIDs", Value::Array("u".into(), vec![Value::U32(42)])),
            ],
        ),
        Value::Array("(sa(sv))".into(), Vec::new()),
    ]
}

#[test]
fn start_transient_unit_arguments_marshal_byte_for_byte() {
    let body = start_transient_body();
    let mut want = text("rcorch-x.scope"); // 0..19
    let mut want_at = |bytes: Vec<u8>, at: usize| {
        want = padded(std::mem::take(&mut want), at);
        want.extend(bytes);
    };
    want_at(text("fail"), 20); // 20..29
    want_at(le(48), 32); // a(sv): elements 40..88
    want_at(text("Delegate"), 40); // 40..53
    want_at(vec![1, b'b', 0], 53);
    want_at(le(1), 56); // true, 56..60
    want_at(text("PIDs"), 64); // 64..73
    want_at(vec![2, b'a', b'u', 0], 73);
    want_at(le(4), 80); // au of one element
    want_at(le(42), 84);
    want_at(le(0), 88); // the empty a(sa(sv))...
    let want = padded(want, 96); // ...still padded to its 8-aligned elements
    let mut msg = Message::call(
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
        "StartTransientUnit",
        body,
    );
    msg.serial = 7;
    assert_eq!(msg.body_signature(), "ssa(sv)a(sa(sv))");
    let bytes = encode(&msg);
    assert_eq!(&bytes[4..8], &le(96)[..], "body length");
    assert_eq!(&bytes[bytes.len() - 96..], &want[..]);
    assert_eq!(decode(&bytes).unwrap(), msg);
}

#[test]
fn every_type_round_trips() {
    let body = vec![
        Value::Byte(7),
        Value::Bool(false),
        Value::I32(-5),
        Value::U32(3),
        Value::U64(u64::MAX),
        Value::Path("/org/freedesktop/systemd1/job/1".into()),
        Value::Sig("a(sv)".into()),
        Value::Array(
            "s".into(),
            vec![Value::Str("a".into()), Value::Str("bc".into())],
        ),
        Value::Array("y".into(), vec![Value::Byte(0b101)]),
        Value::Variant(Box::new(Value::U64(1 << 40))),
        Value::Array(
            "(sa(sv))".into(),
            vec![Value::Struct(vec![
                Value::Str("x".into()),
                Value::Array("(sv)".into(), vec![property("T", Value::U64(9))]),
            ])],
        ),
    ];
    let mut msg = Message::call("/a", "b.c", "D", body);
    msg.serial = 9;
    msg.kind = Kind::Signal;
    assert_eq!(decode(&encode(&msg)).unwrap(), msg);
}

#[test]
fn replies_and_errors_are_read() {
    let reply = Message {
        kind: Kind::MethodReturn,
        flags: 1,
        serial: 4,
        path: None,
        interface: None,
        member: None,
        error_name: None,
        reply_serial: Some(2),
        destination: Some(":1.5".into()),
        sender: Some("org.freedesktop.systemd1".into()),
        body: vec![Value::Path("/org/freedesktop/systemd1/job/12".into())],
    };
    let back = decode(&encode(&reply)).unwrap();
    assert_eq!(back.reply_serial, Some(2));
    assert_eq!(
        back.body[0].as_str(),
        Some("/org/freedesktop/systemd1/job/12")
    );
    let error = Message {
        kind: Kind::Error,
        error_name: Some("org.freedesktop.systemd1.UnitExists".into()),
        body: vec![Value::Str("Unit rcorch-x.scope already exists.".into())],
        ..reply
    };
    let back = decode(&encode(&error)).unwrap();
    assert_eq!(back.kind, Kind::Error);
    assert_eq!(
        back.error_name.as_deref(),
        Some("org.freedesktop.systemd1.UnitExists")
    );
}

#[test]
fn partial_and_bad_input_is_refused() {
    let mut msg = Message::call("/a", "b.c", "D", vec![Value::Str("x".into())]);
    msg.serial = 1;
    let bytes = encode(&msg);
    assert_eq!(message_len(&bytes[..15]), None);
    assert_eq!(
        decode(&bytes[..bytes.len() - 1]),
        Err(DecodeError::Truncated)
    );
    let mut big_endian = bytes.clone();
    big_endian[0] = b'B';
    assert_eq!(decode(&big_endian), Err(DecodeError::BadHeader));
}

#[test]
fn sasl_external_sends_the_uid_in_hex() {
    assert_eq!(auth_request(0), b"\0AUTH EXTERNAL 30\r\n");
    assert_eq!(auth_request(1000), b"\0AUTH EXTERNAL 31303030\r\n");
    assert!(auth_accepted("OK 1234deadbeef\r\n"));
    assert!(!auth_accepted("REJECTED EXTERNAL\r\n"));
}
