#!/usr/bin/env bash
# Builds and runs the pipeline fuzzer (libFuzzer + ASan + UBSan) for N seconds (default 60).
# Usage: native/fuzz/run.sh [seconds] [seed dir]. The corpus grows in native/fuzz/out/corpus
# (seeded from the engine fixtures by test/engine/fuzz.test.ts); findings land in native/fuzz/out/.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
mkdir -p out/corpus
srcs=(../policy.cc ../policy_build.cc ../range_set.cc ../checksum.cc ../packet.cc ../maglev.cc ../flow_table.cc ../events.cc
      ../state_file.cc ../service_table.cc ../pipeline.cc ../new_flow.cc ../rewrite.cc ../icmp.cc ../reply.cc ../tun.cc ../tun_steering.cc
      ../engine.cc ../kernel_cache.cc ../fastpath/loader.cc ../fastpath/attach.cc ../fastpath/maps.cc
      ../fastpath/embedded.cc)
# embedded.cc includes the program's bytes from build/bpf (native/bpf/build.sh, run by the addon build).
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Wall -Wextra -Werror -Wno-missing-field-initializers -I../../build/bpf -o out/fuzz_pipeline fuzz_pipeline.cc "${srcs[@]}" \
  -lbpf -lpthread
[ -n "${2:-}" ] && cp -n "$2"/* out/corpus/ 2>/dev/null || true
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=0 \
  ./out/fuzz_pipeline -max_total_time="$secs" -print_final_stats=1 -artifact_prefix=out/ out/corpus
