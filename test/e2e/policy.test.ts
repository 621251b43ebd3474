// NetworkPolicy end to end: podnetd on a manifest directory holding a Service, its pods and a
// Namespace; real HTTP through the VIP and pod to pod. A policy written while podnetd runs
// isolates the web pod: only the labelled client gets through (also through the VIP, judged
// after DNAT), a connection already open from the other client is cut, and removing the
// policy restores everything.
import t from 'tap';
import { Podnetd, Sandbox, sandboxUnavailable, serviceObjects, writeManifest, type Pod } from '../../src/sandbox';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { eventually } from '../helpers/wait';

const VIP = '10.96.0.40';
const POLICY_SYNC = { timeoutMs: 4000, everyMs: 100 };

function podObject(p: Pod, labels: Record<string, string>, nodeName: string) {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: p.name, namespace: 'default', labels, resourceVersion: '1' },
    spec: { nodeName, containers: [{ name: 'main', image: 'bb', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }] },
    status: { phase: 'Running', podIP: p.ip4, podIPs: [{ ip: p.ip4 }, { ip: p.ip6 }] },
  };
}

const allowFrontend = {
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
  metadata: { name: 'web-from-frontend', namespace: 'default', resourceVersion: '1' },
  spec: {
    podSelector: { matchLabels: { app: 'web' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { role: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 'http' }] }],
  },
};

t.test('NetworkPolicy through podnetd', requires({ root: isRoot, curl: () => haveCommand('curl') }), async (t) => {
  const why = await sandboxUnavailable();
  if (why) { t.fail(why); return; }
  const sb = await Sandbox.create();
  t.teardown(() => sb.destroy());
  const web = await sb.addPod('web');
  const frontend = await sb.addPod('frontend');
  const other = await sb.addPod('other');
  await sb.serve(web, 'http-server', 8080, web.name);
  const dir = Podnetd.paths(sb).manifests;
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  const node = sb.nodeNs;
  writeManifest(dir, 'web.yaml', serviceObjects({ name: 'web', clusterIPs: [VIP], ports: [{ name: 'http', port: 80, targetPort: 8080 }], endpoints: [{ pod: web }] }));
  writeManifest(dir, 'pods.yaml', [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } } },
    podObject(web, { app: 'web' }, node), podObject(frontend, { role: 'frontend' }, node), podObject(other, { role: 'other' }, node),
  ]);
  const podnetd = await Podnetd.startManifests(sb);
  t.teardown(() => podnetd.stop());

  const get = async (from: Pod, url: string): Promise<number> => {
    try {
      const { stdout } = await sb.exec(from.ns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', url]);
      return Number(stdout);
    } catch {
      return 0; // curl's exit code on a timeout: denied
    }
  };

  t.equal(await get(other, `http://${VIP}/`), 200, 'no policy: the other pod reaches the VIP');
  // A keep-alive connection from the other pod, open before the policy arrives.
  const hold = sb.agentRun<{ conns: { errors: number; requests: number }[] }>(other.ns, 'http-hold', [VIP, 80, 1, 4000]);
  await new Promise((r) => setTimeout(r, 800));

  writeManifest(dir, 'policy.yaml', [allowFrontend]);
  await eventually(t, 'the other pod is denied pod to pod', async () => (await get(other, `http://${web.ip4}:8080/`)) === 0, POLICY_SYNC);
  t.equal(await get(other, `http://${VIP}/`), 0, 'and through the VIP (judged after DNAT)');
  t.equal(await get(frontend, `http://${VIP}/`), 200, 'the frontend pod is allowed through the VIP');
  t.equal(await get(frontend, `http://${web.ip4}:8080/`), 200, 'and pod to pod on the named port');
  const h = await hold;
  t.ok(h.conns[0].errors > 0, `the connection open before the policy was cut (${h.conns[0].errors} errors after ${h.conns[0].requests} requests)`);

  const stats = await podnetd.stats();
  t.ok((stats.drops.policy_ingress ?? 0) > 0, `denials counted (${stats.drops.policy_ingress})`);

  const { rmSync } = await import('node:fs');
  rmSync(`${dir}/policy.yaml`);
  await eventually(t, 'policy removed: the other pod gets through again', async () => (await get(other, `http://${VIP}/`)) === 200, POLICY_SYNC);
});
