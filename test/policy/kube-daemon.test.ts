// podnetd --kubeconfig enforces NetworkPolicy from the API: the fake list+watch API server
// (fixtures/policy-apiserver.ts, every kind podnetd watches) listens on this process's loopback;
// podnetd runs in the sandbox's node namespace and reaches it as http://127.0.0.1:6443 through
// socat (node namespace) and a unix-socket relay (this process), as test/daemon/kube-source.test.ts
// does. Real HTTP pod to pod: a policy created in the API isolates the web pod, a pod label
// changed in the API makes another client a peer, and deleting the policy opens everything again.
import { mkdirSync } from 'node:fs';
import t from 'tap';
import { Podnetd, Sandbox, sandboxUnavailable, type Pod } from '../../src/sandbox';
import { apiInNode } from '../helpers/api-in-node';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { eventually } from '../helpers/wait';
import { PolicyApiServer } from './fixtures/policy-apiserver';

const POLICY_SYNC = { timeoutMs: 10_000, everyMs: 200 };

function podObject(p: Pod, labels: Record<string, string>, nodeName: string) {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: p.name, namespace: 'default', labels },
    spec: { nodeName, containers: [{ name: 'main', image: 'bb', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }] },
    status: { phase: 'Running', podIP: p.ip4, podIPs: [{ ip: p.ip4 }, { ip: p.ip6 }] },
  };
}

const allowFrontend = {
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
  metadata: { name: 'web-from-frontend', namespace: 'default' },
  spec: {
    podSelector: { matchLabels: { app: 'web' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { role: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 'http' }] }],
  },
};

t.test('podnetd on the Kubernetes API enforces NetworkPolicy from it', requires({ root: isRoot, socat: () => haveCommand('socat'), curl: () => haveCommand('curl') }), async (t) => {
  const why = await sandboxUnavailable();
  if (why) { t.fail(why); return; }
  const sb = await Sandbox.create();
  t.teardown(() => sb.destroy());
  const web = await sb.addPod('web');
  const frontend = await sb.addPod('frontend');
  const other = await sb.addPod('other');
  await sb.serve(web, 'http-server', 8080, web.name);

  const api = new PolicyApiServer();
  api.put('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } } });
  api.put('pods', podObject(web, { app: 'web' }, sb.nodeNs));
  api.put('pods', podObject(frontend, { role: 'frontend' }, sb.nodeNs));
  api.put('pods', podObject(other, { role: 'other' }, sb.nodeNs));
  await api.listen();
  t.teardown(() => api.close());

  const kubeconfig = await apiInNode(t, sb, api.port);
  mkdirSync(Podnetd.paths(sb).manifests, { recursive: true });
  const env = { ...process.env };
  delete env.NOTIFY_SOCKET;
  const podnetd = await Podnetd.startManifests(sb, { env, config: { manifests: null, kubeconfig } });
  t.teardown(() => podnetd.stop());

  const get = async (from: Pod): Promise<number> => {
    try {
      const { stdout } = await sb.exec(from.ns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', `http://${web.ip4}:8080/`]);
      return Number(stdout);
    } catch {
      return 0; // curl's exit code on a timeout: denied
    }
  };

  await podnetd.proc.waitForLine(/"component":"policy".*"msg":"policy tables published"/, { timeoutMs: 15_000 });
  t.equal(await get(other), 200, 'no policy in the API: the other pod reaches web');

  api.put('networkpolicies', allowFrontend);
  await eventually(t, 'policy created in the API: the other pod is denied', async () => (await get(other)) === 0, POLICY_SYNC);
  t.equal(await get(frontend), 200, 'the frontend pod is allowed on the named port');

  api.put('pods', podObject(other, { role: 'frontend' }, sb.nodeNs));
  await eventually(t, 'pod relabelled in the API: now a peer', async () => (await get(other)) === 200, POLICY_SYNC);

  api.put('pods', podObject(other, { role: 'other' }, sb.nodeNs));
  await eventually(t, 'label back: denied again', async () => (await get(other)) === 0, POLICY_SYNC);
  api.delete('networkpolicies', 'default', 'web-from-frontend');
  await eventually(t, 'policy deleted in the API: open again', async () => (await get(other)) === 200, POLICY_SYNC);
  const stats = await podnetd.stats();
  t.ok((stats.drops.policy_ingress ?? 0) > 0, `denials counted (${stats.drops.policy_ingress})`);
});
