//! A minimal D-Bus wire codec (the D-Bus specification's "Message Protocol"):
//! little-endian messages with the header fields and the value types
//! systemd's Manager API needs. Pure: bytes in, bytes out; the socket lives
//! in `bus.rs`.

/// One D-Bus value. Arrays carry their element signature so an empty array
/// still marshals (and a variant holding it knows its type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I32(i32),
    U32(u32),
    U64(u64),
    Str(String),
    Path(String),
    Sig(String),
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    Variant(Box<Value>),
}

impl Value {
    /// The value's D-Bus type signature ("s", "au", "(sv)", …).
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::U64(_) => "t".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Sig(_) => "g".into(),
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::Variant(_) => "v".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Sig(s) => Some(s),
            _ => None,
        }
    }
}

/// A property as systemd's `a(sv)` arguments take it.
pub fn property(name: &str, value: Value) -> Value {
    Value::Struct(vec![
        Value::Str(name.into()),
        Value::Variant(Box::new(value)),
    ])
}

/// Why bytes could not be read as a D-Bus message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message truncated")]
    Truncated,
    #[error("not a little-endian D-Bus 1 message")]
    BadHeader,
    #[error("unsupported or malformed signature {0:?}")]
    BadSignature(String),
    #[error("string is not UTF-8")]
    BadString,
    #[error("unexpected reply: {0}")]
    Unexpected(&'static str),
}

/// The message types of the header's second byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MethodCall = 1,
    MethodReturn = 2,
    Error = 3,
    Signal = 4,
}

/// One message: the header fields rcorch uses, and the body's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub flags: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

impl Message {
    /// A method call of `interface.member` on `path`.
    pub fn call(path: &str, interface: &str, member: &str, body: Vec<Value>) -> Message {
        Message {
            kind: Kind::MethodCall,
            flags: 0,
            serial: 0,
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            error_name: None,
            reply_serial: None,
            destination: None,
            sender: None,
            body,
        }
    }

    pub fn body_signature(&self) -> String {
        self.body.iter().map(Value::signature).collect()
    }
}

/// Header field codes (the specification's table).
const PATH: u8 = 1;
const INTERFACE: u8 = 2;
const MEMBER: u8 = 3;
const ERROR_NAME: u8 = 4;
const REPLY_SERIAL: u8 = 5;
const DESTINATION: u8 = 6;
const SENDER: u8 = 7;
const SIGNATURE: u8 = 8;

/// Marshals `msg` (little-endian, protocol version 1).
pub fn encode(msg: &Message) -> Vec<u8> {
    let mut body = Vec::new();
    for v in &msg.body {
        put(&mut body, v);
    }
    let mut fields = Vec::new();
    let mut field = |code: u8, v: Option<Value>| {
        if let Some(v) = v {
            fields.push(Value::Struct(vec![
                Value::Byte(code),
                Value::Variant(Box::new(v)),
            ]));
        }
    };
    field(PATH, msg.path.clone().map(Value::Path));
    field(INTERFACE, msg.interface.clone().map(Value::Str));
    field(MEMBER, msg.member.clone().map(Value::Str));
    field(ERROR_NAME, msg.error_name.clone().map(Value::Str));
    field(REPLY_SERIAL, msg.reply_serial.map(Value::U32));
    field(DESTINATION, msg.destination.clone().map(Value::Str));
    field(SENDER, msg.sender.clone().map(Value::Str));
    let sig = msg.body_signature();
    field(SIGNATURE, (!sig.is_empty()).then_some(Value::Sig(sig)));
    let mut out = vec![b'l', msg.kind as u8, msg.flags, 1];
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&msg.serial.to_le_bytes());
    put(&mut out, &Value::Array("(yv)".into(), fields));
    pad(&mut out, 8);
    out.extend_from_slice(&body);
    out
}

