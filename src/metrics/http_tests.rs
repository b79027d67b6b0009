use super::*;

#[test]
fn addresses_must_be_ip_and_port() {
    assert_eq!(parse_addr("127.0.0.1:9464").unwrap().port(), 9464);
    assert!(parse_addr("[::1]:9464").unwrap().is_ipv6());
    for bad in ["9464", "localhost:9464", "127.0.0.1", "127.0.0.1:99999", ""] {
        let err = parse_addr(bad).unwrap_err().to_string();
        assert!(err.contains("x-rcorch-metrics"), "{bad}: {err}");
    }
}

#[test]
fn request_head_parses_path_and_accept() {
    let head = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\naccept: application/openmetrics-text; version=1.0.0\r\n\r\n";
    assert_eq!(
        parse_request(head),
        Some(Request {
            method: "GET".into(),
            path: "/metrics".into(),
            accept: Some("application/openmetrics-text; version=1.0.0".into()),
        })
    );
    assert_eq!(parse_request(""), None);
}

#[test]
fn responses_by_path_and_method() {
    let render = |f: Format| format!("{f:?}");
    let req = |m: &str, p: &str, a: Option<&str>| Request {
        method: m.into(),
        path: p.into(),
        accept: a.map(String::from),
    };
    let (status, ctype, body) = respond(&req("GET", "/metrics", None), &render);
    assert_eq!((status, body.as_str()), ("200 OK", "Text"));
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let om = respond(
        &req("GET", "/metrics", Some("application/openmetrics-text")),
        &render,
    );
    assert_eq!(om.2, "OpenMetrics");
    assert!(om
        .1
        .starts_with("application/openmetrics-text; version=1.0.0"));
    assert_eq!(respond(&req("GET", "/", None), &render).0, "404 Not Found");
    assert_eq!(
        respond(&req("POST", "/metrics", None), &render).0,
        "405 Method Not Allowed"
    );
}

fn get(addr: SocketAddr, accept: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn server_answers_scrapes_and_a_taken_port_is_refused() {
    let listener = bind(parse_addr("127.0.0.1:0").unwrap()).unwrap();
    let server = serve(listener, |f| format!("up {f:?}\n")).unwrap();
    let reply = get(server.addr, "text/plain");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nup Text\n"), "{reply}");
    assert!(get(server.addr, "application/openmetrics-text").ends_with("up OpenMetrics\n"));
    match bind(server.addr) {
        Err(e @ MetricsError::InUse { .. }) => assert!(e.to_string().contains("already in use")),
        other => panic!("expected InUse, got {other:?}"),
    }
    let addr = server.addr;
    drop(server);
    // Stopped: the port is free again.
    drop(bind(addr).expect("port released"));
}

#[test]
fn a_stalled_client_delays_no_other_scrape() {
    let listener = bind(parse_addr("127.0.0.1:0").unwrap()).unwrap();
    let server = serve(listener, |_| "ok\n".to_string()).unwrap();
    // A client that keeps sending header lines and never ends its request
    // (so no read timeout frees a one-at-a-time server).
    let stop = Arc::new(AtomicBool::new(false));
    let mut slow = TcpStream::connect(server.addr).unwrap();
    let flag = stop.clone();
    let trickle = std::thread::spawn(move || {
        let _ = slow.write_all(b"GET /metrics HTTP/1.1\r\n");
        while !flag.load(Ordering::SeqCst) {
            if slow.write_all(b"X-Slow: 1\r\n").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let mut s = TcpStream::connect(server.addr).unwrap();
    // A guard against a hang, not a measurement.
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\n\r\n").unwrap();
    let mut out = String::new();
    let read = s.read_to_string(&mut out);
    stop.store(true, Ordering::SeqCst);
    trickle.join().unwrap();
    read.unwrap();
    assert!(out.ends_with("\r\n\r\nok\n"), "{out}");
}
