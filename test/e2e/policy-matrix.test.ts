// NetworkPolicy conformance matrix with real traffic: the upstream layout (namespaces x and y,
// pods a, b, c in each, every pod serving TCP 80, TCP 81 and UDP 80 with the upstream port names
// serve-80-tcp / serve-81-tcp / serve-80-udp) in one sandbox node, podnetd enforcing policy from
// its manifest directory. Each case writes its policies (and pod label changes), waits for the
// publish, probes the 6×6 truth table (self excluded: loopback, as upstream ignores it) with
// real connects from every pod in parallel, and compares it with the expected table; a mismatch
// is re-probed (sync lag, a slow connect on a loaded machine) before the case fails with both
// tables printed.
//
// Cases, named after test/e2e/network/netpol/network_policy.go ("Netpol NetworkPolicy between
// server and client") unless marked cyclonus-style (truth-table cases of the same shape for rules
// upstream covers elsewhere):
//   should support a 'default-deny-ingress' policy
//   should support a 'default-deny-all' policy
//   should enforce policy to allow traffic from pods within server namespace based on PodSelector
//   should enforce policy to allow ingress traffic for a target
//   should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector
//   should enforce policy based on PodSelector with MatchExpressions
//   should enforce policy based on PodSelector or NamespaceSelector
//   should enforce policy based on PodSelector and NamespaceSelector
//   should enforce policy based on Ports
//   should enforce multiple, stacked policies with overlapping podSelectors
//   should allow ingress access on one named port
//   should allow egress access on one named port
//   should enforce except clause while egress access to server in CIDR block
//   should enforce ingress policy allowing any port traffic to a server on a specific protocol (UDP only)
//   should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)
//   should enforce updated policy
//   should deny ingress access to updated pod
//   should stop enforcing policies after they are deleted
//   cyclonus-style: endPort range (NetworkPolicyEndPort)
//   cyclonus-style: egress deny with DNS-like UDP allowed
//   cyclonus-style: ingress and egress combined on one pod pair
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Podnetd, writeManifest, type Pod } from '../../src/sandbox';
import { namespace, netpol, pod as podObject } from '../helpers/kube-objects';
import { isRoot, requires } from '../helpers/privileged';
import { sandboxFor } from '../helpers/sandbox';

type Proto = 'TCP' | 'UDP';
interface PodId { ns: 'x' | 'y'; pod: 'a' | 'b' | 'c' }
const id = (p: PodId) => `${p.ns}/${p.pod}`;
const PODS: PodId[] = (['x', 'y'] as const).flatMap((ns) => (['a', 'b', 'c'] as const).map((pod) => ({ ns, pod })));

interface Probe { port: number; proto: Proto; expect: (from: PodId, to: PodId) => boolean }
interface Step {
  /** What this step changes (shown on failure). */
  what: string;
  policies: Record<string, unknown>[];
  /** Label overrides by "ns/pod" (merged over { pod: <name> }). */
  labels?: Record<string, Record<string, string>>;
  probes: Probe[];
}
interface Case { name: string; steps: Step[] }