/// The full length of the message that `buf` starts with, once its first
/// 16 bytes are there (None before).
pub fn message_len(buf: &[u8]) -> Option<Result<usize, DecodeError>> {
    if buf.len() < 16 {
        return None;
    }
    if buf[0] != b'l' || buf[3] != 1 {
        return Some(Err(DecodeError::BadHeader));
    }
    let body = u32::from_le_bytes(buf[4..8].try_into().ok()?) as usize;
    let fields = u32::from_le_bytes(buf[12..16].try_into().ok()?) as usize;
    Some(Ok(align(16 + fields, 8) + body))
}

/// Parses one whole message.
pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
    let total = message_len(buf).ok_or(DecodeError::Truncated)??;
    if buf.len() < total {
        return Err(DecodeError::Truncated);
    }
    let kind = match buf[1] {
        1 => Kind::MethodCall,
        2 => Kind::MethodReturn,
        3 => Kind::Error,
        4 => Kind::Signal,
        _ => return Err(DecodeError::BadHeader),
    };
    let mut r = Reader {
        buf: &buf[..total],
        pos: 12,
    };
    let Value::Array(_, fields) = r.value("a(yv)")? else {
        return Err(DecodeError::BadHeader);
    };
    let mut msg = Message {
        kind,
        flags: buf[2],
        serial: u32::from_le_bytes(buf[8..12].try_into().map_err(|_| DecodeError::Truncated)?),
        path: None,
        interface: None,
        member: None,
        error_name: None,
        reply_serial: None,
        destination: None,
        sender: None,
        body: Vec::new(),
    };
    let mut signature = String::new();
    for f in fields {
        let Value::Struct(pair) = f else { continue };
        let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (pair.first(), pair.get(1)) else {
            continue;
        };
        let text = v.as_str().map(str::to_string);
        match (*code, v.as_ref()) {
            (PATH, _) => msg.path = text,
            (INTERFACE, _) => msg.interface = text,
            (MEMBER, _) => msg.member = text,
            (ERROR_NAME, _) => msg.error_name = text,
            (REPLY_SERIAL, Value::U32(n)) => msg.reply_serial = Some(*n),
            (DESTINATION, _) => msg.destination = text,
            (SENDER, _) => msg.sender = text,
            (SIGNATURE, _) => signature = text.unwrap_or_default(),
            _ => {}
        }
    }
    r.pos = align(r.pos, 8);
    // Alignment counts from the message start, and the body starts 8-aligned.
    let mut rest = signature.as_str();
    while !rest.is_empty() {
        let (one, tail) = split_first_type(rest)?;
        msg.body.push(r.value(one)?);
        rest = tail;
    }
    Ok(msg)
}

