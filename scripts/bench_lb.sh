# shellcheck shell=bash disable=SC2154 # globals of bench.sh
# Section `lb` of scripts/bench.sh (sourced by it; uses its helpers and
# globals: rcorch, rcorch_state, tag, tmp, repo, cleanup_hooks, skip_row,
# add_row, new_netns, need_rcorch_image).
#
# Three busybox httpd replicas of one compose service serve a 1 KiB file on
# a published port, balanced in the kernel by rcorch; haproxy (tcp and http
# frontends, roundrobin, the same three replica addresses) runs in the same
# private netns. wrk measures each in interleaved rounds; then one replica is
# SIGKILLed under load (scripts/lb_kill_client.py, a new connection per
# request), once behind rcorch and once behind haproxy.
# Tunables (environment): RCORCH_BENCH_LB_ROUNDS (3), RCORCH_BENCH_LB_SECONDS
# (10), RCORCH_BENCH_LB_WRK ("-t2 -c16").

lb_project=lbbench
lb_port=18080       # rcorch's published port
lb_tcp_port=18081   # haproxy, mode tcp
lb_http_port=18082  # haproxy, mode http
lb_lines=()

# lb_members: how many web replicas the balancer sends to.
lb_members() {
    $lb_r ps --format json |
        jq '[.[] | select(.Service == "web" and .Balancer == "member")] | length'
}

