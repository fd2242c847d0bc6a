#!/usr/bin/env bash
# npm test: unit and integration tests (node:test), kernel tests inside the IPVS test kernel, then Playwright.
# `npm test -- unit|kernel|e2e` runs one part. Each part prints its own totals; the last line sums them up.
set -uo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1 CHECKPOINT_DISABLE=1 PRISMA_HIDE_UPDATE_MESSAGE=1
# Health checks in tests probe loopback only: a test that names other addresses (the 192.168.10.x of the Symphony
# examples) gets "not checked" for them instead of traffic leaving the machine. Kernel tests run in their own kernel.
export FULCRUM_HEALTH_ALLOWED_NETWORKS="${FULCRUM_HEALTH_ALLOWED_NETWORKS:-127.0.0.0/8,::1/128}"
parts=("${@:-unit kernel e2e}"); parts=(${parts[*]})
failed=0; total_pass=0; total_fail=0

count() { # sums "# pass N" / "# fail N" from a TAP log
  local p f
  p=$(grep -E '^# pass [0-9]+' "$1" | tail -1 | awk '{print $3}'); f=$(grep -E '^# fail [0-9]+' "$1" | tail -1 | awk '{print $3}')
  total_pass=$((total_pass + ${p:-0})); total_fail=$((total_fail + ${f:-0}))
}

for part in "${parts[@]}"; do
  log=$(mktemp)
  case "$part" in
    unit)
      echo "── unit and integration tests"
      # A test that hangs fails after 5 minutes instead of holding CI until its own limit.
      mapfile -t files < <(find engine lib app components scripts -name '*.test.ts' ! -name '*.kernel.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
      node --import tsx --test --test-concurrency=2 --test-timeout=300000 "${files[@]}" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
      count "$log" ;;
    kernel)
      echo "── kernel tests (IPVS, inside User-Mode Linux)"
      if [ -x scripts/kernel/run.sh ]; then
        scripts/kernel/run.sh 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}; count "$log"
      else echo "no kernel tests yet"; rc=0; fi ;;
    e2e)
      echo "── browser tests (Playwright, Debian Chromium)"
      npx playwright test 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
      p=$(grep -oE '^ *[0-9]+ passed' "$log" | tail -1 | grep -oE '[0-9]+'); f=$(grep -oE '^ *[0-9]+ failed' "$log" | tail -1 | grep -oE '[0-9]+')
      total_pass=$((total_pass + ${p:-0})); total_fail=$((total_fail + ${f:-0})) ;;
    *) echo "unknown part: $part (use unit, kernel or e2e)"; rc=2 ;;
  esac
  [ "$rc" -eq 0 ] || failed=1
  rm -f "$log"
done
echo "${total_pass} passed, ${total_fail} failed"
exit $failed
