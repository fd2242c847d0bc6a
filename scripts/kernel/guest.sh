#!/usr/bin/env bash
# Run one shell command as root inside a fresh User-Mode Linux guest that has IPVS, and stream back its output and
# exit code. Usage: scripts/kernel/guest.sh '<command>'   (run from anywhere; the command runs in the repo root)
# The guest sees the host's filesystem read-only (so host Node, node_modules and ipvsadm are used as they are), a
# private /tmp, and its own kernel: IPVS tables, nftables and network namespaces die with it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
uml=${FULCRUM_UML:-/usr/bin/linux.uml}
[ -x "$uml" ] || { echo "guest: $uml missing; run scripts/install-system-deps.sh (user-mode-linux)" >&2; exit 3; }
ver=$(ls /usr/lib/uml/modules | head -1)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/fulcrum-uml
mkdir -p "$cache"
initrd="$cache/initrd-$ver.gz"
# The initramfs is busybox plus init.sh; rebuilt when init.sh changes.
if [ ! -s "$initrd" ] || [ "$repo/scripts/kernel/init.sh" -nt "$initrd" ]; then
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,sbin,proc,sys,dev,lib,host,tmp}
  cp /bin/busybox "$root/bin/busybox"
  for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
  cp "$repo/scripts/kernel/init.sh" "$root/init"; chmod +x "$root/init"
  (cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$initrd.tmp" && mv "$initrd.tmp" "$initrd"
  rm -rf "$root"
fi
# On a host whose CPU has AMX, Debian's UML cannot restore a guest's FPU state without scripts/kernel/xstate-shim.c
# (the reason is in that file); it is harmless elsewhere, so it is always used. Rebuilt when its source changes.
shim="$cache/xstate-shim.so"
if [ ! -s "$shim" ] || [ "$repo/scripts/kernel/xstate-shim.c" -nt "$shim" ]; then
  if command -v cc >/dev/null; then
    tmp=$(mktemp "$shim.XXXXXX")
    cc -O2 -Wall -shared -fPIC -o "$tmp" "$repo/scripts/kernel/xstate-shim.c" -ldl && mv "$tmp" "$shim"
  else
    echo "guest: no C compiler (cc) to build scripts/kernel/xstate-shim.c; on a CPU with AMX the guest will not boot" >&2
  fi
fi
preload=(); [ -s "$shim" ] && preload=(env LD_PRELOAD="$shim")
out=$(mktemp -d /var/tmp/fulcrum-uml.XXXXXX)
trap 'rm -rf "$out"' EXIT
modules=${FULCRUM_MODULES:-"ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_dh ip_vs_mh ip_vs_sed ip_vs_nq ip_vs_lblc ip_vs_lblcr ip_vs_fo ip_vs_ovf veth dummy bridge ipip ip6_tunnel tunnel6 nf_tables nft_nat nft_masq nft_chain_nat nft_ct nf_conntrack"}
printf 'FULCRUM_MODULES="%s"\nFULCRUM_CWD="%s"\n' "$modules" "$repo" > "$out/env"
printf '%s\n' "$1" > "$out/cmd"
chmod 0777 "$out"
# mem: Node plus a few HTTP servers fit in 1 GiB. The console carries only kernel noise: discard it unless debugging.
# timeout 1500 s: the whole UML suite took about 5.5 minutes compiled, 8 to 15 through tsx (2026-12-03); a guest
# still running after 25 is wedged, and CI's budget is better spent reporting that than waiting.
timeout ${FULCRUM_UML_TIMEOUT:-1500} "${preload[@]}" "$uml" mem=${FULCRUM_UML_MEM:-1G} initrd="$initrd" rdinit=/init con=null con0=null,fd:1 con1=null ssl=null quiet \
  FULCRUM_OUT="$out" </dev/null >"$out/console" 2>&1 || true
[ -n "${FULCRUM_UML_DEBUG:-}" ] && cat "$out/console" >&2
cat "$out/output" 2>/dev/null || true
if [ ! -s "$out/rc" ]; then echo "guest: the test kernel did not finish (no exit code); console:" >&2; tail -20 "$out/console" >&2; exit 4; fi
exit "$(cat "$out/rc")"
