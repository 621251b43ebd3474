// The engine's counters in podnetd's registry (src/daemon/engine-metrics.ts): one stats()
// snapshot per scrape shared by every family, values copied as the engine keeps them (nothing
// summed in JS), label sets following the engine's service ports.
import t from 'tap';
import { Registry } from 'prom-client';
import { registerEngineMetrics } from '../../src/daemon/engine-metrics';
import type { EngineStats } from '../../src/engine/types';

function stats(created: number, services: EngineStats['services']): EngineStats {
  return {
    version: 3, restoredFlows: false, flows: { active: 2, capacity: 1024, created, expired: 0, evicted: 0 },
    drops: { no_backend: 4, bad_length: 1 }, passthrough: 9, replies: { rst: 2 }, services,
    queues: [{ queue: 0, packetsIn: 10, packetsOut: 8, bytesIn: 900, wakeups: 3, gsoPackets: 0, readErrors: 0, writeErrors: 0, busyPolled: 0 }],
  };
}
const web = { name: 'default/web:http', vip: '10.96.0.30', port: 80, protocol: 'TCP', packets: 12, bytes: 3400, flows: 3,
  backends: [{ ip: 'fd00::5', port: 8080, packets: 12, bytes: 3400, flows: 3 }] } as unknown as EngineStats['services'][number];

t.test('one snapshot per scrape, values as the engine keeps them', async (t) => {
  let calls = 0;
  let cur = stats(5, [web]);
  const registry = new Registry();
  registerEngineMetrics(registry, () => ({ stats: () => { calls++; return cur; }, tun: 'podnet-tun' }), 1_700_000_000_000);
  const text = await registry.metrics();
  t.equal(calls, 1, 'one engine.stats() for the whole scrape');
  t.match(text, /^podnet_flows_created_total 5$/m);
  t.match(text, /^podnet_packets_dropped_total\{reason="bad_length"\} 1\npodnet_packets_dropped_total\{reason="no_backend"\} 4$/m, 'reasons sorted');
  t.match(text, /^podnet_service_bytes_total\{service_port="default\/web:http",vip="10.96.0.30",port="80",protocol="TCP"\} 3400$/m);
  t.match(text, /^podnet_backend_flows_total\{[^}]*backend="\[fd00::5\]:8080"\} 3$/m);
  t.match(text, /^podnet_queue_packets_in_total\{queue="0",tun="podnet-tun"\} 10$/m);
  t.match(text, /^podnet_process_start_time_seconds 1700000000$/m);
  t.match(text, /# TYPE podnet_service_backends gauge/);
  cur = stats(7, []);
  const again = await registry.metrics();
  t.equal(calls, 2);
  t.match(again, /^podnet_flows_created_total 7$/m, 'set from the engine, not added up');
  t.notMatch(again, /service_port="default\/web:http"/, 'a removed service port disappears');
});
