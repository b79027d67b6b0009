//! The socket side of the D-Bus client: connect, authenticate, call a
//! method of systemd's Manager and read its reply. Everything it sends and
//! parses is built by `dbus.rs`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::dbus::{self, Kind, Message, Value};
use super::SystemdError;

/// systemd's own socket (peer to peer, root only, no broker).
pub const PRIVATE: &str = "/run/systemd/private";
/// The system bus (dbus-daemon or dbus-broker), where systemd1 is a name.
pub const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
pub const SOCKETS: [&str; 2] = [PRIVATE, SYSTEM_BUS];

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
/// systemd answers in milliseconds; a hung one must not hang `run`.
const REPLY_TIMEOUT: Duration = Duration::from_secs(25);

/// A connection to systemd.
pub struct Bus {
    stream: UnixStream,
    serial: u32,
    /// Set on the system bus, where messages are routed by name.
    destination: Option<&'static str>,
    buf: Vec<u8>,
}

impl Bus {
    /// Connects to systemd's private socket, else to the system bus.
    pub fn connect() -> Result<Bus, SystemdError> {
        let mut tried = Vec::new();
        for (path, brokered) in [(PRIVATE, false), (SYSTEM_BUS, true)] {
            match Bus::open(path, brokered) {
                Ok(bus) => return Ok(bus),
                Err(e) => tried.push(format!("{path}: {e}")),
            }
        }
        Err(SystemdError::Connect {
            tried: tried.join("; "),
        })
    }

    fn open(path: &str, brokered: bool) -> Result<Bus, SystemdError> {
        let stream = UnixStream::connect(path).map_err(SystemdError::Io)?;
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(SystemdError::Io)?;
        let mut bus = Bus {
            stream,
            serial: 0,
            destination: brokered.then_some(SYSTEMD),
            buf: Vec::new(),
        };
        bus.authenticate()?;
        if brokered {
            // A broker drops clients that do not say Hello first.
            let hello = Message::call(
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "Hello",
                Vec::new(),
            );
            let mut hello = hello;
            hello.destination = Some("org.freedesktop.DBus".into());
            bus.round_trip(hello, "Hello", "")?;
        }
        Ok(bus)
    }

    fn authenticate(&mut self) -> Result<(), SystemdError> {
        let uid = nix::unistd::geteuid().as_raw();
        self.stream
            .write_all(&dbus::auth_request(uid))
            .map_err(SystemdError::Io)?;
        let line = self.read_line()?;
        if !dbus::auth_accepted(&line) {
            return Err(SystemdError::Auth { reply: line });
        }
        self.stream
            .write_all(b"BEGIN\r\n")
            .map_err(SystemdError::Io)
    }

    fn read_line(&mut self) -> Result<String, SystemdError> {
        let mut byte = [0u8; 1];
        let mut line = Vec::new();
        while !line.ends_with(b"\r\n") && line.len() < 512 {
            match self.stream.read(&mut byte).map_err(SystemdError::Io)? {
                0 => break,
                _ => line.push(byte[0]),
            }
        }
        Ok(String::from_utf8_lossy(&line).trim_end().to_string())
    }

    /// Calls `member` of systemd's Manager; `unit` names what the call is
    /// about in errors. Returns the reply's values.
    pub fn manager_call(
        &mut self,
        member: &'static str,
        unit: &str,
        body: Vec<Value>,
    ) -> Result<Vec<Value>, SystemdError> {
        let mut msg = Message::call(MANAGER_PATH, MANAGER, member, body);
        msg.destination = self.destination.map(str::to_string);
        self.round_trip(msg, member, unit)
    }

    /// A property of `unit` (e.g. a scope's `Result`), through the unit's
    /// object path; fails for a unit systemd no longer has loaded.
    pub fn unit_property(
        &mut self,
        unit: &str,
        interface: &str,
        name: &str,
    ) -> Result<Value, SystemdError> {
        let reply = self.manager_call("GetUnit", unit, vec![Value::Str(unit.into())])?;
        let Some(Value::Path(path)) = reply.into_iter().next() else {
            return Err(SystemdError::Decode(dbus::DecodeError::Unexpected(
                "GetUnit returned no object path",
            )));
        };
        let body = vec![Value::Str(interface.into()), Value::Str(name.into())];
        let mut msg = Message::call(&path, PROPERTIES, "Get", body);
        msg.destination = self.destination.map(str::to_string);
        let reply = self.round_trip(msg, "Get", unit)?;
        match reply.into_iter().next() {
            Some(Value::Variant(value)) => Ok(*value),
            _ => Err(SystemdError::Decode(dbus::DecodeError::Unexpected(
                "Properties.Get returned no variant",
            ))),
        }
    }

    fn round_trip(
        &mut self,
        mut msg: Message,
        member: &'static str,
        unit: &str,
    ) -> Result<Vec<Value>, SystemdError> {
        self.serial += 1;
        msg.serial = self.serial;
        self.stream
            .write_all(&dbus::encode(&msg))
            .map_err(SystemdError::Io)?;
        loop {
            let reply = self.read_message()?;
            // Signals and others' traffic are not ours.
            if reply.reply_serial != Some(msg.serial) {
                continue;
            }
            return match reply.kind {
                Kind::Error => Err(SystemdError::Call {
                    method: member,
                    unit: unit.to_string(),
                    name: reply.error_name.unwrap_or_default(),
                    message: reply
                        .body
                        .first()
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                }),
                _ => Ok(reply.body),
            };
        }
    }

    fn read_message(&mut self) -> Result<Message, SystemdError> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(len) = dbus::message_len(&self.buf) {
                let len = len?;
                if self.buf.len() >= len {
                    let msg = dbus::decode(&self.buf[..len]);
                    self.buf.drain(..len);
                    return Ok(msg?);
                }
            }
            match self.stream.read(&mut chunk).map_err(SystemdError::Io)? {
                0 => {
                    return Err(SystemdError::Io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "systemd closed the connection",
                    )))
                }
                n => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}
