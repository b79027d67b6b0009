#!/usr/bin/env bash
# Run a named set of rcorch's root integration tests inside a throw-away
# guest VM whose only cgroup hierarchy is cgroup v2 (most users' hosts),
# and report their results here. The guest is Debian's cloud kernel booted
# by qemu with an initramfs built from this host's files: rcorch, the test
# binaries, the busybox image and the few host tools the tests call. It
# needs no network at run time; downloads are cached in $RCORCH_GUEST_CACHE.
#
# Usage: scripts/v2-guest.sh [--init busybox|systemd] [--tests "NAME..."]
#                            [--filter PATTERN] [--timeout SECS] [--keep-log FILE]
#   --init     the guest's PID 1: a busybox script (default), or this host's
#              systemd, which then runs the tests from a unit of its own
#              (for the systemd cgroup driver); its default tests: $SYSTEMD_TESTS
#   --tests    test targets (tests/NAME.rs) to run; default: $DEFAULT_TESTS
#   --filter   passed to each test binary (a test-name substring)
#   --timeout  whole guest run, seconds (default 2400)
# Env: RCORCH_GUEST_CACHE (default /var/cache/rcorch-guest),
#      RCORCH_TEST_BUSYBOX_TAR (default rootfs-tools/out/busybox.tar, built if absent),
#      RCORCH_GUEST_ACCEL (kvm|tcg; default: kvm when it works, else tcg),
#      RCORCH_GUEST_PROFILE (release|debug; default release): the cargo
#      profile rcorch and the test binaries are built with.
# Exit: 0 when every test binary passed in the guest, 1 otherwise.
set -euo pipefail
exec </dev/null

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

DEFAULT_TESTS="cgroup_v2_delegation cgroups_root run_limits run_lifecycle network_root project_lifecycle oci_runtime oci_config devices_bpf_root project_admission run_restart_root health_run_root stats_stream_root"
SYSTEMD_TESTS="cgroup_systemd_root oci_systemd_root"
tests=""
init=busybox
filter=""
timeout_secs=2400
keep_log=""
cache=${RCORCH_GUEST_CACHE:-/var/cache/rcorch-guest}

die() { echo "v2-guest.sh: error: $*" >&2; exit 1; }
say() { echo "v2-guest.sh: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --init) init="${2:?--init needs a value}"; shift 2 ;;
        --tests) tests="${2:?--tests needs a value}"; shift 2 ;;
        --filter) filter="${2:?--filter needs a value}"; shift 2 ;;
        --timeout) timeout_secs="${2:?--timeout needs a value}"; shift 2 ;;
        --keep-log) keep_log="${2:?--keep-log needs a value}"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

case "$init" in
    busybox) tests=${tests:-$DEFAULT_TESTS} ;;
    systemd)
        tests=${tests:-$SYSTEMD_TESTS}
        [ -x /lib/systemd/systemd ] || die "--init systemd needs systemd installed here (/lib/systemd/systemd)"
        ;;
    *) die "--init must be busybox or systemd, not $init" ;;
esac
profile=${RCORCH_GUEST_PROFILE:-release}
case "$profile" in
    release) cargo_profile=(--release) ;;
    debug) cargo_profile=() ;;
    *) die "RCORCH_GUEST_PROFILE must be release or debug, not $profile" ;;
esac

[ "$(id -u)" -eq 0 ] || die "must run as root (it builds an initramfs with root-owned files)"

# --- host packages -----------------------------------------------------------
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
command -v depmod >/dev/null || need_pkgs+=(kmod)
command -v cpio >/dev/null || need_pkgs+=(cpio)
command -v jq >/dev/null || need_pkgs+=(jq)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v ps >/dev/null || need_pkgs+=(procps)
command -v unshare >/dev/null || need_pkgs+=(util-linux)
command -v nft >/dev/null || need_pkgs+=(nftables)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    say "installing ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null \
        || die "could not install ${need_pkgs[*]} (apt-get update first?)"
fi

