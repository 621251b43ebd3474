#!/usr/bin/env bash
# Builds and runs the engine's C++ unit tests (googletest, native/test/*_test.cc) twice:
# with the addon's warning flags (binding.gyp) at -O2, and under AddressSanitizer +
# UndefinedBehaviorSanitizer (see Makefile). Needs g++, make and libgtest-dev; no root, no Node.
# Usage: native/test/run.sh [out dir]   (default native/test/out)
# Writes <out>/plain.json and <out>/sanitize.json (gtest's JSON report) and exits non-zero
# when a build fails or any test fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-$here/out}" && cd "${1:-$here/out}" && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
make -s -C "$here" -j"$jobs" OUT="$out/plain"
make -s -C "$here" -j"$jobs" OUT="$out/sanitize" SANITIZE=1
status=0
"$out/plain/unit" --gtest_output="json:$out/plain.json" || status=1
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "$out/sanitize/unit" --gtest_output="json:$out/sanitize.json" || status=1
exit $status
