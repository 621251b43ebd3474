// `podnetctl cluster`'s view (no root): built from the Node objects and the last desired state,
// per node its state and the entries programmed for it; and the same view on the wire.
import t from 'tap';
import { clusterNodeFromV1, type ClusterNode } from '../../src/cluster/nodes';
import { desiredClusterRouting, type ClusterRoutingConfig } from '../../src/cluster/model';
import { clusterView } from '../../src/cluster/view';
import { toWireCluster } from '../../src/daemon/control-api';
import { formatCluster } from '../../src/ctl/format';

const node = (name: string, i: number, cidrs = [`10.244.${i}.0/24`, `fd00:10:244:${i}::/64`], ips = [`192.168.77.${i}`, `fd00:77::${i}`]): ClusterNode =>
  clusterNodeFromV1({ apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { podCIDRs: cidrs }, status: { addresses: ips.map((address) => ({ type: 'InternalIP', address })) } });

const routed: ClusterRoutingConfig = { mode: 'routed', uplink: 'eth1', podTable: 28782 };
const vxlan: ClusterRoutingConfig = { mode: 'vxlan', uplink: 'eth1', podTable: 28782 };

t.test('routed: self first, a route per pod CIDR for each other node', async (t) => {
  const nodes = [node('n3', 3), node('n1', 1), node('n2', 2)];
  const v = clusterView({ mode: 'routed', self: 'n1', nodes, state: desiredClusterRouting('n1', nodes, routed), lastSyncAt: 5 });
  t.same(v.nodes.map((n) => [n.name, n.state]), [['n1', 'self'], ['n2', 'programmed'], ['n3', 'programmed']]);
  t.same(v.nodes[1].entries, ['route 10.244.2.0/24 via 192.168.77.2 dev eth1', 'route fd00:10:244:2::/64 via fd00:77::2 dev eth1']);
  t.same(v.nodes[0].entries, [], 'nothing is programmed for this node itself');
  t.equal(v.podMtu, 1500);
  t.equal(v.lastSyncAt, 5);
});

t.test('vxlan: FDB, neighbour and onlink route per remote node', async (t) => {
  const nodes = [node('n1', 1), node('n2', 2, ['10.244.2.0/24'], ['192.168.77.2'])];
  const v = clusterView({ mode: 'vxlan', self: 'n1', nodes, state: desiredClusterRouting('n1', nodes, vxlan) });
  const e = v.nodes[1].entries;
  t.ok(e.some((l) => /^route 10\.244\.2\.0\/24 via \S+ dev \S+ onlink$/.test(l)), 'onlink route');
  t.ok(e.some((l) => /^fdb [0-9a-f:]{17} dst 192\.168\.77\.2 dev /.test(l)), 'FDB entry towards its InternalIP');
  t.ok(e.some((l) => /^neigh \S+ lladdr [0-9a-f:]{17} dev /.test(l)), 'permanent neighbour');
  t.equal(v.podMtu, 1450);
});

t.test('skipped and pending nodes say why', async (t) => {
  const nodes = [node('n1', 1, ['10.244.1.0/24'], ['192.168.77.1']), node('n2', 2, ['10.244.2.0/24'], []), node('n3', 3)];
  const v = clusterView({ mode: 'routed', self: 'n1', nodes, state: desiredClusterRouting('n1', nodes, routed) });
  const n2 = v.nodes.find((n) => n.name === 'n2')!;
  t.equal(n2.state, 'skipped');
  t.match(n2.reason, /10\.244\.2\.0\/24/, 'the reason names the CIDR');
  t.equal(v.nodes.find((n) => n.name === 'n3')!.state, 'programmed');
  const before = clusterView({ mode: 'routed', self: 'n1', nodes, error: { code: 'CLUSTER_PROGRAM', message: 'boom' } });
  t.same(before.nodes.slice(1).map((n) => n.state), ['pending', 'pending'], 'no sync yet: pending');
  t.same(before.error, { code: 'CLUSTER_PROGRAM', message: 'boom' });
});

t.test('on the wire and printed', async (t) => {
  t.same(toWireCluster(undefined, 'n1'), { apiVersion: 'podnet/v1', mode: 'none', node: 'n1', nodes: [] }, 'no cross-node routing: mode none');
  const nodes = [node('n1', 1), node('n2', 2)];
  const w = toWireCluster(clusterView({ mode: 'routed', self: 'n1', nodes, state: desiredClusterRouting('n1', nodes, routed), lastSyncAt: 0 }), 'n1');
  t.same(Object.keys(w), ['apiVersion', 'mode', 'node', 'podMtu', 'lastSyncAt', 'nodes']);
  const text = formatCluster(w);
  t.match(text, /cross-node routing: routed on n1, pod MTU 1500/);
  t.match(text, /n2\s+10\.244\.2\.0\/24,fd00:10:244:2::\/64\s+192\.168\.77\.2,fd00:77::2\s+programmed/);
  t.match(text, /n2:\n  route 10\.244\.2\.0\/24 via 192\.168\.77\.2 dev eth1/);
  t.match(formatCluster(toWireCluster(undefined, 'n1')), /off \(cluster\.mode none\)/);
});