# --- the guest kernel (cached) ----------------------------------------------
mkdir -p "$cache"
kver=$(cat "$cache/kernel-version" 2>/dev/null || true)
if [ -z "$kver" ] || [ ! -f "$cache/kernel/boot/vmlinuz-$kver" ]; then
    pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
    [ -n "$pkg" ] || die "no linux-image-cloud-amd64 in apt (run apt-get update)"
    say "downloading $pkg (once; cached in $cache)"
    dl=$(mktemp -d "$cache/dl.XXXXXX")
    (cd "$dl" && apt-get download "$pkg" >/dev/null 2>&1) || { rm -rf "$dl"; die "apt-get download $pkg failed"; }
    rm -rf "$cache/kernel"
    dpkg-deb -x "$dl"/*.deb "$cache/kernel"
    rm -rf "$dl"
    kver=${pkg#linux-image-}
    depmod -b "$cache/kernel" "$kver"
    echo "$kver" >"$cache/kernel-version"
fi
kdir="$cache/kernel"
vmlinuz="$kdir/boot/vmlinuz-$kver"

# --- what runs inside --------------------------------------------------------
say "building rcorch and the test binaries ($profile)"
cargo build "${cargo_profile[@]}" --quiet --bin rcorch --bin rcorch-runtime
test_args=()
for t in $tests; do test_args+=(--test "$t"); done
bins_json=$(cargo test "${cargo_profile[@]}" --no-run --message-format=json --quiet "${test_args[@]}")
busybox_tar=${RCORCH_TEST_BUSYBOX_TAR:-$repo/rootfs-tools/out/busybox.tar}
[ -f "$busybox_tar" ] || rootfs-tools/busybox.sh --output "$busybox_tar" >/dev/null

work=$(mktemp -d /tmp/rcorch-v2-guest.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
init_root="$work/root"
mkdir -p "$init_root"/{bin,sbin,etc,proc,sys,dev,tmp,run,var/lib,usr/bin,usr/sbin,lib64,tests}

# Copies a host file and the shared libraries it needs to the same paths.
copy_with_libs() {
    local f=$1 dest=${2:-$1} lib
    mkdir -p "$init_root$(dirname "$dest")"
    cp -L "$f" "$init_root$dest"
    for lib in $(ldd "$f" 2>/dev/null | grep -oE '/[^ ]+' || true); do
        [ -e "$init_root$lib" ] && continue
        mkdir -p "$init_root$(dirname "$lib")"
        cp -L "$lib" "$init_root$lib"
    done
}

busybox=$(dpkg-query -L busybox-static 2>/dev/null | grep -E '/bin/busybox$' | head -n1 || true)
[ -x "${busybox:-}" ] || die "busybox-static is needed for the guest's shell (apt-get install busybox-static)"
cp "$busybox" "$init_root/bin/busybox"
# curl and procps' ps (busybox's has no -p): run_restart_root's scripts.
for tool in unshare nft nsenter mount umount bash ip jq curl ps; do
    copy_with_libs "$(command -v "$tool")"
done
# The OCI tests take runc's default config from `runc spec` (and skip
# without runc).
if command -v runc >/dev/null; then copy_with_libs "$(command -v runc)"; fi
# The tests find rcorch and rcorch-runtime at the absolute paths they were
# built with.
copy_with_libs "$repo/target/$profile/rcorch"
copy_with_libs "$repo/target/$profile/rcorch-runtime"
cp "$busybox_tar" "$init_root/busybox.tar"

run_list=""
for t in $tests; do
    exe=$(printf '%s\n' "$bins_json" | jq -r --arg t "$t" \
        'select(.reason == "compiler-artifact" and .target.name == $t and (.target.kind | index("test"))) | .executable' | tail -n1)
    [ -n "$exe" ] && [ "$exe" != null ] || die "no test target named $t (tests/$t.rs)"
    copy_with_libs "$exe" "/tests/$t"
    run_list="$run_list $t"
done

# Debug binaries carry hundreds of MB of debug info the guest has no use for.
if [ "$profile" = debug ]; then
    strip --strip-debug "$init_root$repo/target/debug/rcorch" \
        "$init_root$repo/target/debug/rcorch-runtime" "$init_root"/tests/*
fi

# Kernel modules rcorch needs (overlay, veth, bridge, nftables NAT/LB),
# with their dependencies, in load order.
mods=(overlay veth bridge nf_tables nft_nat nft_chain_nat nft_masq nft_ct nft_numgen
      nft_fib_inet nft_reject_inet nf_conntrack_netlink nft_redir)
: >"$init_root/modules.list"
for m in "${mods[@]}"; do
    modprobe -d "$kdir" -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" { print $2 }' |
        while read -r ko; do
            rel=${ko#"$kdir"}
            grep -qxF "$rel" "$init_root/modules.list" && continue
            mkdir -p "$init_root$(dirname "$rel")"
            cp "$ko" "$init_root$rel"
            echo "$rel" >>"$init_root/modules.list"
        done
done

# The systemd guest: this host's systemd as PID 1 with its unit files, and
# a target of ours whose service runs the tests and powers off.
if [ "$init" = systemd ]; then
    copy_with_libs /lib/systemd/systemd
    copy_with_libs "$(command -v systemctl)"
    mkdir -p "$init_root/usr/lib/systemd" "$init_root/etc/systemd/system"
    cp -a /usr/lib/systemd/system "$init_root/usr/lib/systemd/"
    tr -d '-' </proc/sys/kernel/random/uuid >"$init_root/etc/machine-id"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
        >"$init_root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$init_root/etc/group"
    cp -L /etc/os-release "$init_root/etc/os-release" 2>/dev/null || true
    cat >"$init_root/etc/systemd/system/rcorch-guest.target" <<'UNIT'
[Unit]
Description=rcorch guest tests
DefaultDependencies=no
Wants=rcorch-guest-tests.service
UNIT
    cat >"$init_root/etc/systemd/system/rcorch-guest-tests.service" <<'UNIT'
[Unit]
Description=rcorch's tests under systemd
DefaultDependencies=no
[Service]
Type=oneshot
ExecStart=/run-tests
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
UNIT
fi

# The tests, run by stage 2 (busybox init) or by systemd's unit.
cat >"$init_root/run-tests" <<EOF
#!/bin/busybox sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export RCORCH_TEST_BUSYBOX_TAR=/busybox.tar HOME=/root
# Tests that skip without systemd as PID 1 must not skip here.
export RCORCH_GUEST_INIT=$init
echo "@@GUEST cgroup: \$(stat -f -c %T /sys/fs/cgroup) controllers: \$(cat /sys/fs/cgroup/cgroup.controllers) pid1: \$(cat /proc/1/comm)"
cd /tmp
for t in $run_list; do
    echo "@@GUEST begin \$t"
    /tests/\$t --test-threads=1 $filter 2>&1
    echo "@@GUEST end \$t rc=\$?"
done
echo "@@GUEST done"
poweroff -f
EOF
chmod +x "$init_root/run-tests"

# Stage 1: pivot_root (which every container start calls) refuses the
# initramfs root, so copy everything into a tmpfs and switch_root there.
cat >"$init_root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /newroot
/bin/busybox mount -t tmpfs -o size=75% tmpfs /newroot
for d in /*; do
    case "$d" in /newroot|/proc|/sys|/dev) continue ;; esac
    /bin/busybox cp -a "$d" /newroot/
done
/bin/busybox mkdir -p /newroot/proc /newroot/sys /newroot/dev
exec /bin/busybox switch_root /newroot /stage2
EOF
cat >"$init_root/stage2" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs tmpfs /run
# The guest's only cgroup hierarchy: cgroup v2, as on most users' hosts.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
while read -r ko; do insmod "\$ko" 2>/dev/null; done </modules.list
ip link set lo up
echo 1 >/proc/sys/net/ipv4/ip_forward
exec /run-tests
EOF
if [ "$init" = systemd ]; then
    # systemd mounts /proc, /sys, /dev, /run and cgroup2 itself.
    cat >"$init_root/stage2" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
while read -r ko; do insmod "$ko" 2>/dev/null; done </modules.list
echo 1 >/proc/sys/net/ipv4/ip_forward
umount /proc
exec /lib/systemd/systemd
EOF
fi
chmod +x "$init_root/stage2"
chmod +x "$init_root/init"

initrd="$work/initrd.cpio"
(cd "$init_root" && find . | cpio -o -H newc --quiet >"$initrd")
say "initramfs $(du -h "$initrd" | cut -f1), kernel $kver"

accel=${RCORCH_GUEST_ACCEL:-}
if [ -z "$accel" ]; then
    # KVM fails inside some nested VMs ("failed to set MSR 0x10a"): a kernel
    # with no init panics and, with -no-reboot, qemu exits 0 only if KVM works.
    accel=tcg
    if [ -w /dev/kvm ] && timeout 60 qemu-system-x86_64 -enable-kvm -cpu host -m 256 -display none \
        -serial none -monitor none -no-reboot -kernel "$vmlinuz" \
        -append "panic=-1 rdinit=/nonexistent" </dev/null >/dev/null 2>&1; then
        accel=kvm
    fi
fi
case "$accel" in
    kvm) qemu_accel=(-enable-kvm -cpu host) ;;
    tcg) qemu_accel=(-accel tcg,thread=multi -cpu max) ;;
    *) die "RCORCH_GUEST_ACCEL must be kvm or tcg, not $accel" ;;
esac

init_args=""
if [ "$init" = systemd ]; then
    init_args=" systemd.unit=rcorch-guest.target systemd.unified_cgroup_hierarchy=1 systemd.show_status=0"
fi
log="$work/console.log"
say "booting the guest ($accel, init $init), at most ${timeout_secs}s; tests:$run_list"
set +e
timeout "$timeout_secs" qemu-system-x86_64 "${qemu_accel[@]}" -smp 2 -m 3072 -nographic -no-reboot \
    -kernel "$vmlinuz" -initrd "$initrd" -nic none \
    -append "console=ttyS0 panic=-1 rdinit=/init quiet loglevel=3 cgroup_no_v1=all$init_args" >"$log" 2>&1
qemu_rc=$?
set -e
[ -n "$keep_log" ] && cp "$log" "$keep_log"

# --- report ------------------------------------------------------------------
tr -d '\r' <"$log" | sed -n '/@@GUEST/,$p' | grep -v '^@@GUEST done' || true
failed=0
for t in $run_list; do
    rc=$(tr -d '\r' <"$log" | sed -n "s/^@@GUEST end $t rc=\([0-9]*\).*/\1/p" | tail -n1)
    if [ "$rc" = 0 ]; then
        echo "v2-guest: $t passed"
    else
        echo "v2-guest: $t FAILED (${rc:-no result})"
        failed=1
    fi
done
if ! tr -d '\r' <"$log" | grep -q '^@@GUEST done'; then
    echo "v2-guest: the guest did not finish (qemu exit $qemu_rc); last console lines:"
    tr -d '\r' <"$log" | tail -n 20
    failed=1
fi
exit "$failed"
