// One round of measurements against one configuration: runs every selected figure in a fixed
// order and returns the values by metric id, the tools' raw results, and per-figure errors. A
// figure that fails is recorded and the others still run: one broken path must not cost the
// whole invocation.
import type { Active } from './configs';
import type { MetricId } from './metrics';
import type { Topology } from './topology';
import { connrate } from './tools/connrate';
import { allCpus, cpuSeconds, machineTicks, pinThreads, threadDelta, threadSamples } from './tools/cpu';
import { iperfTcp, iperfUdp } from './tools/iperf3';
import { perfProfile } from './tools/profile';
import os from 'node:os';
import path from 'node:path';
import { sockperfPingPong } from './tools/sockperf';

export type FigureId = 'tcp1' | 'tcp4' | 'rrPinned' | 'rr' | 'conn1' | 'conn4' | 'udp' | 'profile';
/** Default figures; 'profile' (perf on the data-plane process) only when asked for. */
export const FIGURES: FigureId[] = ['tcp1', 'tcp4', 'rrPinned', 'rr', 'conn1', 'conn4', 'udp'];
export const ALL_FIGURES: FigureId[] = [...FIGURES, 'profile'];

export interface RoundResult {
  values: Partial<Record<MetricId, number>>;
  raw: Record<string, unknown>;
  errors: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The CPU every process is pinned to for the pinned latency figure. */
const PIN_CPU = 0;

/**
 * Throughput while sampling CPU over the steady part of the run: the data-plane process's own
 * (podnetd, haproxy), and the whole machine's busy cores (every configuration, softirq and the
 * senders included: what kernel DNAT and the flow cache spend is only visible there).
 */
async function tcpWithCpu(topo: Topology, a: Active, seconds: number): Promise<{ gbps: number; cores?: number; nodeCores?: number; raw: unknown }> {
  const t = a.targets.iperf;
  const run = iperfTcp(topo.sb, topo.client.ns, t.host, t.port, 1, seconds);
  let cores: number | undefined, nodeCores: number | undefined;
  if (seconds >= 2) {
    await sleep(1500); // connect + the omitted first second
    const c0 = a.dataPlanePid ? cpuSeconds(a.dataPlanePid) : 0, m0 = machineTicks(), t0 = performance.now();
    await sleep((seconds - 1) * 1000);
    const m1 = machineTicks();
    if (a.dataPlanePid) cores = (cpuSeconds(a.dataPlanePid) - c0) / ((performance.now() - t0) / 1000);
    if (m1.total > m0.total) nodeCores = ((m1.busy - m0.busy) / (m1.total - m0.total)) * os.cpus().length;
  }
  const r = await run;
  return { gbps: r.gbps, cores, nodeCores, raw: { ...r, dataPlaneCores: cores, nodeCores } };
}

async function pinnedLatency(topo: Topology, a: Active, seconds: number) {
  const server = topo.servers[1]; // sockperf server (topology.ts order)
  const pids = [server.pid, ...(a.dataPlanePid ? [a.dataPlanePid] : [])];
  for (const pid of pids) pinThreads(pid, String(PIN_CPU));
  try {
    const t = a.targets.sockperf;
    return await sockperfPingPong(topo.sb, topo.client.ns, t.host, t.port, seconds, PIN_CPU);
  } finally {
    for (const pid of pids) { try { pinThreads(pid, allCpus()); } catch { /* exited */ } }
  }
}

export async function runRound(topo: Topology, a: Active, figures: FigureId[], seconds: number): Promise<RoundResult> {
  const res: RoundResult = { values: {}, raw: {}, errors: {} };
  const v = res.values;
  const step = async (id: FigureId, fn: () => Promise<void>) => {
    if (!figures.includes(id)) return;
    // Per-thread CPU of the data-plane process across the figure: which thread the time goes to.
    const before = a.dataPlanePid ? threadSamples(a.dataPlanePid) : [];
    try { await fn(); } catch (e) { res.errors[id] = (e as Error).message.slice(0, 500); }
    if (a.dataPlanePid) res.raw[`${id}.threads`] = threadDelta(before, threadSamples(a.dataPlanePid));
  };
  await step('tcp1', async () => {
    const r = await tcpWithCpu(topo, a, seconds);
    v.tcp1 = r.gbps;
    if (r.cores !== undefined && r.gbps > 0) v.cpuPerGbps = r.cores / r.gbps;
    if (r.nodeCores !== undefined && r.gbps > 0) v.nodeCpuPerGbps = r.nodeCores / r.gbps;
    res.raw.tcp1 = r.raw;
  });
  await step('tcp4', async () => {
    const r = await iperfTcp(topo.sb, topo.client.ns, a.targets.iperf.host, a.targets.iperf.port, 4, seconds);
    v.tcp4 = r.gbps;
    res.raw.tcp4 = r;
  });
  await step('rrPinned', async () => {
    const r = await pinnedLatency(topo, a, seconds);
    v.rrP50Pinned = r.p50; v.rrP99Pinned = r.p99;
    res.raw.rrPinned = r;
  });
  await step('rr', async () => {
    const t = a.targets.sockperf;
    const r = await sockperfPingPong(topo.sb, topo.client.ns, t.host, t.port, seconds);
    v.rrP50 = r.p50; v.rrP99 = r.p99;
    res.raw.rr = r;
  });
  for (const [id, clients] of [['conn1', 1], ['conn4', 4]] as const) {
    await step(id, async () => {
      await a.beforeConnrate?.();
      const t = a.targets.connrate;
      const r = await connrate(topo.sb, topo.client.ns, t.host, t.port, clients, seconds);
      v[id] = r.perSec;
      res.raw[id] = r;
    });
  }
  await step('udp', async () => {
    if (a.skip?.udpPps) { res.errors.udp = `skipped: ${a.skip.udpPps}`; return; }
    const r = await iperfUdp(topo.sb, topo.client.ns, a.targets.iperf.host, a.targets.iperf.port, seconds);
    v.udpPps = r.kpps;
    res.raw.udp = r;
  });
  await step('profile', async () => {
    // Separate from the measured runs: perf's sampling costs a few percent.
    const pid = a.dataPlanePid;
    if (!pid) return;
    const file = path.join(topo.sb.dir, 'perf.data');
    const it = a.targets.iperf, ct = a.targets.connrate;
    const tcp = await perfProfile(pid, seconds, file, () => iperfTcp(topo.sb, topo.client.ns, it.host, it.port, 1, seconds));
    await a.beforeConnrate?.();
    const conn = await perfProfile(pid, seconds, file, () => connrate(topo.sb, topo.client.ns, ct.host, ct.port, 1, seconds));
    res.raw.profile = { tcp1: { gbps: tcp.result.gbps, report: tcp.report }, conn1: { perSec: conn.result.perSec, report: conn.report } };
  });
  return res;
}
