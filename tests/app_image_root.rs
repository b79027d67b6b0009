//! Root-only: a real application image (Debian + nginx, built by
//! rootfs-tools/debian-app.sh) loaded with `rcorch load -i`, served on the
//! default bridge network and fetched over it, stopped with the image's
//! StopSignal (SIGQUIT) and removed without leftovers.
//! Opt-in: needs RCORCH_TEST_APP_IMAGE=path/to/debian-nginx.tar.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use common::{wait_for, TestEnv};

const IMAGE: &str = "debian-nginx:latest";
/// Written into index.html by debian-app.sh.
const MARKER: &str = "rcorch-debian-nginx-ok";

/// One `GET /` over plain TCP; the whole response (headers and body).
fn http_get(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: rcorch-test\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// `http_get` from inside the network namespace of `pid`, on a short-lived
/// thread so the test thread's own namespace never changes.
fn http_get_in_netns(pid: i64, addr: SocketAddr) -> std::io::Result<String> {
    std::thread::spawn(move || {
        let ns = File::open(format!("/proc/{pid}/ns/net"))?;
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
        http_get(addr)
    })
    .join()
    .expect("http thread panicked")
}

/// The container's address on the default `bridge` network.
fn bridge_ip(env: &TestEnv, name: &str) -> Ipv4Addr {
    let out = env.rcorch(&["network", "inspect", "bridge"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out).expect("network inspect JSON");
    let containers = v[0]["Containers"].as_object().expect("Containers map");
    let cidr = containers
        .values()
        .find(|c| c["Name"] == name)
        .and_then(|c| c["IPv4Address"].as_str())
        .unwrap_or_else(|| panic!("{name} not on bridge: {out}"));
    cidr.split('/').next().unwrap().parse().expect("IPv4")
}

#[test]
fn nginx_image_serves_over_the_bridge_and_stops_cleanly_on_sigquit() {
    let Some(archive) = std::env::var_os("RCORCH_TEST_APP_IMAGE") else {
        eprintln!("skipping: set RCORCH_TEST_APP_IMAGE (rootfs-tools/debian-app.sh builds it)");
        return;
    };
    let Some(env) = TestEnv::new() else { return };
    let archive = archive.to_str().expect("utf-8 archive path");
    let before = env.leftovers();

    let loaded = env.rcorch(&["load", "-i", archive]).ok();
    assert!(loaded.contains(IMAGE), "{loaded}");

    env.rcorch(&["run", "-d", "--name", "web", IMAGE]).ok();
    let state = env.inspect("web");
    assert_eq!(state["Config"]["StopSignal"], libc::SIGQUIT, "{state:#}");
    let cmd = serde_json::json!(["nginx", "-g", "daemon off;"]);
    assert_eq!(state["Config"]["Cmd"], cmd, "{state:#}");
    // The monitor stays in the namespace `run` was started in, where the
    // bridge and the host end of the container's veth live.
    let monitor = state["State"]["MonitorPid"].as_i64().expect("MonitorPid");
    let addr = SocketAddr::from((bridge_ip(&env, "web"), 80));

    // nginx needs a moment to bind; retry a bounded number of times.
    let mut last = Err(std::io::ErrorKind::NotConnected.into());
    wait_for(Duration::from_secs(20), || {
        last = http_get_in_netns(monitor, addr);
        last.is_ok()
    });
    let response = last.unwrap_or_else(|e| panic!("GET http://{addr}/: {e}"));
    eprintln!("--- response ---\n{response}");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(
        response
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("server: nginx")),
        "{response}"
    );
    assert!(response.contains(MARKER), "{response}");

    // Access log on stdout: the request shows up in `logs`.
    let mut logs = String::new();
    let logged = wait_for(Duration::from_secs(10), || {
        logs = env.rcorch(&["logs", "web"]).stdout;
        logs.contains("\"GET / HTTP/1.1\" 200") && logs.contains("rcorch-test")
    });
    assert!(logged, "no access log line in:\n{logs}");

    // SIGQUIT is nginx's graceful shutdown: it exits 0 well before the
    // SIGKILL deadline and says so on stderr.
    env.rcorch(&["stop", "web"]).ok();
    let state = env.inspect("web");
    assert_eq!(state["State"]["Running"], false, "{state:#}");
    assert_eq!(state["State"]["ExitCode"], 0, "{state:#}");
    let out = env.rcorch(&["logs", "web"]);
    assert!(
        out.stderr.contains("signal 3 (SIGQUIT) received"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("gracefully shutting down"),
        "{}",
        out.stderr
    );

    env.rcorch(&["rm", "web"]).ok();
    let out = env.rcorch(&["network", "inspect", "bridge"]).ok();
    assert!(!out.contains("\"web\""), "endpoint left on bridge: {out}");
    assert_eq!(env.leftovers(), before);
}
