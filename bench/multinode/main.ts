// Cross-node figures: in each mode (routed, vxlan) a 2-node sandbox cluster
// (src/sandbox/cluster.ts: every node its own podnetd programming cross-node routes from the Node
// objects), a client pod on node 1 and a server pod on node 2. Same run, same pods:
//   direct: client → server pod IP across nodes (both engines forward: policy sees both ends)
//   vip:    client → Service VIP (one endpoint: the server pod), DNAT on node 1, reverse NAT there
// Figures: iperf3 single-stream TCP (Gbit/s) and connection rate with 1 and 4 client threads
// (bench/tools/connrate.c), medians of `runs`; ratios vip/direct per mode and vxlan/routed.
// Direct and VIP use different server ports so that the server's TIME_WAIT entries of one never
// meet the other's connections: a TIME_WAIT entry with another TCP timestamp offset turns the
// next connection into challenge-ACK/RST cycles and the connection rate collapses.
//
// Run (root, after `npx tsc -p .`):  node dist/bench/multinode/main.js [seconds=5] [runs=3]
//   BENCH_MODES=vxlan ...   one mode only
// Prints a Markdown table and one JSON object (last line).
import { ClusterSandbox, type ClusterNodeNs } from '../../src/sandbox/cluster';
import { serviceObjects } from '../../src/sandbox/manifests';
import type { Pod } from '../../src/sandbox/sandbox';
import { summarize } from '../stats';
import { connrate, connrateBinary, removeConnrateBinary } from '../tools/connrate';
import { iperfTcp } from '../tools/iperf3';

const IPERF = 5201, CONN_DIRECT = 7000, CONN_VIP = 7001;
const VIP = '10.96.0.30';
const seconds = Number(process.argv[2] ?? 5);
const runs = Number(process.argv[3] ?? 3);
const modes = (process.env.BENCH_MODES ?? 'routed,vxlan').split(',') as ('routed' | 'vxlan')[];

type Path = 'direct' | 'vip';
interface PathFigures { tcpGbps: number[]; conn1: number[]; conn4: number[] }
interface ModeFigures { mode: string; podMtu: number; paths: Record<Path, PathFigures>; errors: string[] }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const med = (v: number[]) => summarize(v)?.median ?? NaN;

async function cluster(mode: 'routed' | 'vxlan'): Promise<{ c: ClusterSandbox; client: Pod; server: Pod }> {
  const c = await ClusterSandbox.create({ mode, nodes: 2 });
  try {
    const [n1, n2] = c.nodes as [ClusterNodeNs, ClusterNodeNs];
    const client = await c.addPod(n1, 'cli');
    const server = await c.addPod(n2, 'srv');
    await c.sb.spawn(server.ns, ['iperf3', '-s', '-p', String(IPERF), '--forceflush'], { readyLine: /Server listening/ });
    for (const port of [CONN_DIRECT, CONN_VIP]) await c.sb.spawn(server.ns, [connrateBinary(), 'server', String(port), '4'], { readyLine: /^listening$/ });
    const objs = serviceObjects({
      name: 'bench', clusterIPs: [VIP], endpoints: [{ pod: server }],
      ports: [{ name: 'iperf', port: IPERF, targetPort: IPERF }, { name: 'conn', port: CONN_DIRECT, targetPort: CONN_VIP }],
    });
    for (const o of objs) (o as { endpoints?: Record<string, unknown>[] }).endpoints?.forEach((e) => { e.nodeName = n2.name; });
    c.writeManifest('bench.yaml', objs);
    await c.startPodnetd();
    await c.waitForRouteSync().catch(() => undefined); // logged at info only; the ping below is the proof
    for (const n of c.nodes) await n.podnetd!.waitForServices((s) => s.services.filter((x) => x.backends.length === 1).length >= 2, 20_000);
    await c.sb.exec(client.ns, ['ping', '-c', '2', '-W', '2', server.ip4]);
    return { c, client, server };
  } catch (e) {
    await c.destroy();
    throw e;
  }
}

