// Spec conformance that needs no root: VERSION, error codes and their naming rules (1/3/4/6/7),
// which commands each cniVersion allows, stdout carrying only the answer, and the result shape
// per cniVersion (0.3.x/0.4.0 carry ip "version", 1.x not; 1.1.0 keeps interface mtu).
import t from 'tap';
import { toVersion, fromAny, type Result } from '../../src/cni/result';
import { buildResult } from '../../src/cni/add';
import { parseConfig } from '../../src/cni/config';
import { readEnv } from '../../src/cni/env';
import { runPlugin, podnetConf } from './fixtures/helpers';

const base = { containerId: 'ctr1', netns: '/var/run/netns/none', ifname: 'eth0' };
const conf = podnetConf('/nonexistent-podnet-test');

t.test('VERSION', async (t) => {
  const r = runPlugin({ command: 'VERSION' }, { cniVersion: '1.0.0' });
  t.equal(r.code, 0);
  t.same(r.json, { cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  const bare = runPlugin({ command: 'VERSION' }, '');
  t.equal(bare.json.cniVersion, '1.1.0', 'no config: latest');
});

t.test('error codes', async (t) => {
  const cases: [string, Parameters<typeof runPlugin>[0], unknown, number, RegExp][] = [
    ['bad JSON → 6', { command: 'ADD', ...base }, '{nope', 6, /unmarshal/],
    ['not an object → 6', { command: 'ADD', ...base }, '[1]', 6, /not a JSON object/],
    ['missing CNI_NETNS → 4 naming it', { command: 'ADD', containerId: 'c', ifname: 'eth0' }, conf, 4, /CNI_NETNS/],
    ['missing CNI_IFNAME on DEL → 4', { command: 'DEL', containerId: 'c' }, conf, 4, /CNI_IFNAME/],
    ['missing container ID → 4 (as the reference)', { command: 'ADD', netns: '/x', ifname: 'eth0' }, conf, 4, /CNI_CONTAINERID/],
    ['bad container ID → 4', { command: 'ADD', ...base, containerId: 'a/b' }, conf, 4, /containerID/],
    ['bad ifname → 4', { command: 'ADD', ...base, ifname: 'eth0:1' }, conf, 4, /CNI_IFNAME/],
    ['long ifname → 4', { command: 'ADD', ...base, ifname: 'a'.repeat(16) }, conf, 4, /too long/],
    ['unknown command → 4', { command: 'FOO', ...base }, conf, 4, /CNI_COMMAND/],
    ['version → 1', { command: 'ADD', ...base }, { ...conf, cniVersion: '9.9.9' }, 1, /incompatible/],
    ['bad name → 7', { command: 'ADD', ...base }, { ...conf, name: 'a/b' }, 7, /name/],
    ['mtu string → 7', { command: 'ADD', ...base }, { ...conf, mtu: 'abc' }, 7, /mtu/],
    ['isolatePods → 7', { command: 'ADD', ...base }, { ...conf, isolatePods: 'yes' }, 7, /isolatePods/],
    ['no ipam → 7', { command: 'ADD', ...base }, { ...conf, ipam: undefined }, 7, /ipam/],
    ['bad subnet → 7', { command: 'ADD', ...base }, podnetConf('/x', {}, { ranges: [[{ subnet: '10.0.0.0/33' }]] }), 7, /ipam\.ranges\[0\]\[0\]\.subnet/],
    ['rangeStart outside → 7', { command: 'DEL', ...base }, podnetConf('/x', {}, { ranges: [[{ subnet: '10.0.0.0/24', rangeStart: 'x' }]] }), 7, /rangeStart/],
    ['bad mac → 7', { command: 'ADD', ...base }, { ...conf, runtimeConfig: { mac: 'zz' } }, 7, /mac/],
    ['CHECK on 0.3.1 → 1', { command: 'CHECK', ...base }, { ...conf, cniVersion: '0.3.1' }, 1, /CHECK/],
    ['GC on 1.0.0 → 1', { command: 'GC' }, conf, 1, /GC/],
    ['STATUS on 1.0.0 → 1', { command: 'STATUS' }, conf, 1, /STATUS/],
    ['GC without valid-attachments → 7', { command: 'GC' }, { ...conf, cniVersion: '1.1.0' }, 7, /valid-attachments/],
    ['bad prevResult → 6', { command: 'DEL', ...base }, { ...conf, prevResult: { cniVersion: '1.0.0', ips: 'x' } }, 6, /prevResult/],
  ];
  for (const [name, opts, input, code, msg] of cases) {
    const r = runPlugin({ ...opts, extraEnv: { PODNET_NODE_STATE: '/nonexistent' } }, input);
    t.equal(r.code, 1, `${name}: exit 1`);
    t.equal(r.json?.code, code, `${name}: code ${code}`);
    t.match(`${r.json?.msg} ${r.json?.details ?? ''}`, msg, `${name}: message names it`);
    t.type(r.json?.cniVersion, 'string', `${name}: error carries cniVersion`);
    t.equal(r.stdout.trim().split('\n').length, 1, `${name}: stdout is one JSON object`);
  }
  const c7 = runPlugin({ command: 'ADD', ...base }, { ...conf, mtu: 'abc' });
  t.equal(c7.json.details, 'mtu="abc"', 'code 7 details: key=value');
});

t.test('status without a node pod CIDR → 50', async (t) => {
  const c = podnetConf('/tmp', { cniVersion: '1.1.0' }, { ranges: undefined });
  const r = runPlugin({ command: 'STATUS', extraEnv: { PODNET_NODE_STATE: '/nonexistent/node.json' } }, c);
  t.equal(r.json?.code, 50);
  t.match(r.json?.msg, /pod CIDR/);
});

t.test('env parsing', async (t) => {
  const e = readEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/n', CNI_IFNAME: 'eth0', CNI_PATH: '/a:/b', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.0.0.9' });
  t.same(e.path, ['/a', '/b']);
  t.equal(e.args.get('IP'), '10.0.0.9');
  t.equal(e.args.get('K8S_POD_NAME'), 'p');
});

