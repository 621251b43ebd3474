#!/bin/sh
# Builds the kernel flow cache: the tc program (build/bpf/flow_cache.bpf.o) and the
# BPF_PROG_TEST_RUN harness the fast-path tests drive (build/bpf/testrun), and the object as
# C initialisers the addon embeds (build/bpf/flow_cache.bpf.inc). Runs before node-gyp.
# Needs clang (BPF target), libbpf-dev and the kernel UAPI headers.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build/bpf"
mkdir -p "$out"
# -mcpu=v3: atomic OR for the flow's accumulated TCP flags.
clang -O2 -g -target bpf -mcpu=v3 -Wall -Werror -I/usr/include/"$(cc -print-multiarch)" \
  -c "$root/native/bpf/flow_cache.bpf.c" -o "$out/flow_cache.bpf.o.tmp"
mv "$out/flow_cache.bpf.o.tmp" "$out/flow_cache.bpf.o"
# The same bytes as C initialisers, for the addon to embed (native/fastpath/embedded.cc).
od -An -v -tx1 "$out/flow_cache.bpf.o" | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g' >"$out/flow_cache.bpf.inc.tmp"
mv "$out/flow_cache.bpf.inc.tmp" "$out/flow_cache.bpf.inc"
cc -O2 -g -std=c11 -Wall -Wextra -Werror -o "$out/testrun.tmp" "$root/native/bpf/testrun.c" -lbpf
mv "$out/testrun.tmp" "$out/testrun"
