// The control API without root: ControlApi on a temp unix socket over a fake daemon state,
// queried through ControlClient. Covers the join of programmed specs with engine counters, the
// flow filters (IPv4 and bracketed IPv6 endpoints, host-only or host:port), the engine's trace
// verdicts with their explanations, coded 400/404 errors and the socket's 0600 mode.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import t from 'tap';
import { CtlError, ControlClient } from '../../src/ctl/client';
import { ControlApi, type ControlState } from '../../src/daemon/control-api';
import type { EngineStats, FlowInfo, ServicePortSpec, TraceQuery, TraceResult } from '../../src/engine/types';

const specs: ServicePortSpec[] = [
  { name: 'shop/web:http', vip: '10.96.0.10', port: 80, protocol: 'TCP', backends: [{ ip: '10.244.1.2', port: 8080, name: 'a' }, { ip: '10.244.1.3', port: 8080, name: 'b', terminating: true }] },
  { name: 'shop/web:http', vip: 'fd00:10:96::a', port: 80, protocol: 'TCP', backends: [{ ip: 'fd00:10:244:1::2', port: 8080, name: 'a' }] },
  { name: 'kube-system/dns:dns', vip: '10.96.0.53', port: 53, protocol: 'UDP', backends: [] },
];

const stats = {
  version: 7, restoredFlows: false, flows: { active: 3, capacity: 1024, created: 9, expired: 6, evicted: 0 }, drops: {}, passthrough: 0, replies: {},
  services: [{ vip: '10.96.0.10', port: 80, protocol: 'TCP', name: 'shop/web:http', packets: 50, bytes: 5000, flows: 5,
    backends: [{ ip: '10.244.1.2', port: 8080, terminating: false, packets: 30, bytes: 3000, flows: 3 }, { ip: '10.244.1.3', port: 8080, terminating: true, packets: 20, bytes: 2000, flows: 2 }] }],
  queues: [],
} as unknown as EngineStats;

const flows: FlowInfo[] = [
  { protocol: 'TCP', client: '10.244.1.9:40000', vip: '10.96.0.10:80', backend: '10.244.1.2:8080', state: 'ESTABLISHED', idleMs: 10 },
  { protocol: 'TCP', client: '10.244.1.9:40001', vip: '10.96.0.10:80', backend: '10.244.1.3:8080', state: 'ESTABLISHED', idleMs: 20 },
  { protocol: 'TCP', client: '[fd00:10:244:1::9]:40002', vip: '[fd00:10:96::a]:80', backend: '[fd00:10:244:1::2]:8080', state: 'SYN_SENT', idleMs: 30 },
];

