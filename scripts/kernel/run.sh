#!/usr/bin/env bash
# `npm test -- kernel`: boots the User-Mode Linux test kernel once and runs every engine *.kernel.test.ts inside it as
# root, one file at a time (they share the guest's IPVS table), printing node:test's TAP so scripts/test.sh can sum
# the `# pass N` / `# fail N` lines. Exits with the guest's exit code. Extra arguments select test files.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find engine -name '*.kernel.test.ts' -not -path '*/node_modules/*' | sort); fi
if [ ${#files[@]} -eq 0 ]; then echo "no kernel tests"; exit 0; fi
# --test-concurrency=1: the files share one kernel; each cleans up what it creates.
exec scripts/kernel/guest.sh "node --import tsx --test --test-concurrency=1 --test-reporter=tap ${files[*]}"