t.test('unknown keys ignored, defaults applied', async (t) => {
  const c = parseConfig(Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'podnet', whatever: 1, ipam: { type: 'host-local', subnet: '10.0.0.0/24' } })));
  t.equal(c.bridge, 'podnet0');
  t.equal(c.mtu, 1500);
  t.equal(c.isolatePods, true);
  t.equal(c.ipam.type, 'host-local', 'delegated IPAM kept raw');
});

const sample: Result = {
  cniVersion: '1.1.0',
  interfaces: [{ name: 'podnet0', mac: '02:00:00:00:00:01' }, { name: 'pnabc', mac: '02:00:00:00:00:02' }, { name: 'eth0', mac: '02:00:00:00:00:03', mtu: 1500, sandbox: '/var/run/netns/x' }],
  ips: [{ address: '10.244.1.2/24', gateway: '10.244.1.1', interface: 2 }, { address: 'fd00::2/64', gateway: 'fd00::1', interface: 2 }],
  routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', priority: 5 }],
  dns: {},
};

t.test('result shape per version', async (t) => {
  for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
    const r = toVersion(sample, v) as any;
    t.equal(r.cniVersion, v);
    t.same(r.ips.map((i: any) => i.version), ['4', '6'], `${v}: ips carry version`);
    t.notOk('mtu' in r.interfaces[2], `${v}: no interface mtu`);
    t.notOk('priority' in r.routes[1], `${v}: no 1.1 route fields`);
    t.same(fromAny(r).ips, sample.ips, `${v}: round trip`);
  }
  const r10 = toVersion(sample, '1.0.0') as any;
  t.notOk('version' in r10.ips[0], '1.0.0: no ip version');
  t.notOk('mtu' in r10.interfaces[2], '1.0.0: no interface mtu');
  const r11 = toVersion(sample, '1.1.0') as any;
  t.equal(r11.interfaces[2].mtu, 1500, '1.1.0: interface mtu');
  t.equal(r11.routes[1].priority, 5, '1.1.0: route priority');
  t.equal(r11.interfaces[2].sandbox, '/var/run/netns/x');
});

t.test('chained after another plugin: prevResult kept, our indices shifted', async (t) => {
  const c = parseConfig(Buffer.from(JSON.stringify({ ...podnetConf('/x'), prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'lo0' }], ips: [{ address: '192.0.2.1/32', interface: 0 }], dns: { nameservers: ['192.0.2.53'] } } })));
  const env = readEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/n', CNI_IFNAME: 'eth0', CNI_PATH: '/x' });
  const r = buildResult(c, env, { ips: [{ address: '10.244.1.2/24', gateway: '10.244.1.1', family: 4 }], routes: [{ dst: '0.0.0.0/0' }] },
    [{ name: 'podnet0' }, { name: 'pnx' }, { name: 'eth0', sandbox: '/n' }]);
  t.same(r.interfaces!.map((i) => i.name), ['lo0', 'podnet0', 'pnx', 'eth0']);
  t.same(r.ips, [{ address: '192.0.2.1/32', interface: 0 }, { address: '10.244.1.2/24', gateway: '10.244.1.1', interface: 3 }]);
  t.same(r.dns, { nameservers: ['192.0.2.53'] }, 'prevResult dns kept');
});
