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
