// Cross-node figures: per mode (routed, vxlan) three 2-node sandbox clusters alive at once
// (topology.ts), each with a client pod on node 1 and a server pod on node 2:
//   plain: no podnetd, pure kernel routing (gateways, sysctls, cross-node routes/VXLAN)
//   tun:   podnet with the kernel flow cache off: every packet crosses both nodes' engines
//   fast:  podnet with the kernel flow cache on: the engines decide the first packet, the tc
//          program on each node forwards the rest
// Paths (tun, fast): direct (client → server pod IP) and vip (client → a ClusterIP whose one
// endpoint is the server pod; DNAT and reverse NAT on node 1). plain has direct only.
// Figures: iperf3 single-stream TCP (Gbit/s), connection rate with 1 and 4 client threads
// (bench/tools/connrate.c), sockperf TCP ping-pong p50 (µs, half the round trip). Every round
// measures every (config, path) once; the config order rotates and the path order alternates
// per round, so the ratios (report.ts) are paired within a round.
//
// Run (root, after `npx tsc -p .`):  node dist/bench/multinode/main.js [seconds=5] [runs=3]
//   BENCH_MODES=vxlan ...           one mode only
//   BENCH_CONFIGS=plain,fast ...    a subset of the configurations
// Prints a Markdown table and one JSON object (last line).
import { connrate, removeConnrateBinary } from '../tools/connrate';
import { iperfTcp } from '../tools/iperf3';
import { sockperfPingPong } from '../tools/sockperf';
import { report, type ModeResult, type Series } from './report';
import { buildBench, cacheCounters, CONFIGS, target, type Bench, type Config, type Mode, type Path } from './topology';

const seconds = Number(process.argv[2] ?? 5);
const runs = Number(process.argv[3] ?? 3);
const modes = (process.env.BENCH_MODES ?? 'routed,vxlan').split(',') as Mode[];
const configs = (process.env.BENCH_CONFIGS ?? CONFIGS.join(',')).split(',') as Config[];
const bad = [...configs.filter((x) => !CONFIGS.includes(x)), ...modes.filter((x) => x !== 'routed' && x !== 'vxlan')];
if (bad.length) {
  process.stderr.write(`multinode bench: unknown ${bad.join(', ')} (BENCH_CONFIGS: ${CONFIGS.join(',')}; BENCH_MODES: routed,vxlan)\n`);
  process.exit(2);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const emptySeries = (): Series => ({ tcpGbps: [], conn1: [], conn4: [], rrP50Us: [] });

/** One (config, path) measurement of a round: appends one value to each figure of `s`. */
async function measure(b: Bench, p: Path, s: Series, errors: string[]): Promise<void> {
  const t = target(b, p);
  const { sb } = b.c, ns = b.client.ns;
  const or = <T>(x: Promise<T>, f: (r: T) => number) => x.then(f, (e: Error) => { errors.push(`${b.config}/${p}: ${e.message}`); return NaN; });
  s.tcpGbps.push(await or(iperfTcp(sb, ns, t.host, t.iperf, 1, seconds), (r) => r.gbps));
  await sleep(1000);
  s.conn1.push(await or(connrate(sb, ns, t.host, t.conn, 1, seconds), (r) => r.perSec));
  await sleep(2000);
  s.conn4.push(await or(connrate(sb, ns, t.host, t.conn, 4, seconds), (r) => r.perSec));
  await sleep(2000);
  s.rrP50Us.push(await or(sockperfPingPong(sb, ns, t.host, t.rr, seconds), (r) => r.p50));
  await sleep(1000);
}

/** `xs` rotated left by `n`. */
const rotate = <T>(xs: readonly T[], n: number): T[] => xs.map((_, i) => xs[(i + n) % xs.length]);

async function measureMode(mode: Mode): Promise<ModeResult> {
  const benches: Bench[] = [];
  const r: ModeResult = { mode, podMtu: 0, series: {}, cache: {}, errors: [] };
  try {
    for (const cfg of configs) {
      process.stderr.write(`multinode bench: ${mode}: building ${cfg}\n`);
      benches.push(await buildBench(mode, cfg));
    }
    r.podMtu = benches[0]?.c.podMtu ?? 0;
    for (const b of benches) for (const p of b.paths) r.series[`${b.config}/${p}`] = emptySeries();
    for (let i = 0; i < runs; i++) {
      // Neither a configuration nor a path always runs first (on a warmer or busier machine).
      for (const b of rotate(benches, i)) {
        for (const p of i % 2 ? [...b.paths].reverse() : b.paths) {
          process.stderr.write(`multinode bench: ${mode} round ${i + 1}/${runs}: ${b.config}/${p}\n`);
          await measure(b, p, r.series[`${b.config}/${p}`]!, r.errors);
        }
      }
    }
    for (const b of benches) {
      const cc = await cacheCounters(b).catch(() => undefined);
      if (cc) r.cache[b.config] = cc;
    }
  } finally {
    for (const b of benches) await b.c.destroy();
  }
  return r;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  // Also when a signal ends the run (the sandboxes' own last-resort cleanup exits the process).
  process.once('exit', removeConnrateBinary);
  const results: ModeResult[] = [];
  try {
    for (const m of modes) {
      process.stderr.write(`multinode bench: ${m} (${configs.join(', ')}; ${runs} × ${seconds} s per figure)\n`);
      results.push(await measureMode(m));
    }
  } finally {
    removeConnrateBinary();
  }
  const { table, json } = report(results);
  for (const r of results) for (const e of r.errors) process.stderr.write(`multinode bench: ${r.mode}: ${e}\n`);
  process.stdout.write(`${table}\n`);
  process.stdout.write(`${JSON.stringify({ seconds, runs, configs, wallSec: Math.round((Date.now() - t0) / 1000), ...json })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`multinode bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
