#!/bin/sh
# Builds the fast-path loader's googletest binaries (plain and ASan/UBSan) and the fpctl tool
# into build/fastpath/, then runs both test binaries in a throwaway network namespace with a
# private bpffs, so nothing outside them is touched.
# `run.sh --build-only` stops after building (test/fastpath/loader.test.ts runs them itself,
# inside namespaces it names). Needs root, g++, libbpf-dev, libgtest-dev, clang (for the object).
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
out="$root/build/fastpath"
mkdir -p "$out"
[ -f "$root/build/bpf/flow_cache.bpf.o" ] || sh "$root/native/bpf/build.sh"
src="$root/native/fastpath"
lib="$src/loader.cc $src/attach.cc $src/maps.cc"
tests="$src/test/test_env.cc $src/test/loader_test.cc $src/test/attach_test.cc $src/test/maps_test.cc"
flags="-std=c++20 -Wall -Wextra -Werror -g"
# Up to date when every output exists and no source is newer than the oldest of them.
fresh=yes
for o in fastpath_test fastpath_test_asan fpctl; do
  if [ ! -f "$out/$o" ] || [ -n "$(find "$src" "$root/native/bpf/flow_cache.h" -newer "$out/$o" -name '*.[ch]*' | head -1)" ]; then
    fresh=no
  fi
done
if [ $fresh = no ]; then
g++ $flags -O2 -o "$out/fastpath_test.tmp" $lib $tests -lbpf -lgtest -lpthread
mv "$out/fastpath_test.tmp" "$out/fastpath_test"
g++ $flags -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
  -o "$out/fastpath_test_asan.tmp" $lib $tests -lbpf -lgtest -lpthread
mv "$out/fastpath_test_asan.tmp" "$out/fastpath_test_asan"
g++ $flags -O2 -o "$out/fpctl.tmp" $lib "$src/test/fpctl.cc" -lbpf
mv "$out/fpctl.tmp" "$out/fpctl"
fi
[ "${1:-}" = "--build-only" ] && exit 0
# A named namespace of our own (the binaries check they run in it); `ip netns exec` gives the
# command a private mount namespace, so the bpffs mounted there disappears with it.
obj="$root/build/bpf/flow_cache.bpf.o"
ns="pnfr$(od -An -N2 -tx2 /dev/urandom | tr -d ' ')-$$"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip -n "$ns" link set lo up
rc=0
for bin in fastpath_test fastpath_test_asan; do
  ip netns exec "$ns" sh -c '
    pins=$(mktemp -d /tmp/pnfp-pins.XXXXXX)
    mount -t bpf bpf "$pins"
    rc=0; "$1" --netns "$2" --object "$3" --pins "$pins" || rc=$?
    umount "$pins"; rmdir "$pins"
    exit $rc' sh "$out/$bin" "$ns" "$obj" || rc=1
done
exit $rc
