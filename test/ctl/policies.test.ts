// `podnetctl policies` without root: real NetworkPolicy / Pod / Namespace objects compiled by the
// real compiler (src/policy/compile.ts), joined with engine counters by policyEntries(), served by
// ControlApi on a temp unix socket and printed by bin/podnetctl. Covers the isolation views
// (ingress with rules, egress allowing nothing, not isolated), only this node's pods, the ?pod=
// filter (name, namespace/name, IPv4, any IPv6 spelling), per-policy counters by direction, and
// the answers without a policy source and before the first table.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import t from 'tap';
import type { PoliciesReply } from '../../src/ctl/api';
import { ControlClient } from '../../src/ctl/client';
import { formatTrace } from '../../src/ctl/format';
import { formatPolicies } from '../../src/ctl/policies';
import { ControlApi, explain, policyEntries, type ControlState, type PolicyState } from '../../src/daemon/control-api';
import type { PolicyStats, PolicyTables } from '../../src/engine/types';
import { compilePolicy } from '../../src/policy/compile';
import type { NamespaceInfo, NetworkPolicyInfo, PodInfo } from '../../src/policy/objects';
import { parsePolicyObject } from '../../src/policy/sources';
import { repoRoot } from '../../src/sandbox/paths';
import { namespace, netpol, pod as podObject } from '../helpers/kube-objects';

const NODE = 'node-a';

function pod(name: string, labels: Record<string, string>, ips: string[], nodeName = NODE) {
  return podObject({ name, namespace: 'default', labels, ips, nodeName, ports: [[8080, 'TCP', 'http']] });
}

const objects = [
  namespace('default'),
  pod('web', { app: 'web' }, ['10.244.1.2', 'fd00:10:244:1::2']),
  pod('frontend', { role: 'frontend' }, ['10.244.1.3']),
  pod('other', { role: 'other' }, ['10.244.1.4']),
  pod('remote', { app: 'web' }, ['10.244.2.2'], 'node-b'),
  netpol('default', 'web-from-frontend', {
    podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { role: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 'http' }] }],
  }),
  netpol('default', 'other-no-egress', { podSelector: { matchLabels: { role: 'other' } }, policyTypes: ['Egress'] }),
];

function compile(): PolicyTables {
  const policies: NetworkPolicyInfo[] = [];
  const pods: PodInfo[] = [];
  const namespaces: NamespaceInfo[] = [];
  for (const o of objects) {
    const p = parsePolicyObject(o);
    if (p?.kind === 'NetworkPolicy') policies.push(p.info);
    else if (p?.kind === 'Pod') pods.push(p.info);
    else if (p?.kind === 'Namespace') namespaces.push(p.info);
  }
  return compilePolicy({ policies, pods, namespaces, nodeName: NODE, hostAddresses: ['10.244.1.1'] });
}

const stats: PolicyStats = {
  version: 5,
  allowed: { 'default/web-from-frontend': 3 },
  denied: [
    { policy: 'default/web-from-frontend', direction: 'ingress', flows: 4 },
    { policy: 'default/other-no-egress', direction: 'egress', flows: 2 },
  ],
};

