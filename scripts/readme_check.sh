#!/usr/bin/env bash
# The README's first two code blocks are the commands a new user runs. This
# runs command 1 exactly as the README spells it, from a fresh `git clone` of
# this repository (HEAD), so the README cannot drift from what is tested.
#
# Usage: scripts/readme_check.sh             # check the text, run command 1 in a clone
#        scripts/readme_check.sh --print N   # print command N (1 or 2) and exit
#        scripts/readme_check.sh --text      # only check the text (no sudo, scripts exist)
# Env:   README_CHECK_TARGET=DIR  share DIR as the clone's target/ (saves a
#        rebuild of the dependencies; rcorch itself is still built).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
    echo "readme_check.sh: error: $*" >&2
    exit 1
}

# command N: the body of the README's Nth fenced code block.
command_n() {
    awk -v want="$1" '
        /^```/ { if (inside) { inside = 0; if (n == want) exit } else { n++; inside = 1 }; next }
        inside && n == want { print }
    ' "$repo/README.md"
}

check_text() {
    local n text
    for n in 1 2; do
        text=$(command_n "$n")
        [ -n "$text" ] || die "README.md has no code block $n"
        case "$text" in
            *sudo*) die "README command $n uses sudo, which many root shells lack: $text" ;;
        esac
    done
    command_n 1 | grep -q 'run --rm busybox echo hello from rcorch' \
        || die "README command 1 no longer runs 'run --rm busybox echo hello from rcorch'"
    command_n 2 | grep -q 'scripts/test.sh' || die "README command 2 no longer runs scripts/test.sh"
}

case "${1:-}" in
    --print) command_n "${2:?--print needs 1 or 2}"; exit 0 ;;
    --text) check_text; echo "readme_check.sh: README commands ok"; exit 0 ;;
    "") ;;
    *) die "unknown argument: $1 (see the header of this script)" ;;
esac

check_text
[ "$(id -u)" -eq 0 ] || die "README command 1 runs containers: run this as root"

work=$(mktemp -d "${TMPDIR:-/tmp}/rcorch-readme.XXXXXX")
# The command runs as written, but its state goes to a throw-away root and
# cgroup parent, and what it adds to the host's network (the default bridge,
# rcorch's nft table) is removed afterwards unless it was there before.
export RCORCH_ROOT="$work/state" RCORCH_CGROUP_PARENT="rcorch-readme-$$"
had_bridge=0
ip link show rcorch0 >/dev/null 2>&1 && had_bridge=1
had_table=0
nft list table inet rcorch >/dev/null 2>&1 && had_table=1
cleanup() {
    [ "$had_bridge" = 1 ] || ip link del rcorch0 2>/dev/null || true
    [ "$had_table" = 1 ] || nft delete table inet rcorch 2>/dev/null || true
    find /sys/fs/cgroup -depth -type d -name "$RCORCH_CGROUP_PARENT" -exec rmdir {} + 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
git clone --quiet "$repo" "$work/rcorch"
if [ -n "${README_CHECK_TARGET:-}" ]; then
    mkdir -p "$README_CHECK_TARGET"
    ln -s "$(cd "$README_CHECK_TARGET" && pwd)" "$work/rcorch/target"
fi

cmd=$(command_n 1)
echo "readme_check.sh: in a fresh clone ($work/rcorch): $cmd"
out="$work/out"
(cd "$work/rcorch" && bash -c "$cmd") 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || die "README command 1 failed (exit $rc)"
tail -n 1 "$out" | grep -qx 'hello from rcorch' \
    || die "README command 1 did not end by printing 'hello from rcorch'"
echo "readme_check.sh: README command 1 works from a fresh clone"
