// PolicyControl: objects in (validated API shapes, as sources deliver them), tables out to a fake
// engine. No-op updates compile nothing; changes that leave the tables equal publish nothing; a
// failed publish is retried; invalid objects are rejected with the field named; the manifest hook
// parses multi-document YAML of the three kinds.
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { InvalidObjectError } from '../../src/kube/errors';
import type { PolicyApplyResult, PolicyTables } from '../../src/engine/types';
import { type PolicyKind, PolicyControl, policyManifestHook } from '../../src/policy/sources';
import { policyObjectKind, validatePod } from '../../src/policy/validate';
import { allowed } from './fixtures/evaluate';
import { namespace, netpol, pod } from '../helpers/kube-objects';

class FakeEngine {
  calls: PolicyTables[] = [];
  failNext = false;
  setPolicy(tables: PolicyTables): PolicyApplyResult {
    if (this.failNext) { this.failNext = false; throw Object.assign(new Error('native: bad table'), { code: 'ENGINE_INVALID_POLICY' }); }
    this.calls.push(tables);
    return { version: this.calls.length, flowsCut: 0 };
  }
}

const web = (labels: Record<string, string> = { app: 'web' }) => pod({ name: 'web', namespace: 'shop', labels, ips: ['10.244.0.11'], ports: [[80, 'TCP', 'http']], nodeName: 'node-1' });
const cli = () => pod({ name: 'cli', namespace: 'shop', labels: { app: 'cli' }, ips: ['10.244.0.5'], nodeName: 'node-1' });
const remote = () => pod({ name: 'far', namespace: 'shop', labels: { app: 'cli' }, ips: ['10.244.1.5'], nodeName: 'node-2' });
const allowCli = () => netpol('shop', 'allow-cli', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'cli' } } }], ports: [{ port: 'http' }] }] });

function setup() {
  const engine = new FakeEngine();
  const pc = new PolicyControl({ sink: engine, nodeName: 'node-1', hostAddresses: ['192.168.56.11'] });
  for (const o of [namespace('shop'), web(), cli(), remote(), allowCli()]) pc.ingest(o);
  return { engine, pc };
}

t.test('nothing is published before the source is initialized; then once', async (t) => {
  const { engine, pc } = setup();
  t.equal(pc.sync(), undefined);
  pc.setInitialized();
  const r = pc.sync()!;
  t.ok(r.published);
  t.equal(engine.calls.length, 1);
  const tables = engine.calls[0];
  t.same(tables.pods.map((p) => p.name), ['shop/cli', 'shop/web'], 'only node-1 pods get entries');
  t.ok(allowed(tables, { src: '10.244.1.5', dst: '10.244.0.11', protocol: 'TCP', port: 80 }), 'remote client is a peer');
  t.notOk(allowed(tables, { src: '10.244.1.5', dst: '10.244.0.11', protocol: 'TCP', port: 81 }));
  t.same(tables.hostAddresses, ['192.168.56.11']);
  t.same(pc.tables(), tables);
  const again = pc.sync()!;
  t.notOk(again.compiled, 'no change, no compile');
  t.equal(engine.calls.length, 1);
});

t.test('updates policy never reads are no-ops; relevant ones republish', async (t) => {
  const { engine, pc } = setup();
  pc.setInitialized();
  pc.sync();
  const flapped = web();
  (flapped as any).status.conditions[0].status = 'False';
  (flapped as any).metadata.resourceVersion = '424242';
  pc.ingest(flapped);
  t.equal(pc.status().pending, 0, 'readiness flap dropped by the tracker');
  t.notOk(pc.sync()!.compiled);

  pc.ingest(namespace('shop', { team: 'a' }));
  const r = pc.sync()!;
  t.ok(r.compiled, 'namespace labels changed');
  t.notOk(r.published, 'but no selector reads them: tables equal, nothing published');
  t.equal(engine.calls.length, 1);

  pc.ingest(web({ app: 'web', tier: 'x' }));
  pc.ingest(pod({ name: 'cli2', namespace: 'shop', labels: { app: 'cli' }, ips: ['10.244.0.6'], nodeName: 'node-1' }));
  t.ok(pc.sync()!.published, 'a new client pod is a new peer');
  t.ok(allowed(engine.calls[1], { src: '10.244.0.6', dst: '10.244.0.11', protocol: 'TCP', port: 80 }));

  pc.setNetworkPolicy('shop/allow-cli', undefined);
  t.ok(pc.sync()!.published, 'policy deleted');
  t.same(engine.calls[2].ruleSets, []);
});

