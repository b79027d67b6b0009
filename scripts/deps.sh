#!/usr/bin/env bash
# Install the Debian packages rcorch needs, saying what and why, only when
# they are missing. No sudo: run it as root (as rcorch itself must run).
#
# Usage: scripts/deps.sh run     # what `rcorch run --rm busybox ...` needs
#        scripts/deps.sh test    # what scripts/test.sh needs (run's, plus the test tools)
#        scripts/deps.sh --list run|test   # print the package names, install nothing
set -euo pipefail

# package:why pairs, so every install says what it is for.
run_pkgs=(
    "busybox-static:the static busybox the busybox image is made of"
    "nftables:the nft command rcorch programs NAT and published ports with"
)
test_pkgs=(
    "${run_pkgs[@]}"
    "iproute2:the ip command the network tests inspect links with"
    "jq:JSON checks in the tests"
    "docker-registry:the local registry the push/pull tests talk to"
    "debootstrap:the Debian + nginx application image of the tests"
    "golang-go:building the OCI runtime conformance suite (scripts/conformance.sh)"
    "runc:the OCI runtime tests' reference config (runc spec)"
    "podman:the build tests compare rcorch build with podman build; tests/oci_podman.rs drives rcorch-runtime with it"
    "containerd:tests/oci_containerd.rs drives rcorch-runtime through containerd's runc shim (ctr run --runc-binary)"
    "python3-venv:the venv tests/kube_generate.rs installs kubernetes-validate into"
    "prometheus:the metrics test scrapes a project's /metrics with a real Prometheus"
)

die() {
    echo "deps.sh: error: $*" >&2
    exit 1
}

list=0
if [ "${1:-}" = "--list" ]; then
    list=1
    shift
fi
case "${1:-}" in
    run) wanted=("${run_pkgs[@]}") ;;
    test) wanted=("${test_pkgs[@]}") ;;
    *) die "usage: scripts/deps.sh [--list] run|test" ;;
esac

if [ "$list" -eq 1 ]; then
    for entry in "${wanted[@]}"; do echo "${entry%%:*}"; done
    exit 0
fi

installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
# A C linker: rustup installs none, and cargo cannot link without one.
if ! command -v cc >/dev/null 2>&1; then
    echo "deps.sh: gcc is missing: cargo needs a C compiler (cc) to link rcorch"
    missing+=(gcc libc6-dev)
fi
for entry in "${wanted[@]}"; do
    pkg="${entry%%:*}"
    if ! command -v dpkg-query >/dev/null 2>&1 || ! installed "$pkg"; then
        echo "deps.sh: $pkg is missing: it provides ${entry#*:}"
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps.sh: all needed packages are installed"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 \
    || die "apt-get not found: install these packages with your package manager: ${missing[*]}"
[ "$(id -u)" -eq 0 ] || die "installing ${missing[*]} needs root: run this as root"

export DEBIAN_FRONTEND=noninteractive
# The test tools (prometheus, docker-registry) are daemons the tests start
# on their own ports: forbid the packages to start (and keep) their
# services, unless the machine already has a policy of its own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# deps.sh: no service starts while installing test tools\nexit 101\n' \
        >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
echo "deps.sh: apt-get update"
apt-get update -q
echo "deps.sh: apt-get install ${missing[*]}"
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
# The tests run their own prometheus (temp config and storage, a port in
# their network namespace): the package's service stays off at boot too.
for entry in "${missing[@]}"; do
    if [ "$entry" = prometheus ]; then
        echo "deps.sh: disabling the prometheus service (the tests start their own)"
        systemctl disable prometheus.service >/dev/null 2>&1 \
            || rm -f /etc/systemd/system/multi-user.target.wants/prometheus.service
        update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
done
