#!/usr/bin/env bash
# Build an OCI image-layout archive of a real application: a minimal Debian
# rootfs (debootstrap --variant=minbase) with nginx-light, serving a small
# index.html on port 80 in the foreground, logging to stdout/stderr.
# Load it with:  rcorch load -i rootfs-tools/out/debian-nginx.tar
#
# Usage: rootfs-tools/debian-app.sh [--output FILE] [--suite SUITE]
#                                   [--mirror URL] [--package PKG]
#                                   [--name NAME[:TAG]] [--force]
#
#   --output   archive to write (default rootfs-tools/out/debian-nginx.tar)
#   --suite    Debian suite (default: this host's VERSION_CODENAME, else bookworm)
#   --mirror   Debian mirror (default http://deb.debian.org/debian)
#   --package  nginx package to install (default nginx-light; falls back to
#              nginx when the suite has no nginx-light)
#   --name     image name recorded in index.json (default debian-nginx:latest)
#   --force    rebuild even if the output exists
#
# Needs root and debootstrap (apt-get install debootstrap). Takes minutes
# (downloads ~100 packages); the output is reused unless --force.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

output="$here/out/debian-nginx.tar"
suite=""
mirror="http://deb.debian.org/debian"
package="nginx-light"
name="debian-nginx:latest"
force=0
# Every tar entry gets this mtime so rebuilds differ only where Debian does.
mtime="@${SOURCE_DATE_EPOCH:-0}"
marker="rcorch-debian-nginx-ok"

usage() {
    # The header comment (after the shebang) is the help text.
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

die() {
    echo "debian-app.sh: error: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --output|-o) output="${2:?--output needs a value}"; shift 2 ;;
        --suite) suite="${2:?--suite needs a value}"; shift 2 ;;
        --mirror) mirror="${2:?--mirror needs a value}"; shift 2 ;;
        --package) package="${2:?--package needs a value}"; shift 2 ;;
        --name) name="${2:?--name needs a value}"; shift 2 ;;
        --force) force=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

if [ "$force" -eq 0 ] && [ -f "$output" ]; then
    echo "debian-app.sh: $output exists (use --force to rebuild)"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
command -v debootstrap >/dev/null 2>&1 \
    || die "debootstrap not found; install it with: apt-get install debootstrap"

if [ -z "$suite" ]; then
    suite=$(. /etc/os-release 2>/dev/null && [ "${ID:-}" = debian ] \
        && echo "${VERSION_CODENAME:-}" || true)
    suite=${suite:-bookworm}
fi

# OCI architecture names for the Debian ones that differ.
oci_arch() {
    case "$1" in
        i386) echo 386 ;;
        ppc64el) echo ppc64le ;;
        armhf|armel) echo arm ;;
        *) echo "$1" ;;
    esac
}
deb_arch=$(dpkg --print-architecture)
arch=$(oci_arch "$deb_arch")

start=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/var/tmp}/rcorch-debian-app.XXXXXX")
# debootstrap runs in its own mount namespace, so its proc/sys/dev mounts
# vanish with it; --one-file-system guards against any that did not.
trap 'rm -rf --one-file-system "$work"' EXIT
# Turn signals into an exit so the EXIT trap runs for them too.
trap 'exit 130' INT
trap 'exit 143' TERM
rootfs="$work/rootfs"

# nginx-light was dropped after bookworm; plain nginx is the next smallest.
bootstrap() {
    local pkg
    for pkg in "$package" nginx; do
        echo "debian-app.sh: debootstrap $suite from $mirror with $pkg"
        if unshare --mount --propagation private \
            debootstrap --variant=minbase --include="$pkg" \
            --arch="$deb_arch" "$suite" "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1; then
            package=$pkg
            return
        fi
        if [ "$pkg" = nginx-light ] && grep -q "Couldn't find these debs: nginx-light" "$work/debootstrap.log"; then
            echo "debian-app.sh: $suite has no nginx-light, trying nginx" >&2
            rm -rf --one-file-system "$rootfs"
            continue
        fi
        break
    done
    tail -n 30 "$work/debootstrap.log" >&2
    die "debootstrap failed (log above)"
}

