//! Root-only: `forget_udp_flows_to` deletes exactly the UDP conntrack
//! entries DNAT'd to the given member, in a network namespace of this test's
//! own thread (unshare affects the calling thread only).

use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;

use rcorch::network::conntrack::forget_udp_flows_to;

fn sh(script: &str) {
    let out = Command::new("sh").args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn udp_flows_to_a_departed_member_are_deleted_and_others_kept() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    // This thread (and the commands it spawns) get a namespace of their own.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    sh("ip link set lo up && nft -f - <<'EOF'
table ip cttest {
  chain out { type nat hook output priority -100;
    ip daddr 127.0.0.5 udp dport 9999 dnat to 127.0.0.2
    ip daddr 127.0.0.6 udp dport 9999 dnat to 127.0.0.3
  }
}
EOF");
    let send = |to: &str| {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.send_to(b"x", (to, 9999)).unwrap();
        s
    };
    let _flows = [send("127.0.0.5"), send("127.0.0.5"), send("127.0.0.6")];
    let member = Ipv4Addr::new(127, 0, 0, 2);
    assert_eq!(forget_udp_flows_to(&[member]).unwrap(), 2);
    assert_eq!(forget_udp_flows_to(&[member]).unwrap(), 0, "gone");
    let other = Ipv4Addr::new(127, 0, 0, 3);
    assert_eq!(
        forget_udp_flows_to(&[other]).unwrap(),
        1,
        "kept until asked"
    );
    assert_eq!(forget_udp_flows_to(&[]).unwrap(), 0);
}
