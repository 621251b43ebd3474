// NodePort from outside: podnet (tc steering on the uplink → TUN engine, eTP Cluster masquerade;
// with the kernel flow cache, the flow's later packets by the tc programs on the uplink and the
// pod's veth) vs kernel nftables DNAT + masquerade, same machine, same run.
// Each configuration gets its own sandbox: node namespace, one endpoint pod (iperf3 + connrate
// servers), an outside client namespace on the node's uplink (test/e2e/fixtures/outside.ts).
//   podnet:   podnetd by config alone: a NodePort Service + EndpointSlice manifest, `external.uplinks`
//             (podnetd reads the uplink address, programs the NodePort and installs the tc steering),
//             engine.fastPath on (the sandbox's default): the kernel flow cache carries the flow
//   podnetTun: the same with engine.fastPath off: every packet through the TUN
//   nftables: no podnetd; gateway + forwarding by hand, `nft` DNAT nodeIP:30080 → pod, masquerade
// A third run, podnetTw1, shortens the engine's closed-flow timeouts (see below).
// Run (root, after `npx tsc -p .`):  node dist/bench/external/nodeport.js [seconds] [runs]
// Prints one JSON object: medians per configuration and podnet/nftables ratios.
import { mkdirSync } from 'node:fs';
import { Podnetd, Sandbox, type Pod } from '../../src/sandbox';
import { serviceObjects, writeManifest } from '../../src/sandbox/manifests';
import type { EngineOptions } from '../../src/engine/types';
import { addOutside, NODE4, UPLINK } from '../../test/e2e/fixtures/outside';
import { connrate, removeConnrateBinary, connrateBinary } from '../tools/connrate';
import { iperfTcp } from '../tools/iperf3';

const IPERF = 5201, CONN = 7000, NP_IPERF = 30080, NP_CONN = 30081;
const seconds = Number(process.argv[2] ?? 5);
const runs = Number(process.argv[3] ?? 3);

interface Figures { tcpGbps: number[]; connPerSec1: number[]; connPerSec4: number[]; errors: string[]; drops?: Record<string, number> }

async function endpoint(sb: Sandbox): Promise<Pod> {
  const pod = await sb.addPod('srv');
  await sb.spawn(pod.ns, ['iperf3', '-s', '-p', String(IPERF), '--forceflush'], { readyLine: /Server listening/ });
  await sb.spawn(pod.ns, [connrateBinary(), 'server', String(CONN), '2'], { readyLine: /^listening$/ });
  return pod;
}

/** A NodePort Service (eTP Cluster) with one endpoint, as manifests podnetd reads. */
function manifests(sb: Sandbox, pod: Pod): Record<string, unknown>[] {
  const objs = serviceObjects({ name: 'bench', clusterIPs: ['10.96.0.10'], nodeName: sb.nodeNs, endpoints: [{ pod }],
    ports: [{ name: 'iperf', port: IPERF, targetPort: IPERF }, { name: 'conn', port: CONN, targetPort: CONN }] });
  const spec = (objs[0] as { spec: Record<string, unknown> }).spec;
  spec.type = 'NodePort';
  spec.ports = (spec.ports as Record<string, unknown>[]).map((p) => ({ ...p, nodePort: p.name === 'iperf' ? NP_IPERF : NP_CONN }));
  return objs;
}

