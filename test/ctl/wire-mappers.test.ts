// The engine → podnet/v1 mapping without root or a socket: the toWire* functions of
// src/daemon/control-api.ts fed engine-shaped objects (as native/binding/ builds them).
// Covers every wire field copied, optional fields absent (never undefined) when the engine
// leaves them out, a field the engine adds later never reaching the wire, no aliasing of the
// engine's arrays, and src/ctl/api.ts standing alone (no import at all).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { API_VERSION } from '../../src/ctl/api';
import {
  serviceEntries, toWireBackend, toWireEngineStatus, toWireFlow, toWireFlowTable, toWireQueue, toWireService, toWireTrace,
} from '../../src/daemon/control-api';
import type { FlowInfo, TraceResult } from '../../src/engine/types';
import { engineStats, flows, specs, tun } from './fixtures/engine-output';

/** An engine object with a field the native binding might add one day. */
function withExtra<T extends object>(o: T): T {
  return { ...o, nativeOnly: 42 } as T;
}

t.test('toWireFlow', async (t) => {
  const [plain, snat] = [flows[0], flows[1]];
  t.strictSame(toWireFlow(plain), { protocol: 'TCP', client: '10.244.1.9:40000', vip: '10.96.0.10:80', backend: '10.244.1.2:8080', state: 'ESTABLISHED', idleMs: 10 });
  t.notOk('snat' in toWireFlow(plain), 'no SNAT: the key is absent, not undefined');
  t.equal(toWireFlow(snat).snat, '10.244.1.1:61000');
  t.same(Object.keys(toWireFlow(snat)), ['protocol', 'client', 'vip', 'backend', 'snat', 'state', 'idleMs'], "the native binding's key order");
  t.strictSame(toWireFlow(withExtra<FlowInfo>(plain)), toWireFlow(plain), 'an engine-only field stays off the wire');
});

t.test('toWireTrace', async (t) => {
  const denied: TraceResult = { verdict: 'drop', reason: 'policy_egress', service: false, existingFlow: false, deniedBy: ['a/x', 'a/y'] };
  const w = toWireTrace(denied);
  t.strictSame(w, {
    verdict: 'drop', reason: 'policy_egress', service: false, existingFlow: false, deniedBy: ['a/x', 'a/y'],
    explanation: 'NetworkPolicy denies it: a/x, a/y isolate the egress of the client and no rule allows this flow',
  });
  t.not(w.deniedBy, denied.deniedBy, 'a copy, not the engine array');
  const fwd: TraceResult = { verdict: 'forward', service: true, existingFlow: true, servicePort: 's/web:http', backend: '10.0.0.2:80', snat: '10.0.0.1:61000', allowedBy: 'a/allow' };
  t.same(Object.keys(toWireTrace(fwd)), ['verdict', 'service', 'existingFlow', 'servicePort', 'backend', 'snat', 'allowedBy', 'explanation']);
  const pass = toWireTrace(withExtra<TraceResult>({ verdict: 'forward', service: false, existingFlow: false }));
  t.strictSame(pass, { verdict: 'forward', service: false, existingFlow: false, explanation: 'not a service VIP: passed through unchanged' }, 'absent stays absent; engine-only fields dropped');
});

t.test('toWireEngineStatus, toWireQueue, toWireFlowTable', async (t) => {
  const e = toWireEngineStatus(engineStats, tun);
  t.strictSame(e, {
    tun: 'podnet-tun', offloads: ['csum', 'tso4', 'tso6'], steering: 'cpu', tableVersion: 7, restoredFlows: true,
    flows: { active: 3, capacity: 262144, created: 12, expired: 8, evicted: 1 },
    drops: { truncated: 2, no_backend: 5 }, passthrough: 1234,
    queues: [
      { queue: 0, packetsIn: 100, packetsOut: 98, bytesIn: 64000, wakeups: 40, gsoPackets: 3, readErrors: 0, writeErrors: 1, busyPolled: 7 },
      { queue: 1, packetsIn: 10, packetsOut: 10, bytesIn: 6400, wakeups: 9, gsoPackets: 0, readErrors: 0, writeErrors: 0, busyPolled: 0 },
    ],
  }, 'only reasons with drops; replies (engine-only) not listed');
  t.notOk('replies' in e, 'replies are metrics, not part of the status reply');
  t.strictSame(toWireEngineStatus(engineStats, undefined).tun, '', 'before the TUN is attached');
  t.same(toWireEngineStatus(engineStats, undefined).offloads, []);
  t.not(e.offloads, tun.offloads, 'a copy, not the TUN info array');
  t.strictSame(toWireQueue(withExtra(engineStats.queues[0])), e.queues[0], 'an engine-only queue counter stays off the wire');
  t.strictSame(toWireFlowTable(withExtra(engineStats.flows)), e.flows);
});

t.test('toWireService, toWireBackend, serviceEntries', async (t) => {
  const counters = engineStats.services[0];
  const s = toWireService(specs[0], withExtra(counters));
  t.strictSame(s, {
    name: 'shop/web:http', vip: '10.96.0.10', port: 80, protocol: 'TCP', affinityTimeoutSec: 10800, packets: 50, bytes: 5000, flows: 5,
    backends: [
      { ip: '10.244.1.2', port: 8080, name: 'web-a', terminating: false, weight: 1, packets: 30, bytes: 3000, flows: 3 },
      { ip: '10.244.1.3', port: 8080, terminating: true, weight: 0, packets: 20, bytes: 2000, flows: 2 },
    ],
  }, 'spec joined with counters; no masquerade key when the spec has none');
  t.strictSame(toWireBackend({ ip: '10.0.0.2', port: 80 }, undefined), { ip: '10.0.0.2', port: 80, terminating: false, weight: 1, packets: 0, bytes: 0, flows: 0 }, 'no counters yet: zeros');
  const nodePort = toWireService(specs[2], undefined);
  t.equal(nodePort.masquerade, '10.244.1.1');
  t.notOk('sharedAddress' in nodePort, 'engine-only spec fields stay off the wire');
  t.same(serviceEntries(specs, engineStats).map((x) => `${x.name} ${x.vip}`),
    ['kube-system/dns:dns 10.96.0.53', 'shop/web:http 10.96.0.10', 'shop/web:http 192.168.1.10', 'shop/web:http fd00:10:96::a'], 'sorted by name, VIP, port');
});

t.test('src/ctl/api.ts is self-contained; podnetctl reads only it', async (t) => {
  t.equal(API_VERSION, 'podnet/v1');
  const dir = path.join(__dirname, '../../src/ctl');
  t.notMatch(readFileSync(path.join(dir, 'api.ts'), 'utf8'), /^\s*(import|export .* from)\b/m, 'api.ts imports nothing');
  for (const f of ['client.ts', 'format.ts', 'main.ts', 'policies.ts']) {
    t.notMatch(readFileSync(path.join(dir, f), 'utf8'), /from '\.\.\//, `${f}: no import from outside src/ctl`);
  }
});
