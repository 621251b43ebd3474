// The all-Nodes informer of cross-node routing (src/cluster/kube.ts) against the fake list+watch
// API server: every Node is listed (no fieldSelector), additions, changes and deletions arrive as
// ClusterNodes, an unusable Node is skipped and logged while its last good version stays, and an
// API restart is survived without losing state.
import t from 'tap';
import { NodeInformer } from '../../src/cluster/kube';
import type { ClusterNode } from '../../src/cluster/nodes';
import { FakeApiServer, NODES, fakeKubeConfig as kubeconfig } from '../helpers/fake-apiserver';
import { captureLogger } from '../services/fixtures/fakes';
import { waitFor } from '../helpers/wait';

const nodeObj = (i: number, podCIDRs = [`10.244.${i}.0/24`]) => ({
  apiVersion: 'v1', kind: 'Node', metadata: { name: `n${i}` },
  spec: { podCIDRs }, status: { addresses: [{ type: 'InternalIP', address: `192.168.77.${i}` }, { type: 'Hostname', address: `n${i}` }] },
});

t.test('every Node from the API reaches the sink', async (t) => {
  const api = new FakeApiServer();
  api.put(NODES, nodeObj(1));
  api.put(NODES, nodeObj(2));
  await api.listen();
  t.teardown(() => api.close());
  const nodes = new Map<string, ClusterNode>();
  let initialized = 0;
  const sink = {
    setNode: (name: string, n: ClusterNode | undefined) => { if (n) nodes.set(name, n); else nodes.delete(name); },
    setInitialized: () => { initialized++; },
  };
  const { logger, lines } = captureLogger();
  const inf = new NodeInformer({ sink, kubeConfig: kubeconfig(api.url), logger, backoffInitialMs: 50, backoffMaxMs: 200 });
  await inf.start();
  t.teardown(() => inf.stop());

  await waitFor('the initial list', () => initialized === 1);
  t.same([...nodes.keys()].sort(), ['n1', 'n2'], 'all Nodes, not only this one');
  t.same(nodes.get('n2'), { name: 'n2', podCIDRs: ['10.244.2.0/24'], internalIPs: ['192.168.77.2'] });
  t.ok(api.requests.some((r) => r.startsWith('LIST /api/v1/nodes') && !r.includes('fieldSelector')), 'listed without a field selector');

  api.put(NODES, nodeObj(3));
  await waitFor('n3 added', () => nodes.has('n3'));
  api.put(NODES, nodeObj(2, ['10.244.20.0/24']));
  await waitFor('n2 changed', () => nodes.get('n2')?.podCIDRs[0] === '10.244.20.0/24');
  api.delete(NODES, undefined, 'n1');
  await waitFor('n1 deleted', () => !nodes.has('n1'));
  t.pass('add, change, delete');

  api.put(NODES, nodeObj(3, ['10.244.3.7/24']));
  await waitFor('the invalid Node logged', () => lines.some((l) => l.msg?.includes('invalid object skipped') && l.object === 'n3'));
  t.same(nodes.get('n3')?.podCIDRs, ['10.244.3.0/24'], 'an invalid Node keeps its last good version');

  const port = api.port;
  await api.close();
  api.put(NODES, nodeObj(4));
  await api.listen(port);
  await waitFor('n4 after the API restart', () => nodes.has('n4'), { timeoutMs: 10_000 });
  t.same([...nodes.keys()].sort(), ['n2', 'n3', 'n4'], 'state intact after the API came back');
  t.equal(initialized, 1, 'initialized once');
});
