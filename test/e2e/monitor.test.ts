// podnetctl monitor end to end: podnetd in a sandbox on a manifest directory with a Service, three
// pods and a NetworkPolicy isolating web (only the frontend pod may reach it). While
// `podnetctl monitor --json` runs, the other pod is denied pod to pod and the frontend pod opens a
// connection through the VIP: the stream must show that policy drop (reason, packet, pods, the
// policy as trace names it) and that new flow (service port, backend), and a second monitor
// filtered to the other pod's drops must show the drop and nothing else.
import t from 'tap';
import type { MonitorEventEntry } from '../../src/ctl/api-monitor';
import { Podnetd, serviceObjects } from '../../src/sandbox';
import { daemonEnv } from '../daemon/fixtures';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { eventually, sleep } from '../helpers/wait';
import { ctl } from '../ctl/fixtures/run-ctl';
import { ALLOW_FRONTEND, WEB_PORT, allowFrontend, httpStatus, podObjects, policyPods } from './fixtures/policy-pods';

const VIP = '10.96.0.40';

const lines = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as MonitorEventEntry);

t.test('podnetctl monitor shows a policy drop and a new flow the test caused', requires({ root: isRoot, curl: () => haveCommand('curl') }), async (t) => {
  const pp = await policyPods(t);
  if (!pp) return;
  const { sb, web, frontend, other } = pp;
  const podnetd = await Podnetd.startManifests(sb, { env: daemonEnv() });
  t.teardown(() => podnetd.stop());
  podnetd.writeManifest('web.yaml', serviceObjects({ name: 'web', clusterIPs: [VIP], ports: [{ name: 'http', port: 80, targetPort: WEB_PORT }], endpoints: [{ pod: web }] }));
  podnetd.writeManifest('pods.yaml', podObjects(pp));
  podnetd.writeManifest('policy.yaml', [allowFrontend]);
  await eventually(t, 'the policy denies the other pod', async () => (await httpStatus(sb, other, `http://${web.ip4}:${WEB_PORT}/`)) === 0, { timeoutMs: 10_000, everyMs: 200 });

  const sock = podnetd.socket;
  const all = ctl(sock, 'monitor', '--json', '--duration', '6');
  const drops = ctl(sock, 'monitor', '--json', '--duration', '6', '--pod', 'default/other', '--type', 'drop');
  await sleep(1000);
  t.equal(await httpStatus(sb, other, `http://${web.ip4}:${WEB_PORT}/`), 0, 'the other pod is denied');
  t.equal(await httpStatus(sb, frontend, `http://${VIP}/`), 200, 'the frontend pod reaches web through the VIP');
  const [a, d] = await Promise.all([all, drops]);
  t.equal(a.code, 0, `monitor exits 0 after --duration ${a.code ? a.err : ''}`);
  t.equal(d.code, 0, `filtered monitor exits 0 ${d.code ? d.err : ''}`);
  const events = lines(a.out);

  const drop = events.find((e) => e.type === 'drop' && e.src?.startsWith(`${other.ip4}:`));
  t.match(drop, {
    reason: 'policy_ingress', protocol: 'TCP', family: 4, dst: `${web.ip4}:${WEB_PORT}`, srcPod: 'default/other', dstPod: 'default/web',
    deniedBy: [ALLOW_FRONTEND],
  }, 'the policy drop, with its pods and the isolating policy');
  const trace = await ctl(sock, '--json', 'trace', '--from', other.ip4, '--to', `${web.ip4}:${WEB_PORT}`);
  t.same((JSON.parse(trace.out) as { result: { deniedBy?: string[] } }).result.deniedBy, drop?.deniedBy, 'named as trace names it');

  const flow = events.find((e) => e.type === 'flow-new' && e.src?.startsWith(`${frontend.ip4}:`) && e.dst === `${VIP}:80`);
  t.match(flow, {
    protocol: 'TCP', servicePort: 'default/web:http', backend: `${web.ip4}:${WEB_PORT}`, srcPod: 'default/frontend', kind: 'service',
    allowedBy: ALLOW_FRONTEND,
  }, 'the new flow through the VIP, with its backend');

  const filtered = lines(d.out);
  t.ok(filtered.length > 0, `the filtered monitor saw ${filtered.length} events`);
  t.ok(filtered.every((e) => e.type === 'skipped' || (e.type === 'drop' && e.srcPod === 'default/other')), 'only the other pod\'s drops');
});
