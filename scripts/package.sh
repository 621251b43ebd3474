#!/usr/bin/env bash
# `npm run package`: the release a node installs without npm, a compiler or a Node of its own.
# Takes this checkout's build (addon, dist/src, checked fresh against their sources) and writes
#   release/podnet-<version>-linux-<arch>.tar.gz   one directory `podnet/`: `tar -xzf … -C /opt`
#   release/podnet_<version>_<debarch>.deb         the same tree in /opt/podnet, plus the unit,
#                                                  the config (a conffile) and the command links
# The tree: dist/src (compiled JS, no tests or benchmarks), the addon (and the BPF objects when
# built), production node_modules copied with their native parts built and pruned of devDependencies,
# the CNI shim (falling back to /opt/podnet/bin/podnet), bin/ launchers that run the bundled
# Node (node/bin/node: the registry's node-linux-<arch> package at this Node's version), systemd/.
# Maintainer scripts: scripts/deb/. Needs: dpkg-deb and dpkg-shlibdeps (dpkg-dev), cc, npm.
# PODNET_RELEASE_DIR: where to write (default release/).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
out=${PODNET_RELEASE_DIR:-$repo/release}
prefix=/opt/podnet
# The .deb's compression, type:level. xz:6 is the smallest (~28 MiB, a minute or more of CPU);
# the package test asks for gzip:1 (~50 MiB, a few seconds).
compression=${PODNET_DEB_COMPRESSION:-xz:6}

die() { echo "package: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps dpkg cc npm tar; do
  command -v "$tool" >/dev/null || die "$tool is missing (dpkg-dev, gcc, npm)"
done

version=$(node -p 'require("./package.json").version')
node_version=$(node -p 'process.version.slice(1)')
node_arch=$(node -p 'process.arch')
deb_arch=$(dpkg --print-architecture)
case "$node_arch:$deb_arch" in
  x64:amd64 | arm64:arm64) ;;
  *) die "cannot package for Node arch $node_arch on dpkg arch $deb_arch" ;;
esac
tarball=$out/podnet-$version-linux-$node_arch.tar.gz
deb=$out/podnet_${version}_$deb_arch.deb

