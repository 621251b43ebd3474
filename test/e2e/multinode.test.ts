// Cross-node e2e: 3 sandbox nodes (each its own podnetd) joined by an underlay, in routed and vxlan
// mode: pod-to-pod across nodes (TCP, UDP, ICMP; IPv4 and IPv6) with every flow decided by both
// engines (its later packets ride each node's kernel flow cache, or with PODNET_E2E_FASTPATH=0
// cross both TUNs), a Service whose endpoints sit on all three nodes reached from each node, MTU through
// VXLAN (a 1400-byte UDP payload and a bulk TCP transfer arrive intact), idempotent re-sync, and
// a node removed from the manifests (its routes withdrawn). podnetd programs the routes itself
// (cluster: {mode, uplink}) from the Nodes in the manifests, which also give each node its pod
// CIDRs. Also: the Service's spread is even from every node, internalTrafficPolicy Local keeps a
// client on its own node's endpoint (and drops it on a node without one), and a NetworkPolicy
// on node 2's pod denies a client on node 1 while a labelled client on node 3 passes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ClusterSandbox, type ClusterNodeNs } from '../../src/sandbox/cluster';
import { serviceObjects } from '../../src/sandbox/manifests';
import type { Pod } from '../../src/sandbox/sandbox';
import { namespace, netpol, pod as podObject } from '../helpers/kube-objects';
import { FAMILIES, podIp, privileged, type Fam } from './fixtures/helpers';

interface Burst { tally: Record<string, number>; errors: Record<string, number>; remotes: string[] }
interface Ask { tally: Record<string, number>; lost: number; wrongSource: number }
interface Sent { localHash: string; remoteHash: string; bytes: number; remoteBytes: number; gbps: number }

const HTTP = 8080, UDP = 5353, SINK = 9000, BIG = 9001;
const VIP = { 4: '10.96.0.20', 6: 'fd00:10:96::20' } as const;
const LOCAL_VIP = { 4: '10.96.0.21', 6: 'fd00:10:96::21' } as const;
/** Connections per client node for the spread check; each endpoint must get 1/3 of them ±50%. */
const SPREAD_CONNS = 150;

// A UDP server answering each datagram with "<bytes> <sha256>" of what arrived: proves a
// full-size datagram crossed intact without the answer itself having to be large.
const BIG_UDP_SERVER = `const d=require('dgram'),c=require('crypto');const s=d.createSocket({type:'udp6',ipv6Only:false});
s.on('message',(m,r)=>s.send(m.length+' '+c.createHash('sha256').update(m).digest('hex'),r.port,r.address));
s.bind(${BIG},'::',()=>console.log('listening'));`;
const bigUdpClient = (host: string, n: number) => `const d=require('dgram'),c=require('crypto');
const s=d.createSocket(${JSON.stringify(host.includes(':') ? 'udp6' : 'udp4')});const m=Buffer.alloc(${n},7);
const t=setTimeout(()=>{console.log(JSON.stringify({reply:null}));process.exit(0)},3000);
s.on('message',(r)=>{clearTimeout(t);console.log(JSON.stringify({reply:r.toString(),want:m.length+' '+c.createHash('sha256').update(m).digest('hex')}));process.exit(0)});
s.send(m,${BIG},${JSON.stringify(host)});`;

function serviceWithNodes(c: ClusterSandbox, pods: { pod: Pod; node: ClusterNodeNs }[]): Record<string, unknown>[] {
  const objs = serviceObjects({
    name: 'web', clusterIPs: [VIP[4], VIP[6]],
    ports: [{ name: 'http', port: 80, targetPort: HTTP }, { name: 'dns', port: 53, targetPort: UDP, protocol: 'UDP' }],
    endpoints: pods.map((p) => ({ pod: p.pod })),
  });
  // Each endpoint names its own node, as the EndpointSlice controller writes it.
  for (const o of objs) {
    const eps = (o as { endpoints?: Record<string, unknown>[] }).endpoints;
    eps?.forEach((e, i) => { e.nodeName = pods[i].node.name; });
  }
  return objs;
}

/** Pod objects (for NetworkPolicy) named after the node they run on, so names are unique. */
function podObjects(pods: { pod: Pod; node: ClusterNodeNs }[], labels: (i: number) => Record<string, string>): Record<string, unknown>[] {
  return [
    namespace('default'),
    ...pods.map(({ pod, node }, i) => podObject({
      name: `a-n${node.index}`, namespace: 'default', labels: labels(i), ips: [pod.ip4, pod.ip6], nodeName: node.name,
    })),
  ];
}

