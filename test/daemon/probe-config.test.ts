// podnetd's side of the datapath probe without root: the health.probe and engine.probe* keys
// (defaults, errors naming the key), the probe addresses per pod CIDR family (routed into the
// TUN by the wiring), the probe's state on the wire and in `podnetctl status`, and the test hook
// on the control socket, which exists only when podnetd passes it (PODNET_TEST_HOOKS=1).
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import t from 'tap';
import { formatProbe } from '../../src/ctl/format';
import { buildConfig, restartKeys } from '../../src/daemon/config';
import { ControlApi, type ControlState } from '../../src/daemon/control-api';
import { probeAddresses, toWireProbe } from '../../src/daemon/probe';
import { wiringConfig } from '../../src/daemon/daemon';
import { DatapathProbe } from '../../src/probe/datapath';

const base = { manifests: '/etc/podnet/manifests', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'], serviceCIDRs: ['10.96.0.0/16'] };

t.test('health.probe: defaults and errors', async (t) => {
  const c = buildConfig(base);
  t.same(c.health.probe, { enabled: true, intervalMs: 2000, timeoutMs: 1000, failures: 3 }, 'on, every 2 s, 503 after 3 missed rounds');
  t.same(buildConfig({ ...base, health: { probe: { intervalMs: 500, timeoutMs: 200, failures: 5 } } }).health.probe, { enabled: true, intervalMs: 500, timeoutMs: 200, failures: 5 });
  const cases: [Record<string, unknown>, string][] = [
    [{ health: { probe: { intervalMs: 50 } } }, 'health.probe.intervalMs'],
    [{ health: { probe: { failures: 0 } } }, 'health.probe.failures'],
    [{ health: { probe: { intervalMs: 500, timeoutMs: 800 } } }, 'health.probe.timeoutMs'],
    [{ health: { probe: { every: 1 } } }, 'health.probe.every'],
    [{ health: { liveness: {} } }, 'health.liveness'],
    [{ engine: { probeIPv4: 'fd00::2' } }, 'engine.probeIPv4'],
    [{ engine: { probeIPv6: '169.254.42.2' } }, 'engine.probeIPv6'],
  ];
  for (const [extra, key] of cases) {
    t.throws(() => buildConfig({ ...base, ...extra }), { name: 'ConfigError', key }, key);
  }
  t.same(restartKeys(buildConfig(base), buildConfig({ ...base, health: { probe: { enabled: false } } })), ['health'], 'a change needs a restart');
});

t.test('probe addresses: one per pod CIDR family, routed by the wiring', async (t) => {
  t.same(probeAddresses(buildConfig(base)), ['169.254.42.2', 'fd00:a9fe:2a::2'], 'the engine defaults');
  t.same(probeAddresses(buildConfig({ ...base, podCIDRs: ['10.244.1.0/24'] })), ['169.254.42.2'], 'IPv4-only node');
  t.same(probeAddresses(buildConfig({ ...base, engine: { probeIPv4: '169.254.99.9' } })), ['169.254.99.9', 'fd00:a9fe:2a::2'], 'configured');
  t.same(probeAddresses(buildConfig({ ...base, health: { probe: { enabled: false } } })), [], 'off: no probe, no route');
  t.same(wiringConfig(buildConfig(base)).probeAddresses, ['169.254.42.2', 'fd00:a9fe:2a::2'], 'handed to the node wiring');
  t.same(buildConfig({ ...base, engine: { probeIPv6: 'fd00::99' } }).engine, { probeIPv6: 'fd00::99' }, 'and to the engine');
});

t.test('probe state on the wire and in podnetctl status', async (t) => {
  const p = new DatapathProbe(['169.254.42.2', 'fd00:a9fe:2a::2'], { intervalMs: 2000, timeoutMs: 1000, failures: 3 });
  t.match(toWireProbe(p), { live: true, rounds: 0, lastOk: '', targets: [] }, 'before the first round');
  p.health.record([{ target: '169.254.42.2', rttMs: 0.12 }, { target: 'fd00:a9fe:2a::2', error: 'send: EPERM' }], Date.UTC(2026, 0, 1));
  const w = toWireProbe(p);
  t.same(w.targets, [{ address: '169.254.42.2', rttMs: 0.12 }, { address: 'fd00:a9fe:2a::2', error: 'send: EPERM' }]);
  t.equal(w.lastOk, '', 'a round with a miss is not an answered one');
  t.equal(formatProbe(w), 'probe     live; last 0.12 ms (169.254.42.2), MISSED (send: EPERM) (fd00:a9fe:2a::2); 1 missed in a row (/livez 503 at 3), 1/1 rounds missed; every 2000 ms, timeout 1000 ms');
});

t.test('test hook on the control socket', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'podnet-probe-hook-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const base: ControlState = { status: () => { throw new Error('unused'); }, specs: () => [], stats: () => { throw new Error('unused'); }, flows: () => [], trace: () => { throw new Error('unused'); } };
  const post = (sock: string, p: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ socketPath: sock, path: p, method: 'POST', headers: { host: 'podnetd' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
  const paused: number[] = [];
  for (const hooks of [false, true]) {
    const sock = path.join(dir, `${hooks}.sock`);
    const api = new ControlApi({ ...base, ...(hooks ? { pauseEngineForTest: (ms: number) => { paused.push(ms); return { paused: true, ms }; } } : {}) }, pino({ level: 'silent' }));
    await api.start(sock);
    const r = await post(sock, '/v1/test/pause-engine?ms=1500');
    await api.stop();
    if (hooks) t.same([r.status, JSON.parse(r.body), paused], [200, { paused: true, ms: 1500 }, [1500]], 'with hooks: the engine is paused');
    else t.same([r.status, paused], [405, []], 'without: a GET-only API, nothing paused');
  }
});
