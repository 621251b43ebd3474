// The manifest source reads `kubectl get -o json` dumps (a List, JSON.parse, item by item) and
// multi-document YAML streams one document at a time: a bad document in the middle is logged
// once and skipped, the documents around it are kept.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManifestSource } from '../../src/kube/manifest';
import { policyManifestHook, type PolicyObjectSink } from '../../src/policy/sources';
import { pod } from '../helpers/kube-objects';
import { captureLogger } from '../services/fixtures/fakes';

function recorder() {
  const pods = new Map<string, unknown>();
  const sink: PolicyObjectSink = {
    setNetworkPolicy: () => undefined,
    setPod: (k, v) => { if (v) pods.set(k, v); else pods.delete(k); },
    setNamespace: () => undefined,
    setInitialized: () => undefined,
  };
  return { pods, sink };
}

function tmpdir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podnet-lists-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a kubectl get -o json List dump loads item by item', async (t) => {
  const dir = tmpdir(t);
  const items = Array.from({ length: 50 }, (_, i) => pod({ name: `web-${i}`, namespace: 'shop', labels: { app: 'web' }, ips: [`10.244.0.${i + 10}`], nodeName: 'node-a', ports: [[80, 'TCP', 'http']] }));
  fs.writeFileSync(path.join(dir, 'pods.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items }, null, 2));
  // A typed list (PodList) in YAML form too, as `kubectl get pods -o yaml` prints it.
  fs.writeFileSync(path.join(dir, 'more.yaml'), `apiVersion: v1
kind: PodList
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: extra-1, namespace: shop}
  spec: {containers: [{name: c, image: x}]}
  status: {phase: Running, podIPs: [{ip: 10.244.1.1}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: extra-2, namespace: shop}
  spec: {containers: [{name: c, image: x}]}
  status: {phase: Running, podIPs: [{ip: 10.244.1.2}]}
`);
  const { pods, sink } = recorder();
  const src = new ManifestSource({ dir, subscriptions: [policyManifestHook(sink)], rescanIntervalMs: 0 });
  const r = await src.start();
  t.teardown(() => src.stop());
  t.equal(r.invalid, 0);
  t.equal(pods.size, 52);
  t.ok(pods.has('shop/web-49') && pods.has('shop/extra-2'));
  t.notOk(JSON.stringify(pods.get('shop/web-0')).includes('managedFields'), 'only the trimmed pod is kept');
});

t.test('multi-document YAML with a bad document in the middle: logged once, skipped, the rest kept', async (t) => {
  const dir = tmpdir(t);
  const { logger, lines } = captureLogger();
  fs.writeFileSync(path.join(dir, 'stream.yaml'), `apiVersion: v1
kind: Pod
metadata: {name: first, namespace: shop}
spec: {containers: [{name: c, image: x}]}
status: {phase: Running, podIPs: [{ip: 10.244.0.1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: broken, namespace: shop
  labels: [}
---
apiVersion: v1
kind: Pod
metadata: {name: last, namespace: shop}
spec: {containers: [{name: c, image: x}]}
status: {phase: Running, podIPs: [{ip: 10.244.0.3}]}
`);
  const { pods, sink } = recorder();
  let invalid = 0;
  const src = new ManifestSource({ dir, subscriptions: [policyManifestHook(sink)], logger, rescanIntervalMs: 0, onInvalid: () => invalid++ });
  const r = await src.start();
  t.teardown(() => src.stop());
  t.equal(r.invalid, 1, JSON.stringify(lines.filter((l) => l.level >= 40)));
  t.equal(invalid, 1);
  t.same([...pods.keys()].sort(), ['shop/first', 'shop/last']);
  const logged = lines.filter((l) => l.msg === 'invalid manifest document skipped');
  t.equal(logged.length, 1, 'logged once');
  t.match(logged[0], { file: 'stream.yaml', doc: 1, code: 'CONTROL_MANIFEST_PARSE' });
  await src.reload();
  t.equal(lines.filter((l) => l.msg === 'invalid manifest document skipped').length, 1, 'an unchanged file is not parsed (nor logged) again');
});
