#!/usr/bin/env bash
# The README's second command (and CI's): set up a fresh Debian machine, then run the whole suite.
# Always ends with the line "N passed, N failed" — a failed setup counts as one failure.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/as-root.sh
if ! bash scripts/setup.sh; then
  echo "setup failed"
  echo "0 passed, 1 failed"
  exit 1
fi
npm test
