// Policy's API source: NetworkPolicy, Pod and Namespace informers against the fake list+watch
// API server (fixtures/policy-apiserver.ts) feeding a real PolicyControl whose tables go to a
// fake engine. Adds, modifies and deletes of every kind change the published tables; a 410 Gone
// relists and reconciles what was missed without duplicating objects; pods are cached trimmed.
import t, { type Test } from 'tap';
import type { PolicyApplyResult, PolicyTables } from '../../src/engine/types';
import { PolicyKubeSource, podForPolicy } from '../../src/policy/kube';
import { PolicyControl } from '../../src/policy/sources';
import { validatePod } from '../../src/policy/validate';
import { fakeKubeConfig as kubeconfig } from '../helpers/fake-apiserver';
import { captureLogger } from '../services/fixtures/fakes';
import { allowed } from './fixtures/evaluate';
import { namespace, netpol, pod } from '../helpers/kube-objects';
import { PolicyApiServer } from './fixtures/policy-apiserver';
import { sleep, waitFor } from '../helpers/wait';

class FakeEngine {
  calls: PolicyTables[] = [];
  setPolicy(tables: PolicyTables): PolicyApplyResult {
    this.calls.push(tables);
    return { version: this.calls.length, flowsCut: 0 };
  }
  get last(): PolicyTables | undefined { return this.calls[this.calls.length - 1]; }
}

const settle = (ms = 150) => sleep(ms);

const WEB = '10.244.0.11';
const CLI = '10.244.0.5';
const OTHER = '10.244.0.7';
const web = () => pod({ name: 'web', namespace: 'shop', labels: { app: 'web' }, ips: [WEB], ports: [[80, 'TCP', 'http']], nodeName: 'node-1' });
const cli = (labels = { app: 'cli' }) => pod({ name: 'cli', namespace: 'shop', labels, ips: [CLI], nodeName: 'node-1' });
const allowCli = () => netpol('shop', 'allow-cli', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'cli' } } }], ports: [{ port: 'http' }] }] });
const tcp = (src: string, dst: string, port = 80) => ({ src, dst, protocol: 'TCP' as const, port });

async function setup(t: Test, seed: (api: PolicyApiServer) => void) {
  const api = new PolicyApiServer();
  seed(api);
  await api.listen();
  const engine = new FakeEngine();
  const { logger, lines } = captureLogger();
  const pc = new PolicyControl({ sink: engine, nodeName: 'node-1', logger, minSyncIntervalMs: 10 });
  pc.start();
  const src = new PolicyKubeSource({ sink: pc, kubeConfig: kubeconfig(api.url), logger, backoffInitialMs: 50, backoffMaxMs: 200 });
  await src.start();
  t.teardown(async () => { await src.stop(); pc.stop(); await api.close(); });
  await waitFor('first publish', () => engine.calls.length > 0);
  await waitFor('three watches', () => api.watcherCount === 3);
  return { api, engine, pc, src, lines };
}

const seedShop = (api: PolicyApiServer) => {
  api.put('namespaces', namespace('shop'));
  api.put('pods', web());
  api.put('pods', cli());
  api.put('pods', pod({ name: 'other', namespace: 'shop', labels: { app: 'other' }, ips: [OTHER], nodeName: 'node-1' }));
  api.put('networkpolicies', allowCli());
};

t.test('initial list of the three kinds: one publish, with every kind taken into account', async (t) => {
  const { engine, src, pc, api } = await setup(t, seedShop);
  await settle();
  t.equal(engine.calls.length, 1, 'one publish for the initial state');
  t.ok(allowed(engine.last!, tcp(CLI, WEB)), 'cli → web:80 allowed (named port resolved)');
  t.notOk(allowed(engine.last!, tcp(CLI, WEB, 81)), 'other ports isolated');
  // Listed policies come through the client's typed models (ingress `from` → `_from`): the peer must survive.
  t.notOk(allowed(engine.last!, tcp(OTHER, WEB)), 'a pod without the label is not a peer');
  t.match(src.status(), { NetworkPolicy: { synced: true, objects: 1 }, Pod: { synced: true, objects: 3 }, Namespace: { synced: true, objects: 1 } });
  t.match(pc.status(), { initialized: true, policies: 1, pods: 3, namespaces: 1 });
  t.ok(api.requests.some((r) => r.startsWith('LIST pods')), 'pods listed');
});

