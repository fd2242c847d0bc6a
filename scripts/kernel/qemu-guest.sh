#!/usr/bin/env bash
# Like guest.sh, but in QEMU (software emulation) with Debian's own kernel, whose nftables has the ip/ip6/inet
# families that UML's kernel lacks. Slower to boot (~15 s) and to run: used only for tests that need nftables.
# Usage: scripts/kernel/qemu-guest.sh '<command>'. Fetches linux-image-<version>-amd64 once (apt-get download).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-guest: qemu-system-x86_64 missing; run scripts/install-system-deps.sh" >&2; exit 3; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/fulcrum-qemu
mkdir -p "$cache"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$pkg" ] || { echo "qemu-guest: apt knows no linux-image-amd64 dependency (run apt-get update)" >&2; exit 3; }
kver=${pkg#linux-image-}
if [ ! -f "$cache/root/boot/vmlinuz-$kver" ]; then
  (cd "$cache" && apt-get download "$pkg" >/dev/null 2>&1 && dpkg -x "$pkg"_*.deb root && rm -f "$pkg"_*.deb) \
    || { echo "qemu-guest: could not fetch $pkg with apt-get download" >&2; exit 3; }
  depmod -b "$cache/root" "$kver"
fi
kmods="$cache/root/lib/modules"
initrd="$cache/initrd-$kver.gz"
if [ ! -s "$initrd" ] || [ "$repo/scripts/kernel/init-qemu.sh" -nt "$initrd" ]; then
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,sbin,proc,sys,dev,lib,host,tmp,modules}
  cp /bin/busybox "$root/bin/busybox"
  for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
  cp "$repo/scripts/kernel/init-qemu.sh" "$root/init"; chmod +x "$root/init"
  # The modules needed to mount the host over 9p, in load order.
  : > "$root/modules.order"
  for m in virtio_pci 9pnet_virtio 9p; do
    modprobe -d "$cache/root" -S "$kver" --show-depends "$m" | awk '$1=="insmod"{print $2}' | while read -r f; do
      b=$(basename "$f"); grep -qx "$b" "$root/modules.order" || { cp "$f" "$root/modules/"; echo "$b" >> "$root/modules.order"; }
    done
  done
  (cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$initrd.tmp" && mv "$initrd.tmp" "$initrd"
  rm -rf "$root"
fi
out=$(mktemp -d /var/tmp/fulcrum-qemu.XXXXXX)
trap 'rm -rf "$out"' EXIT
modules=${FULCRUM_MODULES:-"crc32c_generic libcrc32c ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh veth dummy bridge ipip nf_tables nft_nat nft_masq nft_chain_nat nft_ct nf_conntrack"}
printf 'FULCRUM_MODULES="%s"\nFULCRUM_CWD="%s"\nFULCRUM_KMODS="%s"\n' "$modules" "$repo" "$kmods" > "$out/env"
printf '%s\n' "$1" > "$out/cmd"
chmod 0777 "$out"
# crc32c_generic first: libcrc32c (needed by nf_conntrack and ip_vs) asks for the crc32c algorithm by name.
# TCG (software emulation): KVM is not available here. 2 GiB: Node and a few servers under emulation.
# timeout 900 s: the QEMU part takes about a minute; one still running after 15 is wedged.
timeout ${FULCRUM_QEMU_TIMEOUT:-900} qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 1 -nographic -no-reboot \
  -kernel "$cache/root/boot/vmlinuz-$kver" -initrd "$initrd" \
  -append "console=ttyS0 panic=-1 quiet rdinit=/init fulcrum_out=$out" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$out",mount_tag=out,security_model=none,multidevs=remap \
  </dev/null >"$out/console" 2>&1 || true
[ -n "${FULCRUM_QEMU_DEBUG:-}" ] && cat "$out/console" >&2
cat "$out/output" 2>/dev/null || true
if [ ! -s "$out/rc" ]; then echo "qemu-guest: the test kernel did not finish (no exit code); console:" >&2; tail -20 "$out/console" >&2; exit 4; fi
exit "$(cat "$out/rc")"