t.test('a failed publish is reported with a stable code and retried', async (t) => {
  const { engine, pc } = setup();
  pc.setInitialized();
  engine.failNext = true;
  const r = pc.sync()!;
  t.notOk(r.published);
  t.equal(r.error?.code, 'POLICY_SYNC_FAILED');
  t.match(r.error?.message ?? '', /native: bad table/);
  const r2 = pc.sync()!;
  t.ok(r2.published, 'the next sync republishes even without new changes');
  t.equal(engine.calls.length, 1);
  pc.requestFullSync();
  t.ok(pc.sync()!.published, 'requestFullSync republishes identical tables (engine restarted)');
});

t.test('host addresses changes republish', async (t) => {
  const { engine, pc } = setup();
  pc.setInitialized();
  pc.sync();
  pc.setHostAddresses(['192.168.56.11']);
  t.notOk(pc.sync()!.compiled, 'same addresses: nothing to do');
  pc.setHostAddresses(['192.168.56.12', 'fd00::12']);
  t.ok(pc.sync()!.published);
  t.same(engine.calls[1].hostAddresses, ['192.168.56.12', 'fd00::12']);
});

t.test('ingest: invalid objects throw InvalidObjectError naming the field; other kinds are declined', async (t) => {
  const { pc } = setup();
  const bad = allowCli();
  (bad as any).spec.ingress[0].from[0].ipBlock = { cidr: '10.0.0.0/8' };
  t.throws(() => pc.ingest(bad), InvalidObjectError);
  try { pc.ingest(bad); } catch (e) { t.equal((e as InvalidObjectError).field, 'spec.ingress[0].from[0]'); }
  t.equal(pc.ingest({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: {} }), false);
  t.equal(pc.status().policies, 1, 'the invalid update left the last good policy in place');
});

t.test('manifest hook: multi-document YAML of the three kinds, deletes, invalid documents', async (t) => {
  const got: Array<[PolicyKind, string, boolean]> = [];
  const sink = {
    setNetworkPolicy: (k: string, v: unknown) => { got.push(['NetworkPolicy', k, v !== undefined]); },
    setPod: (k: string, v: unknown) => { got.push(['Pod', k, v !== undefined]); },
    setNamespace: (k: string, v: unknown) => { got.push(['Namespace', k, v !== undefined]); },
    setInitialized: () => {},
  };
  const hook = policyManifestHook(sink);
  const text = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: a}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: web, image: nginx, ports: [{containerPort: 80, name: http}]}]
status: {phase: Running, podIPs: [{ip: 10.244.0.11}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: shop}
spec:
  ingress: [{ports: [{port: 80, endPort: 70}]}]
`;
  const errors: string[] = [];
  for (const d of parseAllDocuments(text) as ReturnType<typeof parseAllDocuments> & unknown[]) {
    const o = d.toJS();
    try {
      const p = hook.parse(o, 'ops');
      if (p) hook.set(p.kind, p.key, p.info);
      else t.equal(policyObjectKind(o), undefined, 'declined kinds are not policy kinds');
    } catch (e) {
      errors.push(`${(e as InvalidObjectError).code} ${(e as InvalidObjectError).field}`);
    }
  }
  hook.set('Pod', 'shop/web', undefined);
  t.same(got, [['Namespace', 'shop', true], ['NetworkPolicy', 'ops/default-deny', true], ['Pod', 'shop/web', true], ['Pod', 'shop/web', false]]);
  t.same(errors, ['CONTROL_INVALID_OBJECT spec.ingress[0].ports[0].endPort']);
});

t.test('pods: a pod that turns terminal leaves the tables', async (t) => {
  const { engine, pc } = setup();
  pc.setInitialized();
  pc.sync();
  const done = cli();
  (done as any).status.phase = 'Succeeded';
  pc.setPod('shop/cli', validatePod(done));
  t.ok(pc.sync()!.published);
  t.same(engine.calls[1].pods.map((p) => p.name), ['shop/web']);
  t.notOk(allowed(engine.calls[1], { src: '10.244.0.5', dst: '10.244.0.11', protocol: 'TCP', port: 80 }), 'its old address is no longer a peer');
});