t.test('adds, modifies and deletes of policies, pods and namespaces reach the tables', async (t) => {
  const { api, engine } = await setup(t, seedShop);

  // Pod add: a new client in another namespace is not a peer of a podSelector-only rule…
  api.put('namespaces', namespace('ops', { team: 'ops' }));
  const far = api.put('pods', pod({ name: 'mon', namespace: 'ops', labels: { app: 'cli' }, ips: ['10.244.1.9'], nodeName: 'node-2' }));
  // …until a policy add lets that namespace in.
  api.put('networkpolicies', netpol('shop', 'allow-ops', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }] }] }));
  await waitFor('policy add', () => allowed(engine.last!, tcp('10.244.1.9', WEB)));

  // Namespace modify: the label goes, and with it the allowance.
  api.put('namespaces', namespace('ops', { team: 'other' }));
  await waitFor('namespace modify', () => !allowed(engine.last!, tcp('10.244.1.9', WEB)));

  // Pod modify: the client loses its label → no longer a peer.
  api.put('pods', cli({ app: 'gone' } as { app: string }));
  await waitFor('pod modify', () => !allowed(engine.last!, tcp(CLI, WEB)));

  // Policy modify: any pod of the namespace.
  api.put('networkpolicies', netpol('shop', 'allow-cli', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: {} }] }] }));
  await waitFor('policy modify', () => allowed(engine.last!, tcp(CLI, WEB, 81)));

  // Deletes: the policies go → web is not isolated; the pod goes → no table entry.
  api.delete('networkpolicies', 'shop', 'allow-cli');
  api.delete('networkpolicies', 'shop', 'allow-ops');
  await waitFor('policy delete', () => engine.last!.ruleSets.length === 0);
  t.ok(allowed(engine.last!, tcp('10.244.1.9', WEB, 9999)), 'no policy: everything passes');
  api.delete('pods', 'shop', 'cli');
  await waitFor('pod delete', () => !engine.last!.pods.some((p) => p.name === 'shop/cli'));
  api.delete('namespaces', undefined, 'ops');
  api.delete('pods', 'ops', far.metadata.name);
  await settle();
  t.same(engine.last!.pods.map((p) => p.name), ['shop/other', 'shop/web']);
});

t.test('410 Gone → relist: changes missed meanwhile are reconciled, nothing duplicated', async (t) => {
  const { api, engine, src, pc } = await setup(t, seedShop);
  const lists = api.requests.filter((r) => r.startsWith('LIST')).length;
  // Changes the informers never see as events.
  api.deleteSilently('pods', 'shop', 'cli');
  api.putSilently('pods', pod({ name: 'cli-2', namespace: 'shop', labels: { app: 'cli' }, ips: ['10.244.0.6'], nodeName: 'node-1' }));
  api.putSilently('networkpolicies', netpol('shop', 'deny-all', { podSelector: {} }));
  api.expireWatches();
  await waitFor('relist', () => allowed(engine.last!, tcp('10.244.0.6', WEB)) && !engine.last!.pods.some((p) => p.name === 'shop/cli'));
  t.ok(api.requests.filter((r) => r.startsWith('LIST')).length >= lists + 3, 'all three relisted');
  t.notOk(allowed(engine.last!, tcp(WEB, '10.244.0.6')), 'the new deny-all isolates cli-2 too');
  await waitFor('watching again', () => api.watcherCount === 3);
  t.match(src.status(), { NetworkPolicy: { objects: 2 }, Pod: { objects: 3 }, Namespace: { objects: 1 } });
  t.match(pc.status(), { policies: 2, pods: 3, namespaces: 1, pending: 0 });
  const n = engine.calls.length;
  await settle(300);
  t.equal(engine.calls.length, n, 'quiet once reconciled');
});

t.test('an invalid policy from the API is logged once; its last good version stays', async (t) => {
  const { api, engine, lines } = await setup(t, seedShop);
  const bad = allowCli() as any;
  bad.spec.ingress[0].from[0].ipBlock = { cidr: '10.0.0.0/8' }; // ipBlock beside podSelector
  api.put('networkpolicies', bad);
  await waitFor('log line', () => lines.some((l) => l.msg.startsWith('invalid object skipped')));
  t.match(lines.find((l) => l.msg.startsWith('invalid object skipped')), { kind: 'NetworkPolicy', object: 'shop/allow-cli', code: 'CONTROL_INVALID_OBJECT' });
  t.ok(allowed(engine.last!, tcp(CLI, WEB)), 'last good version still compiled');
  t.notOk(allowed(engine.last!, tcp(CLI, WEB, 81)));
});

t.test('pods are cached trimmed to what policy reads', async (t) => {
  const full = pod({ name: 'web', namespace: 'shop', labels: { app: 'web', 'pod-template-hash': '7c9f8d' }, ips: ['10.244.0.11', 'fd00::b'], ports: [[80, 'TCP', 'http'], [9090, 'TCP', '']], nodeName: 'node-1' }) as any;
  full.spec.initContainers = [
    { name: 'sidecar', restartPolicy: 'Always', ports: [{ name: 'metrics', containerPort: 9100 }] },
    { name: 'init', ports: [{ name: 'ignored', containerPort: 1 }] },
  ];
  full.spec.containers[0].env = Array.from({ length: 40 }, (_, i) => ({ name: `VAR_${i}`, value: 'x'.repeat(40) }));
  const slim = podForPolicy(full);
  t.same(validatePod(slim), validatePod(full), 'same PodInfo from the trimmed pod');
  t.equal(slim.metadata?.resourceVersion, full.metadata.resourceVersion, 'resourceVersion kept for the cache');
  const bytes = (o: unknown) => JSON.stringify(o).length;
  t.ok(bytes(slim) * 4 < bytes(full), `trimmed ${bytes(full)} → ${bytes(slim)} bytes`);
  t.same(validatePod(podForPolicy(pod({ name: 'h', namespace: 'kube-system', hostNetwork: true, ips: ['192.168.56.11'] }) as any)).skip, 'host-network');
});