/** Ingress to the pod on node 2 only from pods labelled role=frontend. */
const onlyFrontendToN2 = netpol('default', 'n2-from-frontend', {
  podSelector: { matchLabels: { node: 'n2' } }, policyTypes: ['Ingress'],
  ingress: [{ from: [{ podSelector: { matchLabels: { role: 'frontend' } } }] }],
});

interface Carried { engine: number; cache: number; installs: number }

/** What a node carried for its pods: packets through its engine, hits and installs of its kernel flow cache. */
async function carried(n: ClusterNodeNs): Promise<Carried> {
  const [s, st] = await Promise.all([n.podnetd!.stats(), n.podnetd!.status()]);
  return { engine: s.passthrough, cache: st.fastPath?.hits ?? 0, installs: st.fastPath?.installs ?? 0 };
}

const since = (a: Carried, b: Carried): Carried => ({ engine: b.engine - a.engine, cache: b.cache - a.cache, installs: b.installs - a.installs });

// The two modes build separate sandboxes: run them side by side (the time is mostly waiting).
t.jobs = 2;
for (const mode of ['routed', 'vxlan'] as const) {
  t.test(`3 nodes, ${mode}`, { buffered: true }, async (t) => {
    if (!(await privileged(t))) return;
    const c = await ClusterSandbox.create({ mode, nodes: 3 });
    t.teardown(() => c.destroy());
    const pods: { pod: Pod; node: ClusterNodeNs }[] = [];
    for (const n of c.nodes) pods.push({ pod: await c.addPod(n, 'a'), node: n });
    for (const { pod } of pods) {
      await c.sb.serve(pod, 'http-server', HTTP, pod.name + pod.ns.slice(-2, -1));
      await c.sb.serve(pod, 'udp-server', UDP, pod.name + pod.ns.slice(-2, -1));
      await c.sb.serve(pod, 'sink-server', SINK);
      await c.sb.spawn(pod.ns, [process.execPath, '-e', BIG_UDP_SERVER], { readyLine: /^listening$/ });
    }
    const names = pods.map(({ pod }) => pod.name + pod.ns.slice(-2, -1));
    c.writeManifest('web.yaml', serviceWithNodes(c, pods));
    // internalTrafficPolicy Local, endpoints on nodes 1 and 2 only.
    const local = serviceWithNodes(c, pods.slice(0, 2)).map((o) => JSON.parse(JSON.stringify(o).replaceAll('"web', '"local')
      .replaceAll(VIP[4], LOCAL_VIP[4]).replaceAll(VIP[6], LOCAL_VIP[6])) as Record<string, unknown>);
    (local[0].spec as Record<string, unknown>).internalTrafficPolicy = 'Local';
    c.writeManifest('local.yaml', local);
    // Node 3's pod is the frontend; node 1's is not.
    c.writeManifest('pods.yaml', podObjects(pods, (i) => ({ node: `n${i + 1}`, role: i === 2 ? 'frontend' : 'other' })));
    await c.startPodnetd();
    t.teardown(() => { if (process.env.PODNET_E2E_LOGS) for (const n of c.nodes) t.comment(n.podnetd?.logs() ?? ''); });

    // podnetd programs cross-node routing itself, from the Node objects in the manifests.
    const first = await c.waitForRouteSync();
    t.ok(first.every((r) => r.added.length > 0), 'podnetd\'s first sync programs every node');
    const again = await c.resync();
    t.same(again.map((r) => [r.added, r.removed]), c.nodes.map(() => [[], []]), 'a second sync (SIGHUP) changes nothing');
    t.equal(first[0].podMtu, mode === 'vxlan' ? 1450 : 1500, 'pod MTU');
    for (const n of c.nodes) {
      const cl = await n.podnetd!.ctl.cluster();
      t.same([cl.mode, cl.node, cl.nodes.map((x) => x.name)], [mode, n.name, [n.name, ...c.nodes.filter((o) => o !== n).map((o) => o.name).sort()]],
        `${n.name}: podnetctl cluster lists this node first, then the others by name`);
      t.ok(cl.nodes.slice(1).every((x) => x.state === 'programmed' && x.entries.some((e) => e.startsWith(`route ${x.podCIDRs[0]} `))),
        `${n.name}: every other node is programmed, with a route to its pod CIDR`);
      if (mode === 'vxlan') t.ok(cl.nodes.slice(1).every((x) => x.entries.some((e) => e.startsWith('fdb '))), `${n.name}: VXLAN FDB entries shown`);
    }
    const cli = await c.syncRoutesOnce();
    t.same(cli.map((r) => [r.added, r.removed]), c.nodes.map(() => [[], []]), 'the one-shot CLI agrees with podnetd');
    for (const n of c.nodes) {
      const st = JSON.parse(readFileSync(path.join(path.dirname(n.podnetd!.stateFile), 'node.json'), 'utf8')) as { podCIDRs: string[]; mtu?: number };
      t.same(st.podCIDRs, [n.podCIDR4, n.podCIDR6], `${n.name}: the CNI IPAM gets the pod CIDRs of its Node object`);
      t.equal(st.mtu, mode === 'vxlan' ? 1450 : 1500, `${n.name}: the CNI gets the pod MTU`);
    }

    for (const n of c.nodes) await n.podnetd!.waitForServices((s) => s.services.filter((x) => x.backends.length === 3).length >= 4);

    for (const f of FAMILIES) {
      await t.test(`IPv${f} pod-to-pod across nodes`, async (t) => {
        const [src, ...dsts] = pods;
        for (const { pod: dst } of dsts) {
          const before = await carried(src.node);
          const r = await c.sb.agentRun<Burst>(src.pod.ns, 'http-burst', [podIp(dst, f), HTTP, 10, 2]);
          t.same(r.errors, {}, `TCP to ${dst.ns}: no errors`);
          t.same(r.remotes, [podIp(dst, f)], 'answered from the pod address (no NAT)');
          const u = await c.sb.agentRun<Ask>(src.pod.ns, 'udp-ask', [podIp(dst, f), UDP, 5]);
          t.equal(u.lost, 0, 'UDP: nothing lost');
          const ping = await c.sb.exec(src.pod.ns, ['ping', `-${f}`, '-c', '3', '-i', '0.2', '-W', '1', podIp(dst, f)]);
          t.match(ping.stdout, / 0% packet loss/, 'ICMP echo');
          const d = since(before, await carried(src.node));
          t.ok(d.engine + d.cache >= 40, `the client node carried the packets (engine ${d.engine}, its kernel flow cache ${d.cache})`);
          if (c.sb.fastPath) t.ok(d.cache > 0 && d.installs >= 10, `the TCP and UDP flows rode the cache (${d.installs} cached)`);
        }
        // Remote clients cross the destination node's engine too (policy holds for them).
        const dstNode = dsts[0].node;
        const before = await carried(dstNode);
        await c.sb.agentRun<Burst>(src.pod.ns, 'http-burst', [podIp(dsts[0].pod, f), HTTP, 5, 1]);
        const d = since(before, await carried(dstNode));
        t.ok(d.engine + d.cache >= 20, `the destination node carried them as well (engine ${d.engine}, cache ${d.cache})`);
        if (c.sb.fastPath) t.ok(d.engine >= 5, `its engine decided each connection (${d.engine} packets)`);
      });

      await t.test(`IPv${f} Service with endpoints on all three nodes, from each node`, async (t) => {
        for (const { pod, node } of pods) {
          // The spread is judged on IPv4 (150 connections from each node); IPv6 checks every endpoint answers.
          const conns = f === 4 ? SPREAD_CONNS : 60;
          const r = await c.sb.agentRun<Burst>(pod.ns, 'http-burst', [VIP[f], 80, conns, 4]);
          t.same(r.errors, {}, `from ${node.name}: no errors`);
          t.same(r.remotes, [VIP[f]], 'replies come from the VIP (reverse NAT on the client node)');
          t.same(Object.keys(r.tally).sort(), [...names].sort(), `every endpoint answered: ${JSON.stringify(r.tally)}`);
          const even = conns / names.length;
          if (f === 4) t.ok(Object.values(r.tally).every((n) => n >= even * 0.5 && n <= even * 1.5), `even spread (each within ±50% of ${even}): ${JSON.stringify(r.tally)}`);
          const u = await c.sb.agentRun<Ask>(pod.ns, 'udp-ask', [VIP[f], 53, 6]);
          t.equal(u.lost + u.wrongSource, 0, 'UDP through the VIP');
        }
      });

      await t.test(`IPv${f} internalTrafficPolicy Local: a client reaches only its own node's endpoint`, async (t) => {
        for (const { pod, node } of pods.slice(0, 2)) {
          const r = await c.sb.agentRun<Burst>(pod.ns, 'http-burst', [LOCAL_VIP[f], 80, 10, 2]);
          t.same(r.errors, {}, `from ${node.name}: no errors`);
          t.same(Object.keys(r.tally), [names[node.index - 1]], `from ${node.name}: only the local endpoint (${JSON.stringify(r.tally)})`);
        }
        const r = await c.sb.agentRun<{ result: string }>(pods[2].pod.ns, 'tcp-connect', [LOCAL_VIP[f], 80, 1500]);
        t.not(r.result, 'CONNECTED', `node 3 has no local endpoint: not served by a remote one (${r.result})`);
      });

      await t.test(`IPv${f} MTU: 1400-byte UDP payload and bulk TCP across nodes`, async (t) => {
        const [src, dst] = pods;
        const { stdout } = await c.sb.exec(src.pod.ns, [process.execPath, '-e', bigUdpClient(podIp(dst.pod, f), 1400)]);
        const r = JSON.parse(stdout.trim()) as { reply: string | null; want?: string };
        t.ok(r.reply, 'answered');
        t.equal(r.reply, r.want, '1400 bytes arrived intact');
        const s = await c.sb.agentRun<Sent>(src.pod.ns, 'send', [podIp(dst.pod, f), SINK, 16 << 20, 7]);
        t.equal(s.remoteBytes, s.bytes, 'all bytes arrived');
        t.equal(s.remoteHash, s.localHash, `intact (${s.gbps.toFixed(2)} Gbit/s)`);
      });
    }

    await t.test('a NetworkPolicy on node 2\'s pod: a remote client on node 1 denied, the frontend on node 3 allowed', async (t) => {
      const [n1, n2, n3] = pods;
      const from = c.mark([n2.node]);
      c.writeManifest('policy.yaml', [onlyFrontendToN2]);
      await n2.node.podnetd!.proc.waitForLine(/"msg":"policy tables published"/, { from: from[0], timeoutMs: 10_000 });
      for (const f of FAMILIES) {
        let denied = '';
        for (let i = 0; i < 40 && denied !== 'TIMEOUT'; i++) {
          denied = (await c.sb.agentRun<{ result: string }>(n1.pod.ns, 'tcp-connect', [podIp(n2.pod, f), HTTP, 1500])).result;
        }
        t.not(denied, 'CONNECTED', `IPv${f}: node 1's pod cannot connect to node 2's pod (${denied})`);
        const ok = await c.sb.agentRun<Burst>(n3.pod.ns, 'http-burst', [podIp(n2.pod, f), HTTP, 5, 1]);
        t.same(ok.errors, {}, `IPv${f}: the frontend pod on node 3 is allowed`);
        t.same(Object.keys(ok.tally), [names[1]], 'and answered by node 2\'s pod');
      }
      const drops = (await n2.node.podnetd!.stats()).drops;
      t.ok((drops.policy_ingress ?? 0) > 0, `denied on node 2's engine (policy_ingress ${drops.policy_ingress})`);
      c.removeManifest('policy.yaml');
    });

    await t.test('a node removed from the manifests: its routes are withdrawn', async (t) => {
      const from = c.mark(c.nodes.slice(0, 2));
      c.writeNodes(c.nodes.slice(0, 2));
      const r = await c.waitForRouteSync(c.nodes.slice(0, 2), from, (x) => x.removed.length > 0);
      const gone = c.nodes[2];
      for (const x of r) t.ok(x.removed.some((e) => e.includes(gone.podCIDR4)), `withdrawn: ${JSON.stringify(x.removed)}`);
      const { stdout } = await c.sb.exec(c.nodes[0].ns, ['ip', '-j', 'route', 'show', 'proto', '112']);
      t.notMatch(stdout, gone.podCIDR4.split('/')[0], 'no route to its pod CIDR');
      if (mode === 'vxlan') {
        const fdb = await c.sb.exec(c.nodes[0].ns, ['bridge', 'fdb', 'show', 'dev', 'podnet-vxlan']);
        t.notMatch(fdb.stdout, gone.ip4, 'its FDB entry is gone');
      }
      const ping = await c.sb.exec(pods[0].pod.ns, ['ping', '-c', '1', '-W', '1', pods[2].pod.ip4]).catch((e: Error) => ({ stdout: e.message }));
      t.notMatch(ping.stdout, / 0% packet loss/, 'its pods are unreachable');
    });
  });
}
