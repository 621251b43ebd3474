// The release package (scripts/package.sh, `npm run package`): the tarball holds what a node
// runs and nothing of development (tests, benchmarks, devDependencies), and the .deb installs
// into a fresh Debian root without npm, a compiler or a Node of its own: podnetd and podnetctl
// answer --help, the addon and the native dependencies load, the CNI plugin is installed and
// runs, the unit verifies against the installed files, a reinstall keeps an edited conffile,
// and purge leaves nothing behind. Every command in the root runs chrooted in a network
// namespace of its own (debian-root.ts), so removal's `podnetd --cleanup` touches nothing here.
import { appendFileSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { DebianRoot, cleanEnv, run } from './debian-root';

const REPO = path.resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  version: string; dependencies: Record<string, string>; devDependencies: Record<string, string>;
};
const arch = process.arch;

const checks = {
  root: isRoot,
  debootstrap: () => haveCommand('debootstrap'),
  'dpkg-deb': () => haveCommand('dpkg-deb'),
  'dpkg-shlibdeps (dpkg-dev)': () => haveCommand('dpkg-shlibdeps'),
  'unshare and chroot': () => haveCommand('unshare') && haveCommand('chroot'),
  'systemd-analyze': () => haveCommand('systemd-analyze'),
  'the addon built (npx node-gyp rebuild)': () => existsSync(path.join(REPO, 'build/Release/podnet_engine.node')),
  'dist/ built (npx tsc -p .)': () => existsSync(path.join(REPO, 'dist/src/daemon/main.js')),
};

