#!/usr/bin/env bash
# Builds and runs the flow-table stress test (flow_stress.cc) twice: under ThreadSanitizer
# (finds races and ordering bugs) and at -O2 (many more operations per second, so the rare
# interleavings actually happen). Usage: native/stress/run.sh [seconds per run] [threads].
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-5}
threads=${2:-4}
mkdir -p out
flags=(-std=c++20 -g -Wall -Wextra -Werror -Wno-missing-field-initializers)
clang++ "${flags[@]}" -O1 -fsanitize=thread -o out/flow_stress_tsan flow_stress.cc ../flow_table.cc ../events.cc ../state_file.cc -lpthread
clang++ "${flags[@]}" -O2 -o out/flow_stress flow_stress.cc ../flow_table.cc ../events.cc ../state_file.cc -lpthread
echo "== ThreadSanitizer, ${secs} s, ${threads} threads"
TSAN_OPTIONS=halt_on_error=1:exitcode=66 timeout $((secs * 4 + 60)) ./out/flow_stress_tsan "$secs" "$threads"
echo "== -O2, ${secs} s, ${threads} threads"
timeout $((secs * 4 + 60)) ./out/flow_stress "$secs" "$threads"
