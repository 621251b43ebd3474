// `podnetctl policies` against a real podnetd in a sandbox: a manifest directory with three pods
// and a NetworkPolicy isolating the web pod's ingress (only the frontend pod, on the named port).
// bin/podnetctl must list the policy and its compiled rule for web, "not isolated" for the
// others, and after real connections (one allowed, one denied by the engine) the policy's
// allowed and denied-ingress counters must have moved, equal to the engine's own policyStats.
import t from 'tap';
import type { PoliciesReply, TraceReply } from '../../src/ctl/api';
import { Podnetd } from '../../src/sandbox';
import { daemonEnv } from '../daemon/fixtures';
import { isRoot, requires } from '../helpers/privileged';
import { eventually } from '../helpers/wait';
import { ALLOW_FRONTEND as POLICY, allowFrontend, podObjects, policyPods } from '../e2e/fixtures/policy-pods';
import { ctl, ctlJson } from './fixtures/run-ctl';

t.test('podnetctl policies', requires({ root: isRoot }), async (t) => {
  const pp = await policyPods(t);
  if (!pp) return;
  const { sb, web, frontend, other } = pp;
  const podnetd = await Podnetd.startManifests(sb, { env: daemonEnv() });
  t.teardown(() => podnetd.stop());
  podnetd.writeManifest('pods.yaml', podObjects(pp));
  podnetd.writeManifest('policy.yaml', [allowFrontend]);
  const sock = podnetd.socket;

  // The manifest watch and the policy sync are asynchronous: wait until the table isolates web.
  const isolatesWeb = async () => !!(await podnetd.ctl.policies().catch(() => undefined))?.pods.find((p) => p.name === 'default/web')?.ingress.isolated;
  await eventually(t, 'the policy table isolates web', isolatesWeb, { timeoutMs: 10_000, everyMs: 100 });

  await t.test('isolation per pod', async (t) => {
    const j = await ctlJson<PoliciesReply>(sock, 'policies');
    t.equal(j.enforcing, true);
    t.same(j.pods.map((p) => p.name), ['default/frontend', 'default/other', 'default/web'], 'every pod of the node');
    const w = j.pods.find((p) => p.name === 'default/web');
    t.same(w?.ips, [web.ip4, web.ip6]);
    t.same(w?.ingress.isolatedBy, [POLICY], 'web: ingress isolated by the policy');
    t.same(w?.ingress.rules, [`${POLICY}: peers ${frontend.ip4}/32,${frontend.ip6}/128 ports TCP/8080`], 'its rule: the frontend pod, named port resolved');
    t.equal(w?.egress.isolated, false, 'web: egress not isolated');
    for (const name of ['default/frontend', 'default/other']) {
      const p = j.pods.find((x) => x.name === name);
      t.same([p?.ingress.isolated, p?.egress.isolated], [false, false], `${name}: not isolated`);
    }
    t.same(j.summary.pods, 3);
    t.same(j.summary.isolated, 1);
    t.same(j.policies.map((p) => [p.policy, p.isolates]), [[POLICY, ['default/web']]]);

    const human = await ctl(sock, 'policies');
    t.equal(human.code, 0);
    t.match(human.out, new RegExp(`^pod default/web  ${web.ip4} ${web.ip6}\\n  ingress    isolated by ${POLICY}\\n\\s+allow ${POLICY}: peers `, 'm'), 'human: the isolated pod');
    t.match(human.out, /^pod default\/other .*\n  ingress    not isolated/m, 'human: the other pod');
    const one = await ctlJson<PoliciesReply>(sock, 'policies', '--pod', other.ip4);
    t.same(one.pods.map((p) => p.name), ['default/other'], '--pod IP');
    t.same(one.policies, [], 'nothing isolates the other pod');
  });

  await t.test('counters after real traffic', async (t) => {
    const before = (await ctlJson<PoliciesReply>(sock, 'policies')).policies.find((p) => p.policy === POLICY);
    const ok = await sb.agentRun<{ result: string }>(frontend.ns, 'tcp-connect', [web.ip4, 8080, 5000]);
    t.equal(ok.result, 'CONNECTED', 'frontend → web allowed');
    const denied = await sb.agentRun<{ result: string }>(other.ns, 'tcp-connect', [web.ip4, 8080, 1500]);
    t.not(denied.result, 'CONNECTED', `other → web denied (${denied.result})`);
    const after = (await ctlJson<PoliciesReply>(sock, 'policies', '--pod', 'web')).policies.find((p) => p.policy === POLICY);
    t.ok((after?.denied.ingress ?? 0) > (before?.denied.ingress ?? 0), `denied ingress counted (${before?.denied.ingress} → ${after?.denied.ingress})`);
    t.ok((after?.allowed ?? 0) > (before?.allowed ?? 0), `allowed counted (${before?.allowed} → ${after?.allowed})`);
    t.equal(after?.denied.egress, 0, 'nothing denied on egress');
    const tr = await ctl(sock, '--json', 'trace', '--from', other.ip4, '--to', `${web.ip4}:8080`);
    const trace = JSON.parse(tr.out) as TraceReply;
    t.equal(trace.engineTrace, true);
    t.match(trace.result, { verdict: 'drop', reason: 'policy_ingress', deniedBy: [POLICY] }, 'trace: denied by the policy');
    t.match((await ctl(sock, 'trace', '--from', frontend.ip4, '--to', `${web.ip4}:8080`)).out, new RegExp(`^policy    allowed by ${POLICY}$`, 'm'), 'trace: allowed by the policy');
    t.match((await ctl(sock, 'policies')).out, new RegExp(`^${POLICY}\\s+default/web\\s+\\d+\\s+[1-9]\\d*\\s+0$`, 'm'), 'human: the counter row');
  });
});
