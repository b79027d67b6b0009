#!/usr/bin/env python3
"""Self-healing time of rcorch's supervisor.

Brings up 3 busybox replicas, SIGKILLs a replica's PID 1 N times (rotating over
the three, 3.6 s apart, so each replacement has run 10 s before it is killed
again and the backoff has reset, as for a one-off crash) and, from the
project's event log, takes the time from each kill until the supervisor had
started the replacement (its process running: `start` is logged after `run`
returned). Prints `median_ms p90_ms n`. Usage: selfheal_bench.py RCORCH ROOT N
"""
import json, os, signal, statistics, subprocess, sys, tempfile, time

rcorch, root, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = [rcorch, "--root", root, "--cgroup-parent", "rcorch-bench"]
compose = """name: heal
services:
  web:
    image: busybox
    command: ["sleep", "100000"]
    init: true
    restart: always
    stop_grace_period: 1s
    deploy:
      replicas: 3
"""


def rc(*args):
    return subprocess.run(base + list(args), capture_output=True, text=True, check=True).stdout


def parse_time(t):
    secs, frac = t.rstrip("Z").split(".")
    return time.mktime(time.strptime(secs, "%Y-%m-%dT%H:%M:%S")) - time.timezone + float("0." + frac)


def events():
    path = os.path.join(root, "projects", "heal", "events.log")
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "compose.yaml")
    with open(path, "w") as f:
        f.write(compose)
    rc("up", "-d", "-f", path)
    samples = []
    try:
        for i in range(runs):
            slot = i % 3 + 1
            pid = json.loads(rc("inspect", f"heal-web-{slot}"))[0]["State"]["Pid"]
            seen = len(events())
            t0 = time.time()
            os.kill(pid, signal.SIGKILL)
            deadline = t0 + 10
            while time.time() < deadline:
                new = [e for e in events()[seen:] if e["action"] == "start" and e["slot"] == slot]
                if new:
                    samples.append((parse_time(new[0]["time"]) - t0) * 1000)
                    break
                time.sleep(0.005)
            time.sleep(3.6)
    finally:
        rc("down", "-p", "heal")
        # The benchmark's own cgroup parent, now empty, in every hierarchy.
        for top in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            for d in [os.path.join(top, "rcorch-bench")] + [
                os.path.join(top, c, "rcorch-bench") for c in ("memory", "cpu", "cpuacct", "pids")
            ]:
                try:
                    os.rmdir(d)
                except OSError:
                    pass
    samples.sort()
    print(f"{statistics.median(samples):.1f} {samples[int(len(samples) * 0.9) - 1]:.1f} {len(samples)}")