fn align(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

fn pad(out: &mut Vec<u8>, to: usize) {
    out.resize(align(out.len(), to), 0);
}

/// The alignment of a type, from its signature's first character.
fn alignment(sig: &str) -> usize {
    match sig.as_bytes().first() {
        Some(b'y' | b'g' | b'v') => 1,
        Some(b't' | b'x' | b'd' | b'(' | b'{') => 8,
        _ => 4,
    }
}

fn put(out: &mut Vec<u8>, v: &Value) {
    pad(out, alignment(&v.signature()));
    match v {
        Value::Byte(b) => out.push(*b),
        Value::Bool(b) => out.extend_from_slice(&u32::from(*b).to_le_bytes()),
        Value::I32(n) => out.extend_from_slice(&n.to_le_bytes()),
        Value::U32(n) => out.extend_from_slice(&n.to_le_bytes()),
        Value::U64(n) => out.extend_from_slice(&n.to_le_bytes()),
        Value::Str(s) | Value::Path(s) => {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        Value::Sig(s) => {
            out.push(s.len() as u8);
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        Value::Array(elem, items) => {
            let len_at = out.len();
            out.extend_from_slice(&[0; 4]);
            // The length excludes the padding before the first element.
            pad(out, alignment(elem));
            let start = out.len();
            for item in items {
                put(out, item);
            }
            let len = (out.len() - start) as u32;
            out[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
        }
        Value::Struct(fields) => {
            for f in fields {
                put(out, f);
            }
        }
        Value::Variant(inner) => {
            put(out, &Value::Sig(inner.signature()));
            put(out, inner);
        }
    }
}

/// Splits the first complete type off a signature ("a(sv)s" → "a(sv)", "s").
fn split_first_type(sig: &str) -> Result<(&str, &str), DecodeError> {
    let bad = || DecodeError::BadSignature(sig.to_string());
    let bytes = sig.as_bytes();
    let mut i = 0;
    while bytes.get(i) == Some(&b'a') {
        i += 1;
    }
    match bytes.get(i) {
        Some(b'(' | b'{') => {
            let mut depth = 0;
            for (j, c) in bytes.iter().enumerate().skip(i) {
                match c {
                    b'(' | b'{' => depth += 1,
                    b')' | b'}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    return Ok(sig.split_at(j + 1));
                }
            }
            Err(bad())
        }
        Some(b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b's' | b'o' | b'g' | b'v') => {
            Ok(sig.split_at(i + 1))
        }
        _ => Err(bad()),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let bytes = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn text(&mut self, len: usize) -> Result<String, DecodeError> {
        let bytes = self.take(len + 1)?;
        String::from_utf8(bytes[..len].to_vec()).map_err(|_| DecodeError::BadString)
    }

    /// Reads one value of the single complete type `sig`.
    fn value(&mut self, sig: &str) -> Result<Value, DecodeError> {
        self.pos = align(self.pos, alignment(sig));
        let bad = || DecodeError::BadSignature(sig.to_string());
        Ok(match sig.as_bytes().first().ok_or_else(bad)? {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => Value::Bool(self.u32()? != 0),
            b'i' => Value::I32(self.u32()? as i32),
            b'u' => Value::U32(self.u32()?),
            b't' => {
                let b = self.take(8)?;
                Value::U64(u64::from_le_bytes(b.try_into().map_err(|_| bad())?))
            }
            b's' | b'o' => {
                let len = self.u32()? as usize;
                let s = self.text(len)?;
                if sig.starts_with('s') {
                    Value::Str(s)
                } else {
                    Value::Path(s)
                }
            }
            b'g' => {
                let len = usize::from(self.take(1)?[0]);
                Value::Sig(self.text(len)?)
            }
            b'v' => {
                let len = usize::from(self.take(1)?[0]);
                let inner = self.text(len)?;
                let (one, rest) = split_first_type(&inner)?;
                if !rest.is_empty() {
                    return Err(bad());
                }
                Value::Variant(Box::new(self.value(one)?))
            }
            b'a' => {
                let elem = &sig[1..];
                let len = self.u32()? as usize;
                self.pos = align(self.pos, alignment(elem));
                let end = self.pos + len;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem)?);
                }
                Value::Array(elem.to_string(), items)
            }
            b'(' | b'{' => {
                let mut rest = &sig[1..sig.len() - 1];
                let mut fields = Vec::new();
                while !rest.is_empty() {
                    let (one, tail) = split_first_type(rest)?;
                    fields.push(self.value(one)?);
                    rest = tail;
                }
                Value::Struct(fields)
            }
            _ => return Err(bad()),
        })
    }
}

/// The SASL line that authenticates as `uid` over a Unix socket (the
/// server checks it against the socket's peer credentials), after the
/// NUL byte the protocol starts with.
pub fn auth_request(uid: u32) -> Vec<u8> {
    let hex: String = uid
        .to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\0AUTH EXTERNAL {hex}\r\n").into_bytes()
}

/// Checks the server's answer to [`auth_request`]: "OK <guid>".
pub fn auth_accepted(line: &str) -> bool {
    line.trim_end().starts_with("OK ")
}

#[cfg(test)]
#[path = "dbus_tests.rs"]
mod tests;
