#!/usr/bin/env bash
# Builds the engine addon with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/Release/podnet_engine.node, beside the normal build. The engine tests run
# against it with PODNET_ADDON set and libasan preloaded (see test/engine/sanitizers.test.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/build-asan
mkdir -p "$work"
ln -sfn "$root/native" "$work/native"
ln -sfn "$root/node_modules" "$work/node_modules"
cp "$root/binding.gyp" "$work/binding.gyp"
# Build against the same Node headers npm uses for the normal build (npm config nodedir).
nodedir=${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}
args=(rebuild --loglevel=warn)
[ -n "$nodedir" ] && [ "$nodedir" != undefined ] && args+=("--nodedir=$nodedir")
(cd "$work" && PODNET_SANITIZE=1 "$root/node_modules/.bin/node-gyp" "${args[@]}" >/dev/null)
echo "build-asan: $work/build/Release/podnet_engine.node"
