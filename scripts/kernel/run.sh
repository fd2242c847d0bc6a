#!/usr/bin/env bash
# `npm test -- kernel`: runs the engine's *.kernel.test.ts as root inside throwaway test kernels and prints node:test's
# TAP, ending with one combined `# pass N` / `# fail N` for scripts/test.sh. Exit code: non-zero if any part failed.
#   - User-Mode Linux (scripts/kernel/guest.sh): every file, one at a time (they share the guest's IPVS table).
#   - QEMU with Debian's kernel (scripts/kernel/qemu-guest.sh): files whose first line says `// kernel: qemu`
#     (they need nftables' inet family, which UML's kernel lacks). Without qemu they run in UML and skip, saying why.
# The files run compiled to JavaScript (scripts/kernel/compile.mjs says why); FULCRUM_KERNEL_TSX=1 runs the sources
# through tsx instead. Extra arguments select test files.
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find engine lib -name '*.kernel.test.ts' -not -path '*/node_modules/*' | sort); fi
if [ ${#files[@]} -eq 0 ]; then echo "no kernel tests"; exit 0; fi
files=("${files[@]#"$PWD/"}") # a file named by its absolute path: relative to the repository, as the compiled tree is
uml=(); qemu=()
for f in "${files[@]}"; do
  if head -1 "$f" | grep -q '^// kernel: qemu' && command -v qemu-system-x86_64 >/dev/null; then qemu+=("$f"); else uml+=("$f"); fi
done
pass=0; fail=0; rc=0
run=(node --import tsx --test); js=""
if [ -z "${FULCRUM_KERNEL_TSX:-}" ]; then
  js=$(node scripts/kernel/compile.mjs "${files[@]}") || { echo "# pass 0"; echo "# fail ${#files[@]}"; exit 1; }
  trap 'rm -rf "$js"' EXIT
  run=(node --enable-source-maps --test)
fi
part() { # $1 runner, rest: files
  local runner=$1; shift
  local log; log=$(mktemp)
  local f args=(); for f in "$@"; do if [ -n "$js" ]; then args+=("$js/${f%.ts}.js"); else args+=("$f"); fi; done
  # --test-concurrency=1: the files share one kernel; each cleans up what it creates.
  "$runner" "${run[*]} --test-concurrency=1 --test-reporter=tap ${args[*]}" 2>&1 | tee "$log"
  local r=${PIPESTATUS[0]}
  local p f
  p=$(grep -E '^# pass [0-9]+' "$log" | tail -1 | awk '{print $3}'); f=$(grep -E '^# fail [0-9]+' "$log" | tail -1 | awk '{print $3}')
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
  [ "$r" -eq 0 ] || rc=1
  rm -f "$log"
}
# The two kernels run at the same time: the QEMU guest keeps one core busy (software emulation, one CPU) and the UML
# guest uses under one (about 0.7 of a core measured). Compiled (2026-12-03), UML took about 5.5 minutes and QEMU 4
# beside it; through tsx UML had taken 8 to 15.
# QEMU's TAP is held in a file and printed after UML's, so neither interleaves with the other.
qlog=$(mktemp); qpid=""
if [ ${#qemu[@]} -gt 0 ]; then (part scripts/kernel/qemu-guest.sh "${qemu[@]}" > "$qlog" 2>&1; echo "$pass $fail $rc" > "$qlog.sum") & qpid=$!; fi
[ ${#uml[@]} -gt 0 ] && { echo "── in User-Mode Linux: ${uml[*]}"; part scripts/kernel/guest.sh "${uml[@]}"; }
if [ -n "$qpid" ]; then
  wait "$qpid"
  echo "── in QEMU (Debian kernel): ${qemu[*]}"; cat "$qlog"
  read -r qp qf qr < "$qlog.sum" || { qp=0; qf=1; qr=1; }
  pass=$((pass + qp)); fail=$((fail + qf)); [ "$qr" -eq 0 ] || rc=1
fi
rm -f "$qlog" "$qlog.sum"
echo "# kernel tests, all parts"
echo "# pass $pass"
echo "# fail $fail"
exit $rc
