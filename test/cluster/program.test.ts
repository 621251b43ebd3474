// syncNodeRoutes against a fake iproute2 (no root): the commands it issues for a fresh node, that
// a node whose state already matches gets no change, and that entries of a vanished node and a
// stale rule are deleted. Real kernels are covered by test/e2e/multinode.test.ts.
import t from 'tap';
import { clusterNodeFromV1 } from '../../src/cluster/nodes';
import { desiredClusterRouting, vtepMac } from '../../src/cluster/model';
import { syncNodeRoutes, type Exec } from '../../src/cluster/program';

const node = (i: number) => clusterNodeFromV1({
  apiVersion: 'v1', kind: 'Node', metadata: { name: `n${i}` },
  spec: { podCIDRs: [`10.244.${i}.0/24`] }, status: { addresses: [{ type: 'InternalIP', address: `192.168.77.${i}` }] },
});

/** Fake `ip`/`bridge`: canned JSON listings by command prefix; records every mutating call. */
function fake(listings: Record<string, unknown[]>): { exec: Exec; calls: string[] } {
  const calls: string[] = [];
  const exec: Exec = async (argv) => {
    const cmd = argv.join(' ');
    if (argv.includes('-j')) {
      for (const [prefix, out] of Object.entries(listings)) if (cmd.startsWith(prefix)) return JSON.stringify(out);
      if (cmd.includes('link show')) throw new Error('Device does not exist');
      return '[]';
    }
    calls.push(cmd);
    return '';
  };
  return { exec, calls };
}

t.test('routed: fresh node', async (t) => {
  const st = desiredClusterRouting('n1', [node(1), node(2)], { mode: 'routed', uplink: 'eth1', podTable: 100 });
  const f = fake({});
  const r = await syncNodeRoutes(st, { exec: f.exec });
  t.same(f.calls, [
    'ip route replace 10.244.2.0/24 via 192.168.77.2 dev eth1 proto 112',
    'ip -4 rule add pref 101 iif eth1 to 10.244.1.0/24 lookup 100',
  ]);
  t.same(r.removed, []);
});

t.test('routed: in sync is a no-op; a vanished node and a stale rule are removed', async (t) => {
  const st = desiredClusterRouting('n1', [node(1), node(2)], { mode: 'routed', uplink: 'eth1', podTable: 100 });
  const f = fake({
    'ip -4 -j route show proto 112': [
      { dst: '10.244.2.0/24', gateway: '192.168.77.2', dev: 'eth1' },
      { dst: '10.244.3.0/24', gateway: '192.168.77.3', dev: 'eth1' },
    ],
    'ip -4 -j rule show pref 101': [
      { priority: 101, iif: 'eth1', dst: '10.244.1.0', dstlen: 24, table: '100' },
      { priority: 101, iif: 'podnet-vxlan', dst: '10.244.1.0', dstlen: 24, table: '100' },
    ],
  });
  const r = await syncNodeRoutes(st, { exec: f.exec });
  t.same(f.calls, ['ip -4 route del 10.244.3.0/24 proto 112', 'ip -4 rule del pref 101 iif podnet-vxlan to 10.244.1.0/24']);
  t.same(r.added, []);
});

t.test('vxlan: fresh node creates the device before entries that need it', async (t) => {
  const st = desiredClusterRouting('n1', [node(1), node(2)], { mode: 'vxlan', uplink: 'eth1', podTable: 100 });
  const f = fake({});
  await syncNodeRoutes(st, { exec: f.exec });
  t.same(f.calls, [
    'ip link add podnet-vxlan type vxlan id 1 local 192.168.77.1 dstport 4789 dev eth1 nolearning',
    `ip link set dev podnet-vxlan address ${vtepMac('n1')} mtu 1450 up`,
    `bridge fdb append ${vtepMac('n2')} dev podnet-vxlan dst 192.168.77.2 self permanent`,
    `ip neigh replace 10.244.2.0 lladdr ${vtepMac('n2')} dev podnet-vxlan nud permanent`,
    'ip route replace 10.244.2.0/24 via 10.244.2.0 dev podnet-vxlan onlink proto 112',
    'ip -4 rule add pref 101 iif podnet-vxlan to 10.244.1.0/24 lookup 100',
  ]);
});

t.test('back to routed: the VXLAN device is deleted', async (t) => {
  const st = desiredClusterRouting('n1', [node(1)], { mode: 'routed', uplink: 'eth1', podTable: 100 });
  const f = fake({ 'ip -j -d link show dev podnet-vxlan': [{ ifname: 'podnet-vxlan', linkinfo: { info_kind: 'vxlan' } }] });
  await syncNodeRoutes(st, { exec: f.exec });
  t.ok(f.calls.includes('ip link del dev podnet-vxlan'));
});

t.test('without an injected exec it refuses the host netns', async (t) => {
  const st = desiredClusterRouting('n1', [node(1)], { mode: 'routed', uplink: 'eth1', podTable: 100 });
  await t.rejects(syncNodeRoutes(st), { code: 'CLUSTER_HOST_NETNS' });
});
