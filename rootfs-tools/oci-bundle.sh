#!/usr/bin/env bash
# Turn a rootfs tarball into an OCI runtime bundle (DIR/rootfs + DIR/config.json)
# for runc/crun, with terminal=false and the given command (default: true).
#
# Usage: rootfs-tools/oci-bundle.sh TARBALL DIR [CMD [ARG...]]
# Needs: runc (for `runc spec`), jq.
set -euo pipefail

die() {
    echo "oci-bundle.sh: error: $*" >&2
    exit 1
}

[ $# -ge 2 ] || die "usage: $0 TARBALL DIR [CMD [ARG...]]"
tarball="$1"
dir="$2"
shift 2
[ $# -gt 0 ] || set -- true

[ -f "$tarball" ] || die "tarball not found: $tarball"
command -v runc >/dev/null || die "runc not found (apt-get install runc)"
command -v jq >/dev/null || die "jq not found (apt-get install jq)"
if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    die "$dir exists and is not empty"
fi

mkdir -p "$dir/rootfs"
tar --extract --file "$tarball" --directory "$dir/rootfs" --numeric-owner
# `runc spec` writes config.json into the current directory.
(cd "$dir" && runc spec)
args_json=$(printf '%s\n' "$@" | jq -R . | jq -s .)
jq --argjson args "$args_json" \
    '.process.terminal = false | .process.args = $args' \
    "$dir/config.json" > "$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"
echo "oci-bundle.sh: bundle ready in $dir"
