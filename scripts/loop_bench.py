#!/usr/bin/env python3
"""The supervisor's loop latency with and without scraping.

Brings up N busybox replicas (no network) with a health check probed every
second, so the supervisor makes passes all the time (each probe's start and
end), and serves /metrics on 127.0.0.1:19470 (run it in a private network
namespace). The mean pass duration over a window comes from the deltas of
`rcorch_supervisor_loop_duration_seconds_{sum,count}`: first a window with
no scrape but the two bracketing it, then one with a scrape every 1/RATE s
(Prometheus scrapes every 15 s; RATE=10 is the heavy case).

Prints `idle_mean_ms idle_passes scraped_mean_ms scraped_passes scrapes`.
Usage: loop_bench.py RCORCH ROOT [REPLICAS=10] [SECONDS=20] [RATE=10]
"""
import os, subprocess, sys, tempfile, threading, time, urllib.request

rcorch, root = sys.argv[1], sys.argv[2]
replicas = int(sys.argv[3]) if len(sys.argv) > 3 else 10
window = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
rate = float(sys.argv[5]) if len(sys.argv) > 5 else 10.0
ADDR = "127.0.0.1:19470"
# bench.sh exports its own parent, which its cleanup removes.
parent = os.environ.get("RCORCH_CGROUP_PARENT", "rcorch-loop-bench")
base = [rcorch, "--root", root, "--cgroup-parent", parent]
compose = f"""name: loopb
services:
  web:
    image: busybox
    command: ["sleep", "100000"]
    init: true
    network_mode: none
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      retries: 3
    deploy:
      replicas: {replicas}
"""
LOOP = 'rcorch_supervisor_loop_duration_seconds'
LABELS = '{project="loopb"}'


def rc(*args):
    return subprocess.run(base + list(args), capture_output=True, text=True, check=True).stdout


def scrape():
    with urllib.request.urlopen(f"http://{ADDR}/metrics", timeout=5) as r:
        return r.read().decode()


def value(text, name):
    prefix = name + LABELS + " "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):])
    return None


def loop_figures():
    text = scrape()
    return value(text, LOOP + "_sum"), value(text, LOOP + "_count")


def healthy(text):
    return sum(1 for l in text.splitlines()
               if l.startswith("rcorch_replica_health_status{") and 'status="healthy"' in l
               and l.endswith(" 1"))


def window_mean(during=None):
    s0, c0 = loop_figures()
    stop = threading.Event()
    count = [0]
    worker = None
    if during:
        worker = threading.Thread(target=during, args=(stop, count))
        worker.start()
    time.sleep(window)
    stop.set()
    if worker:
        worker.join()
    s1, c1 = loop_figures()
    passes = c1 - c0
    return (1000 * (s1 - s0) / passes if passes else float("nan")), int(passes), count[0]


def scraping(stop, count):
    period = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        scrape()
        count[0] += 1
        next_at += period
        stop.wait(max(0.0, next_at - time.monotonic()))


with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "compose.yaml")
    with open(path, "w") as f:
        f.write(compose)
    try:
        rc("up", "-d", "-f", path, "--metrics", ADDR)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if healthy(scrape()) == replicas:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            sys.exit("replicas never all healthy")
        time.sleep(2)  # let the start-up passes leave the window
        idle = window_mean()
        scraped = window_mean(scraping)
        print(f"{idle[0]:.3f} {idle[1]} {scraped[0]:.3f} {scraped[1]} {scraped[2]}")
    finally:
        subprocess.run(base + ["down", "-p", "loopb"], capture_output=True)
