// The cross-node routing model, table-driven (no root): v1 Node parsing, routed and vxlan desired
// state (routes, FDB, neighbours, rules, MTU), skipped nodes, and config errors.
import t from 'tap';
import { clusterNodeFromV1, type ClusterNode } from '../../src/cluster/nodes';
import { clusterPeers, desiredClusterRouting, vtepMac, type ClusterRoutingConfig } from '../../src/cluster/model';
import { ClusterError } from '../../src/cluster/errors';

function v1Node(name: string, podCIDRs: string[] | undefined, ips: string[], extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1', kind: 'Node', metadata: { name },
    spec: podCIDRs ? { podCIDRs } : {},
    status: { addresses: [...ips.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: name }] },
    ...extra,
  };
}

const N = (name: string, i: number, fams: ('4' | '6')[] = ['4', '6'], ipFams = fams): ClusterNode => clusterNodeFromV1(v1Node(name,
  fams.map((f) => (f === '4' ? `10.244.${i}.0/24` : `fd00:10:244:${i}::/64`)),
  ipFams.map((f) => (f === '4' ? `192.168.77.${i}` : `fd00:77::${i}`))));

const routed: ClusterRoutingConfig = { mode: 'routed', uplink: 'eth1', podTable: 28782 };
const vxlan: ClusterRoutingConfig = { mode: 'vxlan', uplink: 'eth1', podTable: 28782 };

t.test('v1 Node parsing', async (t) => {
  const cases: { name: string; input: unknown; want?: ClusterNode; code?: string }[] = [
    { name: 'dual-stack', input: v1Node('a', ['fd00:10:244:1::/64', '10.244.1.0/24'], ['192.168.77.1', 'fd00:77:0::1']),
      want: { name: 'a', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'], internalIPs: ['192.168.77.1', 'fd00:77::1'] } },
    { name: 'spec.podCIDR fallback', input: { ...v1Node('b', undefined, ['10.0.0.2']), spec: { podCIDR: '10.244.2.0/24' } },
      want: { name: 'b', podCIDRs: ['10.244.2.0/24'], internalIPs: ['10.0.0.2'] } },
    { name: 'no pod CIDR yet', input: v1Node('c', undefined, ['10.0.0.3']), want: { name: 'c', podCIDRs: [], internalIPs: ['10.0.0.3'] } },
    { name: 'ExternalIP ignored, first InternalIP per family wins',
      input: { ...v1Node('d', ['10.244.4.0/24'], ['10.0.0.4', '10.0.0.40']), status: { addresses: [{ type: 'ExternalIP', address: '1.2.3.4' }, { type: 'InternalIP', address: '10.0.0.4' }, { type: 'InternalIP', address: '10.0.0.40' }] } },
      want: { name: 'd', podCIDRs: ['10.244.4.0/24'], internalIPs: ['10.0.0.4'] } },
    { name: 'host bits', input: v1Node('e', ['10.244.5.1/24'], []), code: 'CLUSTER_BAD_NODE' },
    { name: 'two IPv4 CIDRs', input: v1Node('f', ['10.244.6.0/24', '10.244.7.0/24'], []), code: 'CLUSTER_BAD_NODE' },
    { name: 'bad InternalIP', input: v1Node('g', [], ['nope']), code: 'CLUSTER_BAD_NODE' },
    { name: 'not a Node', input: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } }, code: 'CLUSTER_BAD_NODE' },
    { name: 'no name', input: { apiVersion: 'v1', kind: 'Node', metadata: {} }, code: 'CLUSTER_BAD_NODE' },
  ];
  for (const c of cases) {
    if (c.want) t.same(clusterNodeFromV1(c.input), c.want, c.name);
    else t.throws(() => clusterNodeFromV1(c.input), { code: c.code }, c.name);
  }
});

t.test('routed: a route per remote pod CIDR via its InternalIP, ingress rule on the uplink', async (t) => {
  const nodes = [N('n1', 1), N('n2', 2), N('n3', 3)];
  const st = desiredClusterRouting('n1', nodes, routed);
  t.same(st.routes.map((r) => [r.dst, r.via, r.dev, r.onlink]), [
    ['10.244.2.0/24', '192.168.77.2', 'eth1', false], ['fd00:10:244:2::/64', 'fd00:77::2', 'eth1', false],
    ['10.244.3.0/24', '192.168.77.3', 'eth1', false], ['fd00:10:244:3::/64', 'fd00:77::3', 'eth1', false],
  ]);
  t.same(st.rules, [
    { family: 4, iif: 'eth1', to: '10.244.1.0/24', table: 28782, pref: 101 },
    { family: 6, iif: 'eth1', to: 'fd00:10:244:1::/64', table: 28782, pref: 101 },
  ]);
  t.same([st.vxlan, st.fdb, st.neighbours, st.podMtu], [undefined, [], [], 1500]);
});

t.test('routed: a family without a next hop is skipped, not guessed', async (t) => {
  const st = desiredClusterRouting('n1', [N('n1', 1), N('n2', 2, ['4', '6'], ['4'])], routed);
  t.same(st.routes.map((r) => r.dst), ['10.244.2.0/24']);
  t.same(st.skipped, [{ node: 'n2', cidr: 'fd00:10:244:2::/64', reason: 'no IPv6 InternalIP' }]);
});

