#!/usr/bin/env bash
# Debian packages the tests and benchmarks need: a real Chromium for Playwright, a kernel with IPVS (User-Mode
# Linux) with ipvsadm/nftables as oracles, and the peers the benchmarks compare against. Idempotent.
set -euo pipefail
pkgs=(
  chromium                                     # Playwright drives Debian's Chromium (no browser download)
  user-mode-linux busybox-static kmod          # the IPVS test kernel and its initramfs
  gcc libc6-dev                                # builds scripts/kernel/xstate-shim.c, without which UML cannot boot on a CPU with AMX
  ipvsadm nftables iproute2 strace             # kernel oracles and network namespaces
  qemu-system-x86                              # Debian-kernel test guest for nftables SNAT tests (UML lacks nft inet)
  openssl curl                                 # TLS tests; curl is also the HA track script (asks the engine socket)
  haproxy nginx-light libnginx-mod-stream wrk  # benchmark peers and load generator
  nghttp2-client                               # h2load: the HTTP/2 rows of bench:l7 (and their fixed-rate p99)
  dcmtk iputils-ping                           # health checks: DICOM peers (storescp, dcmqrscp) in tests; ping for ICMP checks
  iputils-arping                               # the wizard's ARP check (lib/wizard/arp-check.ts): who answers ARP for a VIP;
                                               # Debian ships arping with cap_net_raw, so the console needs no root
  nmap                                         # nping: the engine's DR check that a real server accepts packets for the VIP
                                               # (a SYN to VIP:port framed to the server's MAC; engine/probe/vip-answer.ts)
  keepalived                                   # HA: VRRP. The engine runs its own instance (its file and pid files in the
                                               # data directory), never the package's keepalived.service: kept from
                                               # starting below, and it would not start anyway without an
                                               # /etc/keepalived/keepalived.conf (its ConditionFileNotEmpty)
  prometheus                                   # lib/metrics.prometheus.test.ts scrapes /metrics with the real server: the
                                               # test starts its own (own config, temp TSDB, loopback port) by pid; the
                                               # package's prometheus.service is kept from starting below
  rsyslog rsyslog-openssl                      # lib/syslog tests: a real rsyslogd (own config, loopback ports, temp output
                                               # file, TLS through the openssl driver), never the system's rsyslog.service
  python3-aiosmtpd                             # lib/alerts tests: a real SMTP server on a loopback port, unprivileged
)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then echo "system deps: all present"; exit 0; fi
echo "system deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# Packages with a daemon (haproxy, nginx, keepalived, prometheus …) must not start it on install: the tests and
# benchmarks run their own instances, by process id. Debian's way is a policy-rc.d that answers 101 ("not allowed") while apt runs;
# one that already exists is the machine owner's, and is left as it is.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# made by Fulcrum scripts/install-system-deps.sh while it installs; removed after\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"; created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# A daemon package installed just now is also kept from starting at the next boot. Services this script did not
# install (someone's own haproxy or nginx) are not touched.
for p in "${missing[@]}"; do
  case "$p" in haproxy|keepalived|prometheus|rsyslog) s=$p ;; nginx-light) s=nginx ;; *) continue ;; esac
  $SUDO systemctl disable "$s" >/dev/null 2>&1 || true
done
echo "system deps: done"