// ---------------------------------------------------------------- the probe agent
// One process per pod (its network namespace): serves TCP 80/81 and UDP 80, and probes on request
// from this test over a unix socket in the sandbox directory (filesystem, so it crosses netns).
const AGENT = String.raw`
const net = require('net'), dgram = require('dgram');
const [sockPath, name] = process.argv.slice(1);
let up = 0; const ready = () => { if (++up === 4) console.log('listening'); };
for (const p of [80, 81]) net.createServer((c) => { c.on('error', () => {}); c.end(name); }).listen(p, '0.0.0.0', ready);
const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(name, r.port, r.address)); u.bind(80, '0.0.0.0', ready);
function tcp(host, port, ms) {
  return new Promise((res) => {
    const s = net.connect({ host, port });
    const tm = setTimeout(() => { s.destroy(); res('timeout'); }, ms);
    s.once('connect', () => { clearTimeout(tm); s.destroy(); res('ok'); });
    s.once('error', (e) => { clearTimeout(tm); res(e.code || 'error'); });
  });
}
function udp(host, port, ms) {
  return new Promise((res) => {
    const s = dgram.createSocket('udp4');
    const done = (v) => { clearTimeout(tm); try { s.close(); } catch {} res(v); };
    const tm = setTimeout(() => done('timeout'), ms);
    s.on('message', () => done('ok'));
    s.on('error', (e) => done(e.code || 'error'));
    s.send('ping', port, host);
  });
}
net.createServer((c) => {
  let buf = '';
  c.on('error', () => {});
  c.on('data', (d) => {
    buf += d; const i = buf.indexOf('\n'); if (i < 0) return;
    const q = JSON.parse(buf.slice(0, i));
    Promise.all(q.probes.map((p) => (p.proto === 'UDP' ? udp : tcp)(p.host, p.port, q.timeoutMs))).then((r) => c.end(JSON.stringify(r) + '\n'));
  });
}).listen(sockPath, ready);
`;

async function ask(sock: string, probes: Array<{ host: string; port: number; proto: Proto }>, timeoutMs: number): Promise<string[]> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => { buf += d; });
    c.on('end', () => { try { resolve(JSON.parse(buf) as string[]); } catch (e) { reject(e); } });
    c.on('error', reject);
    c.write(JSON.stringify({ probes, timeoutMs }) + '\n');
  });
}

// ---------------------------------------------------------------- objects
const NS_LABEL = 'kubernetes.io/metadata.name';
/** A policy exactly as the case writes it: no policyTypes defaulting. */
const np = (ns: string, name: string, spec: Record<string, unknown>) => netpol(ns, name, spec, true);
const podSel = (pod: string) => ({ matchLabels: { pod } });
const nsSel = (ns: string) => ({ matchLabels: { [NS_LABEL]: ns } });
const notNs = (ns: string) => ({ matchExpressions: [{ key: NS_LABEL, operator: 'NotIn', values: [ns] }] });

const is = (p: PodId, s: string) => id(p) === s;
const all = () => true;
const tcp80 = (expect: Probe['expect']): Probe => ({ port: 80, proto: 'TCP', expect });
const tcp81 = (expect: Probe['expect']): Probe => ({ port: 81, proto: 'TCP', expect });
const udp80 = (expect: Probe['expect']): Probe => ({ port: 80, proto: 'UDP', expect });