t.test('vxlan: device, FDB + neighbour per remote node, onlink routes, MTU', async (t) => {
  const cases = [
    { name: 'IPv4 underlay', me: N('n1', 1), mtu: 1450, local: '192.168.77.1', vtep2: '192.168.77.2' },
    { name: 'IPv6-only underlay', me: N('n1', 1, ['4', '6'], ['6']), mtu: 1430, local: 'fd00:77::1', vtep2: 'fd00:77::2' },
  ];
  for (const c of cases) {
    const st = desiredClusterRouting('n1', [c.me, N('n2', 2), N('n3', 3)], vxlan);
    t.same(st.vxlan, { name: 'podnet-vxlan', vni: 1, port: 4789, local: c.local, mac: vtepMac('n1'), mtu: c.mtu, lower: 'eth1' }, `${c.name}: device`);
    t.equal(st.podMtu, c.mtu, `${c.name}: pod MTU`);
    t.same(st.fdb[0], { mac: vtepMac('n2'), dst: c.vtep2, dev: 'podnet-vxlan', node: 'n2' }, `${c.name}: fdb`);
    t.same(st.neighbours.map((n) => [n.ip, n.mac]), [['10.244.2.0', vtepMac('n2')], ['fd00:10:244:2::', vtepMac('n2')], ['10.244.3.0', vtepMac('n3')], ['fd00:10:244:3::', vtepMac('n3')]], `${c.name}: neighbours`);
    t.same(st.routes.map((r) => [r.dst, r.via, r.dev, r.onlink]), [
      ['10.244.2.0/24', '10.244.2.0', 'podnet-vxlan', true], ['fd00:10:244:2::/64', 'fd00:10:244:2::', 'podnet-vxlan', true],
      ['10.244.3.0/24', '10.244.3.0', 'podnet-vxlan', true], ['fd00:10:244:3::/64', 'fd00:10:244:3::', 'podnet-vxlan', true],
    ], `${c.name}: routes`);
    t.same(st.rules.map((r) => r.iif), ['podnet-vxlan', 'podnet-vxlan'], `${c.name}: ingress from the tunnel goes to the engine`);
  }
});

t.test('vxlan: remote without an underlay address or pod CIDRs is skipped', async (t) => {
  const noCidr = clusterNodeFromV1(v1Node('n3', undefined, ['192.168.77.3']));
  const st = desiredClusterRouting('n1', [N('n1', 1), N('n2', 2, ['4', '6'], ['6']), noCidr], vxlan);
  t.same(st.fdb, []);
  t.same(st.skipped, [{ node: 'n2', reason: 'no IPv4 InternalIP (underlay)' }, { node: 'n3', reason: 'no pod CIDRs' }]);
});

t.test('VTEP MACs: stable, distinct, locally administered unicast', async (t) => {
  t.equal(vtepMac('n1'), vtepMac('n1'));
  t.not(vtepMac('n1'), vtepMac('n2'));
  for (const n of ['a', 'b', 'node-7']) t.equal(parseInt(vtepMac(n).slice(0, 2), 16) & 0x03, 0x02, n);
});

t.test('errors', async (t) => {
  const nodes = [N('n1', 1)];
  const cases: { name: string; fn: () => unknown; code: string }[] = [
    { name: 'self missing', fn: () => desiredClusterRouting('zz', nodes, routed), code: 'CLUSTER_NO_SELF' },
    { name: 'bad mode', fn: () => desiredClusterRouting('n1', nodes, { ...routed, mode: 'gre' as never }), code: 'CLUSTER_BAD_CONFIG' },
    { name: 'VNI', fn: () => desiredClusterRouting('n1', nodes, { ...vxlan, vxlan: { vni: 1 << 24 } }), code: 'CLUSTER_BAD_CONFIG' },
    { name: 'uplink name', fn: () => desiredClusterRouting('n1', nodes, { ...routed, uplink: 'eth1; rm' }), code: 'CLUSTER_BAD_CONFIG' },
    { name: 'vxlan without InternalIP', fn: () => desiredClusterRouting('x', [clusterNodeFromV1(v1Node('x', [], []))], vxlan), code: 'CLUSTER_BAD_NODE' },
  ];
  for (const c of cases) {
    let err: unknown;
    try { c.fn(); } catch (e) { err = e; }
    t.ok(err instanceof ClusterError && err.code === c.code, `${c.name}: ${c.code}`);
  }
});

t.test('clusterPeers: every Node\'s pod CIDRs and the other Nodes\' InternalIPs, each once, sorted', async (t) => {
  const nodes: ClusterNode[] = [
    { name: 'b', podCIDRs: ['10.244.2.0/24', 'fd00:10:244:2::/64'], internalIPs: ['192.168.77.12', 'fd00:77::12'] },
    { name: 'a', podCIDRs: ['10.244.1.0/24'], internalIPs: ['192.168.77.11'] },
    { name: 'c', podCIDRs: [], internalIPs: [] },
  ];
  t.same(clusterPeers(nodes, 'c'), ['10.244.1.0/24', '10.244.2.0/24', '192.168.77.11/32', '192.168.77.12/32', 'fd00:10:244:2::/64', 'fd00:77::12/128']);
  t.same(clusterPeers(nodes, 'a'), ['10.244.1.0/24', '10.244.2.0/24', '192.168.77.12/32', 'fd00:10:244:2::/64', 'fd00:77::12/128'],
    'this node\'s own InternalIP is not a peer: a pod reaches it locally');
  t.same(clusterPeers([...nodes, nodes[1]], 'c'), clusterPeers(nodes, 'c'), 'a node twice adds nothing');
  t.same(clusterPeers([], 'a'), []);
});