async function measureMode(mode: 'routed' | 'vxlan'): Promise<ModeFigures> {
  const { c, client, server } = await cluster(mode);
  const f: ModeFigures = {
    mode, podMtu: c.podMtu, errors: [],
    paths: { direct: { tcpGbps: [], conn1: [], conn4: [] }, vip: { tcpGbps: [], conn1: [], conn4: [] } },
  };
  // Direct goes to the pod's port 7000; the VIP's port 7000 is DNATed to the pod's 7001: each path
  // has a server socket (and TIME_WAIT entries) of its own.
  const target: Record<Path, { host: string; conn: number }> = {
    direct: { host: server.ip4, conn: CONN_DIRECT },
    vip: { host: VIP, conn: CONN_DIRECT },
  };
  try {
    for (let i = 0; i < runs; i++) {
      // Alternate the order so that neither path always runs on a warmer (or busier) machine.
      const order: Path[] = i % 2 ? ['vip', 'direct'] : ['direct', 'vip'];
      for (const p of order) {
        const { host, conn } = target[p];
        const rate = (n: number) => connrate(c.sb, client.ns, host, conn, n, seconds).then((r) => r.perSec, (e: Error) => { f.errors.push(`${p}: ${e.message}`); return NaN; });
        f.paths[p].tcpGbps.push(await iperfTcp(c.sb, client.ns, host, IPERF, 1, seconds).then((r) => r.gbps, (e: Error) => { f.errors.push(`${p}: ${e.message}`); return NaN; }));
        await sleep(1000);
        f.paths[p].conn1.push(await rate(1));
        await sleep(2000);
        f.paths[p].conn4.push(await rate(4));
        await sleep(2000);
      }
    }
  } finally {
    await c.destroy();
  }
  return f;
}

function fmt(x: number, d = 2): string { return Number.isFinite(x) ? x.toFixed(d) : 'n/a'; }

async function main(): Promise<void> {
  const t0 = Date.now();
  const results: ModeFigures[] = [];
  try {
    for (const m of modes) {
      process.stderr.write(`multinode bench: ${m} (${runs} × ${seconds} s per figure)\n`);
      results.push(await measureMode(m));
    }
  } finally {
    removeConnrateBinary();
  }
  const medians = results.map((r) => ({
    mode: r.mode, podMtu: r.podMtu,
    direct: { tcpGbps: med(r.paths.direct.tcpGbps), conn1: med(r.paths.direct.conn1), conn4: med(r.paths.direct.conn4) },
    vip: { tcpGbps: med(r.paths.vip.tcpGbps), conn1: med(r.paths.vip.conn1), conn4: med(r.paths.vip.conn4) },
  }));
  const ratio = (a: number, b: number) => +(a / b).toFixed(3);
  const ratios = medians.map((m) => ({
    mode: m.mode,
    vipOverDirect: { tcpGbps: ratio(m.vip.tcpGbps, m.direct.tcpGbps), conn1: ratio(m.vip.conn1, m.direct.conn1), conn4: ratio(m.vip.conn4, m.direct.conn4) },
  }));
  const r = medians.find((m) => m.mode === 'routed'), v = medians.find((m) => m.mode === 'vxlan');
  const vxlanOverRouted = r && v ? {
    direct: { tcpGbps: ratio(v.direct.tcpGbps, r.direct.tcpGbps), conn1: ratio(v.direct.conn1, r.direct.conn1), conn4: ratio(v.direct.conn4, r.direct.conn4) },
    vip: { tcpGbps: ratio(v.vip.tcpGbps, r.vip.tcpGbps), conn1: ratio(v.vip.conn1, r.vip.conn1), conn4: ratio(v.vip.conn4, r.vip.conn4) },
  } : undefined;

  const lines = ['| mode | path | TCP 1 stream Gbit/s | conn/s 1 client | conn/s 4 clients |', '|---|---|---|---|---|'];
  for (const m of medians) {
    for (const p of ['direct', 'vip'] as const) lines.push(`| ${m.mode} | ${p} | ${fmt(m[p].tcpGbps)} | ${fmt(m[p].conn1, 0)} | ${fmt(m[p].conn4, 0)} |`);
    const q = ratios.find((x) => x.mode === m.mode)!.vipOverDirect;
    lines.push(`| ${m.mode} | vip/direct | ${fmt(q.tcpGbps)}× | ${fmt(q.conn1)}× | ${fmt(q.conn4)}× |`);
  }
  if (vxlanOverRouted) {
    for (const p of ['direct', 'vip'] as const) {
      const q = vxlanOverRouted[p];
      lines.push(`| vxlan/routed | ${p} | ${fmt(q.tcpGbps)}× | ${fmt(q.conn1)}× | ${fmt(q.conn4)}× |`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify({ seconds, runs, wallSec: Math.round((Date.now() - t0) / 1000), medians, ratios, vxlanOverRouted, raw: results })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`multinode bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
