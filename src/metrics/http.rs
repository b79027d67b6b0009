//! `/metrics` over HTTP from a thread of its own.
//!
//! A std `TcpListener` thread, not hyper/axum on tokio: the supervisor is
//! a synchronous poll loop, a scrape is one small GET answered with
//! `Connection: close`, and a thread keeps scrapes entirely off the loop
//! (the loop only swaps a snapshot the thread copies).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::Format;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(
        "invalid metrics address {value:?}: expected IP:PORT, e.g. 127.0.0.1:9464 \
         (x-rcorch-metrics in the compose file, or up --metrics)"
    )]
    BadAddress { value: String },
    #[error(
        "metrics address {addr} is already in use by another process: pick a free \
         port in x-rcorch-metrics or up --metrics"
    )]
    InUse { addr: SocketAddr },
    #[error("cannot listen on metrics address {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// Parses `IP:PORT` (`[::1]:9464` for IPv6); a host name is refused, since
/// resolving it would make `up` depend on DNS.
pub fn parse_addr(value: &str) -> Result<SocketAddr, MetricsError> {
    value.trim().parse().map_err(|_| MetricsError::BadAddress {
        value: value.to_string(),
    })
}

pub fn bind(addr: SocketAddr) -> Result<TcpListener, MetricsError> {
    TcpListener::bind(addr).map_err(|source| match source.kind() {
        io::ErrorKind::AddrInUse => MetricsError::InUse { addr },
        _ => MetricsError::Bind { addr, source },
    })
}

/// A running server; dropping it stops it and frees its port.
pub struct Server {
    pub addr: SocketAddr,
    /// The listening socket, shut down on drop to end the blocked accept
    /// (connecting to ourselves would not work with loopback down).
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Scrapes answered at once; more are closed unanswered (a scraper retries).
const MAX_IN_FLIGHT: usize = 4;

/// Serves `render` at `/metrics` on `listener` until the `Server` is
/// dropped. Each connection gets its own short-lived thread, so a client
/// that stalls delays no other scrape (and never the caller).
pub fn serve(
    listener: TcpListener,
    render: impl Fn(Format) -> String + Send + Sync + 'static,
) -> io::Result<Server> {
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let accepting = listener.try_clone()?;
    let render: Arc<dyn Fn(Format) -> String + Send + Sync> = Arc::new(render);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let thread = std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || loop {
            let stream = match accepting.accept() {
                _ if flag.load(Ordering::SeqCst) => return,
                Ok((stream, _)) => stream,
                // EINVAL: the socket was shut down.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return,
                Err(_) => continue,
            };
            if in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
                in_flight.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            let (render, done) = (render.clone(), in_flight.clone());
            let spawned = std::thread::Builder::new()
                .name("metrics-scrape".into())
                .spawn(move || {
                    let _ = answer(stream, render.as_ref());
                    done.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        })?;
    Ok(Server {
        addr,
        listener,
        stop,
        thread: Some(thread),
    })
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // SAFETY: shutdown on a socket fd we own; it only wakes the accept.
        unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The request line's method and path, and the `Accept` header.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub accept: Option<String>,
}

/// Parses an HTTP/1.x request head (up to the blank line).
pub fn parse_request(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let target = first.next()?;
    let path = target.split('?').next().unwrap_or(target).to_string();
    let accept = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("accept")
            .then(|| value.trim().to_string())
    });
    Some(Request {
        method,
        path,
        accept,
    })
}

/// The status line, content type and body for `request`.
pub fn respond(
    request: &Request,
    render: &dyn Fn(Format) -> String,
) -> (&'static str, String, String) {
    let text = "text/plain; charset=utf-8".to_string();
    match (request.method.as_str(), request.path.as_str()) {
        ("GET" | "HEAD", "/metrics") => {
            let format = Format::from_accept(request.accept.as_deref());
            ("200 OK", format.content_type().into(), render(format))
        }
        ("GET" | "HEAD", _) => ("404 Not Found", text, "metrics are at /metrics\n".into()),
        _ => ("405 Method Not Allowed", text, "only GET\n".into()),
    }
}

fn answer(mut stream: TcpStream, render: &dyn Fn(Format) -> String) -> io::Result<()> {
    // A client that never sends its request must not hold the thread.
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let Some(request) = parse_request(&String::from_utf8_lossy(&head)) else {
        return Ok(());
    };
    let (status, content_type, body) = respond(&request, render);
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes())?;
    if request.method != "HEAD" {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
