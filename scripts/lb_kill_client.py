#!/usr/bin/env python3
"""Failed requests while a replica dies (scripts/bench.sh --section lb).

CONNS threads each make HTTP/1.0 GETs to HOST:PORT for DURATION seconds,
a NEW TCP connection per request (the honest test for a connection
balancer: every request needs a fresh backend choice). At KILL_AT seconds
PID gets SIGKILL. A request fails when the connect or the response fails
or takes longer than TIMEOUT, or the answer is not a 200 with the whole
body. Prints one JSON object: totals, failures by kind, latency p50/p99/max
and when the failures and slow (> 500 ms) requests started relative to the
kill.
Usage: lb_kill_client.py HOST PORT DURATION KILL_AT PID [CONNS] [TIMEOUT]
"""
import json, os, signal, statistics, sys, threading, time

from http_probe import request

host, port = sys.argv[1], int(sys.argv[2])
duration, kill_at, pid = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
conns = int(sys.argv[6]) if len(sys.argv) > 6 else 4
timeout = float(sys.argv[7]) if len(sys.argv) > 7 else 2.0

results = []  # (start offset s, latency s, outcome)
lock = threading.Lock()


def one():
    return request(host, port, timeout)


def worker(t0):
    local = []
    while (now := time.monotonic()) - t0 < duration:
        outcome = one()
        local.append((now - t0, time.monotonic() - now, outcome))
    with lock:
        results.extend(local)


t0 = time.monotonic()
threads = [threading.Thread(target=worker, args=(t0,)) for _ in range(conns)]
for t in threads:
    t.start()
time.sleep(max(0.0, kill_at - (time.monotonic() - t0)))
os.kill(pid, signal.SIGKILL)
killed = time.monotonic() - t0
for t in threads:
    t.join()

lat = sorted(r[1] * 1000 for r in results)
failed = [r for r in results if r[2] != "ok"]
kinds = {}
for r in failed:
    kinds[r[2]] = kinds.get(r[2], 0) + 1
print(json.dumps({
    "total": len(results),
    "failed": len(failed),
    "kinds": kinds,
    "p50_ms": round(statistics.median(lat), 2) if lat else None,
    "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 2) if lat else None,
    "max_ms": round(lat[-1], 2) if lat else None,
    # Start of each failed request relative to the kill, in ms.
    "failed_at_ms": [round((r[0] - killed) * 1000) for r in sorted(failed)],
    # Start of each successful request that took over 500 ms (a SYN lost).
    "slow_at_ms": [round((r[0] - killed) * 1000) for r in sorted(results)
                   if r[2] == "ok" and r[1] > 0.5],
    "conns": conns,
    "duration_s": duration,
}))
