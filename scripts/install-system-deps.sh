#!/usr/bin/env bash
# Debian packages the tests and benchmarks need: a real Chromium for Playwright, a kernel with IPVS (User-Mode
# Linux) with ipvsadm/nftables as oracles, and the peers the benchmarks compare against. Idempotent.
set -euo pipefail
pkgs=(
  chromium                                     # Playwright drives Debian's Chromium (no browser download)
  user-mode-linux busybox-static kmod          # the IPVS test kernel and its initramfs
  ipvsadm nftables iproute2 strace             # kernel oracles and network namespaces
  qemu-system-x86                              # Debian-kernel test guest for nftables SNAT tests (UML lacks nft inet)
  openssl curl                                 # TLS tests
  haproxy nginx-light libnginx-mod-stream wrk  # benchmark peers and load generator
  dcmtk iputils-ping                           # health checks: DICOM peers (storescp, dcmqrscp) in tests; ping for ICMP checks
)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then echo "system deps: all present"; exit 0; fi
echo "system deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged haproxy and nginx services are not ours to run; benchmarks start their own instances.
for s in haproxy nginx; do $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true; $SUDO pkill -x "$s" >/dev/null 2>&1 || true; done
echo "system deps: done"
