// The plugin for real, as root, in namespaces this test creates: the plugin runs inside a
// "host" namespace (nsenter), so the bridge lands there; pods are namespaces of their own.
// Two pods reach each other (routed through the host with isolatePods), results per version,
// CHECK, DEL idempotency (twice, netns gone), a failed ADD leaves nothing, GC, STATUS,
// delegation to Debian's host-local, and concurrent ADDs.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { requires } from '../helpers/privileged';
import { NsSet, pings, podnetConf, refChecks, rootChecks, runPlugin, runPluginAsync, sh } from './fixtures/helpers';

t.test('podnet CNI end to end', requires(rootChecks), async (t) => {
  const ns = new NsSet();
  t.teardown(() => ns.cleanup());
  const host = ns.add('host');
  sh('ip', ['netns', 'exec', host, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  const dataDir = path.join(ns.tmp, 'ipam');
  const conf = podnetConf(dataDir);
  const add = (id: string, pod: string, c: object = conf, extra: object = {}) =>
    runPlugin({ command: 'ADD', containerId: id, netns: ns.path(pod), ifname: 'eth0', hostNs: host, ...extra }, c);
  const del = (id: string, pod: string | undefined, c: object = conf) =>
    runPlugin({ command: 'DEL', containerId: id, netns: pod ? ns.path(pod) : undefined, ifname: 'eth0', hostNs: host }, c);
  const reserved = () => readdirSync(path.join(dataDir, 'podnet')).filter((n) => !n.startsWith('l')).sort();
  const hostLinks = () => sh('ip', ['-n', host, '-br', 'link']);

  const a = ns.add('a');
  const b = ns.add('b');
  const ra = add('ctr-a', a);
  const rb = add('ctr-b', b);

  await t.test('ADD result (1.0.0)', async (t) => {
    t.equal(ra.code, 0, ra.stdout + ra.stderr);
    const r = ra.json;
    t.equal(r.cniVersion, '1.0.0');
    t.same(r.interfaces.map((i: any) => i.name).filter((n: string) => !n.startsWith('pn')), ['podnet0', 'eth0']);
    t.match(r.interfaces[1].name, /^pn[0-9a-f]{11}$/, 'host veth named from a hash');
    t.equal(r.interfaces[2].sandbox, ns.path(a));
    t.same(r.ips, [
      { interface: 2, address: '10.244.1.2/24', gateway: '10.244.1.1' },
      { interface: 2, address: 'fd00:10:244:1::2/64', gateway: 'fd00:10:244:1::1' },
    ]);
    t.same(r.routes, [{ dst: '0.0.0.0/0' }, { dst: '::/0' }]);
    t.equal(ra.stderr, '', 'nothing on stderr by default');
    const inPod = ns.exec(a, ['ip', '-j', 'addr', 'show', 'eth0']);
    t.match(inPod, /10\.244\.1\.2/);
    t.match(inPod, new RegExp(r.interfaces[2].mac));
    t.match(ns.exec(a, ['ip', 'route']), /default via 10\.244\.1\.1 dev eth0/);
    t.match(ns.exec(a, ['ip', '-6', 'route']), /default via fd00:10:244:1::1 dev eth0/);
    t.match(ns.exec(a, ['ip', 'link', 'show', 'lo']), /UP/, 'lo up');
    t.equal(ns.exec(a, ['sysctl', '-n', 'net.ipv6.conf.eth0.accept_redirects']).trim(), '0', 'the pod ignores ICMPv6 redirects');
    t.match(sh('ip', ['-n', host, '-d', 'link', 'show', r.interfaces[1].name]), /isolated on/, 'port isolated');
    t.match(sh('ip', ['-n', host, '-6', 'neigh', 'show', 'proxy']), /fd00:10:244:1::2 dev podnet0 proxy/, 'proxy NDP entry');
  });

  await t.test('logs go to stderr, never stdout', async (t) => {
    const pod = ns.add('log');
    const r = runPlugin({ command: 'ADD', containerId: 'ctr-log', netns: ns.path(pod), ifname: 'eth0', hostNs: host, extraEnv: { PODNET_CNI_LOG: 'debug' } }, conf);
    t.equal(r.code, 0);
    t.doesNotThrow(() => JSON.parse(r.stdout), 'stdout is exactly the result');
    t.match(r.stderr, /"step":"configure-netns"/, 'steps logged on stderr');
    t.equal(del('ctr-log', pod).code, 0);
    ns.remove(pod);
  });

  await t.test('two pods reach each other (routed via the host)', async (t) => {
    t.equal(rb.code, 0, rb.stdout);
    t.ok(pings(ns, a, '10.244.1.3'), 'IPv4 a → b');
    t.ok(pings(ns, b, '10.244.1.2'), 'IPv4 b → a');
    t.ok(pings(ns, a, 'fd00:10:244:1::3'), 'IPv6 a → b');
    const neigh = ns.exec(a, ['ip', 'neigh', 'show', '10.244.1.3']);
    t.match(neigh, new RegExp(ra.json.interfaces[0].mac), 'a sees b at the bridge MAC (proxy ARP)');
    t.match(ns.exec(a, ['ping', '-c1', '-W1', '10.244.1.3']), /ttl=63/, 'TTL decremented: routed, not switched');
    t.match(ns.exec(a, ['ip', '-6', 'neigh', 'show', 'fd00:10:244:1::3']), new RegExp(ra.json.interfaces[0].mac), 'proxy NDP');
    // TCP both ways, the replies routed back out of the bridge they came in by: the node's
    // redirects would name the other pod's MAC, which isolated ports never deliver to.
    for (let i = 0; i < 5; i++) t.ok(pings(ns, b, 'fd00:10:244:1::2'), `IPv6 b → a, round ${i + 1}`);
    t.match(ns.exec(b, ['ip', '-6', 'neigh', 'show', 'fd00:10:244:1::2']), new RegExp(ra.json.interfaces[0].mac), 'b still sees a at the bridge MAC');
  });

  await t.test('CHECK', async (t) => {
    const c = { ...conf, prevResult: ra.json };
    const ok = runPlugin({ command: 'CHECK', containerId: 'ctr-a', netns: ns.path(a), ifname: 'eth0', hostNs: host }, c);
    t.equal(ok.code, 0, ok.stdout);
    t.equal(ok.stdout, '', 'no output on success');
    sh('ip', ['-n', a, 'route', 'del', 'default']);
    const bad = runPlugin({ command: 'CHECK', containerId: 'ctr-a', netns: ns.path(a), ifname: 'eth0', hostNs: host }, c);
    t.equal(bad.code, 1);
    t.match(bad.json.msg, /route 0\.0\.0\.0\/0/);
    sh('ip', ['-n', a, 'route', 'add', 'default', 'via', '10.244.1.1']);
    sh('ip', ['-n', a, 'addr', 'del', 'fd00:10:244:1::2/64', 'dev', 'eth0']);
    const bad2 = runPlugin({ command: 'CHECK', containerId: 'ctr-a', netns: ns.path(a), ifname: 'eth0', hostNs: host }, c);
    t.match(bad2.json?.msg, /lacks address fd00/);
  });

  await t.test('result shapes per cniVersion from a real ADD', async (t) => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.1.0']) {
      const pod = ns.add(`v${v.replace(/\./g, '')}`);
      const r = add(`ctr-${v}`, pod, { ...conf, cniVersion: v });
      t.equal(r.code, 0, r.stdout);
      t.equal(r.json.cniVersion, v, `${v}: answered in the config's version`);
      t.equal('version' in r.json.ips[0], v.startsWith('0.'), `${v}: ips version field`);
      t.equal('mtu' in r.json.interfaces[2], v === '1.1.0', `${v}: interface mtu only in 1.1.0`);
      t.equal(del(`ctr-${v}`, pod, { ...conf, cniVersion: v }).code, 0);
      ns.remove(pod);
    }
  });

  await t.test('DEL is idempotent, also with the netns gone', async (t) => {
    const before = reserved();
    t.ok(before.includes('10.244.1.3'));
    t.equal(del('ctr-b', b).code, 0, 'DEL');
    t.notOk(reserved().includes('10.244.1.3'), 'IPv4 released');
    t.notOk(reserved().includes('fd00:10:244:1::3'), 'IPv6 released');
    t.notMatch(sh('ip', ['-n', host, '-6', 'neigh', 'show', 'proxy']), /fd00:10:244:1::3/, 'proxy entry removed');
    t.equal(del('ctr-b', b).code, 0, 'DEL again');
    t.equal(del('never-added', undefined).code, 0, 'DEL of nothing, no CNI_NETNS');
    const hostName = ra.json.interfaces[1].name;
    ns.remove(a);
    const r = del('ctr-a', a);
    t.equal(r.code, 0, `DEL with netns gone: ${r.stdout}`);
    t.notOk(reserved().includes('10.244.1.2'), 'released');
    t.notMatch(hostLinks(), new RegExp(hostName), 'host veth gone');
  });

  await t.test('a failed ADD leaves no veth and no reservation', async (t) => {
    const pod = ns.add('fail');
    sh('ip', ['-n', pod, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'x0']); // CNI_IFNAME taken
    const r = add('ctr-fail', pod);
    t.equal(r.code, 1);
    t.equal(r.json.code, 5);
    t.match(r.json.msg, /create veth/);
    t.same(reserved(), [], 'no reservation');
    // Now fail later: the requested IP is outside the range, after the veth exists.
    sh('ip', ['-n', pod, 'link', 'del', 'eth0']);
    const r2 = add('ctr-fail', pod, conf, { cniArgs: 'IgnoreUnknown=1;IP=10.9.9.9' });
    t.equal(r2.json?.code, 7, r2.stdout);
    t.notMatch(hostLinks(), /pn[0-9a-f]{11}/, 'veth undone');
    t.notMatch(sh('ip', ['-n', pod, 'link']), /eth0/, 'container side gone too');
    t.same(reserved(), []);
    const r3 = add('ctr-req', pod, conf, { cniArgs: 'IgnoreUnknown=1;IP=10.244.1.77;MAC=02:11:22:33:44:55' });
    t.equal(r3.json.ips[0].address, '10.244.1.77/24', 'requested IP via CNI_ARGS');
    t.equal(r3.json.interfaces[2].mac, '02:11:22:33:44:55', 'MAC via CNI_ARGS');
    const dr = del('ctr-req', pod);
    t.equal(dr.code, 0, dr.stdout);
  });

  await t.test('GC and STATUS (1.1.0)', async (t) => {
    const c11 = { ...conf, cniVersion: '1.1.0' };
    const p1 = ns.add('gc1');
    const p2 = ns.add('gc2');
    t.equal(add('ctr-gc1', p1, c11).code, 0);
    t.equal(add('ctr-gc2', p2, c11).code, 0);
    const g = runPlugin({ command: 'GC', hostNs: host }, { ...c11, 'cni.dev/valid-attachments': [{ containerID: 'ctr-gc1', ifname: 'eth0' }] });
    t.equal(g.code, 0, g.stdout);
    const left = reserved();
    t.equal(left.length, 2, 'one pod (v4+v6) kept');
    t.equal(sh('ip', ['-n', host, '-br', 'link']).match(/pn[0-9a-f]{11}/g)?.length, 1, 'stale host veth removed');
    t.notMatch(sh('ip', ['-n', p2, 'link']), /eth0/, 'its container side too');
    t.equal(sh('ip', ['-n', host, '-6', 'neigh', 'show', 'proxy']).trim().split('\n').filter(Boolean).length, 1, 'stale proxy entry removed');
    const s = runPlugin({ command: 'STATUS' }, c11);
    t.equal(s.code, 0, s.stdout);
    t.equal(del('ctr-gc1', p1, c11).code, 0);
  });

  await t.test('subnet from the node pod CIDR podnetd records; MAC from runtimeConfig', async (t) => {
    const nodeFile = ns.writeFile('node.json', JSON.stringify({ podCIDRs: ['10.248.0.0/24', 'fd00:248::/64'] }));
    const c = podnetConf(dataDir, { name: 'fromnode', bridge: 'podnet3', runtimeConfig: { mac: '02:aa:bb:cc:dd:ee' } }, { ranges: undefined });
    const pod = ns.add('node');
    const r = runPlugin({ command: 'ADD', containerId: 'ctr-node', netns: ns.path(pod), ifname: 'eth0', hostNs: host, extraEnv: { PODNET_NODE_STATE: nodeFile } }, c);
    t.equal(r.code, 0, r.stdout);
    t.same(r.json.ips.map((i: any) => i.address), ['10.248.0.2/24', 'fd00:248::2/64']);
    t.equal(r.json.interfaces[2].mac, '02:aa:bb:cc:dd:ee');
    t.match(ns.exec(pod, ['ip', 'link', 'show', 'eth0']), /02:aa:bb:cc:dd:ee/);
    const missing = runPlugin({ command: 'ADD', containerId: 'ctr-node2', netns: ns.path(pod), ifname: 'eth1', hostNs: host, extraEnv: { PODNET_NODE_STATE: '/nonexistent/node.json' } }, c);
    t.equal(missing.json?.code, 5, 'no node file: I/O error');
    t.match(missing.json?.msg, /pod CIDR is unknown/);
    t.notMatch(sh('ip', ['-n', pod, 'link']), /eth1/, 'and the veth was undone');
    t.equal(runPlugin({ command: 'DEL', containerId: 'ctr-node', netns: ns.path(pod), ifname: 'eth0', hostNs: host }, c).code, 0, 'DEL needs no node file');
  });

  await t.test('isolatePods false: a plain bridge', async (t) => {
    const p1 = ns.add('plain1');
    const p2 = ns.add('plain2');
    const c = podnetConf(dataDir, { isolatePods: false, bridge: 'podnet1', name: 'plain' }, { ranges: [[{ subnet: '10.245.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] });
    const r1 = add('p1', p1, c); const r2 = add('p2', p2, c);
    t.equal(r1.code + r2.code, 0, r1.stdout + r2.stdout);
    t.notMatch(sh('ip', ['-n', host, '-d', 'link', 'show', r1.json.interfaces[1].name]), /isolated on/);
    t.match(ns.exec(p1, ['ping', '-c1', '-W2', '10.245.0.3']), /ttl=64/, 'switched: TTL untouched');
    t.equal(r1.json.ips.length, 1, 'v4 only');
    t.notMatch(ns.exec(p1, ['ip', '-6', 'route']), /default/, 'no ::/0 route on a v4-only pod');
  });

  await t.test('delegation to host-local in CNI_PATH', requires(refChecks), async (t) => {
    const pod = ns.add('hl');
    const hlDir = path.join(ns.tmp, 'host-local');
    const c = { cniVersion: '1.0.0', name: 'hl', type: 'podnet', bridge: 'podnet2', ipam: { type: 'host-local', subnet: '10.246.0.0/24', routes: [{ dst: '0.0.0.0/0' }], dataDir: hlDir } };
    const r = add('ctr-hl', pod, c);
    t.equal(r.code, 0, r.stdout);
    t.equal(r.json.ips[0].address, '10.246.0.2/24');
    t.equal(r.json.ips[0].gateway, '10.246.0.1');
    t.ok(existsSync(path.join(hlDir, 'hl', '10.246.0.2')), 'host-local wrote its reservation');
    t.ok(pings(ns, pod, '10.246.0.1'), 'gateway on the bridge');
    t.equal(runPlugin({ command: 'CHECK', containerId: 'ctr-hl', netns: ns.path(pod), ifname: 'eth0', hostNs: host }, { ...c, prevResult: r.json }).code, 0, 'CHECK via host-local');
    t.equal(del('ctr-hl', pod, c).code, 0);
    t.notOk(existsSync(path.join(hlDir, 'hl', '10.246.0.2')), 'host-local released it');
    const bad = add('ctr-hl2', pod, { ...c, ipam: { type: 'no-such-ipam' } });
    t.equal(bad.json?.code, 4, 'missing IPAM plugin: code 4');
    t.match(bad.json?.msg, /no-such-ipam/);
  });

  await t.test('concurrent ADDs get distinct addresses', async (t) => {
    const n = 6; // 64 at once run through the server in shim.test.ts; here the cross-process lock
    const pods = Array.from({ length: n }, (_, i) => ns.add(`cc${i}`));
    const rs = await Promise.all(pods.map((p, i) => runPluginAsync({ command: 'ADD', containerId: `cc-${i}`, netns: ns.path(p), ifname: 'eth0', hostNs: host }, conf)));
    t.same(rs.map((r) => r.code), Array(n).fill(0), rs.map((r) => r.stdout).join('\n'));
    t.equal(new Set(rs.map((r) => r.json?.ips[0].address)).size, n, 'distinct IPv4');
    t.equal(new Set(rs.map((r) => r.json?.ips[1].address)).size, n, 'distinct IPv6');
    const ds = await Promise.all(pods.map((p, i) => runPluginAsync({ command: 'DEL', containerId: `cc-${i}`, netns: ns.path(p), ifname: 'eth0', hostNs: host }, conf)));
    t.same(ds.map((r) => r.code), Array(n).fill(0));
    t.same(reserved(), []);
  });
});