# Drop what a server container never reads; keep dpkg's own database.
trim() {
    local r="$rootfs"
    rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/* "$r"/var/cache/debconf/*-old \
        "$r"/var/lib/dpkg/*-old "$r"/var/cache/ldconfig/aux-cache \
        "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* \
        "$r"/usr/share/locale/* "$r"/usr/share/lintian "$r"/usr/share/bug \
        "$r"/tmp/* "$r"/var/tmp/* "$r"/root/.bash_history "$r"/debootstrap
    find "$r/var/log" -type f -delete
    # The runtime provides /dev, hostname, hosts and resolv.conf.
    find "$r/dev" -mindepth 1 -delete
    : > "$r/etc/hostname"
    : > "$r/etc/resolv.conf"
    : > "$r/etc/machine-id"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$r/etc/hosts"
}

# No `daemon off;` here: the image's Cmd passes it with -g, and nginx
# rejects the directive twice.
configure_nginx() {
    local r="$rootfs"
    cat > "$r/etc/nginx/nginx.conf" <<'CONF'
user www-data;
worker_processes 1;
pid /run/nginx.pid;
error_log /dev/stderr notice;

events {
    worker_connections 256;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log /dev/stdout;

    server {
        listen 80 default_server;
        listen [::]:80 default_server;
        root /var/www/html;
        index index.html;
    }
}
CONF
    # Paths compiled into nginx (used before the config is read) and any
    # tool that follows Debian's layout end up in the container's streams.
    ln -sfn /dev/stdout "$r/var/log/nginx/access.log"
    ln -sfn /dev/stderr "$r/var/log/nginx/error.log"
    rm -f "$r"/var/www/html/index.nginx-debian.html
    cat > "$r/var/www/html/index.html" <<HTML
<!DOCTYPE html>
<html><head><title>rcorch debian nginx</title></head>
<body><p>$marker</p></body></html>
HTML
    chmod 0644 "$r/etc/nginx/nginx.conf" "$r/var/www/html/index.html"
    # /dev/stderr needs /proc and /dev; the mounts die with the namespace.
    unshare --mount --propagation private sh -c '
        mount -t proc proc "$1/proc" && mount --bind /dev "$1/dev" &&
        chroot "$1" nginx -t -q -g "daemon off;"' sh "$r" \
        || die "nginx rejects the generated config"
    rm -f "$r/run/nginx.pid"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# Writes blob FILE into the layout; prints its hex digest.
add_blob() {
    local file="$1" hex
    hex=$(sha "$file")
    mv -f "$file" "$work/layout/blobs/sha256/$hex"
    echo "$hex"
}

write_layout() {
    local layout="$work/layout" created cmd_json
    mkdir -p "$layout/blobs/sha256"
    # GNU format + sorted names + fixed owner/mtime => stable layer bytes.
    local -a top
    mapfile -t top < <(find "$rootfs" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort)
    tar --create --file "$work/layer.tar" --directory "$rootfs" \
        --format=gnu --sort=name --mtime="$mtime" --numeric-owner \
        --one-file-system "${top[@]}"
    local diff_id layer layer_size
    diff_id=$(sha "$work/layer.tar")
    gzip -n -6 "$work/layer.tar"
    layer_size=$(stat -c %s "$work/layer.tar.gz")
    layer=$(add_blob "$work/layer.tar.gz")

    created=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)
    cmd_json='["nginx","-g","daemon off;"]'
    cat > "$work/config.json" <<JSON
{"architecture":"$arch","os":"linux","created":"$created","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":$cmd_json,"ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGQUIT","WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created":"$created","created_by":"rootfs-tools/debian-app.sh: debootstrap --variant=minbase --include=$package $suite"}]}
JSON
    local config config_size
    config_size=$(stat -c %s "$work/config.json")
    config=$(add_blob "$work/config.json")

    cat > "$work/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config","size":$config_size},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$layer","size":$layer_size}]}
JSON
    local manifest manifest_size full
    manifest_size=$(stat -c %s "$work/manifest.json")
    manifest=$(add_blob "$work/manifest.json")

    # Docker/containerd put the full reference in io.containerd.image.name
    # and the bare tag in ref.name; rcorch load reads the former.
    case "$name" in
        */*) full="docker.io/$name" ;;
        *) full="docker.io/library/$name" ;;
    esac
    [[ "$name" == *:* ]] || { name="$name:latest"; full="$full:latest"; }
    cat > "$layout/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$manifest","size":$manifest_size,"platform":{"architecture":"$arch","os":"linux"},"annotations":{"io.containerd.image.name":"$full","org.opencontainers.image.ref.name":"${name##*:}"}}]}
JSON
    printf '{"imageLayoutVersion":"1.0.0"}\n' > "$layout/oci-layout"

    tar --create --file "$work/image.tar" --directory "$layout" \
        --format=gnu --sort=name --mtime="$mtime" \
        --owner=0 --group=0 --numeric-owner \
        oci-layout index.json blobs
    unpacked=$(du -sb "$rootfs" | cut -f1)
}

bootstrap
trim
configure_nginx
write_layout
mkdir -p "$(dirname "$output")"
# Atomic replace so a concurrent reader never sees a half-written file.
mv -f "$work/image.tar" "$output.tmp.$$"
mv -f "$output.tmp.$$" "$output"
echo "debian-app.sh: wrote $output ($(du -h "$output" | cut -f1) archive," \
    "$(( unpacked / 1024 / 1024 )) MiB unpacked, $package from $suite)"
echo "debian-app.sh: build took $(( $(date +%s) - start ))s"
