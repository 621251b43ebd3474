#!/bin/sh
# Builds the podnet CNI shim (podnet-shim.c) into dist/cni/podnet. FALLBACK is the Node plugin
# it execs when podnetd's CNI server is not listening (default: this checkout's bin/podnet).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${OUT:-$repo/dist/cni/podnet}
fallback=${FALLBACK:-$repo/bin/podnet}
mkdir -p "$(dirname "$out")"
${CC:-cc} -O2 -Wall -Wextra -Werror -static-pie -o "$out" -DPODNET_FALLBACK="\"$fallback\"" "$here/podnet-shim.c" 2>/dev/null ||
  ${CC:-cc} -O2 -Wall -Wextra -Werror -o "$out" -DPODNET_FALLBACK="\"$fallback\"" "$here/podnet-shim.c"
echo "$out"
