// The thick-plugin path: the native shim (src/cni/shim/podnet-shim.c) forwarding calls to the
// CNI server (src/cni/server.ts, hosted by podnetd in production) answers exactly like the Node
// plugin; without a server it falls back to the Node plugin; a server that dies mid-call makes
// it answer "try again" (code 11) rather than run the call twice.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { haveCommand, requires } from '../helpers/privileged';
import { NsSet, REPO, pings, podnetConf, rootChecks, runPlugin, runPluginAsync } from './fixtures/helpers';

const SHIM = path.join(REPO, 'dist/cni/podnet');

t.test('shim + CNI server', requires({ ...rootChecks, 'a C compiler (cc)': () => haveCommand('cc') }), async (t) => {
  const build = spawnSync('sh', [path.join(REPO, 'src/cni/shim/build.sh')], { encoding: 'utf8' });
  t.equal(build.status, 0, `shim builds: ${build.stderr}`);
  const ns = new NsSet();
  let server: ChildProcess | undefined;
  t.teardown(() => { if (server?.pid) { try { process.kill(server.pid, 'SIGTERM'); } catch { /* gone */ } } ns.cleanup(); });
  const host = ns.add('host');
  const socket = path.join(ns.tmp, 'cni.sock');
  const dataDir = path.join(ns.tmp, 'ipam');
  const conf = podnetConf(dataDir);
  const viaShim = (o: Parameters<typeof runPlugin>[0], c: unknown) =>
    runPlugin({ ...o, plugin: SHIM, extraEnv: { PODNET_CNI_SOCKET: socket, ...o.extraEnv } }, c);

  await t.test('no server: falls back to the Node plugin', async (t) => {
    const r = viaShim({ command: 'VERSION' }, { cniVersion: '1.0.0' });
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.equal(r.json?.cniVersion, '1.0.0');
    const e = viaShim({ command: 'ADD', containerId: 'x', ifname: 'eth0' }, conf);
    t.equal(e.json?.code, 4, 'errors too');
  });

  server = spawn('nsenter', [`--net=/var/run/netns/${host}`, process.execPath, path.join(REPO, 'dist/src/cni/server.js'), '--socket', socket],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PODNET_CNI_REQUIRE_NAMED_NETNS: '1' } });
  await new Promise((resolve, reject) => { server!.stdout!.once('data', resolve); server!.once('exit', reject); });

  await t.test('ADD/CHECK/DEL through the server', async (t) => {
    const a = ns.add('a'); const b = ns.add('b');
    const o = (id: string, pod: string) => ({ containerId: id, netns: ns.path(pod), ifname: 'eth0', hostNs: host });
    const ra = viaShim({ command: 'ADD', ...o('sa', a) }, conf);
    const rb = viaShim({ command: 'ADD', ...o('sb', b) }, conf);
    t.equal(ra.code, 0, ra.stdout);
    t.equal(rb.code, 0, rb.stdout);
    t.same(ra.json.ips.map((i: any) => i.address), ['10.244.1.2/24', 'fd00:10:244:1::2/64']);
    t.same(Object.keys(ra.json).sort(), ['cniVersion', 'dns', 'interfaces', 'ips', 'routes']);
    t.ok(pings(ns, a, '10.244.1.3'), 'pods reach each other');
    t.equal(viaShim({ command: 'CHECK', ...o('sa', a) }, { ...conf, prevResult: ra.json }).code, 0, 'CHECK');
    const bad = viaShim({ command: 'ADD', ...o('sc', a) }, { ...conf, mtu: 'x' });
    t.same(bad.json, { cniVersion: '1.0.0', code: 7, msg: 'invalid config mtu: must be an integer in 68..65535', details: 'mtu="x"' }, 'errors pass through');
    t.equal(bad.code, 1);
    for (const [id, pod] of [['sa', a], ['sb', b]]) {
      t.equal(viaShim({ command: 'DEL', ...o(id, pod) }, conf).code, 0);
      t.equal(viaShim({ command: 'DEL', ...o(id, pod) }, conf).code, 0, 'DEL again');
    }
    t.same(readdirSync(path.join(dataDir, 'podnet')).filter((n) => /^(10|fd)/.test(n)), [], 'all released');
  });

  await t.test('64 ADDs at once through the server: 64 distinct addresses, all released', async (t) => {
    const n = 64;
    const pods = Array.from({ length: n }, (_, i) => ns.add(`m${i}`));
    const call = (command: string, i: number) => runPluginAsync({
      command, containerId: `many-${i}`, netns: ns.path(pods[i]), ifname: 'eth0', hostNs: host, plugin: SHIM, extraEnv: { PODNET_CNI_SOCKET: socket },
    }, conf);
    const adds = await Promise.all(pods.map((_, i) => call('ADD', i)));
    t.same(adds.filter((r) => r.code !== 0).map((r) => r.stdout), [], 'all ADDs succeed');
    t.equal(new Set(adds.map((r) => r.json?.ips?.[0]?.address)).size, n, '64 distinct IPv4');
    t.equal(new Set(adds.map((r) => r.json?.ips?.[1]?.address)).size, n, '64 distinct IPv6');
    const dels = await Promise.all(pods.map((_, i) => call('DEL', i)));
    t.same(dels.map((r) => r.code), Array(n).fill(0), 'all DELs succeed');
    t.same(readdirSync(path.join(dataDir, 'podnet')).filter((x) => /^(10|fd)/.test(x)), [], 'all released');
    for (const p of pods) ns.remove(p);
  });

  await t.test('a server that dies mid-call: code 11, not a second run', async (t) => {
    const dead = path.join(ns.tmp, 'dead.sock');
    const srv = net.createServer({ allowHalfOpen: true }, (s) => { s.on('data', () => {}); s.on('end', () => s.destroy()); });
    await new Promise<void>((r) => srv.listen(dead, r));
    // Async: the fake server lives in this process, a blocking spawn would starve it.
    const r = await runPluginAsync({ command: 'VERSION', plugin: SHIM, extraEnv: { PODNET_CNI_SOCKET: dead } }, '{}');
    srv.close();
    t.equal(r.code, 1);
    t.equal(r.json?.code, 11);
    t.ok(existsSync(SHIM));
  });
});
