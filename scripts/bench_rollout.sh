# shellcheck shell=bash disable=SC2154 # globals of bench.sh
# Section `rollout` of scripts/bench.sh (sourced by it; uses its helpers and
# globals: rcorch, rcorch_state, tag, repo, add_row, skip_row, need_rcorch_image).
#
# scripts/rollout_bench.py, in its own network namespace per run: 10 busybox
# httpd replicas behind a published port with a wget health check, 4 client
# threads making a new connection per request, and `up -d` with a changed
# environment variable (update_config parallelism 2, monitor 1 s; order
# start-first, then stop-first): failed requests (target 0) and the time from
# `up -d` to the update's `completed` event. Then a failing update (health
# check `false`, failure_action rollback): time from the first `unhealthy`
# event to the rollback's `completed` event.
# Tunables (environment): RCORCH_BENCH_ROLLOUT_RUNS (3).

rollout_lines=()

rollout_run() { # ORDER MODE
    timeout 300 unshare --net --mount --propagation private sh -c \
        "ip link set lo up; exec python3 '$repo/scripts/rollout_bench.py' '$rcorch' '$rcorch_state' '$tag' $1 $2"
}

section_rollout() {
    local s=rollout order mode run out figures failed key
    if ! need_rcorch_image || ! command -v python3 >/dev/null; then
        skip_row "$s" "rolling update" "rcorch unusable or python3 missing"
        return 0
    fi
    for mode in update rollback; do
        for order in start-first stop-first; do
            figures="" failed=""
            key=update_s
            [ "$mode" = rollback ] && key=unhealthy_to_rolled_back_s
            echo
            echo "== [rollout] $mode, 10 replicas, parallelism 2, $order, under load"
            for run in $(seq "${RCORCH_BENCH_ROLLOUT_RUNS:-3}"); do
                out=$(rollout_run "$order" "$mode")
                echo "-- run $run: ${out:-failed}"
                if [ -z "$out" ] || ! jq -e ".$key" <<<"$out" >/dev/null; then
                    continue
                fi
                figures+="$(jq ".$key * 1000" <<<"$out") "
                failed+="$(jq -r '"\(.failed)/\(.total)"' <<<"$out") "
            done
            local name="$mode $order"
            # The table column is 20 wide: "rollback" stands for unhealthy -> rolled back.
            if [ -z "$figures" ]; then
                add_row "$s" "$name" "scripts/rollout_bench.py RCORCH ROOT CG $order $mode" failed "" "" 0
                continue
            fi
            # shellcheck disable=SC2086 # word list on purpose
            add_row "$s" "$name" "scripts/rollout_bench.py RCORCH ROOT CG $order $mode" ok \
                "$(printf '%s\n' $figures | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" "" 0
            rollout_lines+=("$(printf '%-34s | runs (ms): %s| failed/total requests: %s' "$name" "$figures" "$failed")")
        done
    done
}
