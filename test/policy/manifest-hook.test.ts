// The manifest directory hands NetworkPolicies, Pods and Namespaces to the policy side through
// its subscription, diffed like any plane's kinds; invalid policy documents are logged and skipped.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManifestSource } from '../../src/kube/manifest';
import { servicesManifestSubscription } from '../../src/services/manifest';
import { policyManifestHook } from '../../src/policy/sources';

t.test('policy kinds reach the policy sink; changes and removals are diffed', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podnet-hook-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const events: string[] = [];
  let initialized = false;
  const sink = {
    setNetworkPolicy: (k: string, v: unknown) => events.push(`np ${k} ${v ? 'set' : 'gone'}`),
    setPod: (k: string, v: unknown) => events.push(`pod ${k} ${v ? 'set' : 'gone'}`),
    setNamespace: (k: string, v: unknown) => events.push(`ns ${k} ${v ? 'set' : 'gone'}`),
    setInitialized: () => { initialized = true; },
  };
  const objects = { setService() {}, setEndpointSlice() {}, setNode() {}, setInitialized() {} };
  fs.writeFileSync(path.join(dir, 'p.yaml'), `
apiVersion: v1
kind: Namespace
metadata: {name: x}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: x}
spec: {podSelector: {}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: x}
spec: {podSelector: {}, ingress: [{ports: [{port: 80, endPort: 10}]}]}
`);
  const src = new ManifestSource({ dir, subscriptions: [servicesManifestSubscription(objects), policyManifestHook(sink)], rescanIntervalMs: 0 });
  const r = await src.start();
  t.teardown(() => src.stop());
  t.equal(r.invalid, 1, 'the broken policy is counted invalid');
  t.same(events.sort(), ['np x/deny set', 'ns x set']);
  t.ok(initialized, 'the policy side is told the first load is complete');
  events.length = 0;
  fs.writeFileSync(path.join(dir, 'p.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {team: a}}\n');
  await src.reload();
  t.same(events.sort(), ['np x/deny gone', 'ns x set']);
});