lb_wait_members() { # N
    local i
    for i in $(seq 300); do
        [ "$(lb_members)" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

lb_compose() {
    cat >"$tmp/lb/compose.yaml" <<EOF
name: $lb_project
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && head -c 1024 /dev/zero | tr '\\\\0' x > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["$lb_port:80"]
    restart: always
    stop_grace_period: 1s
    deploy:
      replicas: 3
EOF
}

# lb_haproxy: (re)starts haproxy with the balancer's current members; the
# first one's address in lb_first_ip.
# Failover settings a production config would have: health checks every
# 500 ms, one retry redispatched to another server.
lb_haproxy_pid=""
lb_first_ip=""
lb_haproxy() {
    local ips ip i=0 servers=""
    [ -n "$lb_haproxy_pid" ] && kill "$lb_haproxy_pid" 2>/dev/null && wait "$lb_haproxy_pid" 2>/dev/null
    ips=$($lb_r inspect "$lb_project-web-1" | jq -r '.[0].LoadBalancer.Members[]')
    for ip in $ips; do
        i=$((i + 1))
        servers="$servers  server s$i $ip:80
"
    done
    cat >"$tmp/lb/haproxy.cfg" <<EOF
global
  maxconn 4096
defaults
  timeout connect 500ms
  timeout client 30s
  timeout server 30s
  retries 1
  option redispatch
  default-server check inter 500ms fall 1 rise 1
frontend tcp_f
  mode tcp
  bind 127.0.0.1:$lb_tcp_port
  default_backend tcp_b
backend tcp_b
  mode tcp
  balance roundrobin
$servers
frontend http_f
  mode http
  bind 127.0.0.1:$lb_http_port
  default_backend http_b
backend http_b
  mode http
  balance roundrobin
$servers
EOF
    $lb_ns haproxy -f "$tmp/lb/haproxy.cfg" -db >>"$tmp/lb/haproxy.log" 2>&1 &
    lb_haproxy_pid=$!
    cleanup_hooks+=("kill $lb_haproxy_pid")
    sleep 0.5
    lb_first_ip=$(echo "$ips" | head -n 1)
}

# lb_wrk URL: one wrk run; prints "requests/s p99_ms errors".
lb_wrk() {
    local wrk_opts
    read -ra wrk_opts <<<"${RCORCH_BENCH_LB_WRK:--t2 -c16}"
    $lb_ns wrk "${wrk_opts[@]}" -d "${RCORCH_BENCH_LB_SECONDS:-10}s" --latency \
        -s "$tmp/lb/report.lua" "$1" 2>&1 | awk '$1 == "RESULT" { print $2, $3, $4 }'
}

lb_median() { # values...
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2];
        else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# lb_kill NAME PORT CONTAINER: kill CONTAINER's PID 1 3 s into an 8 s run
# of new-connection requests to 127.0.0.1:PORT; waits for the replacement.
lb_kill() {
    local pid out
    pid=$($lb_r inspect "$3" | jq -r '.[0].State.Pid')
    out=$($lb_ns timeout 60 python3 "$repo/scripts/lb_kill_client.py" 127.0.0.1 "$2" 8 3 "$pid" 4 2)
    if [ -z "$out" ]; then
        lb_lines+=("kill under load ($1): failed to run")
    else
        echo "-- kill under load ($1): $out"
        lb_lines+=("kill under load ($1): $(jq -r '"\(.failed) failed of \(.total) requests \(.kinds); latency p99 \(.p99_ms) ms, max \(.max_ms) ms; failures started at \(.failed_at_ms) ms, requests over 500 ms at \(.slow_at_ms) ms from the kill"' <<<"$out")")
    fi
    lb_wait_members 3 || echo "-- the killed replica was not replaced in 30 s"
}

section_lb() {
    local s=lb tool target round v rps p99 err
    for tool in wrk haproxy python3; do
        if ! command -v "$tool" >/dev/null; then
            echo "note: section lb needs $tool (apt-get install wrk haproxy); skipping it"
            skip_row "$s" "load balancer" "$tool not installed"
            return 0
        fi
    done
    if ! need_rcorch_image; then
        skip_row "$s" "load balancer" "rcorch setup failed"
        return 0
    fi
    mkdir -p "$tmp/lb"
    new_netns
    lb_ns="nsenter -t $netns_holder -n"
    lb_r="$lb_ns $rcorch --root $rcorch_state --cgroup-parent $tag"
    cleanup_hooks+=("$lb_r down -p $lb_project")
    lb_compose
    echo
    echo "== [lb] 3 busybox httpd replicas, 1 KiB file; wrk ${RCORCH_BENCH_LB_WRK:--t2 -c16} -d ${RCORCH_BENCH_LB_SECONDS:-10}s"
    if ! $lb_r up -d -f "$tmp/lb/compose.yaml" >/dev/null || ! lb_wait_members 3; then
        add_row "$s" "load balancer" "rcorch up -d -f compose.yaml" failed "" "" 0
        return 0
    fi
    cat >"$tmp/lb/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.1f %.2f %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
EOF
    lb_haproxy
    declare -A url=(
        [rcorch]="http://127.0.0.1:$lb_port/"
        ["haproxy tcp"]="http://127.0.0.1:$lb_tcp_port/"
        ["haproxy http"]="http://127.0.0.1:$lb_http_port/"
        ["direct, 1 replica"]="http://$lb_first_ip:80/"
    )
    local targets=(rcorch "haproxy tcp" "haproxy http" "direct, 1 replica")
    declare -A all_rps=() all_p99=() all_err=()
    for round in $(seq "${RCORCH_BENCH_LB_ROUNDS:-3}"); do
        for target in "${targets[@]}"; do
            v=$(lb_wrk "${url[$target]}")
            echo "-- round $round, $target (${url[$target]}): req/s p99_ms errors = ${v:-failed}"
            [ -n "$v" ] || continue
            read -r rps p99 err <<<"$v"
            all_rps[$target]+="$rps "
            all_p99[$target]+="$p99 "
            all_err[$target]+="$err "
        done
    done
    local ref_rps
    # shellcheck disable=SC2086 # word lists on purpose
    ref_rps=$(lb_median ${all_rps[rcorch]:-})
    lb_lines+=("$(printf '%-18s | %9s | %9s | %10s | %s' target "req/s" "p99 ms" "vs rcorch" "rounds: req/s (errors)")")
    for target in "${targets[@]}"; do
        # shellcheck disable=SC2086
        rps=$(lb_median ${all_rps[$target]:-})
        # shellcheck disable=SC2086
        p99=$(lb_median ${all_p99[$target]:-})
        lb_lines+=("$(printf '%-18s | %9s | %9s | %10s | %s' "$target" "$rps" "$p99" \
            "$(ratio "$rps" "$ref_rps")" "${all_rps[$target]:-}(${all_err[$target]:-})")")
        # The main table gets the p99 latencies (ratios to rcorch).
        local kind=0
        [ "$target" = rcorch ] && kind=1
        if [ "$p99" = n/a ]; then
            add_row "$s" "p99 $target" "wrk ${url[$target]}" failed "" "" "$kind"
        else
            add_row "$s" "p99 $target" "wrk ${RCORCH_BENCH_LB_WRK:--t2 -c16} -d ${RCORCH_BENCH_LB_SECONDS:-10}s --latency ${url[$target]}" ok "$p99" "" "$kind"
        fi
    done
    # shellcheck disable=SC2086
    v=$(lb_median ${all_rps["haproxy tcp"]:-})
    if [ "$ref_rps" != n/a ] && [ "$v" != n/a ]; then
        lb_lines+=("rcorch/haproxy tcp req/s: $(ratio "$ref_rps" "$v")")
    fi

    lb_kill rcorch "$lb_port" "$lb_project-web-2"
    lb_haproxy # the replacement's new address
    lb_kill "haproxy tcp" "$lb_tcp_port" "$lb_project-web-1"
    $lb_r down -p "$lb_project" >/dev/null
}
