#!/usr/bin/env bash
# Build a minimal, deterministic busybox rootfs tarball from Debian's
# busybox-static, optionally importing it into rcorch.
#
# Usage: rootfs-tools/busybox.sh [--output FILE] [--import] [--rcorch BIN]
#                                [--root DIR] [--name NAME[:TAG]] [--busybox FILE]
#                                [--force]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

output="$here/out/busybox.tar"
do_import=0
rcorch_bin="${RCORCH:-rcorch}"
root_dir="${RCORCH_ROOT:-}"
name="busybox:latest"
busybox_src=""
force=0
# Fixed mtime for every entry so the tarball (and the layer digest) is stable.
mtime="@0"

usage() {
    # The header comment (after the shebang) is the help text.
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

die() {
    echo "busybox.sh: error: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --output|-o) output="${2:?--output needs a value}"; shift 2 ;;
        --import) do_import=1; shift ;;
        --rcorch) rcorch_bin="${2:?--rcorch needs a value}"; shift 2 ;;
        --root) root_dir="${2:?--root needs a value}"; shift 2 ;;
        --name) name="${2:?--name needs a value}"; shift 2 ;;
        --busybox) busybox_src="${2:?--busybox needs a value}"; shift 2 ;;
        --force) force=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

# Locate the static busybox: only the busybox-static package is usable,
# the dynamic `busybox` package would need host libraries in the rootfs.
find_busybox() {
    if [ -n "$busybox_src" ]; then
        [ -x "$busybox_src" ] || die "--busybox $busybox_src is not an executable file"
        return
    fi
    local listed
    if listed=$(dpkg-query -L busybox-static 2>/dev/null | grep -E '/bin/busybox$' | head -n1) \
        && [ -n "$listed" ] && [ -x "$listed" ]; then
        busybox_src="$listed"
        return
    fi
    die "static busybox not found (package busybox-static is not installed).
Install it with:  scripts/deps.sh run   (or: apt-get install busybox-static)
or pass --busybox /path/to/static/busybox"
}

find_busybox
busybox_src=$(readlink -f "$busybox_src")

# Reuse the tarball when neither the busybox binary nor this script changed.
key=$(cat "$busybox_src" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
keyfile="$output.key"

build_rootfs() {
    local dir="$1"
    local d
    umask 022
    for d in bin sbin usr usr/bin usr/sbin etc proc sys dev var home root tmp; do
        mkdir -p "$dir/$d"
    done
    chmod 0700 "$dir/root"
    chmod 1777 "$dir/tmp"

    install -m 0755 "$busybox_src" "$dir/bin/busybox"

    # Every applet becomes a relative symlink to /bin/busybox so the rootfs
    # is also usable when inspected from the host (e.g. an OCI bundle).
    local applet parent target
    while IFS= read -r applet; do
        applet="${applet#/}"
        [ -n "$applet" ] || continue
        [ "$applet" = "bin/busybox" ] && continue
        parent="${applet%/*}"
        [ "$parent" = "$applet" ] && parent="."
        case "$parent" in
            .) target="bin/busybox" ;;
            bin) target="busybox" ;;
            sbin) target="../bin/busybox" ;;
            usr/bin|usr/sbin) target="../../bin/busybox" ;;
            *) die "unexpected applet directory: $applet" ;;
        esac
        [ -d "$dir/$parent" ] || mkdir -p "$dir/$parent"
        ln -sfn "$target" "$dir/$applet"
    done < <("$busybox_src" --list-full | LC_ALL=C sort)

    [ -L "$dir/bin/sh" ] || die "busybox has no sh applet"

    cat > "$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
    cat > "$dir/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
    chmod 0644 "$dir/etc/passwd" "$dir/etc/group"
}

write_tarball() {
    local dir="$1" dest="$2"
    local -a top
    mapfile -t top < <(find "$dir" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort)
    # GNU format + fixed owner/mtime + sorted names => byte-identical output.
    tar --create --file "$dest" --directory "$dir" \
        --format=gnu --sort=name --mtime="$mtime" \
        --owner=0 --group=0 --numeric-owner \
        "${top[@]}"
}

if [ "$force" -eq 0 ] && [ -f "$output" ] && [ -f "$keyfile" ] \
    && [ "$(cat "$keyfile")" = "$key" ]; then
    echo "busybox.sh: $output is up to date"
else
    mkdir -p "$(dirname "$output")"
    work=$(mktemp -d "${TMPDIR:-/tmp}/rcorch-busybox.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    build_rootfs "$work/rootfs"
    write_tarball "$work/rootfs" "$work/busybox.tar"
    # Atomic replace so a concurrent reader never sees a half-written file.
    mv -f "$work/busybox.tar" "$output.tmp.$$"
    mv -f "$output.tmp.$$" "$output"
    printf '%s\n' "$key" > "$keyfile"
    echo "busybox.sh: wrote $output ($(sha256sum "$output" | cut -d' ' -f1))"
fi

if [ "$do_import" -eq 1 ]; then
    if ! command -v "$rcorch_bin" >/dev/null 2>&1; then
        die "rcorch binary '$rcorch_bin' not found (build it with: cargo build --release; then pass --rcorch target/release/rcorch)"
    fi
    args=()
    [ -n "$root_dir" ] && args+=(--root "$root_dir")
    echo "busybox.sh: importing $output as $name"
    "$rcorch_bin" "${args[@]}" import "$output" "$name"
fi