t.test('policyEntries: per pod isolation joined with counters', async (t) => {
  const tables = compile();
  const r = policyEntries({ tables, stats });
  t.equal(r.enforcing, true);
  t.equal(r.tableVersion, 5);
  t.notOk(r.note, 'nothing to note');
  t.same(r.pods.map((p) => p.name), ['default/frontend', 'default/other', 'default/web'], "this node's pods only, sorted");
  t.same(r.summary, { pods: 3, isolated: 2, ruleSets: r.summary.ruleSets, rules: r.summary.rules, peers: r.summary.peers }, 'summary of the whole table');

  const web = r.pods.find((p) => p.name === 'default/web');
  t.same(web?.ips, ['10.244.1.2', 'fd00:10:244:1::2']);
  t.same(web?.ingress.isolatedBy, ['default/web-from-frontend'], 'web: ingress isolated by the policy');
  t.equal(web?.ingress.rules.length, 1);
  t.match(web?.ingress.rules[0], /^default\/web-from-frontend: peers 10\.244\.1\.3\/32 ports TCP\/8080$/, 'the rule: frontend only, named port resolved');
  t.same(web?.egress, { isolated: false, isolatedBy: [], rules: [] }, 'web: egress not isolated');

  const other = r.pods.find((p) => p.name === 'default/other');
  t.same(other?.egress, { isolated: true, isolatedBy: ['default/other-no-egress'], rules: [] }, 'other: egress isolated, nothing allowed');
  t.equal(other?.ingress.isolated, false);
  const frontend = r.pods.find((p) => p.name === 'default/frontend');
  t.same([frontend?.ingress.isolated, frontend?.egress.isolated], [false, false], 'frontend: not isolated');

  t.same(r.policies, [
    { policy: 'default/other-no-egress', allowed: 0, denied: { ingress: 0, egress: 2 }, isolates: ['default/other'] },
    { policy: 'default/web-from-frontend', allowed: 3, denied: { ingress: 4, egress: 0 }, isolates: ['default/web'] },
  ], 'counters per policy and direction');
});

t.test('policyEntries: ?pod= filter', async (t) => {
  const tables = compile();
  for (const f of ['web', 'default/web', '10.244.1.2', 'fd00:10:244:1::2', 'FD00:10:244:1:0:0:0:2']) {
    const r = policyEntries({ tables, stats }, f);
    t.same(r.pods.map((p) => p.name), ['default/web'], `--pod ${f}`);
    t.same(r.policies.map((p) => p.policy), ['default/web-from-frontend'], `--pod ${f}: only its policies`);
  }
  const none = policyEntries({ tables, stats }, 'remote');
  t.same(none.pods, [], "another node's pod is not listed");
  t.match(none.note, /no pod "remote" on this node/);
  t.equal(none.summary.pods, 3, 'the summary stays the whole table');
  t.same(policyEntries({ tables, stats }, 'frontend').policies, [], 'a pod nothing isolates: no policies');
});

t.test('policyEntries: degraded answers are notes, not errors', async (t) => {
  const off = policyEntries(undefined);
  t.same([off.enforcing, off.pods, off.policies, off.tableVersion], [false, [], [], 0]);
  t.match(off.note, /without a NetworkPolicy source/);
  const early = policyEntries({ tables: undefined, stats });
  t.same([early.enforcing, early.pods], [true, []]);
  t.match(early.note, /no policy table published yet/);
  const noCounts = policyEntries({ tables: compile(), stats: { version: 1, allowed: {}, denied: [] } });
  t.equal(noCounts.pods.length, 3);
  t.ok(noCounts.policies.every((p) => p.allowed === 0 && p.denied.ingress === 0 && p.denied.egress === 0), 'nothing counted yet: zeros');
  t.notOk(noCounts.note, 'zero counters are not degraded');
});