t.test('release package: tarball and .deb', requires(checks), async (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'podnet-package-'));
  const releaseDir = path.join(tmp, 'release');
  const root = new DebianRoot(path.join(tmp, 'root'));
  t.teardown(() => {
    root.teardown();
    if (existsSync(root.dir)) t.fail(`${root.dir} still has mounts: left in place`);
    else rmSync(tmp, { recursive: true, force: true });
  });

  // npm run package, the way a release is made (gzip for the .deb: xz costs a minute of CPU).
  const built = run(['npm', 'run', 'package'], {
    cwd: REPO, env: { ...process.env, PODNET_RELEASE_DIR: releaseDir, PODNET_DEB_COMPRESSION: 'gzip:1' }, timeoutMs: 600_000,
  });
  t.equal(built.code, 0, `npm run package (${(built.ms / 1000).toFixed(1)} s)`) || t.comment(built.out + built.err);
  const tarball = path.join(releaseDir, `podnet-${pkg.version}-linux-${arch}.tar.gz`);
  const debArch = run(['dpkg', '--print-architecture']).out.trim();
  const deb = path.join(releaseDir, `podnet_${pkg.version}_${debArch}.deb`);
  if (!t.ok(existsSync(tarball) && existsSync(deb), 'tarball and .deb written')) return;

  await t.test('the tarball: what a node runs, nothing of development', async (t) => {
    const list = run(['tar', '-tzf', tarball]).out.split('\n').filter(Boolean).map((e) => e.replace(/\/$/, ''));
    const files = new Set(list);
    t.ok(list.every((e) => e === 'podnet' || e.startsWith('podnet/')), 'one top directory, podnet/');
    for (const f of ['bin/podnetd', 'bin/podnetctl', 'bin/podnet', 'node/bin/node', 'build/Release/podnet_engine.node',
      'dist/cni/podnet', 'dist/src/daemon/main.js', 'dist/src/ctl/main.js', 'dist/src/cni/main.js', 'dist/src/engine/index.js',
      'systemd/podnetd.service', 'systemd/podnetd.yaml', 'package.json', 'node_modules/netlink/package.json',
      'node_modules/@neuralegion/raw-socket/package.json', 'node_modules/@kubernetes/client-node/package.json']) {
      t.ok(files.has(`podnet/${f}`), `has ${f}`);
    }
    t.ok(list.some((e) => e.startsWith(`podnet/node_modules/netlink/prebuilds/linux-${arch}/`)), 'netlink built for this arch');
    t.ok(list.some((e) => e.startsWith(`podnet/node_modules/@neuralegion/raw-socket/prebuilds/linux-${arch}/`)), 'raw-socket built for this arch');
    const bpf = path.join(REPO, 'build/bpf');
    if (existsSync(bpf)) t.ok(list.some((e) => /^podnet\/build\/bpf\/.*\.o$/.test(e)), 'the BPF objects the build has');

    t.same(list.filter((e) => /^podnet\/(dist\/)?(test|bench)(\/|$)/.test(e)), [], 'no tests, no benchmarks');
    t.same(list.filter((e) => !e.startsWith('podnet/node_modules/') && /\.ts$/.test(e)), [], 'no TypeScript sources of our own');
    t.same(list.filter((e) => /^podnet\/dist\/.*\.map$/.test(e)), [], 'no source maps of unshipped sources');
    for (const dev of [...Object.keys(pkg.devDependencies).filter((d) => !d.startsWith('@types/')), '@tapjs/core']) {
      t.notOk(files.has(`podnet/node_modules/${dev}`), `no devDependency ${dev}`);
    }
    t.notOk(list.some((e) => /prebuilds\/(darwin|win32|android)/.test(e) || /musl/.test(e)), 'no prebuilds for other systems');
    t.notOk(files.has('podnet/package-lock.json'), 'no lockfile');
    const shipped = JSON.parse(run(['tar', '-xzOf', tarball, 'podnet/package.json']).out) as Record<string, unknown>;
    t.equal(shipped.name, 'podnet', 'package.json: name (how the code finds its root)');
    t.notOk('scripts' in shipped || 'devDependencies' in shipped, 'package.json: no build scripts, no devDependencies');

    // Unpacked anywhere, the launchers run the bundled node (not the one running this test).
    const where = path.join(tmp, 'unpacked');
    mkdirSync(where);
    run(['tar', '-xzf', tarball, '-C', where]);
    const launcher = readFileSync(path.join(where, 'podnet/bin/podnetd'), 'utf8');
    t.match(launcher, /^#!\/bin\/sh\n/, 'launcher: a sh script that execs node/bin/node…');
    const v = run([path.join(where, 'podnet/node/bin/node'), '--version']);
    t.equal(v.out.trim(), process.version, `bundled node is ${process.version}`);
    const help = run([...cleanEnv(), path.join(where, 'podnet/bin/podnetd'), '--help']);
    t.match(help.out, /^usage: podnetd/, '…and podnetd --help runs from the unpacked tree');
  });

  await t.test('the .deb in a fresh Debian root without npm or a compiler', async (t) => {
    const control = run(['dpkg-deb', '-f', deb]).out;
    t.match(control, new RegExp(`^Version: ${pkg.version.replace(/\./g, '\\.')}$`, 'm'), 'Version from package.json');
    t.match(control, new RegExp(`^Architecture: ${debArch}$`, 'm'), 'Architecture from dpkg');
    const depends = /^Depends: (.*)$/m.exec(control)?.[1] ?? '';
    for (const d of ['libc6', 'libstdc++6', 'libbpf1', 'iproute2', 'procps']) t.ok(depends.split(/,\s*/).some((x) => x.split(' ')[0] === d), `Depends on ${d}`);
    t.equal(run(['dpkg-deb', '--ctrl-tarfile', deb]).code, 0);
    t.match(run(['sh', '-c', `dpkg-deb --ctrl-tarfile '${deb}' | tar -xOf - ./conffiles`]).out, /^\/etc\/podnet\/podnetd\.yaml$/m, 'the config is a conffile');

    // iproute2, procps and libbpf1 (the kernel flow cache's loader): the package's Depends beyond what minbase has.
    const boot = root.bootstrap(['iproute2', 'procps', 'libbpf1']);
    t.comment(`debootstrap: ${(boot.ms / 1000).toFixed(1)} s`);
    if (!t.equal(boot.code, 0, 'debootstrap --variant=minbase')) { t.comment(boot.out.slice(-3000) + boot.err.slice(-3000)); return; }
    const absent = root.chroot(['sh', '-c', 'for c in gcc cc g++ npm node nodejs; do command -v $c && exit 1; done; exit 0']);
    t.equal(absent.code, 0, `no compiler, npm or node in the root ${absent.out.trim()}`);
    root.mountProc();
    mkdirSync(root.path('opt/cni/bin'), { recursive: true }); // a container runtime's CNI bin dir
    copyFileSync(deb, root.path('tmp/podnet.deb'));

    const install = root.chroot(['dpkg', '-i', '/tmp/podnet.deb']);
    t.comment(`dpkg -i: ${(install.ms / 1000).toFixed(1)} s`);
    if (!t.equal(install.code, 0, 'dpkg -i: dependencies met by the root')) { t.comment(install.out + install.err); return; }
    t.equal(lstatSync(root.path('usr/sbin/podnetd')).isSymbolicLink() && readlinkSync(root.path('usr/sbin/podnetd')), '/opt/podnet/bin/podnetd', '/usr/sbin/podnetd');
    t.equal(readlinkSync(root.path('usr/bin/podnetctl')), '/opt/podnet/bin/podnetctl', '/usr/bin/podnetctl');
    t.ok(existsSync(root.path('etc/podnet/podnetd.yaml')), '/etc/podnet/podnetd.yaml');
    t.ok(existsSync(root.path('etc/podnet/manifests')), 'the manifest directory the default config names');

    const daemonHelp = root.chroot(['podnetd', '--help']);
    t.equal(daemonHelp.code, 0, 'podnetd --help');
    t.match(daemonHelp.out, /^usage: podnetd/, 'podnetd --help: usage');
    const ctlHelp = root.chroot(['podnetctl', '--help']);
    t.match(ctlHelp.out, /^usage: podnetctl/, 'podnetctl --help: usage on stdout');
    t.equal(ctlHelp.code, 0, 'podnetctl --help exits 0');

    const load = root.chroot(['/opt/podnet/node/bin/node', '-e', `
      const { Engine } = require('/opt/podnet/dist/src/engine');
      const e = new Engine(); e.stats(); e.close();
      require('/opt/podnet/node_modules/netlink'); require('/opt/podnet/node_modules/@neuralegion/raw-socket');
      console.log('loaded');`]);
    t.equal(load.out.trim(), 'loaded', `the engine addon, netlink and raw-socket load ${load.err}`);

    // postinst installed the CNI plugin; with no podnetd running the shim falls back to bin/podnet.
    t.ok(readFileSync(root.path('opt/cni/bin/podnet')).equals(readFileSync(root.path('opt/podnet/dist/cni/podnet'))), 'postinst: CNI shim in /opt/cni/bin');
    t.ok(existsSync(root.path('etc/cni/net.d/10-podnet.conflist')), 'postinst: default conflist');
    const version = root.chroot(['/opt/cni/bin/podnet'], { CNI_COMMAND: 'VERSION' });
    t.match(version.out, /"supportedVersions"/, `CNI VERSION through the shim's fallback ${version.err}`);

    // The installed unit against the installed files: the host's systemd-analyze, in a mount
    // namespace where the root's /opt is /opt (the root has no systemd of its own).
    const unit = root.path('lib/systemd/system/podnetd.service');
    const verify = run(['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c',
      `mount --bind '${root.path('opt')}' /opt && exec systemd-analyze verify --man=no '${unit}'`], { env: { ...process.env, SYSTEMD_LOG_COLOR: '0' } });
    t.equal(verify.code, 0, 'systemd-analyze verify: exit 0');
    t.same(`${verify.out}\n${verify.err}`.split('\n').filter((l) => l.includes('podnetd.service')), [], 'systemd-analyze verify: nothing to say');
    t.match(readFileSync(unit, 'utf8'), /^ExecStart=\/opt\/podnet\/bin\/podnetd --config \/etc\/podnet\/podnetd\.yaml$/m, 'ExecStart');

    // Reinstall (an upgrade's path): the operator's edit of the conffile survives.
    appendFileSync(root.path('etc/podnet/podnetd.yaml'), '# edited on the node\n');
    const again = root.chroot(['dpkg', '-i', '/tmp/podnet.deb']);
    t.equal(again.code, 0, 'dpkg -i over the installed package');
    t.match(readFileSync(root.path('etc/podnet/podnetd.yaml'), 'utf8'), /# edited on the node\n$/, 'the edited conffile is kept');

    const purge = root.chroot(['dpkg', '--purge', 'podnet']);
    t.equal(purge.code, 0, `dpkg --purge ${purge.err}`);
    t.match(purge.out + purge.err, /cleaned up/, 'prerm ran podnetd --cleanup');
    for (const gone of ['opt/podnet', 'etc/podnet', 'var/lib/podnet', 'usr/sbin/podnetd', 'usr/bin/podnetctl', 'lib/systemd/system/podnetd.service', 'opt/cni/bin/podnet']) {
      t.notOk(existsSync(root.path(gone)), `purged: /${gone}`);
    }
  });
});
