// Control-plane sync benchmark: full sync of N services × M endpoints and
// the latency of one endpoint change at that scale, through validation → trackers → model →
// sink, with the objects in their API shape held in memory as an informer cache would.
//
//   node dist/bench/control/sync.js                 # both scales (10,000 × 10, 30,000 × 2), one child process each
//   node dist/bench/control/sync.js 10000 10 [fake|engine]
//   node --expose-gc dist/bench/control/sync.js 30000 2 engine --json FILE   # also writes the figures to FILE
//   node --max-semi-space-size=64 dist/bench/control/sync.js   # larger young generation: fewer GC pauses
//
// The sink is a fake that keeps the table (Map) unless "engine" is given and the native addon
// is built, in which case the real Engine is programmed (no root needed; no TUN attached).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { ApplyResult, ServicePortSpec, TableDelta } from '../../src/engine/types';
import { ControlPlane, type TableSink } from '../../src/services/control-plane';
import { specKey } from '../../src/services/model';
import { validateEndpointSlice, validateService } from '../../src/services/validate';

type Obj = Record<string, any>;

function ipv4(base: number, i: number): string {
  const n = base + i;
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function makeService(i: number): Obj {
  const ip = ipv4(0x0a600000, i + 10); // 10.96.0.0/12
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: `svc-${i}`, namespace: `ns-${i % 100}`, uid: `u-${i}`, resourceVersion: String(1000 + i), labels: { app: `svc-${i}` } },
    spec: {
      clusterIP: ip, clusterIPs: [ip], internalTrafficPolicy: 'Cluster', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack',
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }], selector: { app: `svc-${i}` }, sessionAffinity: 'None', type: 'ClusterIP',
    },
    status: { loadBalancer: {} },
  };
}

