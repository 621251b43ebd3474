#!/usr/bin/env bash
# Sets up a fresh Debian machine for podnet: the tools the tests, demo and benchmarks drive
# (Debian packages), the npm dependencies, the native engine (normal and ASan+UBSan builds)
# and the TypeScript. Idempotent; run as root from the project root.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  iproute2 ethtool iputils-ping curl socat iperf3 sockperf tcpdump
  nftables iptables haproxy conntrack
  clang libclang-rt-14-dev libgtest-dev libbpf-dev linux-libc-dev bpftool
  containernetworking-plugins podman runc busybox-static
  systemd util-linux gcc g++ make debootstrap dpkg-dev
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci builds the addon (node-gyp, -O2, -Werror) and compiles the TypeScript.
npm ci --no-audit --no-fund
npm run build:asan
echo "setup: done"
