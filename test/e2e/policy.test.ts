// NetworkPolicy end to end: podnetd on a manifest directory holding a Service, its pods and a
// Namespace; real HTTP through the VIP and pod to pod. A policy written while podnetd runs
// isolates the web pod: only the labelled client gets through (also through the VIP, judged
// after DNAT), a connection already open from the other client is cut, and removing the
// policy restores everything.
import { mkdirSync, rmSync } from 'node:fs';
import t from 'tap';
import { Podnetd, serviceObjects, writeManifest, type Pod } from '../../src/sandbox';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { eventually, sleep } from '../helpers/wait';
import { WEB_PORT, allowFrontend, httpStatus, podObjects, policyPods } from './fixtures/policy-pods';

const VIP = '10.96.0.40';
const POLICY_SYNC = { timeoutMs: 4000, everyMs: 100 };

t.test('NetworkPolicy through podnetd', requires({ root: isRoot, curl: () => haveCommand('curl') }), async (t) => {
  const pp = await policyPods(t);
  if (!pp) return;
  const { sb, web, frontend, other } = pp;
  const dir = Podnetd.paths(sb).manifests;
  mkdirSync(dir, { recursive: true });
  writeManifest(dir, 'web.yaml', serviceObjects({ name: 'web', clusterIPs: [VIP], ports: [{ name: 'http', port: 80, targetPort: WEB_PORT }], endpoints: [{ pod: web }] }));
  writeManifest(dir, 'pods.yaml', podObjects(pp));
  const podnetd = await Podnetd.startManifests(sb);
  t.teardown(() => podnetd.stop());
  const get = (from: Pod, url: string) => httpStatus(sb, from, url);

  t.equal(await get(other, `http://${VIP}/`), 200, 'no policy: the other pod reaches the VIP');
  // A keep-alive connection from the other pod, open before the policy arrives.
  const hold = sb.agentRun<{ conns: { errors: number; requests: number }[] }>(other.ns, 'http-hold', [VIP, 80, 1, 4000]);
  await sleep(800);

  writeManifest(dir, 'policy.yaml', [allowFrontend]);
  await eventually(t, 'the other pod is denied pod to pod', async () => (await get(other, `http://${web.ip4}:8080/`)) === 0, POLICY_SYNC);
  t.equal(await get(other, `http://${VIP}/`), 0, 'and through the VIP (judged after DNAT)');
  t.equal(await get(frontend, `http://${VIP}/`), 200, 'the frontend pod is allowed through the VIP');
  t.equal(await get(frontend, `http://${web.ip4}:8080/`), 200, 'and pod to pod on the named port');
  const h = await hold;
  t.ok(h.conns[0].errors > 0, `the connection open before the policy was cut (${h.conns[0].errors} errors after ${h.conns[0].requests} requests)`);

  const stats = await podnetd.stats();
  t.ok((stats.drops.policy_ingress ?? 0) > 0, `denials counted (${stats.drops.policy_ingress})`);

  rmSync(`${dir}/policy.yaml`);
  await eventually(t, 'policy removed: the other pod gets through again', async () => (await get(other, `http://${VIP}/`)) === 200, POLICY_SYNC);
});
