// podnetd's `cluster` key: mode none by default; routed/vxlan need an uplink and a source of
// Node objects; VXLAN parameters are range-checked; the node's podCIDRs may be left out in every
// mode (they come from its Node object), except with the tables source. Every error names its key.
import t from 'tap';
import { buildConfig, restartKeys } from '../../src/daemon/config';
import { ConfigError } from '../../src/daemon/errors';
import { offNodeIngress } from '../../src/daemon/fast-path';

const base = { manifests: '/etc/podnet/manifests', podCIDRs: ['10.244.1.0/24'], serviceCIDRs: ['10.96.0.0/16'] };

t.test('defaults: no cross-node routing', async (t) => {
  const c = buildConfig(base);
  t.same(c.cluster, { mode: 'none', uplink: '', vxlan: { name: 'podnet-vxlan', vni: 1, port: 4789 }, resyncIntervalMs: 60_000 });
});

t.test('routed and vxlan', async (t) => {
  const r = buildConfig({ ...base, cluster: { mode: 'routed', uplink: 'eth1' } });
  t.equal(r.cluster.mode, 'routed');
  t.equal(r.cluster.uplink, 'eth1');
  t.equal(r.cluster.uplinkMtu, undefined, 'uplink MTU read from the link by default');
  const v = buildConfig({ ...base, cluster: { mode: 'vxlan', uplink: 'ens5', uplinkMtu: 9001, vxlan: { name: 'vx0', vni: 42, port: 8472 }, resyncIntervalMs: 5000 } });
  t.same(v.cluster, { mode: 'vxlan', uplink: 'ens5', uplinkMtu: 9001, vxlan: { name: 'vx0', vni: 42, port: 8472 }, resyncIntervalMs: 5000 });
  t.same(buildConfig({ ...base, cluster: { mode: 'vxlan', uplink: 'eth1', vxlan: { vni: 7 } } }).cluster.vxlan,
    { name: 'podnet-vxlan', vni: 7, port: 4789 }, 'vxlan keys default one by one');
});

t.test('podCIDRs may come from the Node object in every mode, not with tables', async (t) => {
  const { podCIDRs: _omit, ...noCidrs } = base;
  t.same(buildConfig({ ...noCidrs, cluster: { mode: 'routed', uplink: 'eth1' } }).podCIDRs, [], 'absent: from the Node');
  t.same(buildConfig({ ...base, podCIDRs: [], cluster: { mode: 'vxlan', uplink: 'eth1' } }).podCIDRs, [], 'empty: from the Node');
  t.same(buildConfig({ ...noCidrs }).podCIDRs, [], 'mode none: from the Node too');
  t.throws(() => buildConfig({ ...noCidrs, manifests: undefined, tables: '/t.json' }), { code: 'DAEMON_BAD_CONFIG', key: 'podCIDRs' }, 'the tables source still needs them');
});

t.test('errors name the key', async (t) => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ ...base, cluster: { mode: 'bgp', uplink: 'eth1' } }, 'cluster.mode', /none, routed, vxlan/],
    [{ ...base, cluster: { mode: 'routed' } }, 'cluster.uplink', /required/],
    [{ ...base, cluster: { mode: 'routed', uplink: 'a-name-that-is-too-long' } }, 'cluster.uplink', /interface name/],
    [{ ...base, cluster: { mode: 'vxlan', uplink: 'eth1', vxlan: { vni: 0 } } }, 'cluster.vxlan.vni', /\[1, 16777215\]/],
    [{ ...base, cluster: { mode: 'vxlan', uplink: 'eth1', vxlan: { vni: 1 << 24 } } }, 'cluster.vxlan.vni', /integer/],
    [{ ...base, cluster: { mode: 'vxlan', uplink: 'eth1', vxlan: { port: 70000 } } }, 'cluster.vxlan.port', /\[1, 65535\]/],
    [{ ...base, cluster: { mode: 'vxlan', uplink: 'eth1', vxlan: { name: 'eth1' } } }, 'cluster.vxlan.name', /must differ/],
    [{ ...base, cluster: { mode: 'vxlan', uplink: 'eth1', vxlan: { name: 'podnet0' } } }, 'cluster.vxlan.name', /must differ/],
    [{ ...base, cluster: { mode: 'vxlan', uplink: 'eth1', vxlan: { mtu: 1400 } } }, 'cluster.vxlan.mtu', /unknown key/],
    [{ ...base, cluster: { mode: 'routed', uplink: 'eth1', uplinkMtu: 500 } }, 'cluster.uplinkMtu', /\[1280, 65535\]/],
    [{ ...base, cluster: { mode: 'routed', uplink: 'eth1', resyncIntervalMs: 10 } }, 'cluster.resyncIntervalMs', /integer/],
    [{ ...base, cluster: { node: 'x' } }, 'cluster.node', /unknown key/],
    [{ ...base, cluster: 'routed' }, 'cluster', /mapping/],
    [{ podCIDRs: base.podCIDRs, serviceCIDRs: base.serviceCIDRs, tables: '/t.json', cluster: { mode: 'routed', uplink: 'eth1' } }, 'cluster.mode', /Node objects/],
  ];
  for (const [raw, key, reason] of cases) {
    try {
      buildConfig(raw, '/etc/podnet/podnetd.yaml');
      t.fail(`${key}: accepted ${JSON.stringify(raw.cluster)}`);
    } catch (e) {
      t.type(e, ConfigError, key);
      t.equal((e as ConfigError).key, key, `names ${key}`);
      t.match((e as Error).message, reason, `${key}: ${(e as Error).message}`);
    }
  }
});