async function measure(sb: Sandbox, outNs: string, into: Figures): Promise<void> {
  for (let i = 0; i < runs; i++) {
    into.tcpGbps.push((await iperfTcp(sb, outNs, NODE4, NP_IPERF, 1, seconds)).gbps);
    await new Promise((r) => setTimeout(r, 1000));
    // A failing path is a figure too (recorded as an error, not a crash of the whole run).
    const rate = (c: number) => connrate(sb, outNs, NODE4, NP_CONN, c, seconds).then((r) => r.perSec, (e: Error) => { into.errors.push(e.message); return NaN; });
    into.connPerSec1.push(await rate(1));
    // TIME_WAIT on the server side only (it closes first); still, let things settle.
    await new Promise((r) => setTimeout(r, 2000));
    into.connPerSec4.push(await rate(4));
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function podnet(engine?: EngineOptions, fastPath = true): Promise<Figures> {
  const sb = await Sandbox.create({ fastPath });
  try {
    const pod = await endpoint(sb);
    const out = await addOutside(sb, []);
    const dir = Podnetd.paths(sb).manifests;
    mkdirSync(dir, { recursive: true });
    writeManifest(dir, 'bench.yaml', manifests(sb, pod));
    const podnetd = await Podnetd.startManifests(sb, { ...(engine ? { engine } : {}), config: { external: { uplinks: [UPLINK] } } });
    await podnetd.waitForServices((s) => s.services.some((x) => x.name === 'default/bench:conn (nodePort)'));
    const f: Figures = { tcpGbps: [], connPerSec1: [], connPerSec4: [], errors: [] };
    await measure(sb, out.ns, f);
    const st = await podnetd.stats();
    f.drops = Object.fromEntries(Object.entries(st.drops).filter(([, n]) => n > 0));
    return f;
  } finally { await sb.destroy(); }
}

async function nftables(): Promise<Figures> {
  const sb = await Sandbox.create();
  try {
    const pod = await endpoint(sb);
    const out = await addOutside(sb, []);
    await sb.ipNode('addr', 'add', `${sb.gateway4}/24`, 'dev', sb.bridge);
    await sb.exec(sb.nodeNs, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const rules = `table ip bench {
  chain pre { type nat hook prerouting priority dstnat; ip daddr ${NODE4} tcp dport ${NP_IPERF} dnat to ${pod.ip4}:${IPERF}; ip daddr ${NODE4} tcp dport ${NP_CONN} dnat to ${pod.ip4}:${CONN}; }
  chain post { type nat hook postrouting priority srcnat; ip daddr ${pod.ip4} ct status dnat masquerade; }
}\n`;
    await sb.exec(sb.nodeNs, ['nft', '-f', '-'], { input: rules });
    const f: Figures = { tcpGbps: [], connPerSec1: [], connPerSec4: [], errors: [] };
    await measure(sb, out.ns, f);
    return f;
  } finally { await sb.destroy(); }
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function main(): Promise<void> {
  const results: Record<string, Figures> = {};
  const only = process.env.BENCH_ONLY;
  const none = (): Figures => ({ tcpGbps: [], connPerSec1: [], connPerSec4: [], errors: [] });
  const want = (k: string) => !only || only === k;
  results.nftables = want('nftables') ? await nftables() : none();
  results.podnet = want('podnet') ? await podnet() : none();
  results.podnetTun = want('podnetTun') ? await podnet(undefined, false) : none();
  // The same path with closed flows expiring after 1 s: shows the rate once the masquerade port
  // pool (61000-65535, held by TIME_WAIT flows for tcpTimeWaitSec) is not what limits it.
  if (!only) results.podnetTw1 = await podnet({ timeouts: { tcpTimeWaitSec: 1, tcpCloseSec: 1, tcpFinSec: 1 } });
  const med = (k: string) => ({ tcpGbps: +median(results[k].tcpGbps).toFixed(2), connPerSec1: Math.round(median(results[k].connPerSec1)), connPerSec4: Math.round(median(results[k].connPerSec4)) });
  const p = med('podnet'), n = med('nftables'), tun = med('podnetTun');
  const ratio = (a: typeof p, b: typeof p) => ({ tcp: +(a.tcpGbps / b.tcpGbps).toFixed(2), conn1: +(a.connPerSec1 / b.connPerSec1).toFixed(2), conn4: +(a.connPerSec4 / b.connPerSec4).toFixed(2) });
  console.log(JSON.stringify({
    seconds, runs, podnet: p, podnetTun: tun, nftables: n, ...(results.podnetTw1 ? { podnetTw1: med('podnetTw1') } : {}), raw: results,
    ratio: ratio(p, n), tunRatio: ratio(tun, n), fastPathOverTun: ratio(p, tun),
  }, null, 2));
}

main().catch((e) => { console.error(e); process.exitCode = 1; }).finally(removeConnrateBinary);
