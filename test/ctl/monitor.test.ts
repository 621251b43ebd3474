// podnetctl monitor without root: the filters and the wire mapping as pure functions, then
// MonitorHub behind ControlApi on a temp unix socket over a fake engine ring, streamed by
// ControlClient and by bin/podnetctl (--json, --count, the human lines, usage errors). The
// engine is attached only while a client is connected; sync events come from the wrapped sinks.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import t from 'tap';
import type { MonitorEventEntry } from '../../src/ctl/api-monitor';
import { ControlClient } from '../../src/ctl/client';
import { formatMonitorEvent } from '../../src/ctl/monitor';
import { ControlApi } from '../../src/daemon/control-api';
import { MonitorHub, monitorMatch, parseMonitorFilter, toWireMonitorEvent, type MonitorEngine } from '../../src/daemon/monitor';
import type { MonitorEvent, MonitorReadResult } from '../../src/engine/types';
import { ctl } from './fixtures/run-ctl';

const T = Date.parse('2026-01-02T03:04:05.678Z');
const DROP: MonitorEvent = {
  type: 'drop', timeMs: T, reason: 'policy_ingress', length: 60, family: 4, protocol: 'TCP', srcIp: '10.244.1.30', dstIp: '10.244.1.2',
  src: '10.244.1.30:40000', dst: '10.244.1.2:8080', srcPod: 'x/c', dstPod: 'y/b', deniedBy: ['y/allow-a'],
};
const FLOW: MonitorEvent = {
  type: 'flow-new', timeMs: T, family: 6, protocol: 'TCP', srcIp: 'fd00:10:244:1::a', dstIp: 'fd00:10:96::c',
  src: '[fd00:10:244:1::a]:41000', dst: '[fd00:10:96::c]:80', servicePort: 'shop/web:http', backend: '[fd00:10:244:1::2]:8080',
  backendPod: 'shop/web-1', kind: 'service', cached: true, srcPod: 'x/a',
};
const END: MonitorEvent = { ...FLOW, type: 'flow-end', reason: 'cut', state: 'ESTABLISHED', cached: undefined, kind: undefined };

t.test('wire mapping and filters', async (t) => {
  const d = toWireMonitorEvent(DROP);
  t.same(d, {
    type: 'drop', time: '2026-01-02T03:04:05.678Z', reason: 'policy_ingress', protocol: 'TCP', family: 4, src: '10.244.1.30:40000',
    dst: '10.244.1.2:8080', srcPod: 'x/c', dstPod: 'y/b', length: 60, deniedBy: ['y/allow-a'],
  }, 'field by field, no engine-only fields (srcIp), absent stays absent');
  const f = toWireMonitorEvent(FLOW), e = toWireMonitorEvent(END);
  const sync: MonitorEventEntry = { type: 'sync', time: d.time, table: 'services', version: 3 };
  const match = (q: string, ev: MonitorEventEntry) => monitorMatch(parseMonitorFilter(new URL(`http://x/v1/monitor?${q}`)), ev);
  const table: [string, MonitorEventEntry, boolean][] = [
    ['', d, true], ['', sync, true],
    ['type=drop', d, true], ['type=drop', f, false], ['type=flow', f, true], ['type=flow', e, true], ['type=flow,sync', sync, true], ['type=drop', sync, false],
    ['pod=y/b', d, true], ['pod=b', d, true], ['pod=c', d, true], ['pod=a', d, false], ['pod=10.244.1.2', d, true],
    ['pod=web-1', f, true], ['pod=fd00:10:244:1:0::2', f, true], ['pod=fd00:10:244:1::a', f, true], ['pod=x/a', sync, false],
    ['service=shop/web:http', f, true], ['service=shop/web', f, true], ['service=web', f, true], ['service=fd00:10:96::c', e, true],
    ['service=web', d, false], ['service=10.244.1.2', d, true], ['service=web', sync, false],
    ['reason=policy_ingress', d, true], ['reason=policy_egress', d, false], ['reason=cut', e, true], ['reason=cut', f, false],
  ];
  for (const [q, ev, want] of table) t.equal(match(q, ev), want, `${q || '(none)'} ${ev.type}`);
  t.throws(() => parseMonitorFilter(new URL('http://x/v1/monitor?type=drops')), { code: 'DAEMON_BAD_REQUEST' });
});

t.test('human lines', async (t) => {
  t.match(formatMonitorEvent(toWireMonitorEvent(DROP)),
    /^\d\d:\d\d:\d\d\.678 DROP +policy_ingress +TCP 10\.244\.1\.30:40000 \(x\/c\) → 10\.244\.1\.2:8080 \(y\/b\) +denied by y\/allow-a$/);
  t.match(formatMonitorEvent(toWireMonitorEvent(FLOW)),
    /FLOW NEW +TCP \[fd00:10:244:1::a\]:41000 \(x\/a\) → \[fd00:10:96::c\]:80 \[shop\/web:http\] → \[fd00:10:244:1::2\]:8080 \(shop\/web-1\) +cached$/);
  t.match(formatMonitorEvent(toWireMonitorEvent(END)), /FLOW END +cut +TCP .* +\(ESTABLISHED\)$/);
  t.match(formatMonitorEvent({ type: 'sync', time: new Date(T).toISOString(), table: 'policy', version: 4, pods: 3, ruleSets: 1, flowsCut: 1 }),
    /SYNC +policy v4: 3 pods, 1 rule set, 1 flow cut$/);
  t.match(formatMonitorEvent({ type: 'drop', time: new Date(T).toISOString(), reason: 'truncated', length: 3 }), /DROP +truncated +3 bytes, unparsed$/);
});

