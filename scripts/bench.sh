#!/usr/bin/env bash
# Benchmark rcorch against the namespace floor, runc, crun and podman with
# hyperfine, on the same busybox rootfs, and print one table.
#
# Usage: sudo scripts/bench.sh [--rcorch BIN] [--rcorch-runtime BIN] [--runs N] [--warmup N]
#                              [--section NAME]... [--json-dir DIR]
# Sections: startup (default), network (bridge vs --network none, and TCP
# throughput container to container vs loopback, in a private netns), unpack (layer unpack vs GNU tar, 10-layer vs 1-layer run, load and
# pull throughput), selfheal, lb (rcorch's kernel load balancer vs haproxy
# with wrk, and failed requests while a replica is killed; needs wrk, haproxy),
# rollout (rolling update of 10 replicas under load: failed requests, update
# time, and unhealthy -> rolled back for a failing update; scripts/rollout_bench.py),
# build (rcorch build vs podman build: cold, unchanged rebuild, one file changed),
# oci (create + start + wait until stopped + delete of a busybox `true` bundle,
# as a shim drives its runtime: rcorch-runtime vs runc vs crun).
# metrics (one `rcorch metrics` scrape with 0, 1, 10, 100 containers).
# loop (the supervisor's pass duration with no scrape vs 10 scrapes/s).
# Rows whose tool is missing print "skipped"; rows whose command fails print
# "failed" (the bench itself still succeeds). Everything it creates lives in
# one temp dir and is removed on exit, host leftovers of runc/crun/podman too.
set -uo pipefail
exec </dev/null

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

rcorch="$repo/target/release/rcorch"
rcorch_runtime=""
runs=30
warmup=3
sections=()
json_dir=""

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

die() {
    echo "bench.sh: error: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --rcorch) rcorch="${2:?}"; shift 2 ;;
        --rcorch-runtime) rcorch_runtime="${2:?}"; shift 2 ;;
        --runs) runs="${2:?}"; shift 2 ;;
        --warmup) warmup="${2:?}"; shift 2 ;;
        --section) sections+=("${2:?}"); shift 2 ;;
        --json-dir) json_dir="${2:?}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[ ${#sections[@]} -gt 0 ] || sections=(startup)
# The OCI runtime binary sits next to rcorch unless given.
[ -n "$rcorch_runtime" ] || rcorch_runtime="$(dirname "$rcorch")/rcorch-runtime"

[ "$(id -u)" -eq 0 ] || die "run as root (containers need it)"
command -v hyperfine >/dev/null || die "hyperfine not found (apt-get install hyperfine)"
command -v jq >/dev/null || die "jq not found (apt-get install jq)"

tmp=$(mktemp -d /tmp/rcorch-bench.XXXXXX)
# Unique cgroup parent for podman so cleanup removes exactly what we made.
tag="rcorch-bench-$$"
# Every rcorch call without its own --cgroup-parent lands under it too.
export RCORCH_CGROUP_PARENT="$tag"

# ---------------------------------------------------------------- cleanup --

# Host paths runc/crun/podman may create outside their configured roots:
# remember which already exist, remove only the ones that appear.
host_paths=(/run/runc /run/crun /run/containers /run/mount /var/lib/containers
    /etc/containers/networks /etc/cni/net.d/cni.lock)
preexisting=()
for p in "${host_paths[@]}"; do
    [ -e "$p" ] && preexisting+=("$p")
done

is_preexisting() {
    local p
    for p in "${preexisting[@]}"; do
        [ "$p" = "$1" ] && return 0
    done
    return 1
}

# Extra cleanup steps registered by setup functions, run in reverse order.
cleanup_hooks=()