t.test('formatPolicies', async (t) => {
  const out = formatPolicies(policyEntries({ tables: compile(), stats }));
  t.match(out, /^pod default\/web  10\.244\.1\.2 fd00:10:244:1::2\n  ingress    isolated by default\/web-from-frontend\n\s+allow default\/web-from-frontend: peers 10\.244\.1\.3\/32 ports TCP\/8080\n  egress     not isolated/m);
  t.match(out, /^pod default\/other .*\n  ingress    not isolated.*\n  egress     isolated by default\/other-no-egress\n\s+allows nothing: every new egress flow is denied/m);
  t.match(out, /^POLICY\s+ISOLATES\s+ALLOWED FLOWS\s+DENIED INGRESS\s+DENIED EGRESS$/m);
  t.match(out, /^default\/web-from-frontend\s+default\/web\s+3\s+4\s+0$/m, 'counter row');
  t.match(out, /\(policy table v5: 3 pods on this node, 2 isolated;/);
  const off = formatPolicies(policyEntries(undefined));
  t.match(off, /^NetworkPolicy is not enforced on this node\.\n\nnote: podnetd runs without a NetworkPolicy source/);
  t.notMatch(off, /policy table v/);
});

t.test('GET /v1/policies and podnetctl policies over a socket', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'podnet-ctlpol-'));
  const sock = path.join(dir, 'podnetd.sock');
  const sockOff = path.join(dir, 'tables-mode.sock');
  let policy: PolicyState | undefined = { tables: compile(), stats };
  const base: ControlState = {
    status: () => { throw new Error('not used'); }, specs: () => [], stats: () => { throw new Error('not used'); },
    flows: () => [], trace: () => { throw new Error('not used'); },
  };
  const api = new ControlApi({ ...base, policies: () => policy }, pino({ level: 'silent' }));
  const apiOff = new ControlApi(base, pino({ level: 'silent' }));
  await api.start(sock);
  await apiOff.start(sockOff);
  t.teardown(async () => { await api.stop(); await apiOff.stop(); rmSync(dir, { recursive: true, force: true }); });

  const c = new ControlClient(sock);
  const all = await c.policies();
  t.equal(all.apiVersion, 'podnet/v1');
  t.equal(all.pods.length, 3);
  t.same((await c.policies('fd00:10:244:1::2')).pods.map((p) => p.name), ['default/web'], 'filter over the wire');
  const off = await new ControlClient(sockOff).policies();
  t.same([off.enforcing, off.pods], [false, []], 'a state without policies(): empty list and a note');

  const run = promisify(execFile);
  const ctl = path.join(repoRoot(), 'bin/podnetctl');
  const human = await run(process.execPath, [ctl, '--socket', sock, 'policies', '--pod', 'default/other']);
  t.match(human.stdout, /^pod default\/other  10\.244\.1\.4$/m, 'bin/podnetctl policies --pod');
  t.match(human.stdout, /egress\s+isolated by default\/other-no-egress/);
  const json = JSON.parse((await run(process.execPath, [ctl, '--socket', sock, '--json', 'policies'])).stdout) as PoliciesReply;
  t.same(json, all, '--json prints the reply unchanged');
  policy = undefined;
  t.match((await run(process.execPath, [ctl, '--socket', sock, 'policies'])).stdout, /not enforced/);
  const usage = await run(process.execPath, [ctl, '--socket', sock, 'policies', '--from', 'x']).catch((e: { code: number; stderr: string }) => e);
  t.equal((usage as { code: number }).code, 2, 'unknown option: usage error');
  t.match((await run(process.execPath, [ctl, '--help'])).stdout, /policies \[--pod NAME\|NAMESPACE\/NAME\|IP\]/, 'documented in the usage text');
});

t.test('trace names the policy that allowed or denied a flow', async (t) => {
  const denied = { verdict: 'drop' as const, reason: 'policy_ingress', service: false, existingFlow: false, deniedBy: ['default/web-from-frontend'] };
  t.match(explain(denied), /^NetworkPolicy denies it: default\/web-from-frontend isolates the ingress of the destination pod/, 'not "passed through"');
  const allowed = { verdict: 'forward' as const, service: true, servicePort: 'default/web:http', existingFlow: false, backend: '10.244.1.2:8080', allowedBy: 'default/web-from-frontend' };
  t.match(explain(allowed), /^service port default\/web:http: a new flow .* to backend 10\.244\.1\.2:8080; allowed by NetworkPolicy default\/web-from-frontend$/);
  t.equal(explain({ verdict: 'forward', service: false, existingFlow: false }), 'not a service VIP: passed through unchanged', 'no policy involved: unchanged');
  const q = { from: '10.244.1.4', to: '10.244.1.2', port: 8080, protocol: 'TCP' as const, sourcePort: 40000 };
  t.match(formatTrace({ apiVersion: 'podnet/v1', query: q, result: { ...denied, explanation: explain(denied) }, engineTrace: true }),
    /^policy    denied: isolated by default\/web-from-frontend, no rule allows it$/m);
  t.match(formatTrace({ apiVersion: 'podnet/v1', query: q, result: { ...allowed, explanation: explain(allowed) }, engineTrace: true }),
    /^policy    allowed by default\/web-from-frontend$/m);
});
