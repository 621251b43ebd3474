// Issue 9 e2e: 3 sandbox nodes (each its own podnetd) joined by an underlay, in routed and vxlan
// mode: pod-to-pod across nodes (TCP, UDP, ICMP; IPv4 and IPv6) with every packet crossing both
// engines, a Service whose endpoints sit on all three nodes reached from each node, MTU through
// VXLAN (a 1400-byte UDP payload and a bulk TCP transfer arrive intact), idempotent re-sync, and
// a node removed from the manifests (its routes withdrawn).
import t from 'tap';
import { ClusterSandbox, type ClusterNodeNs } from '../../src/sandbox/cluster';
import { serviceObjects } from '../../src/sandbox/manifests';
import type { Pod } from '../../src/sandbox/sandbox';
import { FAMILIES, podIp, privileged, type Fam } from './fixtures/helpers';

interface Burst { tally: Record<string, number>; errors: Record<string, number>; remotes: string[] }
interface Ask { tally: Record<string, number>; lost: number; wrongSource: number }
interface Sent { localHash: string; remoteHash: string; bytes: number; remoteBytes: number; gbps: number }

const HTTP = 8080, UDP = 5353, SINK = 9000, BIG = 9001;
const VIP = { 4: '10.96.0.20', 6: 'fd00:10:96::20' } as const;

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

for (const mode of ['routed', 'vxlan'] as const) {
  t.test(`3 nodes, ${mode}`, async (t) => {
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
    await c.startPodnetd();
    t.teardown(() => { if (process.env.PODNET_E2E_LOGS) for (const n of c.nodes) t.comment(n.podnetd?.logs() ?? ''); });

    const first = await c.syncRoutes();
    t.ok(first.every((r) => r.added.length > 0), 'first sync programs every node');
    const again = await c.syncRoutes();
    t.same(again.map((r) => [r.added, r.removed]), c.nodes.map(() => [[], []]), 'a second sync changes nothing');
    t.equal(first[0].podMtu, mode === 'vxlan' ? 1450 : 1500, 'pod MTU');

    for (const n of c.nodes) await n.podnetd!.waitForServices((s) => s.services.filter((x) => x.backends.length === 3).length >= 4);

    for (const f of FAMILIES) {
      await t.test(`IPv${f} pod-to-pod across nodes`, async (t) => {
        const [src, ...dsts] = pods;
        for (const { pod: dst } of dsts) {
          const before = (await src.node.podnetd!.stats()).passthrough;
          const r = await c.sb.agentRun<Burst>(src.pod.ns, 'http-burst', [podIp(dst, f), HTTP, 10, 2]);
          t.same(r.errors, {}, `TCP to ${dst.ns}: no errors`);
          t.same(r.remotes, [podIp(dst, f)], 'answered from the pod address (no NAT)');
          const u = await c.sb.agentRun<Ask>(src.pod.ns, 'udp-ask', [podIp(dst, f), UDP, 5]);
          t.equal(u.lost, 0, 'UDP: nothing lost');
          const ping = await c.sb.exec(src.pod.ns, ['ping', `-${f}`, '-c', '3', '-i', '0.2', '-W', '1', podIp(dst, f)]);
          t.match(ping.stdout, / 0% packet loss/, 'ICMP echo');
          const after = (await src.node.podnetd!.stats()).passthrough;
          t.ok(after - before >= 40, `the client node's engine saw the packets (${after - before})`);
        }
        // Remote clients cross the destination node's engine too (issue 9: policy holds for them).
        const dstNode = dsts[0].node;
        const before = (await dstNode.podnetd!.stats()).passthrough;
        await c.sb.agentRun<Burst>(src.pod.ns, 'http-burst', [podIp(dsts[0].pod, f), HTTP, 5, 1]);
        const after = (await dstNode.podnetd!.stats()).passthrough;
        t.ok(after - before >= 20, `the destination node's engine saw them as well (${after - before})`);
      });

      await t.test(`IPv${f} Service with endpoints on all three nodes, from each node`, async (t) => {
        for (const { pod, node } of pods) {
          const r = await c.sb.agentRun<Burst>(pod.ns, 'http-burst', [VIP[f], 80, 60, 4]);
          t.same(r.errors, {}, `from ${node.name}: no errors`);
          t.same(r.remotes, [VIP[f]], 'replies come from the VIP (reverse NAT on the client node)');
          t.same(Object.keys(r.tally).sort(), [...names].sort(), `every endpoint answered: ${JSON.stringify(r.tally)}`);
          const u = await c.sb.agentRun<Ask>(pod.ns, 'udp-ask', [VIP[f], 53, 6]);
          t.equal(u.lost + u.wrongSource, 0, 'UDP through the VIP');
        }
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

    await t.test('a node removed from the manifests: its routes are withdrawn', async (t) => {
      c.writeNodes(c.nodes.slice(0, 2));
      const r = await c.syncRoutes(c.nodes.slice(0, 2));
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