function cases(podCIDR4: string, ipOf: (s: string) => string): Case[] {
  const one = (name: string, policies: Record<string, unknown>[], probes: Probe[]): Case => ({ name, steps: [{ what: 'policies written', policies, probes }] });
  return [
    one("should support a 'default-deny-ingress' policy",
      [np('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })],
      [tcp80((_f, to) => to.ns !== 'x')]),
    one("should support a 'default-deny-all' policy",
      [np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
      [tcp80((f, to) => f.ns !== 'x' && to.ns !== 'x')]),
    one('should enforce policy to allow traffic from pods within server namespace based on PodSelector',
      [np('x', 'x-a-allows-x-b', { podSelector: podSel('a'), ingress: [{ from: [{ podSelector: podSel('b') }] }] })],
      [tcp80((f, to) => !is(to, 'x/a') || is(f, 'x/b'))]),
    one('should enforce policy to allow ingress traffic for a target',
      [np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'] }),
        np('x', 'allow-all-to-a', { podSelector: podSel('a'), ingress: [{ from: [{ podSelector: {}, namespaceSelector: {} }] }] })],
      [tcp80((_f, to) => to.ns !== 'x' || is(to, 'x/a'))]),
    one('should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector',
      [np('x', 'allow-client-a-via-ns-selector', { podSelector: podSel('a'), ingress: [{ from: [{ namespaceSelector: nsSel('y') }] }] })],
      [tcp80((f, to) => !is(to, 'x/a') || f.ns === 'y')]),
    one('should enforce policy based on PodSelector with MatchExpressions',
      [np('x', 'x-a-allows-x-b', { podSelector: podSel('a'), ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b'] }] } }] }] })],
      [tcp80((f, to) => !is(to, 'x/a') || is(f, 'x/b'))]),
    one('should enforce policy based on PodSelector or NamespaceSelector',
      [np('x', 'allow-ns-y-match-selector', { podSelector: podSel('a'), ingress: [{ from: [{ namespaceSelector: notNs('x') }, { podSelector: podSel('b') }] }] })],
      [tcp80((f, to) => !is(to, 'x/a') || f.ns !== 'x' || is(f, 'x/b'))]),
    one('should enforce policy based on PodSelector and NamespaceSelector',
      [np('x', 'allow-ns-y-podselector-and-nsselector', { podSelector: podSel('a'), ingress: [{ from: [{ namespaceSelector: notNs('x'), podSelector: podSel('b') }] }] })],
      [tcp80((f, to) => !is(to, 'x/a') || is(f, 'y/b'))]),
    one('should enforce policy based on Ports',
      [np('x', 'allow-client-a-via-ns-selector', { podSelector: podSel('a'), ingress: [{ from: [{ namespaceSelector: nsSel('y') }], ports: [{ protocol: 'TCP', port: 81 }] }] })],
      [tcp81((f, to) => !is(to, 'x/a') || f.ns === 'y'), tcp80((_f, to) => !is(to, 'x/a'))]),
    {
      name: 'should enforce multiple, stacked policies with overlapping podSelectors',
      steps: [
        { what: 'allow y on 81', policies: [np('x', 'allow-81', { podSelector: podSel('a'), ingress: [{ from: [{ namespaceSelector: nsSel('y') }], ports: [{ protocol: 'TCP', port: 81 }] }] })],
          probes: [tcp81((f, to) => !is(to, 'x/a') || f.ns === 'y'), tcp80((_f, to) => !is(to, 'x/a'))] },
        { what: 'a second policy allows y on 80 too',
          policies: [np('x', 'allow-81', { podSelector: podSel('a'), ingress: [{ from: [{ namespaceSelector: nsSel('y') }], ports: [{ protocol: 'TCP', port: 81 }] }] }),
            np('x', 'allow-80', { podSelector: podSel('a'), ingress: [{ from: [{ namespaceSelector: nsSel('y') }], ports: [{ protocol: 'TCP', port: 80 }] }] })],
          probes: [tcp81((f, to) => !is(to, 'x/a') || f.ns === 'y'), tcp80((f, to) => !is(to, 'x/a') || f.ns === 'y')] },
      ],
    },
    one('should allow ingress access on one named port',
      [np('x', 'allow-all', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] })],
      [tcp81(all), tcp80((_f, to) => to.ns !== 'x')]),
    one('should allow egress access on one named port',
      [np('x', 'allow-egress', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-tcp' }] }] })],
      [tcp80(all), tcp81((f) => f.ns !== 'x')]),
    one('should enforce except clause while egress access to server in CIDR block',
      [np('x', 'deny-client-a-via-except-cidr-egress-rule', { podSelector: podSel('a'), policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: podCIDR4, except: [`${ipOf('y/b')}/32`] } }] }] })],
      [tcp80((f, to) => !is(f, 'x/a') || !is(to, 'y/b'))]),
    one('should enforce ingress policy allowing any port traffic to a server on a specific protocol (UDP only)',
      [np('x', 'allow-udp', { podSelector: podSel('a'), ingress: [{ ports: [{ protocol: 'UDP' }] }] })],
      [udp80(all), tcp80((_f, to) => !is(to, 'x/a'))]),
    one('should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)',
      [np('x', 'deny-egress-x-a', { podSelector: podSel('a'), policyTypes: ['Egress'] }),
        np('y', 'allow-from-x', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: nsSel('x') }] }] })],
      [tcp80((f, to) => !is(f, 'x/a') && (to.ns !== 'y' || f.ns === 'x'))]),
    {
      name: 'should enforce updated policy',
      steps: [
        { what: 'allow everyone to x/a', policies: [np('x', 'allow-all-mutate-to-deny-all', { podSelector: {}, ingress: [{}] })], probes: [tcp81(all)] },
        { what: 'the same policy updated to deny everything', policies: [np('x', 'allow-all-mutate-to-deny-all', { podSelector: {}, policyTypes: ['Ingress'] })], probes: [tcp81((_f, to) => to.ns !== 'x')] },
      ],
    },
    {
      name: 'should deny ingress access to updated pod',
      steps: [
        { what: 'policy isolates target=isolated pods; none yet', policies: [np('x', 'deny-ingress-via-isolated-label-selector', { podSelector: { matchLabels: { target: 'isolated' } }, policyTypes: ['Ingress'] })], probes: [tcp80(all)] },
        { what: 'x/a gets the label', policies: [np('x', 'deny-ingress-via-isolated-label-selector', { podSelector: { matchLabels: { target: 'isolated' } }, policyTypes: ['Ingress'] })],
          labels: { 'x/a': { target: 'isolated' } }, probes: [tcp80((_f, to) => !is(to, 'x/a'))] },
      ],
    },
    {
      name: 'should stop enforcing policies after they are deleted',
      steps: [
        { what: 'deny-all in x', policies: [np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })], probes: [tcp80((f, to) => f.ns !== 'x' && to.ns !== 'x')] },
        { what: 'policy deleted', policies: [], probes: [tcp80(all)] },
      ],
    },
    one('cyclonus-style: endPort range (NetworkPolicyEndPort)',
      [np('x', 'allow-81-to-90', { podSelector: podSel('a'), ingress: [{ ports: [{ protocol: 'TCP', port: 81, endPort: 90 }] }] })],
      [tcp81(all), tcp80((_f, to) => !is(to, 'x/a'))]),
    one('cyclonus-style: egress deny with DNS-like UDP allowed',
      [np('x', 'egress-udp-only', { podSelector: podSel('a'), policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP', port: 80 }] }] })],
      [udp80(all), tcp80((f) => !is(f, 'x/a'))]),
    one('cyclonus-style: ingress and egress combined on one pod pair',
      [np('x', 'b-from-a', { podSelector: podSel('b'), ingress: [{ from: [{ podSelector: podSel('a') }] }] }),
        np('x', 'a-to-b', { podSelector: podSel('a'), policyTypes: ['Egress'], egress: [{ to: [{ podSelector: podSel('b') }] }] })],
      [tcp80((f, to) => (!is(f, 'x/a') || is(to, 'x/b')) && (!is(to, 'x/b') || is(f, 'x/a')))]),
  ];
}

// ---------------------------------------------------------------- the run
function render(title: string, cell: (from: PodId, to: PodId) => string): string {
  const head = `${title.padEnd(8)}${PODS.map((p) => id(p).padEnd(5)).join('')}`;
  return [head, ...PODS.map((f) => `${id(f).padEnd(8)}${PODS.map((to) => cell(f, to).padEnd(5)).join('')}`)].join('\n');
}

t.test('NetworkPolicy conformance matrix (x/y × a/b/c, real traffic)', requires({ root: isRoot }), async (t) => {
  const sb = await sandboxFor(t);
  if (!sb) return;

  const pods = new Map<string, Pod>();
  for (const p of PODS) pods.set(id(p), await sb.addPod(`${p.ns}${p.pod}`));
  const ipOf = (s: string) => pods.get(s)!.ip4;
  const sockOf = (s: string) => path.join(sb.dir, `probe-${s.replace('/', '')}.sock`);
  // The agents run from the sandbox processes (killed by PID on destroy).
  await Promise.all(PODS.map((p) => sb.spawn(pods.get(id(p))!.ns, [process.execPath, '-e', AGENT, sockOf(id(p)), id(p)], { readyLine: /^listening$/, timeoutMs: 30_000 })));

  const dir = Podnetd.paths(sb).manifests;
  mkdirSync(dir, { recursive: true });
  const writePods = (labels: Record<string, Record<string, string>> = {}) => writeManifest(dir, 'pods.yaml', [
    ...(['x', 'y'] as const).map((ns) => namespace(ns, { ns })),
    ...PODS.map((p) => {
      const pod = pods.get(id(p))!;
      return podObject({
        name: p.pod, namespace: p.ns, labels: { pod: p.pod, ...(labels[id(p)] ?? {}) }, ips: [pod.ip4, pod.ip6], nodeName: sb.nodeNs,
        ports: [[80, 'TCP'], [81, 'TCP'], [80, 'UDP']],
      });
    }),
  ]);
  writePods();
  const podnetd = await Podnetd.startManifests(sb);
  t.teardown(() => podnetd.stop());

  /** One probe round: every pod probes every other pod, all in parallel. */
  const probeAll = async (pr: Probe, timeoutMs: number): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    await Promise.all(PODS.map(async (f) => {
      const targets = PODS.filter((to) => id(to) !== id(f));
      const r = await ask(sockOf(id(f)), targets.map((to) => ({ host: ipOf(id(to)), port: pr.port, proto: pr.proto })), timeoutMs);
      targets.forEach((to, i) => out.set(`${id(f)}>${id(to)}`, r[i]));
    }));
    return out;
  };
  const mismatches = (pr: Probe, got: Map<string, string>) =>
    [...got].filter(([k, v]) => {
      const [f, to] = k.split('>').map((s) => ({ ns: s[0], pod: s[2] }) as PodId);
      return (v === 'ok') !== pr.expect(f, to);
    });

  const t0 = Date.now();
  for (const c of cases(sb.podCIDR4, ipOf)) {
    await t.test(c.name, async (t) => {
      for (const [i, step] of c.steps.entries()) {
        const from = podnetd.proc.lines.length;
        writeManifest(dir, 'policies.yaml', step.policies.length ? step.policies : '');
        if (step.labels || (i === 0 && c.steps.some((s) => s.labels))) writePods(step.labels);
        // Tables equal to the previous case's publish nothing: then the probes below are the check.
        await podnetd.proc.waitForLine(/"msg":"policy tables published"/, { from, timeoutMs: 4000 }).catch(() => undefined);
        for (const pr of step.probes) {
          let got = await probeAll(pr, 1500);
          // Re-probe before failing: a publish still in flight, or a connect slowed by load.
          for (let retry = 0; retry < 2 && mismatches(pr, got).length; retry++) {
            await new Promise((r) => setTimeout(r, 500));
            got = await probeAll(pr, 3000);
          }
          const bad = mismatches(pr, got);
          const label = `${pr.proto}/${pr.port}`;
          const table = () => [
            render(`want`, (f, to) => (id(f) === id(to) ? '-' : pr.expect(f, to) ? '.' : 'X')),
            render(`got`, (f, to) => {
              if (id(f) === id(to)) return '-';
              const v = got.get(`${id(f)}>${id(to)}`)!;
              const okCell = v === 'ok' ? '.' : 'X';
              return (v === 'ok') === pr.expect(f, to) ? okCell : `${okCell}!`;
            }),
          ].join('\n\n');
          if (bad.length) t.comment(`${c.name}, step "${step.what}", ${label} (rows: client, columns: server; . allowed, X denied, ! wrong):\n${table()}\n${bad.map(([k, v]) => `${k}: ${v}`).join('\n')}`);
          t.equal(bad.length, 0, `${step.what}: ${label} matrix as expected`);
        }
      }
      if (c.steps.some((s) => s.labels)) writePods();
    });
  }
  writeManifest(dir, 'policies.yaml', '');
  t.comment(`${cases(sb.podCIDR4, ipOf).length} cases in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const stats = await podnetd.stats();
  t.ok((stats.drops.policy_ingress ?? 0) > 0 && (stats.drops.policy_egress ?? 0) > 0, `denials counted by direction (${JSON.stringify(stats.drops)})`);
});
