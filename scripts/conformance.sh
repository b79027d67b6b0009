#!/usr/bin/env bash
# The OCI runtime conformance suite (opencontainers/runtime-tools 260e151,
# vendored in ../shared/conformance) against rcorch-runtime.
#
#   scripts/conformance.sh                 build, run all tests, compare with
#                                          tests/conformance/passing.txt
#   RUNTIME=/usr/sbin/runc scripts/conformance.sh --measure
#                                          just list what RUNTIME passes
#
# A test in the pass list that fails makes the script exit non-zero; a test
# that passes but is not listed is printed, so the list can grow.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
tarball=${CONFORMANCE_TARBALL:-$here/../shared/conformance/runtime-tools-260e151.tar.gz}
[ -f "$tarball" ] || tarball=/work/shared/conformance/runtime-tools-260e151.tar.gz
cache=${CONFORMANCE_CACHE:-$here/target/conformance}
per_test_timeout=${CONFORMANCE_TIMEOUT:-60}
measure=false
[ "${1:-}" = "--measure" ] && measure=true

build_suite() {
    if [ -x "$cache/src/validation/default/default.t" ] && [ -x "$cache/src/runtimetest" ]; then
        return 0
    fi
    rm -rf "$cache/src" && mkdir -p "$cache/src"
    tar -xzf "$tarball" -C "$cache/src" || return 1
    (cd "$cache/src" && GOFLAGS=-mod=vendor GOCACHE="$cache/gocache" \
        make runtimetest validation-executables >"$cache/build.log" 2>&1) || {
        tail -20 "$cache/build.log"
        return 1
    }
}

if [ -z "${RUNTIME:-}" ]; then
    # CI has just built the release profile (scripts/test.sh): reuse it.
    if [ "${CI:-}" = true ]; then
        (cd "$here" && cargo build --quiet --release --bin rcorch-runtime) || exit 1
        RUNTIME=$here/target/release/rcorch-runtime
    else
        (cd "$here" && cargo build --quiet --bin rcorch-runtime) || exit 1
        RUNTIME=$here/target/debug/rcorch-runtime
    fi
fi
build_suite || { echo "conformance: cannot build the suite"; exit 1; }

# Tests of a config the runtime MUST refuse, and the value it refuses.
declare -A negative=([process_capabilities_fail]=CAP_TEST [process_rlimits_fail]=RLIMIT_TEST)
# Lifecycle tests that make no assertion ("1..0" even when all is well):
# they report a failure only as a YAML "error" block, so they pass when
# they exit 0 and print none. (hooks, prestart and poststart are left out:
# they expect what the spec forbids, and fail on runc and crun alike.)
declare -A lifecycle=([poststop]=1 [poststop_fail]=1 [poststart_fail]=1 [prestart_fail]=1)

# The tests make their bundles under $TMPDIR and leave some behind: keep
# them in one directory of this run, removed however the run ends.
scratch=$(mktemp -d /tmp/rcorch-conformance.XXXXXX)
chmod 1777 "$scratch" # as /tmp: user-namespaced tests must reach their bundle
trap 'rm -rf "$scratch"' EXIT

results=$cache/results-$(basename "$RUNTIME")
rm -rf "$results" && mkdir -p "$results"
passed=()
failed=()
cd "$cache/src"
for t in validation/*/*.t; do
    name=$(basename "$t" .t)
    # CONFORMANCE_ONLY=REGEX runs just the matching tests (while debugging).
    [[ -n "${CONFORMANCE_ONLY:-}" && ! "$name" =~ ^(${CONFORMANCE_ONLY})$ ]] && continue
    # Each test in its own private mount namespace: the propagation tests
    # make mounts shared, which must not reach the host.
    RUNTIME=$RUNTIME TMPDIR=$scratch timeout -k 5 "$per_test_timeout" \
        unshare -m --propagation private "$t" >"$results/$name.tap" 2>&1
    rc=$?
    # A pass: exit 0, no failed assertion, and a plan of at least one test
    # ("1..0" is what a test prints when the container never ran). The
    # negative tests pass when the runtime refuses the config: they exit 0
    # with no plan, and the refusal must name the bad value.
    refused=${negative[$name]:-}
    if [ $rc -eq 0 ] && ! grep -q '^not ok' "$results/$name.tap" &&
        if [ -n "$refused" ]; then grep -q "$refused" "$results/$name.tap";
        elif [ -n "${lifecycle[$name]:-}" ]; then ! grep -q '"error":' "$results/$name.tap"; else
            grep -Eq '^1\.\.[1-9]' "$results/$name.tap"; fi; then
        passed+=("$name")
    else
        failed+=("$name")
    fi
done

# The cgroup tests name fixed paths; remove what they leave (empty dirs only).
for dir in /sys/fs/cgroup/*/testdir/cgrouptest/container /sys/fs/cgroup/*/testdir/cgrouptest \
    /sys/fs/cgroup/*/cgrouptest /sys/fs/cgroup/*/testdir; do
    [ -d "$dir" ] && rmdir "$dir" 2>/dev/null
done

if $measure; then
    printf '%s\n' "${passed[@]}"
    echo "conformance: ${#passed[@]} of $((${#passed[@]} + ${#failed[@]})) tests pass"
    exit 0
fi

list=$here/tests/conformance/passing.txt
status=0
for name in $(grep -v '^#' "$list"); do
    [[ -n "${CONFORMANCE_ONLY:-}" && ! "$name" =~ ^(${CONFORMANCE_ONLY})$ ]] && continue
    if ! printf '%s\n' "${passed[@]}" | grep -qx "$name"; then
        echo "REGRESSION: $name is in tests/conformance/passing.txt but failed:"
        sed 's/^/    /' "$results/$name.tap" | tail -15
        status=1
    fi
done
for name in "${passed[@]}"; do
    grep -qx "$name" "$list" || echo "NEW PASS: $name (add it to tests/conformance/passing.txt)"
done
required=$(grep -vc "^#" "$list")
echo "conformance: ${#passed[@]} of $((${#passed[@]} + ${#failed[@]})) tests pass; the $required required by tests/conformance/passing.txt: $([ $status = 0 ] && echo all pass || echo REGRESSION)"
exit $status