t.test('control API', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'podnet-ctlapi-'));
  const sock = path.join(dir, 'podnetd.sock');
  // A fake engine's dry run: the verdicts the real one gives for a ready backend, a port without
  // endpoints, a port the VIP does not have and an existing flow.
  const traces: { match: (q: TraceQuery) => boolean; result: TraceResult }[] = [
    { match: (q) => q.to === '10.96.0.10' && q.port === 80 && q.sourcePort === 40000, result: { verdict: 'forward', service: true, existingFlow: true, servicePort: 'shop/web:http', backend: '10.244.1.2:8080' } },
    { match: (q) => q.to === '10.96.0.10' && q.port === 80, result: { verdict: 'forward', service: true, existingFlow: false, servicePort: 'shop/web:http', backend: '10.244.1.2:8080' } },
    { match: (q) => q.to === '10.96.0.53', result: { verdict: 'reject', reason: 'no_backend', service: true, existingFlow: false, servicePort: 'kube-system/dns:dns' } },
    { match: (q) => q.to === '10.96.0.10', result: { verdict: 'reject', reason: 'no_service_port', service: true, existingFlow: false } },
  ];
  const state: ControlState = {
    status: () => { throw new Error('not used'); },
    specs: () => specs,
    stats: () => stats,
    flows: (limit) => flows.slice(0, limit),
    trace: (q) => traces.find((x) => x.match(q))?.result ?? { verdict: 'forward', service: false, existingFlow: false },
  };
  const api = new ControlApi(state, pino({ level: 'silent' }));
  await api.start(sock);
  t.teardown(async () => { await api.stop(); rmSync(dir, { recursive: true, force: true }); });
  const c = new ControlClient(sock);

  t.equal(statSync(sock).mode & 0o777, 0o600, 'socket mode 0600');

  const s = await c.services();
  t.equal(s.tableVersion, 7);
  const web4 = s.services.find((x) => x.vip === '10.96.0.10');
  t.same(web4?.backends.map((b) => [b.name, b.weight, b.flows, b.packets]), [['a', 1, 3, 30], ['b', 0, 2, 20]], 'counters joined per backend; terminating weighs 0');
  t.equal(s.services.find((x) => x.vip === 'fd00:10:96::a')?.flows, 0, 'no counters yet: zeros');
  t.same(s.services.find((x) => x.vip === '10.96.0.53')?.backends, []);

  t.equal((await c.flows({ backend: '10.244.1.2' })).flows.length, 1, 'host-only backend filter');
  t.equal((await c.flows({ backend: '10.244.1.2:9999' })).flows.length, 0, 'host:port must match exactly');
  t.equal((await c.flows({ vip: 'fd00:10:96::a' })).flows.length, 1, 'IPv6 host matches [ip]:port');
  t.equal((await c.flows({ vip: '[fd00:10:96::a]:80' })).flows.length, 1, 'IPv6 [ip]:port');
  t.equal((await c.flows({ client: '10.244.1.9', protocol: 'TCP' })).flows.length, 2);
  const lim = await c.flows({ limit: 2 });
  t.same([lim.flows.length, lim.truncated, lim.active], [2, true, 3]);

  let tr = await c.trace({ from: '10.244.1.9', to: '10.96.0.10', port: 80, protocol: 'TCP', sourcePort: 41000 });
  t.equal(tr.engineTrace, true, 'the engine answered');
  t.same([tr.result.verdict, tr.result.servicePort], ['forward', 'shop/web:http']);
  t.match(tr.result.explanation, /a new flow \(Maglev choice\) to backend 10\.244\.1\.2:8080/);
  tr = await c.trace({ from: '10.244.1.9', to: '10.96.0.53', port: 53, protocol: 'UDP' });
  t.same([tr.result.verdict, tr.result.reason], ['reject', 'no_backend']);
  t.match(tr.result.explanation, /no ready backend/);
  tr = await c.trace({ from: '10.244.1.9', to: '10.96.0.10', port: 81, protocol: 'TCP' });
  t.same([tr.result.verdict, tr.result.reason], ['reject', 'no_service_port']);
  t.match(tr.result.explanation, /no such port\/protocol/);
  tr = await c.trace({ from: '10.244.1.9', to: '10.96.0.10', port: 80, protocol: 'TCP', sourcePort: 40000 });
  t.same(tr.query, { from: '10.244.1.9', to: '10.96.0.10', port: 80, protocol: 'TCP', sourcePort: 40000 });
  t.match(tr.result.explanation, /existing flow to backend 10\.244\.1\.2:8080/);
  tr = await c.trace({ from: '10.244.1.9', to: '10.244.1.2', port: 8080, protocol: 'TCP' });
  t.equal(tr.result.explanation, 'not a service VIP: passed through unchanged');

  await t.rejects(c.trace({ from: '10.244.1.9', to: 'fd00::1', port: 80, protocol: 'TCP' }), { code: 'DAEMON_BAD_REQUEST', message: /same family/ });
  await t.rejects(c.get('/v1/nope'), { code: 'DAEMON_BAD_REQUEST' });
  await t.rejects(new ControlClient(path.join(dir, 'absent.sock')).status(), CtlError);
});