cleanup() {
    local i p mnt
    trap - EXIT INT TERM
    for ((i = ${#cleanup_hooks[@]} - 1; i >= 0; i--)); do
        eval "${cleanup_hooks[$i]}" >/dev/null 2>&1 || true
    done
    # Unmount anything left below tmp, deepest first.
    awk -v t="$tmp" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo \
        | sort -r | while IFS= read -r mnt; do umount -l "$mnt" 2>/dev/null; done
    # Cgroups created under our tag, in every hierarchy (v1 and v2).
    awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts \
        | while IFS= read -r mnt; do
            [ -d "$mnt/$tag" ] && find "$mnt/$tag" -depth -type d -exec rmdir {} + 2>/dev/null
        done
    for p in "${host_paths[@]}"; do
        is_preexisting "$p" || rm -rf "$p"
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------- row records --

row_section=()
row_name=()
row_cmd=()
row_status=() # ok | failed | skipped
row_median=() # ms
row_stddev=() # ms
row_ref=()    # 1 = the section's rcorch row, 2 = its floor row (ratio references)

add_row() { # section name cmd status median stddev ref
    row_section+=("$1")
    row_name+=("$2")
    row_cmd+=("$3")
    row_status+=("$4")
    row_median+=("$5")
    row_stddev+=("$6")
    row_ref+=("$7")
}

skip_row() { # section name reason
    echo "-- $2: skipped ($3)"
    add_row "$1" "$2" "$3" skipped "" "" 0
}

# bench_row [--ref|--floor] SECTION NAME CMD: one hyperfine measurement of CMD.
# --ref marks the rcorch row, --floor the lower bound, that ratios divide by.
# A failing smoke run marks the row failed instead of aborting.
bench_row() {
    local ref=0
    case "$1" in
        --ref) ref=1; shift ;;
        --floor) ref=2; shift ;;
    esac
    local section="$1" name="$2" cmd="$3"
    local json="$tmp/json/$section-${#row_name[@]}.json" log="$tmp/json/last.log"
    mkdir -p "$tmp/json"
    echo
    echo "== [$section] $name: $cmd"
    if ! timeout 60 sh -c "$cmd" >"$log" 2>&1; then
        echo "-- $name: failed (smoke run); output:"
        tail -n 5 "$log" | sed 's/^/   /'
        add_row "$section" "$name" "$cmd" failed "" "" "$ref"
        return 0
    fi
    # Plain commands run without a shell (-N, more precise for fast ones);
    # commands needing shell syntax run under sh, whose spawn hyperfine subtracts.
    local shell_opt=(-N)
    case "$cmd" in
        *[\$\'\"\|\;\&\<\>]*) shell_opt=() ;;
    esac
    if ! hyperfine "${shell_opt[@]}" --warmup "$warmup" --runs "$runs" --style basic \
        --export-json "$json" --command-name "$name" "$cmd"; then
        add_row "$section" "$name" "$cmd" failed "" "" "$ref"
        return 0
    fi
    [ -n "$json_dir" ] && mkdir -p "$json_dir" && cp "$json" "$json_dir/$section-$name.json"
    add_row "$section" "$name" "$cmd" ok \
        "$(jq '.results[0].median * 1000' "$json")" \
        "$(jq '.results[0].stddev * 1000' "$json")" "$ref"
}

# ------------------------------------------------------------------- setup --
# Each need_* is idempotent and returns non-zero when the thing is unusable,
# so later sections can share them.

busybox_tar=""
need_busybox_tar() {
    [ -n "$busybox_tar" ] && return 0
    "$repo/rootfs-tools/busybox.sh" --output "$tmp/busybox.tar" >/dev/null || return 1
    busybox_tar="$tmp/busybox.tar"
}

bundle=""
need_bundle() {
    [ -n "$bundle" ] && return 0
    need_busybox_tar || return 1
    command -v runc >/dev/null || return 1
    "$repo/rootfs-tools/oci-bundle.sh" "$busybox_tar" "$tmp/bundle" true >/dev/null || return 1
    bundle="$tmp/bundle"
}

rcorch_state="$tmp/rcorch-root"
rcorch_ready=""
need_rcorch_image() {
    [ -n "$rcorch_ready" ] && return "$rcorch_ready"
    rcorch_ready=1
    need_busybox_tar || return 1
    [ -x "$rcorch" ] || { echo "rcorch binary not found: $rcorch" >&2; return 1; }
    cleanup_hooks+=("'$rcorch' --root '$rcorch_state' rm -f \$('$rcorch' --root '$rcorch_state' ps -a -q)")
    "$rcorch" --root "$rcorch_state" import "$busybox_tar" busybox:latest || return 1
    # Exit status alone proves nothing (a stub binary exits 0): require output
    # that only a container running busybox can produce.
    local out
    # shellcheck disable=SC2016 # the container's sh expands it
    out=$(timeout 30 "$rcorch" --root "$rcorch_state" --cgroup-parent "$tag" run --rm --network none busybox \
        sh -c 'echo rcorch-$((6 * 7))' 2>&1)
    if [ "$out" != "rcorch-42" ]; then
        echo "rcorch did not run busybox (output: ${out:-<none>})" >&2
        return 1
    fi
    rcorch_ready=0
}

# The cgroup2 mount point when the host is hybrid (v1 controllers + v2),
# where crun 1.8 refuses to run unless cgroup2 is hidden from it.
hybrid_cgroup2() {
    if awk '$3 == "cgroup" { v1 = 1 } END { exit !v1 }' /proc/self/mounts; then
        awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts
    fi
}

podman_cmd=""
podman_image="localhost/rcorch-bench-busybox:latest"
need_podman() {
    [ -n "$podman_cmd" ] && return 0
    command -v podman >/dev/null || return 1
    need_busybox_tar || return 1
    local p="$tmp/podman"
    mkdir -p "$p"
    # Keep events, networks and temp state out of the host's podman setup.
    cat >"$p/containers.conf" <<EOF
[engine]
events_logger = "none"
cgroup_manager = "cgroupfs"
tmp_dir = "$p/tmp"
[network]
network_config_dir = "$p/networks"
EOF
    export CONTAINERS_CONF="$p/containers.conf"
    local cmd="podman --root $p/root --runroot $p/runroot --runtime runc --runtime-flag root=$p/runc"
    cleanup_hooks+=("$cmd rm -af" "$cmd rmi -af")
    $cmd import "$busybox_tar" "$podman_image" >"$p/import.log" 2>&1 || {
        cat "$p/import.log" >&2
        return 1
    }
    podman_cmd="$cmd"
}

# ---------------------------------------------------------------- sections --

section_startup() {
    local s=startup cg2 crun_cmd
    bench_row --floor "$s" "unshare (floor)" "unshare --pid --mount --uts --ipc --net --fork /bin/true"

    if need_rcorch_image; then
        bench_row --ref "$s" rcorch "$rcorch --root $rcorch_state run --rm --network none busybox true"
    else
        echo "-- rcorch: failed (setup: import or first run)"
        add_row "$s" rcorch "$rcorch --root $rcorch_state run --rm --network none busybox true" \
            failed "" "" 1
    fi

    # `$$` is expanded by hyperfine's per-run shell: a fresh id every run.
    if need_bundle; then
        bench_row "$s" runc "runc --root $tmp/runc run -b $bundle bench-\$\$"
    else
        skip_row "$s" runc "runc not installed"
    fi

    if ! command -v crun >/dev/null; then
        skip_row "$s" crun "crun not installed"
    elif ! need_bundle; then
        skip_row "$s" crun "no OCI bundle (runc spec needed)"
    else
        crun_cmd="crun --root $tmp/crun run -b $bundle bench-\$\$"
        cg2=$(hybrid_cgroup2)
        if [ -n "$cg2" ]; then
            bench_row "$s" "crun (unshare -m)" \
                "unshare -m sh -c 'umount -n $cg2 && exec $crun_cmd'"
        else
            bench_row "$s" crun "$crun_cmd"
        fi
    fi

    if need_podman; then
        # Podman's default rlimits exceed what a root without CAP_SYS_RESOURCE
        # may set; pin modest ones (runc spec also uses nofile 1024).
        bench_row "$s" "podman (runc)" "$podman_cmd run --rm --network none \
--ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --cgroup-parent /$tag $podman_image true"
    else
        skip_row "$s" "podman (runc)" "podman not installed or import failed"
    fi
}

# new_netns: a private network namespace held by a sleeping `unshare -n`
# (its pid in netns_holder), lo up; every process still in it is killed on exit.
netns_holder=""
new_netns() {
    unshare -n sleep infinity &
    netns_holder=$!
    sleep 0.2
    # Everything in that namespace (the holder, rcorch's DNS resolver) ends with it.
    cleanup_hooks+=("for p in /proc/[0-9]*; do [ \"\$(readlink \$p/ns/net)\" = \"$(readlink /proc/$netns_holder/ns/net)\" ] && kill \${p#/proc/}; done")
    nsenter -t "$netns_holder" -n ip link set lo up
}

# Bridge vs no network, both inside one private network namespace held by a
# sleeping `unshare -n` (so the bench never touches the host's interfaces or
# firewall); every command enters it with nsenter, which costs both rows alike.
section_network() {
    local s=network ns
    if ! need_rcorch_image; then
        skip_row "$s" "rcorch bridge" "rcorch setup failed"
        return
    fi
    new_netns
    ns="nsenter -t $netns_holder -n"
    bench_row --floor "$s" "rcorch none" "$ns $rcorch --root $rcorch_state run --rm --network none busybox true"
    bench_row --ref "$s" "rcorch bridge" "$ns $rcorch --root $rcorch_state run --rm busybox true"
    network_throughput "$ns"
}

# Container-to-container TCP throughput over the bridge vs over 127.0.0.1
# in one netns. The tools are the host's, entered into each container's
# network namespace only (nsenter -n): same binaries, only the path differs.
# busybox nc rows (hyperfine, 256 MiB; nc's small buffers cap them) and,
# when installed, iperf3 (5 s each, the kernel's own limit).
network_throughput() {
    local s=network ns="$1" runs=3 warmup=1 mib=256 r="$rcorch --root $rcorch_state"
    local srv_pid cli_pid ip pids=()
    if ! $ns $r run -d --name tp-srv busybox sleep 3600 >/dev/null ||
        ! $ns $r run -d --name tp-cli busybox sleep 3600 >/dev/null; then
        skip_row "$s" "nc bridge" "could not start the containers"
        return 0
    fi
    srv_pid=$($r inspect tp-srv | jq -r '.[0].State.Pid')
    cli_pid=$($r inspect tp-cli | jq -r '.[0].State.Pid')
    ip=$($r inspect tp-srv | jq -r '.[0].NetworkSettings.Networks.bridge.IPAddress')
    nsenter -t "$srv_pid" -n busybox nc -ll -p 5001 -e sh -c 'cat >/dev/null' &
    pids+=($!)
    $ns busybox nc -ll -p 5002 -e sh -c 'cat >/dev/null' &
    pids+=($!)
    sleep 0.2
    local feed="dd if=/dev/zero bs=64k count=$((mib * 16)) 2>/dev/null"
    bench_row "$s" "nc bridge ${mib}MiB" "$feed | nsenter -t $cli_pid -n busybox nc $ip 5001"
    throughput "$s" $((mib * 1048576))
    bench_row "$s" "nc loopback ${mib}MiB" "$feed | $ns busybox nc 127.0.0.1 5002"
    throughput "$s" $((mib * 1048576))
    if command -v iperf3 >/dev/null; then
        iperf_row "iperf3 bridge" "nsenter -t $srv_pid -n" "nsenter -t $cli_pid -n" "$ip"
        iperf_row "iperf3 loopback" "$ns" "$ns" 127.0.0.1
    else
        echo "-- iperf3: skipped (not installed)"
    fi
    kill "${pids[@]}" 2>/dev/null
    $r rm -f tp-srv tp-cli >/dev/null
}

# iperf_row NAME SERVER_PREFIX CLIENT_PREFIX ADDRESS: one 5 s iperf3 run.
iperf_row() {
    local mbs
    $2 iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
    sleep 0.3
    mbs=$($3 iperf3 -c "$4" -p 5201 -t 5 -J 2>/dev/null |
        jq '.end.sum_received.bits_per_second / 8e6 | . * 10 | round / 10')
    wait $! 2>/dev/null
    echo "-- $1: ${mbs:-failed} MB/s ($3 iperf3 -c $4 -t 5)"
    throughputs+=("$1: ${mbs:-failed} MB/s")
}

# A real layer: $RCORCH_BENCH_LAYER (a tar), else a tar of this host's
# Python standard library (thousands of small files, like an image layer).
layer_tar=""
need_layer() {
    [ -n "$layer_tar" ] && return 0
    if [ -n "${RCORCH_BENCH_LAYER:-}" ]; then
        layer_tar="$RCORCH_BENCH_LAYER"
        return 0
    fi
    local src
    for src in usr/lib/python3.11 usr/lib/python3 usr/share/perl; do
        [ -d "/$src" ] && break
    done
    tar -C / -cf "$tmp/layer.tar" "$src" || return 1
    layer_tar="$tmp/layer.tar"
}

# A docker-save archive: busybox plus nine one-file layers (many:10).
many_tar=""
need_many_layers() {
    [ -n "$many_tar" ] && return 0
    need_busybox_tar || return 1
    local d="$tmp/many" i ids="" layers=""
    mkdir -p "$d/l"
    cp "$busybox_tar" "$d/l/0.tar"
    for i in 1 2 3 4 5 6 7 8 9; do
        mkdir -p "$d/src$i"
        echo "layer $i" >"$d/src$i/l$i"
        tar -C "$d/src$i" -cf "$d/l/$i.tar" "l$i"
    done
    for i in 0 1 2 3 4 5 6 7 8 9; do
        ids="$ids${ids:+,}\"sha256:$(sha256sum <"$d/l/$i.tar" | cut -d' ' -f1)\""
        layers="$layers${layers:+,}\"l/$i.tar\""
    done
    echo "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$ids]}}" >"$d/config.json"
    echo "[{\"Config\":\"config.json\",\"RepoTags\":[\"many:10\"],\"Layers\":[$layers]}]" >"$d/manifest.json"
    tar -C "$d" -cf "$tmp/many.tar" manifest.json config.json l || return 1
    many_tar="$tmp/many.tar"
}

# MB/s of the last row of section $1 for $2 bytes.
throughput() {
    local i=$((${#row_name[@]} - 1))
    [ "${row_status[$i]}" = ok ] || return 0
    echo "-- ${row_name[$i]}: $(jq -n "$2 / 1e6 / (${row_median[$i]} / 1000) | . * 10 | round / 10") MB/s"
    throughputs+=("${row_name[$i]}: $(jq -n "$2 / 1e6 / (${row_median[$i]} / 1000) | . * 10 | round / 10") MB/s")
}
throughputs=()

section_unpack() {
    local s=unpack d="$tmp/unpack" size reg
    if ! need_layer; then
        skip_row "$s" "rcorch unpack" "could not build a layer tar"
        return 0
    fi
    size=$(stat -c %s "$layer_tar")
    echo "layer: $layer_tar ($size bytes)"
    # Fresh target per run; the rm is in both commands alike.
    bench_row --ref "$s" "rcorch unpack layer" \
        "rm -rf $d && mkdir $d && $rcorch image unpack-layer $layer_tar $d"
    throughput "$s" "$size"
    bench_row "$s" "GNU tar -x" "rm -rf $d && mkdir $d && tar -xf $layer_tar -C $d"
    throughput "$s" "$size"
    rm -rf "$d"

    if need_rcorch_image && need_many_layers \
        && "$rcorch" --root "$rcorch_state" load -i "$many_tar" >/dev/null; then
        bench_row --floor "$s" "run, 1-layer image" \
            "$rcorch --root $rcorch_state run --rm --network none busybox true"
        bench_row "$s" "run, 10-layer image" \
            "$rcorch --root $rcorch_state run --rm --network none many:10 true"
    else
        skip_row "$s" "run, 10-layer image" "setup failed"
    fi

    # load: an OCI archive of the layer image, into a fresh store each run.
    local lr="$tmp/load-root" archive="$tmp/layer-image.tar"
    "$rcorch" --root "$lr" import "$layer_tar" layer:1 >/dev/null \
        && "$rcorch" --root "$lr" save -o "$archive" layer:1 || return 0
    bench_row "$s" "rcorch load" "rm -rf $lr.b && $rcorch --root $lr.b load -i $archive"
    throughput "$s" "$(stat -c %s "$archive")"

    reg=/usr/bin/docker-registry
    if [ ! -x "$reg" ]; then
        skip_row "$s" "rcorch pull" "docker-registry not installed"
        return 0
    fi
    mkdir -p "$tmp/registry"
    printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:5999\n' \
        "$tmp/registry/data" >"$tmp/registry/config.yml"
    "$reg" serve "$tmp/registry/config.yml" >"$tmp/registry/log" 2>&1 &
    cleanup_hooks+=("kill $!")
    sleep 1
    "$rcorch" --root "$lr" tag layer:1 127.0.0.1:5999/bench/layer:1 \
        && "$rcorch" --root "$lr" push --insecure 127.0.0.1:5999/bench/layer:1 >/dev/null || {
        skip_row "$s" "rcorch pull" "push to the local registry failed"
        return 0
    }
    bench_row "$s" "rcorch pull" \
        "rm -rf $lr.p && $rcorch --root $lr.p pull --insecure 127.0.0.1:5999/bench/layer:1"
    throughput "$s" "$size"
}
section_selfheal() {
    local mode row
    for mode in running healthy; do
        row="kill -> replacement $mode"
        need_rcorch_image || { skip_row selfheal "$row" "rcorch unusable"; continue; }
        command -v python3 >/dev/null || { skip_row selfheal "$row" "python3 missing"; continue; }
        echo
        echo "== [selfheal] SIGKILL a replica 20 times (as issue 5 asks); time until its replacement is $mode"
        local out median
        # Its own network namespace: the project's network is a bridge.
        if out=$(timeout 600 unshare --net --mount --propagation private \
            python3 "$repo/scripts/selfheal_bench.py" "$rcorch" "$rcorch_state" 20 "$mode"); then
            median=${out%% *}
            echo "-- median ${median} ms, p90 $(echo "$out" | cut -d' ' -f2) ms over $(echo "$out" | cut -d' ' -f3) kills"
            add_row selfheal "$row" "scripts/selfheal_bench.py N $mode" ok "$median" "" 0
        else
            add_row selfheal "$row" "scripts/selfheal_bench.py N $mode" failed "" "" 0
        fi
    done
}

# shellcheck source=scripts/bench_lb.sh
. "$repo/scripts/bench_lb.sh"
# shellcheck source=scripts/bench_rollout.sh
. "$repo/scripts/bench_rollout.sh"
# shellcheck source=scripts/bench_metrics.sh
. "$repo/scripts/bench_metrics.sh"

# ------------------------------------------------------------------ report --

# ref_median SECTION KIND: median of the section's reference row of KIND
# (1 = rcorch, 2 = floor), empty when it has none or it failed.
ref_median() {
    local j
    for j in "${!row_name[@]}"; do
        if [ "${row_section[$j]}" = "$1" ] && [ "${row_ref[$j]}" = "$2" ] \
            && [ "${row_status[$j]}" = ok ]; then
            echo "${row_median[$j]}"
            return
        fi
    done
}

ratio() { # value reference
    if [ -n "$2" ]; then
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'
    else
        echo "n/a"
    fi
}

print_table() {
    local i fmt cmd
    fmt='%-10s | %-20s | %10s | %8s | %9s | %9s\n'
    # shellcheck disable=SC2059
    printf "\n$fmt" section row "median ms" "± ms" "vs rcorch" "vs floor"
    printf -- '-----------+----------------------+------------+----------+-----------+----------\n'
    for i in "${!row_name[@]}"; do
        if [ "${row_status[$i]}" != ok ]; then
            # shellcheck disable=SC2059
            printf "$fmt" "${row_section[$i]}" "${row_name[$i]}" "${row_status[$i]}" "" "" ""
            continue
        fi
        # shellcheck disable=SC2059
        printf "$fmt" "${row_section[$i]}" "${row_name[$i]}" \
            "$(printf '%.2f' "${row_median[$i]}")" "$(printf '%.2f' "${row_stddev[$i]}")" \
            "$(ratio "${row_median[$i]}" "$(ref_median "${row_section[$i]}" 1)")" \
            "$(ratio "${row_median[$i]}" "$(ref_median "${row_section[$i]}" 2)")"
    done
    echo
    echo "commands (\$TMP = the bench's temp dir):"
    for i in "${!row_name[@]}"; do
        cmd="${row_cmd[$i]//$tmp/\$TMP}"
        printf '  %-20s %s\n' "${row_name[$i]}" "$cmd"
    done
    echo "(runs=$runs warmup=$warmup; commands with shell syntax run under sh and"
    echo " hyperfine subtracts the sh spawn, others run with -N; ratio = row / reference)"
}

section_build() {
    # A two-stage busybox Dockerfile (issue 14): cold (--no-cache), an
    # unchanged rebuild, and a rebuild after one copied file changed.
    local ctx="$tmp/build-ctx"
    mkdir -p "$ctx"
    printf 'one\n' >"$ctx/f"
    cat >"$ctx/Dockerfile" <<'EOF'
FROM busybox AS build
RUN mkdir /out && echo built > /out/x
COPY f /out/f
FROM busybox
COPY --from=build /out /app
RUN cat /app/x /app/f
CMD ["cat", "/app/x"]
EOF
    local r="$rcorch --root $rcorch_state build -q --network none -t bench-build $ctx"
    local kind cmd
    for kind in cold unchanged one-file; do
        case $kind in
            cold) cmd="$r --no-cache" ;;
            unchanged) cmd="$r" ;;
            one-file) cmd="date +%s%N > $ctx/f && $r" ;;
        esac
        if need_rcorch_image; then
            bench_row --ref build "rcorch build $kind" "$cmd"
        else
            skip_row build "rcorch build $kind" "rcorch unusable"
        fi
        if need_podman; then
            $podman_cmd tag "$podman_image" busybox:latest >/dev/null 2>&1
            local p="$podman_cmd build -q --network none --format docker -t bench-build $ctx"
            case $kind in
                cold) cmd="$p --no-cache" ;;
                unchanged) cmd="$p" ;;
                one-file) cmd="date +%s%N > $ctx/f && $p" ;;
            esac
            bench_row build "podman build $kind" "$cmd"
        else
            skip_row build "podman build $kind" "podman missing"
        fi
    done
}