/** An engine ring the test fills. */
class FakeEngine implements MonitorEngine {
  attached = 0;
  queue: MonitorEvent[] = [];
  skipped = 0;
  monitorStart(): void { if (this.attached++ === 0) this.skipped = 0; }  // counts per session, as the engine's
  monitorStop(): void { this.attached--; }
  monitorRead(max = 4096): MonitorReadResult {
    return { events: this.attached ? this.queue.splice(0, max) : [], skipped: this.skipped, lost: 0 };
  }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

t.test('the stream: filters, sync events, attach only while a client is connected, podnetctl', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'podnet-monitor-'));
  const sock = path.join(dir, 'podnetd.sock');
  const engine = new FakeEngine();
  const hub = new MonitorHub(() => engine, pino({ level: 'silent' }), 20);
  const api = new ControlApi({
    status: () => { throw new Error('not used'); }, specs: () => [], stats: () => { throw new Error('not used'); },
    flows: () => [], trace: () => { throw new Error('not used'); }, monitor: hub,
  }, pino({ level: 'silent' }));
  await api.start(sock);
  t.teardown(async () => { hub.stop(); await api.stop(); rmSync(dir, { recursive: true, force: true }); });
  const tables = hub.tables({ apply: () => ({ version: 2, servicePorts: 5, flowsPurged: 1 }), replace: () => ({ version: 1, servicePorts: 4, flowsPurged: 0 }) });
  const policy = hub.policy({ setPolicy: () => ({ version: 7, flowsCut: 2 }) });

  tables.replace([]);
  t.equal(engine.attached, 0, 'no client: the engine records nothing');
  const c = new ControlClient(sock);
  const got: MonitorEventEntry[] = [];
  const s = c.stream<MonitorEventEntry>('/v1/monitor', { pod: 'y/b' }, (e) => got.push(e));
  await until(() => got.length > 0, 'attached');
  t.match(got[0], { type: 'attached' });
  t.equal(engine.attached, 1, 'attached with the first client');
  const all: MonitorEventEntry[] = [];
  const s2 = c.stream<MonitorEventEntry>('/v1/monitor', {}, (e) => all.push(e));
  await until(() => all.length > 0, 'second client');
  t.equal(engine.attached, 1, 'one engine monitor for every client');

  engine.queue.push(DROP, FLOW);
  engine.skipped = 5;
  tables.apply({ upsert: [], remove: [{ vip: '10.96.0.1', port: 80, protocol: 'TCP' }] });
  policy.setPolicy({ pods: [], ruleSets: [] });
  await until(() => all.length >= 6, 'events');
  t.same(all.map((e) => e.type), ['attached', 'sync', 'sync', 'drop', 'flow-new', 'skipped']);
  t.match(all[1], { table: 'services', version: 2, servicePorts: 5, upserts: 0, removes: 1, full: false, flowsPurged: 1 });
  t.match(all[2], { table: 'policy', version: 7, pods: 0, ruleSets: 0, flowsCut: 2 });
  t.match(all[5], { rateLimited: 5, lost: 0 });
  await until(() => got.length >= 3, 'filtered events');
  t.same(got.map((e) => e.type), ['attached', 'drop', 'skipped'], 'pod y/b: its drop only (and the skipped notice)');

  s.close();
  s2.close();
  await Promise.all([s.done, s2.done]);
  await until(() => engine.attached === 0, 'detach');
  t.pass('the last client gone: detached');

  const bad = c.stream('/v1/monitor', { type: 'nope' }, () => undefined);
  await t.rejects(bad.done, { code: 'DAEMON_BAD_REQUEST' }, 'a bad filter is a coded 400');

  // bin/podnetctl: --json --count 2 ends after two events.
  const feed = setInterval(() => { if (engine.attached) engine.queue.push(DROP); }, 30);
  t.teardown(() => clearInterval(feed));
  const j = await ctl(sock, 'monitor', '--json', '--count', '2', '--type', 'drop');
  t.equal(j.code, 0, j.err);
  const lines = j.out.trim().split('\n').map((l) => JSON.parse(l) as MonitorEventEntry);
  t.same(lines.map((l) => [l.type, l.reason]), [['drop', 'policy_ingress'], ['drop', 'policy_ingress']]);
  t.match(j.err, /monitoring podnetd at/);
  const h = await ctl(sock, 'monitor', '--count', '1');
  t.match(h.out, /DROP +policy_ingress +TCP 10\.244\.1\.30:40000 \(x\/c\)/, 'human line');
  const d = await ctl(sock, 'monitor', '--duration', '0.2', '--type', 'sync');
  t.equal(d.code, 0, '--duration ends it');
  t.equal(d.out, '', 'no sync events meanwhile');
  t.equal((await ctl(sock, 'monitor', '--count', '0')).code, 2, 'usage error');
  t.equal((await ctl(sock, 'monitor', '--bogus', '1')).code, 2, 'unknown option');
  t.match((await ctl(sock, '--help')).out, /monitor \[--type drop\|flow\|sync/, 'in the help text');
});