# --- the build must be there and newer than its sources (a stale dist/ keeps deleted modules) ---
addon=build/Release/podnet_engine.node
[ -f "$addon" ] || die "$addon is missing: npx node-gyp rebuild"
# binding.gyp's sources and the headers beside them (not the fuzz, stress or unit-test trees).
mapfile -t native_dirs < <(grep -o '"[^"]*\.cc*"' binding.gyp | tr -d '"' | xargs -n1 dirname | sort -u)
[ ${#native_dirs[@]} -gt 0 ] || die "no sources in binding.gyp"
newer=$(find binding.gyp "${native_dirs[@]}" -maxdepth 1 \( -name '*.cc' -o -name '*.c' -o -name '*.h' -o -name binding.gyp \) -newer "$addon" | head -1)
[ -z "$newer" ] || die "$addon is older than $newer: npx node-gyp rebuild"
mapfile -t sources < <(find src -name '*.ts' ! -name '*.d.ts' | sort)
[ ${#sources[@]} -gt 0 ] || die "no TypeScript under src/"
for ts in "${sources[@]}"; do
  js=dist/${ts%.ts}.js
  [ -f "$js" ] || die "$js is missing: npx tsc -p ."
  if [ "$ts" -nt "$js" ]; then die "$js is older than $ts: npx tsc -p ."; fi
done

mkdir -p "$out"
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/podnet
mkdir -p "$root"

# --- compiled JS: only modules that still have a source (no maps: their sources are not shipped) ---
echo "package: dist/src (${#sources[@]} modules)"
for ts in "${sources[@]}"; do
  install -D -m 0644 "dist/${ts%.ts}.js" "$root/dist/${ts%.ts}.js"
done

# --- native parts: the addon, BPF objects when the build has them, the CNI shim ---
install -D -m 0644 "$addon" "$root/$addon"
if compgen -G 'build/bpf/*.o' >/dev/null; then
  install -d "$root/build/bpf"
  install -m 0644 build/bpf/*.o "$root/build/bpf/"
fi
OUT=$root/dist/cni/podnet FALLBACK=$prefix/bin/podnet sh src/cni/shim/build.sh >/dev/null

# --- launchers: sh and JavaScript at once. sh runs line 2 (exec the bundled node on this very
# file, through any symlink); Node skips line 1 and reads line 2 as a string and a comment. ---
install -d "$root/bin"
for f in bin/*; do
  head -1 "$f" | grep -q '^#!/usr/bin/env node' || die "$f does not start with #!/usr/bin/env node"
  {
    cat <<'LAUNCHER'
#!/bin/sh
':' //; f=$(readlink -f "$0"); exec "${f%/bin/*}/node/bin/node" "$f" "$@"
LAUNCHER
    tail -n +2 "$f"
  } >"$root/$f"
  chmod 0755 "$root/$f"
done

# --- production dependencies: this checkout's node_modules (native parts built), pruned ---
echo "package: node_modules (production only)"
cp package.json package-lock.json "$root/"
cp -a "$(readlink -f node_modules)/." "$root/node_modules/"
(cd "$root" && npm prune --omit=dev --ignore-scripts --offline --no-audit --no-fund --loglevel=error >/dev/null)
rm -rf "$root/node_modules/.bin" "$root/node_modules/.package-lock.json" "$root/package-lock.json"
# Prebuilt binaries for other systems: keep linux-<arch> with glibc only.
find "$root/node_modules" -type d -name prebuilds -prune -print | while read -r pb; do
  find "$pb" -mindepth 1 -maxdepth 1 -type d ! -name "linux-$node_arch" -exec rm -rf {} +
  find "$pb" -name '*musl*' -delete
done
# package.json: what projectRoot()/repoRoot() look for, without build scripts or devDependencies.
node -e '
  const p = require(process.argv[1]);
  const keep = { name: p.name, version: p.version, description: p.description, private: true, license: p.license, dependencies: p.dependencies };
  require("fs").writeFileSync(process.argv[1], JSON.stringify(keep, null, 2) + "\n");
' "$root/package.json"
cp binding.gyp README.md "$root/"
cp -r systemd "$root/systemd"

# --- the Node runtime, from the registry's platform package (cached in release/.cache) ---
node_pkg=node-linux-$node_arch
cache=$out/.cache
node_tgz=$cache/$node_pkg-$node_version.tgz
if [ ! -f "$node_tgz" ]; then
  echo "package: npm pack $node_pkg@$node_version"
  mkdir -p "$cache"
  (cd "$cache" && npm pack "$node_pkg@$node_version" --loglevel=error >/dev/null)
fi
[ -f "$node_tgz" ] || die "npm pack did not write $node_tgz"
install -d "$root/node"
tar -xzf "$node_tgz" -C "$root/node" --strip-components=1 package/bin/node package/LICENSE
[ "$(env -u NODE_OPTIONS "$root/node/bin/node" --version)" = "v$node_version" ] || die "bundled node is not v$node_version"

# --- tarball ---
echo "package: $tarball"
tar --owner=0 --group=0 --numeric-owner --sort=name -C "$stage" -czf "$tarball.tmp" podnet
mv "$tarball.tmp" "$tarball"

# --- .deb: the same tree under /opt/podnet ---
debroot=$stage/deb
install -d "$debroot/opt" "$debroot/DEBIAN" "$debroot/lib/systemd/system" "$debroot/etc/podnet/manifests" \
  "$debroot/usr/sbin" "$debroot/usr/bin"
mv "$root" "$debroot$prefix"
install -m 0644 systemd/podnetd.service "$debroot/lib/systemd/system/podnetd.service"
install -m 0644 systemd/podnetd.yaml "$debroot/etc/podnet/podnetd.yaml"
ln -s "$prefix/bin/podnetd" "$debroot/usr/sbin/podnetd"
ln -s "$prefix/bin/podnetctl" "$debroot/usr/bin/podnetctl"
echo /etc/podnet/podnetd.yaml >"$debroot/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "scripts/deb/$s" "$debroot/DEBIAN/$s"; done

# Depends: what the ELF files link (libc6, libstdc++6, libgcc-s1, libbpf1 for the kernel flow
# cache), as dpkg-shlibdeps works it out from the installed libraries' symbols, plus the tools the
# daemon and the unit run (ip, /bin/kill).
mapfile -t elves < <(find "$debroot$prefix" -type f \( -name '*.node' -o -path '*/node/bin/node' \) | sort)
shlibs=$(cd "$stage" && mkdir -p debian && printf 'Source: podnet\n\nPackage: podnet\nArchitecture: any\n' >debian/control &&
  dpkg-shlibdeps -O --warnings=0 "${elves[@]}" | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no library dependencies"
depends="$shlibs, iproute2, procps"

(cd "$debroot" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z | xargs -0 md5sum | sed 's#  \./#  #' >DEBIAN/md5sums)
cat >"$debroot/DEBIAN/control" <<EOF
Package: podnet
Version: $version
Architecture: $deb_arch
Maintainer: podnet maintainers <maintainers@podnet.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$debroot" | cut -f1)
Depends: $depends
Section: net
Priority: optional
Description: node-local networking for Kubernetes
 podnet is a userspace Kubernetes service data plane on a TUN device (podnetd), a CNI plugin
 (podnet, installed into /opt/cni/bin when that directory exists) and an operator CLI
 (podnetctl). It brings its own Node runtime in $prefix/node: no npm or compiler is needed.
 Configure /etc/podnet/podnetd.yaml, then: systemctl enable --now podnetd
EOF
echo "package: $deb"
dpkg-deb --root-owner-group "-Z${compression%%:*}" "-z${compression#*:}" --build "$debroot" "$deb.tmp" >/dev/null
mv "$deb.tmp" "$deb"
ls -l "$tarball" "$deb" | awk '{ printf "package: %s %.1f MiB\n", $NF, $5 / 1048576 }'
