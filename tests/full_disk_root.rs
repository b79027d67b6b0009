//! Root-only fault injection: rcorch's --root on a tiny tmpfs (in a mount
//! namespace of its own) filled to ENOSPC. Every record must then hold the
//! old state or the new one, never a torn one, no temporary may be left,
//! a command that cannot write fails cleanly, and once space is back the
//! next commands work on what is there.

use std::process::Command;

fn busybox_tar() -> Option<String> {
    std::env::var("RCORCH_TEST_BUSYBOX_TAR").ok()
}

#[test]
fn a_full_disk_leaves_every_record_whole_and_the_next_command_works() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let Some(tar) = busybox_tar() else {
        eprintln!("skipping: needs RCORCH_TEST_BUSYBOX_TAR");
        return;
    };
    let mnt = tempfile::tempdir().unwrap();
    let parent = format!("rcorch-test-full-{}", std::process::id());
    let script = format!(
        r#"
set -u
T={mnt}
mount -t tmpfs -o size=12m tmpfs $T || {{ echo "no-tmpfs"; exit 0; }}
R="{bin} --root $T/root --cgroup-parent {parent}"
$R import {tar} busybox >/dev/null || echo "import failed"
kept=$($R run -d --network none busybox sleep 30)
done=$($R run -d --network none busybox true)
sleep 0.3
$R volume create before >/dev/null
fill() {{ dd if=/dev/zero of=$T/fill bs=64k 2>/dev/null; dd if=/dev/zero of=$T/fill2 bs=1 2>/dev/null; }}
fill
echo "free=$(df --output=avail -B1 $T | tail -1 | tr -d ' ')"
# Writes that must fail cleanly (or succeed, if they fit), never tear.
$R stop -t 0 $kept >/dev/null 2>&1; echo "stop=$?"
$R volume create during >/dev/null 2>&1; echo "volume=$?"
$R run -d --network none busybox true >/dev/null 2>&1; echo "run=$?"
$R ps -a >/dev/null 2>&1; echo "ps-full=$?"
torn=0
for f in $(find $T/root -name '*.json' -not -path '*/layers/*' -not -path '*/blobs/*'); do
  jq empty $f 2>/dev/null || {{ echo "torn: $f"; torn=$((torn+1)); }}
done
echo "torn=$torn"
echo "temporaries=$(find $T/root -name '*.tmp*' | wc -l)"
rm -f $T/fill $T/fill2
$R ps -a >/dev/null 2>&1; echo "ps=$?"
echo "containers=$($R ps -aq | wc -l)"
echo "kept-status=$($R inspect $kept | jq -r '.[0].State.Status')"
$R rm -f $kept $done >/dev/null; echo "rm=$?"
$R run --rm --network none busybox true; echo "run-after=$?"
echo "check=$($R system check >/dev/null; echo $?)"
echo "left=$($R ps -aq | wc -l)"
"#,
        mnt = mnt.path().display(),
        bin = env!("CARGO_BIN_EXE_rcorch"),
    );
    let out = Command::new("unshare")
        .args([
            "--net",
            "--mount",
            "--propagation",
            "private",
            "bash",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(hierarchy.path().join(&parent));
    }
    eprintln!("--- script output ---\n{text}");
    if text.contains("no-tmpfs") {
        eprintln!("skipping: cannot mount tmpfs");
        return;
    }
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= in:\n{text}"))
            .to_string()
    };
    assert!(!text.contains("import failed"), "{text}");
    assert!(
        value("free").parse::<u64>().unwrap() < 4096,
        "not full:\n{text}"
    );
    assert_eq!(value("torn"), "0", "{text}");
    assert_eq!(value("temporaries"), "0", "{text}");
    assert_ne!(
        value("volume"),
        "0",
        "a volume created on a full disk:\n{text}"
    );
    assert_eq!(value("run"), "125", "{text}");
    assert_eq!(value("ps-full"), "0", "{text}");
    assert_eq!(value("ps"), "0", "{text}");
    assert_eq!(
        value("containers"),
        "2",
        "a failed run left a record:\n{text}"
    );
    assert_eq!(value("kept-status"), "exited", "{text}");
    assert_eq!(value("rm"), "0", "{text}");
    assert_eq!(value("run-after"), "0", "{text}");
    assert_eq!(value("check"), "0", "{text}");
    assert_eq!(value("left"), "0", "{text}");
}