function makeSlice(i: number, endpoints: number, epBase: number, rv: number): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: {
      name: `svc-${i}-abcde`, namespace: `ns-${i % 100}`, resourceVersion: String(rv), generateName: `svc-${i}-`,
      labels: { 'kubernetes.io/service-name': `svc-${i}`, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
    },
    endpoints: Array.from({ length: endpoints }, (_, j) => ({
      addresses: [ipv4(0x0af40000, epBase + j)], // 10.244.0.0/14
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: `node-${(epBase + j) % 500}`, zone: `zone-${j % 3}`,
      targetRef: { kind: 'Pod', name: `svc-${i}-pod-${j}`, namespace: `ns-${i % 100}` },
    })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

/** Keeps the table like the engine would, without building Maglev rings. */
class MapSink implements TableSink {
  table = new Map<string, ServicePortSpec>();
  version = 0;
  apply(d: TableDelta): ApplyResult {
    for (const k of d.remove ?? []) this.table.delete(specKey(k));
    for (const s of d.upsert ?? []) this.table.set(specKey(s), s);
    return { version: ++this.version, servicePorts: this.table.size, flowsPurged: 0 };
  }
  replace(specs: ServicePortSpec[]): ApplyResult {
    this.table = new Map(specs.map((s) => [specKey(s), s]));
    return { version: ++this.version, servicePorts: this.table.size, flowsPurged: 0 };
  }
}

function engineSink(): TableSink | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Engine } = require('../../src/engine') as typeof import('../../src/engine');
    return new Engine({ maxServicePorts: 65536 });
  } catch (err) {
    console.error(`engine sink unavailable (${(err as Error).message.split('\n')[0]}); using the fake sink`);
    return undefined;
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const mib = (b: number) => (b / 1048576).toFixed(0);

/** The figures the lead's report merges (--json FILE). */
export interface SyncResult {
  services: number;
  endpoints: number;
  sink: string;
  fullSyncMs: number;
  rssMiB: number;
  incrementalP50Ms: number;
  incrementalP99Ms: number;
}

async function runScale(services: number, endpoints: number, sinkKind: string): Promise<SyncResult> {
  const sink = (sinkKind === 'engine' ? engineSink() : undefined) ?? new MapSink();
  const label = sink instanceof MapSink ? 'fake sink' : 'real engine';
  const rss0 = process.memoryUsage().rss;

  // The informer caches: raw objects as the API served them.
  const tg = performance.now();
  const svcObjs = Array.from({ length: services }, (_, i) => makeService(i));
  const sliceObjs = Array.from({ length: services }, (_, i) => makeSlice(i, endpoints, i * endpoints, 5000 + i));
  const genMs = performance.now() - tg;

  const cp = new ControlPlane({ sink, nodeName: 'node-1' });
  global.gc?.(); // the generator's garbage is not the control plane's cost
  const t0 = performance.now();
  for (const o of svcObjs) cp.setService(`${o.metadata.namespace}/${o.metadata.name}`, validateService(o));
  for (const o of sliceObjs) cp.setEndpointSlice(`${o.metadata.namespace}/${o.metadata.name}`, validateEndpointSlice(o) ?? undefined);
  const t1 = performance.now();
  cp.setInitialized(); // runner not started: we call sync() ourselves
  const rep = cp.sync();
  const t2 = performance.now();
  if (!rep || rep.error || !rep.full) throw new Error(`full sync failed: ${rep?.error?.message}`);
  global.gc?.();
  const rss = process.memoryUsage().rss;
  const heap = process.memoryUsage().heapUsed;

  // One endpoint changed at that scale: validate + track + partial sync + apply, per change.
  const lat: number[] = [];
  const samples = 500;
  for (let k = 0; k < samples; k++) {
    const i = (k * 7919) % services;
    const changed = makeSlice(i, endpoints, i * endpoints, 900_000 + k);
    changed.endpoints[k % endpoints].conditions = k % 2 ? { ready: true, serving: true, terminating: false } : { ready: false, serving: true, terminating: true };
    const s = performance.now();
    cp.setEndpointSlice(`${changed.metadata.namespace}/${changed.metadata.name}`, validateEndpointSlice(changed) ?? undefined);
    const r = cp.sync();
    lat.push(performance.now() - s);
    if (!r || r.full) throw new Error('expected a partial sync');
  }

  // The same through the bounded-frequency runner (default 20 ms min interval), changes at random gaps:
  // the latency a podnetd user sees, including the runner's deliberate merging delay.
  const viaRunner: number[] = [];
  const seen = new Map<number, number>();
  const timedSink: TableSink = {
    apply: (d) => { const r = sink.apply(d); const now = performance.now(); for (const [k, t] of seen) { viaRunner.push(now - t); seen.delete(k); } return r; },
    replace: (s) => sink.replace(s),
  };
  const cp2 = new ControlPlane({ sink: timedSink, nodeName: 'node-1' });
  for (const o of svcObjs) cp2.setService(`${o.metadata.namespace}/${o.metadata.name}`, validateService(o));
  for (const o of sliceObjs) cp2.setEndpointSlice(`${o.metadata.namespace}/${o.metadata.name}`, validateEndpointSlice(o) ?? undefined);
  cp2.setInitialized();
  cp2.sync();
  cp2.start();
  for (let k = 0; k < 200; k++) {
    await new Promise((r) => setTimeout(r, Math.random() * 50));
    const i = (k * 104729) % services;
    const changed = makeSlice(i, endpoints, i * endpoints, 2_000_000 + k);
    changed.endpoints[0].addresses = [ipv4(0x0b000000, k)];
    seen.set(k, performance.now());
    cp2.setEndpointSlice(`${changed.metadata.namespace}/${changed.metadata.name}`, validateEndpointSlice(changed) ?? undefined);
  }
  await new Promise((r) => setTimeout(r, 100));
  cp2.stop();

  console.log(JSON.stringify({
    scale: `${services} services x ${endpoints} endpoints`, sink: label,
    servicePorts: cp.status().servicePorts, backends: cp.status().backends,
    generateMs: +genMs.toFixed(0),
    fullSync: { validateAndTrackMs: +(t1 - t0).toFixed(0), modelAndProgramMs: +(t2 - t1).toFixed(0), totalMs: +(t2 - t0).toFixed(0) },
    rssMiB: +mib(rss), rssBeforeMiB: +mib(rss0), heapUsedMiB: +mib(heap),
    incremental: { samples, p50ms: +pct(lat, 50).toFixed(3), p99ms: +pct(lat, 99).toFixed(3), maxMs: +Math.max(...lat).toFixed(3) },
    viaRunner: { samples: viaRunner.length, p50ms: +pct(viaRunner, 50).toFixed(2), p99ms: +pct(viaRunner, 99).toFixed(2) },
  }));
  return {
    services, endpoints, sink: label, fullSyncMs: +(t2 - t0).toFixed(0), rssMiB: +mib(rss),
    incrementalP50Ms: +pct(lat, 50).toFixed(3), incrementalP99Ms: +pct(lat, 99).toFixed(3),
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const j = argv.indexOf('--json');
  const jsonFile = j >= 0 ? argv[j + 1] : undefined;
  if (j >= 0) argv.splice(j, 2);
  if (j >= 0 && !jsonFile) throw new Error('--json needs a file name');
  const [a, b, sinkKind = 'fake'] = argv;
  if (a) {
    const r = await runScale(Number(a), Number(b ?? 10), sinkKind);
    if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  // Each scale in its own process, so RSS is that scale's alone; --json gets a list.
  const results: SyncResult[] = [];
  for (const [s, e] of [[10000, 10], [30000, 2]]) {
    const tmp = jsonFile ? `${jsonFile}.${s}x${e}.tmp` : undefined;
    const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, __filename, String(s), String(e), sinkKind, ...(tmp ? ['--json', tmp] : [])], { stdio: 'inherit' });
    if (r.status !== 0) process.exitCode = 1;
    else if (tmp) {
      const fs = await import('node:fs');
      results.push(JSON.parse(fs.readFileSync(tmp, 'utf8')) as SyncResult);
      fs.rmSync(tmp, { force: true });
    }
  }
  if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
}

void main();
