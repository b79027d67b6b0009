# shellcheck shell=bash disable=SC2154 # globals of bench.sh
# Section `metrics` of scripts/bench.sh (sourced by it; uses its helpers and
# globals: rcorch, rcorch_state, tag, bench_row, skip_row, need_rcorch_image).
#
# The cost of one scrape (`rcorch metrics`: store, cgroup files, /proc per
# container) with 0, 1, 10 and 100 idle containers (--network none, sleep);
# the per-container cost is the slope (t100 - t0) / 100.

metrics_lines=()

section_metrics() {
    local n have=0 row t0="" t
    if ! need_rcorch_image; then
        skip_row metrics "scrape" "rcorch unusable"
        return
    fi
    for n in 0 1 10 100; do
        while [ "$have" -lt "$n" ]; do
            "$rcorch" --root "$rcorch_state" --cgroup-parent "$tag" run -d --network none \
                busybox sleep 100000 >/dev/null || { skip_row metrics "scrape, $n containers" "run failed"; return; }
            have=$((have + 1))
        done
        row="rcorch metrics, $n containers"
        bench_row metrics "$row" "$rcorch --root $rcorch_state metrics"
        t=${row_median[$((${#row_median[@]} - 1))]}
        [ "$n" -eq 0 ] && t0=$t
        if [ "$n" -gt 0 ] && [ -n "$t0" ] && [ -n "$t" ]; then
            metrics_lines+=("$n containers: $(awk -v t="$t" -v z="$t0" -v n="$n" 'BEGIN { printf "%.3f", (t - z) / n }') ms per container")
        fi
    done
    # shellcheck disable=SC2046 # one argument per id
    "$rcorch" --root "$rcorch_state" rm -f $("$rcorch" --root "$rcorch_state" ps -a -q) >/dev/null 2>&1
}

# Section `loop`: the supervisor's pass duration (its own histogram,
# rcorch_supervisor_loop_duration_seconds) over 20 s with no scrape, then
# with a scrape every 100 ms; 10 replicas with a 1 s health check keep the
# loop busy. In its own network namespace (the metrics address is loopback).
loop_lines=()

section_loop() {
    local row="supervisor pass, no scrape vs 10 scrapes/s" out idle_ms idle_n scraped_ms scraped_n scrapes
    need_rcorch_image || { skip_row loop "$row" "rcorch unusable"; return; }
    command -v python3 >/dev/null || { skip_row loop "$row" "python3 missing"; return; }
    echo
    echo "== [loop] $row (scripts/loop_bench.py, 10 replicas, 20 s windows)"
    if ! out=$(timeout 300 unshare --net --mount --propagation private \
        sh -c 'ip link set lo up && exec python3 "$0" "$@"' \
        "$repo/scripts/loop_bench.py" "$rcorch" "$rcorch_state" 10 20 10); then
        add_row loop "$row" "scripts/loop_bench.py" failed "" "" 0
        return
    fi
    # idle_mean idle_passes scraped_mean scraped_passes scrapes
    read -r idle_ms idle_n scraped_ms scraped_n scrapes <<<"$out"
    echo "-- no scrape: mean ${idle_ms} ms over ${idle_n} passes; scraped: ${scraped_ms} ms over ${scraped_n} passes (${scrapes} scrapes)"
    add_row loop "pass, no scrape (mean)" "scripts/loop_bench.py" ok "$idle_ms" "" 1
    add_row loop "pass, 10 scrapes/s (mean)" "scripts/loop_bench.py" ok "$scraped_ms" "" 0
    loop_lines+=("no scrape ${idle_ms} ms/pass (${idle_n} passes), 10 scrapes/s ${scraped_ms} ms/pass (${scraped_n} passes, ${scrapes} scrapes)")
}
