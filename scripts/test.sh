#!/usr/bin/env bash
# Run the whole rcorch test suite: release build, tests (root tests included
# when run as root), clippy and rustfmt. Exits non-zero if any step fails.
#
# Usage: scripts/test.sh   (as root; scripts/deps.sh test installs what it needs)
# Env:   TEST_THREADS (default 2). Extra args go to the test binaries (e.g. a name filter).
set -uo pipefail

# Never wait on a terminal: CI runs with no stdin.
exec </dev/null
# One ordered log stream for CI.
exec 2>&1

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1

# `sudo` resets PATH; find rustup's cargo if it is not visible.
if ! command -v cargo >/dev/null 2>&1; then
    for d in "${CARGO_HOME:-$HOME/.cargo}/bin" /root/.cargo/bin; do
        if [ -x "$d/cargo" ]; then
            PATH="$d:$PATH"
            break
        fi
    done
fi
command -v cargo >/dev/null 2>&1 || { echo "test.sh: cargo not found in PATH" >&2; exit 1; }

failed=()

section() {
    printf '\n==== %s ====\n' "$*"
}

# step NAME CMD...: run CMD, record NAME as failed if it exits non-zero.
step() {
    local name="$1"
    shift
    section "$name"
    echo "+ $*"
    if "$@"; then
        echo "---- $name: ok"
    else
        echo "---- $name: FAILED (exit $?)"
        failed+=("$name")
        return 1
    fi
}

if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: warning: not running as root; root-only tests will skip" >&2
fi

# The README commands a new user runs: no sudo, still running what they say.
step "README commands" scripts/readme_check.sh --text

if ! step "cargo build --release" cargo build --release; then
    echo "test.sh: build failed, skipping the remaining steps" >&2
    exit 1
fi

if step "busybox rootfs" rootfs-tools/busybox.sh; then
    export RCORCH_TEST_BUSYBOX_TAR="$repo/rootfs-tools/out/busybox.tar"
    echo "RCORCH_TEST_BUSYBOX_TAR=$RCORCH_TEST_BUSYBOX_TAR"
fi

# Debian + nginx via debootstrap (root, network, ~1-2 min; reused from
# rootfs-tools/out). Only its root test uses it, so non-root runs skip it.
if [ "$(id -u)" -eq 0 ] && step "debian app image" rootfs-tools/debian-app.sh; then
    export RCORCH_TEST_APP_IMAGE="$repo/rootfs-tools/out/debian-nginx.tar"
    echo "RCORCH_TEST_APP_IMAGE=$RCORCH_TEST_APP_IMAGE"
fi

step "cargo test" cargo test --release -- --test-threads="${TEST_THREADS:-2}" "$@"
step "cargo clippy" cargo clippy --all-targets -- -D warnings
step "cargo fmt --check" cargo fmt --check

section "summary"
if [ ${#failed[@]} -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "all steps passed"
