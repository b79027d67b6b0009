#!/usr/bin/env python3
"""Self-healing time of rcorch's supervisor.

Brings up 3 busybox replicas, SIGKILLs a replica's PID 1 N times (rotating over
the three, 3.6 s apart, so each replacement has run 10 s before it is killed
again and the backoff has reset, as for a one-off crash) and, from the
project's event log, takes the time from each kill until:

- `running` (default): the supervisor had started the replacement (its
  process running: `start` is logged after `run` returned);
- `healthy`: the replacement passed its health check (`healthy` event for the
  replacement's container). The service's check is `true`, probed every
  100 ms in its start period (`start_interval`), so this adds the probe wait
  and one `exec` to the `running` figure.

Prints `median_ms p90_ms n`. Usage: selfheal_bench.py RCORCH ROOT N [running|healthy]
"""
import json, os, signal, statistics, subprocess, sys, tempfile, time

rcorch, root, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else "running"
if mode not in ("running", "healthy"):
    sys.exit(f"unknown mode {mode}: running or healthy")
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
if mode == "healthy":
    compose += """    healthcheck:
      test: ["CMD", "true"]
      interval: 30s
      start_period: 10s
      start_interval: 100ms
      retries: 1
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


def replaced(new_events, slot):
    """The event that ends a sample: the replacement's start, or (healthy
    mode) its first `healthy`."""
    starts = [e for e in new_events if e["action"] == "start" and e["slot"] == slot]
    if not starts or mode == "running":
        return starts[0] if starts else None
    container = starts[0]["container"]
    healthy = [e for e in new_events if e["action"] == "healthy" and e["container"] == container]
    return healthy[0] if healthy else None


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
                done = replaced(events()[seen:], slot)
                if done:
                    samples.append((parse_time(done["time"]) - t0) * 1000)
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