t.test('a change of the cluster key needs a restart', async (t) => {
  const a = buildConfig({ ...base, cluster: { mode: 'routed', uplink: 'eth1' } });
  const b = buildConfig({ ...base, cluster: { mode: 'vxlan', uplink: 'eth1' } });
  t.same(restartKeys(a, b), ['cluster']);
  t.same(restartKeys(a, buildConfig({ ...base, cluster: { mode: 'routed', uplink: 'eth1' } })), []);
});

t.test('the example config in systemd/ documents the cluster key with its defaults', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { parse } = await import('yaml');
  const { repoRoot } = await import('../../src/sandbox/paths');
  const raw = parse(readFileSync(`${repoRoot()}/systemd/podnetd.yaml`, 'utf8')) as Record<string, unknown>;
  const c = buildConfig({ ...base, cluster: raw.cluster });
  t.same(c.cluster, buildConfig(base).cluster, 'the example spells out the defaults');
  const routed = buildConfig({ ...base, cluster: { ...(raw.cluster as object), mode: 'routed', uplink: 'eth1' } });
  t.equal(routed.cluster.mode, 'routed', 'and becomes routed with mode + uplink');
});

t.test('--cleanup takes pod CIDRs from the node state file when they came from the Node', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const { cleanupConfig } = await import('../../src/cluster/controller');
  const dir = mkdtempSync(`${os.tmpdir()}/podnet-cc-`);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = `${dir}/node.json`;
  const { podCIDRs: _omit, ...noCidrs } = base;
  const cfg = buildConfig({ ...noCidrs, nodeStateFile: file, cluster: { mode: 'routed', uplink: 'eth1' } });
  t.same(cleanupConfig(cfg).podCIDRs, [], 'no state file: nothing known');
  writeFileSync(file, JSON.stringify({ podCIDRs: ['10.244.7.0/24', 'fd00:10:244:7::/64'] }));
  t.same(cleanupConfig(cfg).podCIDRs, ['10.244.7.0/24', 'fd00:10:244:7::/64'], 'recorded at start');
  const withCidrs = buildConfig({ ...base, nodeStateFile: file });
  t.equal(cleanupConfig(withCidrs), withCidrs, 'configured podCIDRs win');
});

t.test('the kernel flow cache follows the uplinks and cross-node routing\'s ingress device', async (t) => {
  const ext = { external: { uplinks: ['eth0', 'eth1'] } };
  t.same(offNodeIngress(buildConfig({ ...base, ...ext })), ['eth0', 'eth1'], 'no cross-node routing: the uplinks');
  t.same(offNodeIngress(buildConfig({ ...base, ...ext, cluster: { mode: 'routed', uplink: 'eth1' } })), ['eth0', 'eth1'],
    'routed: other nodes\' pods arrive on its uplink, listed once');
  t.same(offNodeIngress(buildConfig({ ...base, ...ext, cluster: { mode: 'routed', uplink: 'ens6' } })), ['eth0', 'eth1', 'ens6'], 'routed over another link');
  t.same(offNodeIngress(buildConfig({ ...base, external: { uplinks: [] }, cluster: { mode: 'vxlan', uplink: 'eth1', vxlan: { name: 'vx0' } } })), ['vx0'],
    'vxlan: the VXLAN device, even without external uplinks');
});
