//! A network namespace of the test's own (lo up), held by a sleeping
//! process: servers (a registry, an HTTP server) listen in it and the
//! rcorch commands that reach them run in it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{Output, TestEnv};

const BIN: &str = env!("CARGO_BIN_EXE_rcorch");

/// A network namespace held by a sleeping process (lo up), gone with it.
pub struct Netns {
    holder: Child,
    servers: Vec<Child>,
}

impl Netns {
    pub fn new() -> Netns {
        let holder = Command::new("unshare")
            .args(["--net", "sh", "-c", "ip link set lo up && exec sleep 600"])
            .spawn()
            .expect("unshare a netns");
        let ns = Netns {
            holder,
            servers: Vec::new(),
        };
        let up = super::wait_for(Duration::from_secs(10), || {
            ns.enter(&["ip", "-o", "link", "show", "lo"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("UP"))
        });
        assert!(up, "lo did not come up in the test netns");
        ns
    }

    pub fn enter(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/proc/{}/ns/net", self.holder.id()))
            .arg("--")
            .args(argv);
        c
    }

    /// Starts a server in the namespace and waits for its port.
    pub fn serve(&mut self, argv: &[&str], dir: &Path, port: u16) {
        let child = self
            .enter(argv)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a server");
        self.servers.push(child);
        let probe = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
        let up = super::wait_for(Duration::from_secs(15), || {
            self.enter(&["bash", "-c", &probe])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        assert!(up, "{argv:?} did not listen on {port}");
    }

    /// rcorch in this namespace (and a private mount namespace).
    pub fn rcorch(&self, env: &TestEnv, args: &[&str], input: Option<&[u8]>) -> Output {
        let mut c = self.enter(&["unshare", "--mount", "--propagation", "private", BIN]);
        c.arg("--root")
            .arg(&env.root)
            .args(["--cgroup-parent", &env.cgroup_parent])
            .args(args)
            .env(
                "RCORCH_REGISTRY_CONFIG",
                env.scratch.join("registries.json"),
            )
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn rcorch");
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            std::io::Write::write_all(&mut stdin, data).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let o = Output {
            code: out.status.code().unwrap_or(128),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!("rcorch {args:?}: {o:#?}");
        o
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in self.servers.iter_mut().chain([&mut self.holder]) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
