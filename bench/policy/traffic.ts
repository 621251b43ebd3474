// NetworkPolicy on the data path: connection rate and TCP throughput from the
// client pod to srv1, with srv1 protected by a policy that allows the client (ingress from
// role=client on the two ports), against the same path with no policy at all: same sandbox, same
// podnetd, same run. Rounds alternate none / policy / policy / none … so load drifting on a shared
// machine hits both alike; the figure is the median per side and the ratio policy ÷ none. Each
// policy round also checks the policy is really enforced (srv2 → srv1 must not connect).
//
//   sudo node dist/bench/policy/traffic.js             # 4 rounds per side, 3 s per figure
//   sudo node dist/bench/policy/traffic.js 6 5         # rounds per side, seconds per figure
//
// Needs root (network namespaces), iperf3, a C compiler (bench/tools/connrate.c) and `npm run build`.
import { mkdirSync } from 'node:fs';
import { PORTS, buildTopology } from '../topology';
import { connrate, removeConnrateBinary } from '../tools/connrate';
import { iperfTcp } from '../tools/iperf3';
import { Podnetd, writeManifest, type Pod } from '../../src/sandbox';

type Side = 'none' | 'policy';

function podObject(p: Pod, labels: Record<string, string>, nodeName: string): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: p.name, namespace: 'bench', labels },
    spec: { nodeName, containers: [{ name: 'main', image: 'bench' }] },
    status: { phase: 'Running', podIP: p.ip4, podIPs: [{ ip: p.ip4 }, { ip: p.ip6 }] },
  };
}

const POLICY = {
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
  metadata: { name: 'srv-from-clients', namespace: 'bench' },
  spec: {
    podSelector: { matchLabels: { app: 'srv1' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ protocol: 'TCP', port: PORTS.connrate }, { protocol: 'TCP', port: PORTS.iperf }] }],
  },
};

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function main(): Promise<void> {
  const [roundsArg, secondsArg] = process.argv.slice(2).map(Number);
  const rounds = Number.isInteger(roundsArg) && roundsArg > 0 ? roundsArg : 4;
  const seconds = Number.isInteger(secondsArg) && secondsArg > 0 ? secondsArg : 3;
  const topo = await buildTopology();
  const { sb, client, srv1, srv2 } = topo;
  let podnetd: Podnetd | undefined;
  try {
    const dir = Podnetd.paths(sb).manifests;
    mkdirSync(dir, { recursive: true });
    writeManifest(dir, 'pods.yaml', [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } },
      podObject(client, { role: 'client' }, sb.nodeNs), podObject(srv1, { app: 'srv1' }, sb.nodeNs), podObject(srv2, { app: 'srv2' }, sb.nodeNs),
    ]);
    writeManifest(dir, 'policy.yaml', '');
    podnetd = await Podnetd.startManifests(sb);
    const pd = podnetd;

    const setSide = async (side: Side) => {
      const from = pd.proc.lines.length;
      writeManifest(dir, 'policy.yaml', side === 'policy' ? [POLICY] : '');
      await pd.proc.waitForLine(/"msg":"policy tables published"/, { from, timeoutMs: 10_000 });
      if (side === 'policy') {
        const r = await sb.agentRun<{ result: string }>(srv2.ns, 'tcp-connect', [srv1.ip4, PORTS.connrate, 1000]);
        if (r.result === 'CONNECTED') throw new Error('policy not enforced: srv2 reached srv1');
      }
    };

    const res: Record<Side, { conn: number[]; gbps: number[] }> = { none: { conn: [], gbps: [] }, policy: { conn: [], gbps: [] } };
    // ABBA order: none, policy, policy, none, none, policy, …
    const order: Side[] = Array.from({ length: rounds * 2 }, (_, i) => (((i + 1) >> 1) % 2 === 0 ? 'none' : 'policy'));
    let current: Side = 'none'; // podnetd started without the policy
    for (const side of order) {
      if (side !== current) { await setSide(side); current = side; }
      const c = await connrate(sb, client.ns, srv1.ip4, PORTS.connrate, 1, seconds);
      const tp = await iperfTcp(sb, client.ns, srv1.ip4, PORTS.iperf, 1, seconds);
      res[side].conn.push(c.perSec);
      res[side].gbps.push(tp.gbps);
      console.error(`${side.padEnd(6)} conn/s ${c.perSec.toFixed(0).padStart(7)}  TCP ${tp.gbps.toFixed(2)} Gbit/s`);
    }
    const stats = await pd.stats();
    const c0 = median(res.none.conn), c1 = median(res.policy.conn), g0 = median(res.none.gbps), g1 = median(res.policy.gbps);
    console.log(`NetworkPolicy on the data path: client → srv1 direct, ${rounds} rounds per side × ${seconds} s, medians (node ${process.version})`);
    console.log(`connections/s (1 client)   none ${c0.toFixed(0).padStart(7)}   policy ${c1.toFixed(0).padStart(7)}   ratio ${(c1 / c0).toFixed(2)}`);
    console.log(`TCP 1 stream (Gbit/s)      none ${g0.toFixed(2).padStart(7)}   policy ${g1.toFixed(2).padStart(7)}   ratio ${(g1 / g0).toFixed(2)}`);
    console.log(`policy drops counted: ingress ${stats.drops.policy_ingress ?? 0} (srv2 → srv1 checks)`);
  } finally {
    await podnetd?.stop().catch(() => undefined);
    await sb.destroy();
    removeConnrateBinary();
  }
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