# oci_lifecycle BIN ROOT: what a shim runs for one short-lived container:
# create, start, poll state until stopped, delete (a fresh id every run).
oci_lifecycle() {
    local r="$1 --root $2" id="bench-\$\$"
    echo "$r create -b $oci_bundle $id && $r start $id && until $r state $id | grep -q stopped; do :; done && $r delete $id"
}

oci_bundle=""
need_oci_bundle() {
    [ -n "$oci_bundle" ] && return 0
    need_bundle || return 1
    # The same rootfs, in a cgroup under our tag so cleanup finds any leftover.
    mkdir -p "$tmp/oci-bundle"
    jq --arg root "$bundle/rootfs" --arg cg "/$tag/oci-bench" \
        '.root.path = $root | .linux.cgroupsPath = $cg' \
        "$bundle/config.json" >"$tmp/oci-bundle/config.json" || return 1
    oci_bundle="$tmp/oci-bundle"
}

section_oci() {
    local s=oci cg2
    if ! need_oci_bundle; then
        skip_row "$s" rcorch-runtime "no OCI bundle (runc spec needed)"
        return
    fi
    if [ -x "$rcorch_runtime" ]; then
        bench_row --ref "$s" rcorch-runtime "$(oci_lifecycle "$rcorch_runtime" "$tmp/rcorch-runtime")"
    else
        skip_row "$s" rcorch-runtime "not built: $rcorch_runtime"
    fi
    bench_row "$s" runc "$(oci_lifecycle runc "$tmp/runc")"
    if ! command -v crun >/dev/null; then
        skip_row "$s" crun "crun not installed"
        return
    fi
    cg2=$(hybrid_cgroup2)
    if [ -n "$cg2" ]; then
        bench_row "$s" "crun (unshare -m)" \
            "unshare -m sh -c 'umount -n $cg2 && $(oci_lifecycle crun "$tmp/crun")'"
    else
        bench_row "$s" crun "$(oci_lifecycle crun "$tmp/crun")"
    fi
}

for s in "${sections[@]}"; do
    declare -F "section_$s" >/dev/null || die "unknown section: $s"
    "section_$s"
done
print_table
if [ ${#throughputs[@]} -gt 0 ]; then
    echo "throughput (input bytes / median):"
    printf '  %s\n' "${throughputs[@]}"
fi
if [ ${#rollout_lines[@]} -gt 0 ]; then
    echo "rolling updates (10 replicas under load; median of the runs in the table):"
    printf '  %s\n' "${rollout_lines[@]}"
fi
if [ ${#metrics_lines[@]} -gt 0 ]; then
    echo "metrics scrape (slope over the 0-container row):"
    printf '  %s\n' "${metrics_lines[@]}"
fi
if [ ${#loop_lines[@]} -gt 0 ]; then
    echo "supervisor loop (mean pass, its own histogram):"
    printf '  %s\n' "${loop_lines[@]}"
fi
if [ ${#lb_lines[@]} -gt 0 ]; then
    echo "load balancer (medians over rounds; ratio = row / rcorch):"
    printf '  %s\n' "${lb_lines[@]}"
fi
