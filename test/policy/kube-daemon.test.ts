// podnetd --kubeconfig enforces NetworkPolicy from the API: the fake list+watch API server
// (fixtures/policy-apiserver.ts, every kind podnetd watches) listens on this process's loopback;
// podnetd runs in the sandbox's node namespace and reaches it as http://127.0.0.1:6443 through
// socat (node namespace) and a unix-socket relay (this process), as test/daemon/kube-source.test.ts
// does. Real HTTP pod to pod: a policy created in the API isolates the web pod, a pod label
// changed in the API makes another client a peer, and deleting the policy opens everything again.
import { mkdirSync } from 'node:fs';
import t from 'tap';
import { Podnetd, type Pod } from '../../src/sandbox';
import { daemonEnv } from '../daemon/fixtures';
import { apiInNode } from '../helpers/api-in-node';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { eventually } from '../helpers/wait';
import { WEB_PORT, allowFrontend, httpStatus, podObject, podObjects, policyPods } from '../e2e/fixtures/policy-pods';
import { PolicyApiServer } from './fixtures/policy-apiserver';

const POLICY_SYNC = { timeoutMs: 10_000, everyMs: 200 };

t.test('podnetd on the Kubernetes API enforces NetworkPolicy from it', requires({ root: isRoot, socat: () => haveCommand('socat'), curl: () => haveCommand('curl') }), async (t) => {
  const pp = await policyPods(t);
  if (!pp) return;
  const { sb, web, frontend, other } = pp;

  const api = new PolicyApiServer();
  for (const o of podObjects(pp)) api.put(o.kind === 'Namespace' ? 'namespaces' : 'pods', o);
  await api.listen();
  t.teardown(() => api.close());

  const kubeconfig = await apiInNode(t, sb, api.port);
  mkdirSync(Podnetd.paths(sb).manifests, { recursive: true });
  const podnetd = await Podnetd.startManifests(sb, { env: daemonEnv(), config: { manifests: null, kubeconfig } });
  t.teardown(() => podnetd.stop());

  const get = (from: Pod) => httpStatus(sb, from, `http://${web.ip4}:${WEB_PORT}/`);

  await podnetd.proc.waitForLine(/"component":"policy".*"msg":"policy tables published"/, { timeoutMs: 15_000 });
  t.equal(await get(other), 200, 'no policy in the API: the other pod reaches web');

  api.put('networkpolicies', allowFrontend);
  await eventually(t, 'policy created in the API: the other pod is denied', async () => (await get(other)) === 0, POLICY_SYNC);
  t.equal(await get(frontend), 200, 'the frontend pod is allowed on the named port');

  api.put('pods', podObject(sb, other, { role: 'frontend' }));
  await eventually(t, 'pod relabelled in the API: now a peer', async () => (await get(other)) === 200, POLICY_SYNC);

  api.put('pods', podObject(sb, other, { role: 'other' }));
  await eventually(t, 'label back: denied again', async () => (await get(other)) === 0, POLICY_SYNC);
  api.delete('networkpolicies', 'default', 'web-from-frontend');
  await eventually(t, 'policy deleted in the API: open again', async () => (await get(other)) === 200, POLICY_SYNC);
  const stats = await podnetd.stats();
  t.ok((stats.drops.policy_ingress ?? 0) > 0, `denials counted (${stats.drops.policy_ingress})`);
});
