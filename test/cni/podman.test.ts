// podman 4.3 with its CNI backend as a real runtime on a podnet network (REAL-CLIENTS.md recipe,
// fully offline: a busybox rootfs imported, nothing pulled). podman runs inside a host
// namespace this test creates (nsenter --net, not ip netns exec: podman needs the real /sys).
// Two containers get addresses, reach each other over HTTP, and removing one releases its IP.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { haveCommand, requires } from '../helpers/privileged';
import { NsSet, REPO, codeCacheDir, rootChecks } from './fixtures/helpers';

const checks = { ...rootChecks, podman: () => haveCommand('podman'), runc: () => haveCommand('runc'), 'busybox-static': () => existsSync('/bin/busybox') };

t.test('podman 4.3 on a podnet network', requires(checks), async (t) => {
  const ns = new NsSet();
  const host = ns.add('host');
  const tmp = ns.tmp;
  const netName = `${ns.prefix}net`;
  const dataDir = path.join(tmp, 'ipam');
  // podman writes these outside our temp dir; remove what did not exist before the test.
  const machinePaths = ['/var/lib/cni', '/var/lib/containers', '/var/lib/containers/cache', '/var/cache/containers'];
  const preexisting = new Set(machinePaths.filter((p) => existsSync(p)));

  const confDir = path.join(tmp, 'net.d');
  mkdirSync(confDir);
  writeFileSync(path.join(confDir, `${netName}.conflist`), JSON.stringify({
    cniVersion: '1.0.0', name: netName,
    plugins: [{ type: 'podnet', bridge: 'pnpod0', isolatePods: true,
      ipam: { type: 'podnet', ranges: [[{ subnet: '10.247.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir } }],
  }));
  const containersConf = path.join(tmp, 'containers.conf');
  const writeContainersConf = (pluginDir: string) => writeFileSync(containersConf, `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["${pluginDir}", "/usr/lib/cni"]
network_config_dir = "${confDir}"
default_network = "${netName}"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${tmp}/events.log"
runtime = "runc"
tmp_dir = "${tmp}/libpod"
`);
  writeContainersConf(path.join(REPO, 'bin'));
  const storageConf = path.join(tmp, 'storage.conf');
  writeFileSync(storageConf, `[storage]\ndriver = "overlay"\ngraphroot = "${tmp}/storage"\nrunroot = "${tmp}/run"\n`);
  const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: containersConf, CONTAINERS_STORAGE_CONF: storageConf, PODNET_CNI_REQUIRE_NAMED_NETNS: '1', PODNET_CNI_CACHE: codeCacheDir() };
  const podman = (args: string[], input?: Buffer) => {
    const r = spawnSync('nsenter', [`--net=/var/run/netns/${host}`, 'podman', ...args], { env, input, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
    return { code: r.status, out: (r.stdout ?? '').trim(), err: (r.stderr ?? '').trim() };
  };

  let server: ChildProcess | undefined;
  t.teardown(() => {
    if (server?.pid) { try { process.kill(server.pid, 'SIGTERM'); } catch { /* gone */ } }
    podman(['rm', '-af', '-t', '0']);
    podman(['rmi', '-af']);
    // overlay mounts podman may have left under our graphroot/runroot
    const mounts = spawnSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' }).stdout.split('\n').filter((m) => m.startsWith(tmp)).reverse();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    for (const p of machinePaths) if (!preexisting.has(p)) rmSync(p, { recursive: true, force: true });
    rmSync(`/var/lib/cni/results/${netName}`, { recursive: true, force: true });
    ns.cleanup();
  });

  // An offline image: busybox-static and a page for httpd.
  const rootfs = path.join(tmp, 'rootfs');
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  mkdirSync(path.join(rootfs, 'www'));
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  for (const a of ['sh', 'ip', 'wget', 'nc', 'sleep', 'cat', 'httpd', 'printf', 'grep']) symlinkSync('busybox', path.join(rootfs, 'bin', a));
  writeFileSync(path.join(rootfs, 'www/index.html'), 'hello from podnet\n');
  const tar = spawnSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 64 << 20 });
  const imp = podman(['import', '-', 'localhost/pncnibb'], tar.stdout);
  t.equal(imp.code, 0, `import: ${imp.err}`);

  const scenario = async (t: Test) => {
    const s1 = podman(['run', '--pull', 'never', '-d', '--name', 'srv', '--network', netName, 'localhost/pncnibb', 'httpd', '-f', '-p', '8080', '-h', '/www']);
    t.equal(s1.code, 0, `run server: ${s1.err}`);
    const ip = podman(['inspect', 'srv', '--format', `{{(index .NetworkSettings.Networks "${netName}").IPAddress}}`]).out;
    t.match(ip, /^10\.247\.0\.\d+$/, `server has a podnet address (${ip})`);
    t.ok(existsSync(path.join(dataDir, netName, ip)), 'reserved in podnet IPAM');

    // busybox-static's wget segfaults in a rootfs without NSS files; nc speaks HTTP well enough.
    const c = podman(['run', '--pull', 'never', '--rm', '--network', netName, 'localhost/pncnibb', 'sh', '-c', `ip -4 addr show eth0; for i in 1 2 3 4 5 6; do printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} 8080 | grep hello && exit 0; sleep 0.5; done; exit 1`]);
    t.equal(c.code, 0, `client: ${c.out} ${c.err}`);
    t.match(c.out, /inet 10\.247\.0\.\d+\/24/, 'client has its own address');
    t.match(c.out, /hello from podnet/, 'client reached the server');
    const clientIp = /inet (10\.247\.0\.\d+)/.exec(c.out)?.[1];
    t.not(clientIp, ip, 'distinct addresses');
    t.notOk(clientIp && existsSync(path.join(dataDir, netName, clientIp)), '--rm released the client address');

    const rm = podman(['rm', '-f', '-t', '0', 'srv']);
    t.equal(rm.code, 0, `rm: ${rm.err}`);
    t.notOk(existsSync(path.join(dataDir, netName, ip)), 'removing the container released its IP');
    t.same(readdirSync(path.join(dataDir, netName)).filter((n) => /^10\./.test(n)), [], 'nothing left reserved');
    t.notMatch(spawnSync('ip', ['-n', host, '-br', 'link'], { encoding: 'utf8' }).stdout, /pn[0-9a-f]{11}/, 'no host veth left');
  };

  await t.test('Node plugin (bin/podnet)', scenario);

  await t.test('native shim forwarding to the CNI server', requires({ cc: () => haveCommand('cc') }), async (t) => {
    const build = spawnSync('sh', [path.join(REPO, 'src/cni/shim/build.sh')], { encoding: 'utf8' });
    t.equal(build.status, 0, `shim builds: ${build.stderr}`);
    const socket = path.join(tmp, 'cni.sock');
    server = spawn('nsenter', [`--net=/var/run/netns/${host}`, process.execPath, path.join(REPO, 'dist/src/cni/server.js'), '--socket', socket],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PODNET_CNI_REQUIRE_NAMED_NETNS: '1' } });
    await new Promise((resolve, reject) => { server!.stdout!.once('data', resolve); server!.once('exit', reject); });
    writeContainersConf(path.join(REPO, 'dist/cni'));
    env.PODNET_CNI_SOCKET = socket;
    // ADDs must go through the server: a fallback to the Node plugin would fail loudly. (DELs run
    // by podman's cleanup process have a sanitised environment: they may use the fallback.)
    env.PODNET_CNI_FALLBACK = '/bin/false';
    await scenario(t);
  });
});
