#!/usr/bin/env python3
"""Rolling update under load (scripts/bench.sh --section rollout).

Brings up REPLICAS busybox httpd replicas of one service behind published
port PORT, with a wget health check, and waits until every one is healthy.
Then CONNS threads make HTTP/1.0 GETs to 127.0.0.1:PORT, a NEW TCP
connection per request (a request fails when the connect or the response
fails, takes longer than 2 s, or is not a 200 with the whole body), while
`up -d` applies a changed definition with update_config parallelism 2 and
ORDER (start-first or stop-first):

- MODE `update`: an environment variable changes; reports the time from
  `up -d` until the event log says the update completed.
- MODE `rollback`: the health check of the new definition fails, with
  failure_action rollback; reports the time from the first new replica's
  `unhealthy` event to the `rollback ... completed` event (both event-log
  timestamps), and from `up -d` to that event.

Load runs on for 0.5 s after completion. Must run in a private network
namespace with lo up (bench.sh does). Prints one JSON object.
Usage: rollout_bench.py RCORCH ROOT CGROUP_PARENT ORDER MODE [REPLICAS] [PORT] [CONNS]
"""
import json, os, subprocess, sys, threading, time

from http_probe import request

rcorch, root, cgroup_parent, order, mode = sys.argv[1:6]
replicas = int(sys.argv[6]) if len(sys.argv) > 6 else 10
port = int(sys.argv[7]) if len(sys.argv) > 7 else 18090
conns = int(sys.argv[8]) if len(sys.argv) > 8 else 4
if order not in ("start-first", "stop-first") or mode not in ("update", "rollback"):
    sys.exit(__doc__)
project = f"ro-{mode}-{order.split('-')[0]}"
base = [rcorch, "--root", root, "--cgroup-parent", cgroup_parent]
workdir = os.path.join(root, f"{project}-bench")
os.makedirs(workdir, exist_ok=True)
compose_file = os.path.join(workdir, "compose.yaml")


def compose(value, check):
    return f"""name: {project}
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo $$V > /www/index.html && exec httpd -f -p 80 -h /www"]
    environment: {{ V: "{value}" }}
    ports: ["{port}:80"]
    init: true
    stop_grace_period: 2s
    healthcheck:
      test: {check}
      interval: 1s
      start_period: 2s
      start_interval: 100ms
      retries: 1
    deploy:
      replicas: {replicas}
      update_config: {{ parallelism: 2, order: {order}, monitor: 1s, failure_action: rollback }}
      rollback_config: {{ parallelism: 0, order: {order}, monitor: 1s }}
"""


GOOD = '["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]'
BAD = '["CMD", "false"]'


def rc(*args):
    return subprocess.run(base + list(args), capture_output=True, text=True, check=True).stdout


def up(value, check):
    with open(compose_file, "w") as f:
        f.write(compose(value, check))
    rc("up", "-d", "-f", compose_file, "-p", project, "--wait-timeout", "60")


def parse_time(t):
    secs, frac = t.rstrip("Z").split(".")
    return time.mktime(time.strptime(secs, "%Y-%m-%dT%H:%M:%S")) - time.timezone + float("0." + frac)


def events():
    path = os.path.join(root, "projects", project, "events.log")
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def wait_event(pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in events():
            if pred(e):
                return e
        time.sleep(0.05)
    return None


def one():
    return request("127.0.0.1", port, 2.0)


results = []  # (wall time started, outcome)
lock = threading.Lock()
stop = threading.Event()


def worker():
    local = []
    while not stop.is_set():
        started = time.time()
        local.append((started, one()))
    with lock:
        results.extend(local)


def main():
    up("one", GOOD)
    deadline = time.time() + 60
    while time.time() < deadline:
        if sum(1 for e in events() if e["action"] == "healthy") >= replicas:
            break
        time.sleep(0.1)
    else:
        sys.exit("the first replicas did not all turn healthy in 60 s")
    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    t_up = time.time()
    if mode == "update":
        up("two", GOOD)
        done = wait_event(
            lambda e: e["action"] == "update" and "revision 1 -> 2: completed" in e.get("detail", ""), 180)
    else:
        up("three", BAD)
        done = wait_event(
            lambda e: e["action"] == "rollback" and "-> 1: completed" in e.get("detail", ""), 180)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    out = {"mode": mode, "order": order, "replicas": replicas, "conns": conns}
    if done is None:
        out["error"] = "the rollout did not complete in 180 s"
    else:
        t_done = parse_time(done["time"])
        out["update_s"] = round(t_done - t_up, 3)
        if mode == "rollback":
            unhealthy = [parse_time(e["time"]) for e in events()
                         if e["action"] == "unhealthy" and parse_time(e["time"]) >= t_up]
            if unhealthy:
                out["unhealthy_to_rolled_back_s"] = round(t_done - min(unhealthy), 3)
    during = [r for r in results if r[0] >= t_up]
    failed = [r for r in results if r[1] != "ok"]
    kinds = {}
    for r in failed:
        kinds[r[1]] = kinds.get(r[1], 0) + 1
    out.update({
        "total": len(results),
        "during_update": len(during),
        "failed": len(failed),
        "kinds": kinds,
        # When each failure started, relative to `up -d`, in ms.
        "failed_at_ms": [round((r[0] - t_up) * 1000) for r in sorted(failed)],
    })
    print(json.dumps(out))


try:
    main()
finally:
    stop.set()
    subprocess.run(base + ["down", "-p", project], capture_output=True)
