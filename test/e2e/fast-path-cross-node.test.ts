// The kernel flow cache across nodes: two sandbox nodes, each with its own podnetd running the
// fast path, in routed and in vxlan mode. A flow between a pod on node 1 and a pod on node 2 is
// decided by both engines on its first packets; after that, on the client's node the program on
// the pod's veth delivers the packets off-node by the kernel's FIB (over the uplink, or into the
// VXLAN device) and the replies entering by the uplink (or the VXLAN device) go straight into the
// pod; on the server's node the other way round. Neither TUN sees the bulk of the traffic:
//   - 64 MiB byte-exact pod to pod, IPv4 and IPv6, counted as program hits on both nodes
//   - 64 MiB through a VIP whose only endpoint is on the other node (DNAT on the client's node)
//   - UDP, one socket, every answer from the right address
//   - 64 MiB from a host on the underlay through node 1's NodePort to the endpoint on node 2:
//     node 1 caches the flow passing through (both directions in by an uplink, out by the FIB,
//     in routed mode by the very uplink they came in on), node 2 the flow into its pod
//   - in vxlan mode the program runs on the VXLAN device, where the other node's pods arrive
//   - a pod's untranslated flow to a host outside the cluster (neither a node nor a pod) stays
//     on the TUN path: the node's own forwarding, and any NAT it does for pods, stays in its path
//   - a held connection cut by a NetworkPolicy on the server's node is reset within 1 s
//   - closed flows leave no TCP entry behind on either node (the denied SYNs' flows on the
//     client's node keep theirs until they expire, as conntrack keeps them)
import t from 'tap';
import type { FastPathWireStatus } from '../../src/ctl/api';
import { ClusterSandbox, type ClusterNodeNs } from '../../src/sandbox/cluster';
import { serviceObjects } from '../../src/sandbox/manifests';
import { namespace, netpol, pod as podObject } from '../helpers/kube-objects';
import { FAMILIES, cacheEntries, eventually, expectResetWithin1s, podIp, privileged, type Hold } from './fixtures/helpers';

const BYTES = 64 * 1024 * 1024;
const HTTP = 8080, UDP = 5353, SINK = 9000;
const VIP = { 4: '10.96.0.30', 6: 'fd00:10:96::30' } as const;
const NODEPORT = 30080;

interface Sent { localHash: string; remoteHash: string; bytes: number; remoteBytes: number; gbps: number }
interface Ask { tally: Record<string, number>; lost: number; wrongSource: number }

const fp = async (n: ClusterNodeNs): Promise<FastPathWireStatus> => (await n.podnetd!.status()).fastPath!;
const engineIn = async (n: ClusterNodeNs) => (await n.podnetd!.stats()).queues.reduce((a, q) => a + q.packetsIn, 0);

/** Program counters and engine packets of a node since `before`. */
async function delta(n: ClusterNodeNs, before: { fp: FastPathWireStatus; engine: number }) {
  const after = await fp(n);
  const d = (k: string) => (after.program?.[k] ?? 0) - (before.fp.program?.[k] ?? 0);
  return { peer: d('hit_peer'), fib: d('hit_fib'), engine: (await engineIn(n)) - before.engine };
}

const snapshot = async (n: ClusterNodeNs) => ({ fp: await fp(n), engine: await engineIn(n) });

t.jobs = 2;
for (const mode of ['routed', 'vxlan'] as const) {
  t.test(`2 nodes, ${mode}: cross-node flows ride both nodes' kernel flow caches`, { buffered: true }, async (t) => {
    if (!(await privileged(t))) return;
    const c = await ClusterSandbox.create({ mode, nodes: 2 });
    t.teardown(() => c.destroy());
    if (!c.sb.fastPath) { t.fail('the sandbox runs without the fast path (PODNET_E2E_FASTPATH=0): nothing to test here'); return; }
    const [n1, n2] = c.nodes;
    const a = await c.addPod(n1, 'a');
    const b = await c.addPod(n2, 'b');
    await c.sb.serve(b, 'sink-server', SINK);
    await c.sb.serve(b, 'http-server', HTTP, 'b');
    await c.sb.serve(b, 'udp-server', UDP, 'b');
    c.writeManifest('sink.yaml', serviceObjects({
      name: 'sink', clusterIPs: [VIP[4], VIP[6]], ports: [{ name: 'tcp', port: 80, targetPort: SINK }], endpoints: [{ pod: b }],
    }));
    const np = serviceObjects({
      name: 'np', clusterIPs: ['10.96.0.31', 'fd00:10:96::31'], ports: [{ name: 'tcp', port: 80, targetPort: SINK }], endpoints: [{ pod: b }], nodeName: n2.name,
    });
    const npSpec = (np[0] as { spec: Record<string, unknown> }).spec;
    npSpec.type = 'NodePort';
    npSpec.ports = (npSpec.ports as Record<string, unknown>[]).map((p) => ({ ...p, nodePort: NODEPORT }));
    c.writeManifest('np.yaml', np);
    const lb = await c.addUnderlayHost('lb');
    c.writeManifest('pods.yaml', [
      namespace('default'),
      podObject({ name: 'a', namespace: 'default', labels: { app: 'a' }, ips: [a.ip4, a.ip6], nodeName: n1.name }),
      podObject({ name: 'b', namespace: 'default', labels: { app: 'b' }, ips: [b.ip4, b.ip6], nodeName: n2.name }),
    ]);
    await c.startPodnetd();
    t.teardown(() => { if (process.env.PODNET_E2E_LOGS) for (const n of c.nodes) t.comment(n.podnetd?.logs() ?? ''); });
    await c.waitForRouteSync();
    await n1.podnetd!.waitForServices((s) => s.services.some((x) => x.backends.length === 1));

    const ingressDev = mode === 'vxlan' ? 'podnet-vxlan' : 'eth1';
    const ifindexOf = async (n: ClusterNodeNs, dev: string) =>
      (JSON.parse((await c.sb.exec(n.ns, ['ip', '-j', 'link', 'show', dev])).stdout) as { ifindex: number }[])[0].ifindex;

    await t.test(`the program runs where the other node's pods arrive (${ingressDev})`, async (t) => {
      for (const n of c.nodes) {
        const want = await ifindexOf(n, ingressDev);
        const s = await eventually(`${n.name}: ${ingressDev} known`, () => fp(n), (s) => (s.uplinks ?? []).includes(want) && (s.attachedTo ?? []).includes(want));
        t.equal(s.mode, 'on', `${n.name}: fast path on`);
        t.ok(s.pods === 1, `${n.name}: its pod is known (${s.pods})`);
        t.pass(`${n.name}: ${ingressDev} (ifindex ${want}) is an ingress of the cache: uplinks ${JSON.stringify(s.uplinks)}`);
      }
    });

    for (const f of FAMILIES) {
      await t.test(`IPv${f}: 64 MiB pod to pod across nodes, byte-exact, through both caches`, async (t) => {
        const b1 = await snapshot(n1), b2 = await snapshot(n2);
        const r = await c.sb.agentRun<Sent>(a.ns, 'send', [podIp(b, f), SINK, BYTES, 21 + f], 120_000);
        t.equal(r.remoteBytes, BYTES, 'the pod on node 2 received every byte');
        t.equal(r.remoteHash, r.localHash, 'sha256 matches');
        const d1 = await delta(n1, b1), d2 = await delta(n2, b2);
        t.ok(d1.fib > 100, `node 1: ${d1.fib} packets of the pod delivered off-node by the program`);
        t.ok(d1.peer > 20, `node 1: ${d1.peer} replies from node 2 straight into the pod`);
        t.ok(d2.peer > 100, `node 2: ${d2.peer} packets from node 1 straight into the pod`);
        t.ok(d2.fib > 20, `node 2: ${d2.fib} replies delivered off-node by the program`);
        t.ok(d1.engine < (d1.fib + d1.peer) / 10, `node 1's engine saw ${d1.engine} packets`);
        t.ok(d2.engine < (d2.fib + d2.peer) / 10, `node 2's engine saw ${d2.engine} packets`);
        t.comment(`${r.gbps.toFixed(2)} Gbit/s`);
      });

      await t.test(`IPv${f}: 64 MiB through a VIP whose endpoint is on the other node`, async (t) => {
        const b1 = await snapshot(n1), b2 = await snapshot(n2);
        const r = await c.sb.agentRun<Sent>(a.ns, 'send', [VIP[f], 80, BYTES, 31 + f], 120_000);
        t.equal(r.remoteBytes, BYTES, 'the endpoint received every byte');
        t.equal(r.remoteHash, r.localHash, 'sha256 matches');
        const d1 = await delta(n1, b1), d2 = await delta(n2, b2);
        t.ok(d1.fib > 100, `node 1: ${d1.fib} packets translated to the endpoint and delivered off-node by the program`);
        t.ok(d2.peer > 100, `node 2: ${d2.peer} packets into the endpoint by the program`);
        t.ok(d1.engine < (d1.fib + d1.peer) / 10, `node 1's engine saw ${d1.engine} packets`);
        t.comment(`${r.gbps.toFixed(2)} Gbit/s`);
      });

      await t.test(`IPv${f}: UDP across nodes, one socket, answered from the pod`, async (t) => {
        const b1 = await snapshot(n1);
        const u = await c.sb.agentRun<Ask>(a.ns, 'udp-ask', [podIp(b, f), UDP, 200]);
        t.equal(u.lost, 0, 'nothing lost');
        t.equal(u.wrongSource, 0, 'every answer from the pod');
        t.same(u.tally, { b: 200 }, 'answered by the pod on node 2');
        const d1 = await delta(n1, b1);
        t.ok(d1.fib >= 150 && d1.peer >= 150, `node 1: ${d1.fib} datagrams out, ${d1.peer} answers in by the program`);
      });
    }

    for (const f of FAMILIES) {
      await t.test(`IPv${f}: 64 MiB from the underlay through node 1's NodePort to the endpoint on node 2`, async (t) => {
        const b1 = await snapshot(n1), b2 = await snapshot(n2);
        const r = await c.sb.agentRun<Sent>(lb.ns, 'send', [f === 4 ? n1.ip4 : n1.ip6, NODEPORT, BYTES, 41 + f], 120_000);
        t.equal(r.remoteBytes, BYTES, 'the endpoint received every byte');
        t.equal(r.remoteHash, r.localHash, 'sha256 matches');
        const d1 = await delta(n1, b1), d2 = await delta(n2, b2);
        t.ok(d1.fib > 150, `node 1: ${d1.fib} packets of both directions passed through by the program`);
        t.ok(d1.engine < d1.fib / 10, `node 1's engine saw ${d1.engine} packets`);
        t.ok(d2.peer > 100, `node 2: ${d2.peer} packets into the endpoint by the program`);
        t.ok(d2.engine < (d2.fib + d2.peer) / 10, `node 2's engine saw ${d2.engine} packets`);
        t.comment(`${r.gbps.toFixed(2)} Gbit/s`);
      });
    }

    await t.test('a pod\'s untranslated flow to a host outside the cluster stays on the TUN path', async (t) => {
      await c.sb.exec(lb.ns, ['ip', 'route', 'add', n1.podCIDR4, 'via', n1.ip4]);
      await c.sb.serve({ ...a, ns: lb.ns }, 'http-server', HTTP, 'lb');
      const b1 = await snapshot(n1);
      const r = await c.sb.agentRun<{ tally: Record<string, number>; errors: Record<string, number> }>(a.ns, 'http-burst', [lb.ip4, HTTP, 10, 2]);
      t.same(r.errors, {}, 'no errors');
      t.same(r.tally, { lb: 10 }, 'answered by the host');
      const after = await fp(n1);
      t.equal((after.installs ?? 0) - (b1.fp.installs ?? 0), 0, 'nothing cached on node 1');
      const seen = (await engineIn(n1)) - b1.engine;
      t.ok(seen >= 30, `node 1's engine saw the pod's packets (${seen})`);
    });

    await t.test('a held connection across nodes cut by a NetworkPolicy on the server\'s node is reset within 1 s', async (t) => {
      const hold = c.sb.agentRun<Hold>(a.ns, 'http-hold', [b.ip4, HTTP, 1, 6000], 30_000);
      const b2 = await snapshot(n2);
      await eventually('the held connection rides node 2\'s cache', async () => (await delta(n2, b2)).peer, (n) => n > 20, 10_000, 50);
      c.writeManifest('policy.yaml', [netpol('default', 'deny-b', { podSelector: { matchLabels: { app: 'b' } }, policyTypes: ['Ingress'] })]);
      const programmed = await eventually('policy programmed on node 2', async () => (await n2.podnetd!.ctl.policies()).pods.some((p) => p.ingress.isolated), (v) => v, 4000, 20);
      const tProgrammed = Date.now();
      t.ok(programmed, 'the policy isolates b');
      await expectResetWithin1s(t, hold, tProgrammed);
      const r = await c.sb.agentRun<{ result: string }>(a.ns, 'tcp-connect', [b.ip4, HTTP, 1500]);
      t.not(r.result, 'CONNECTED', `a new connection is denied (${r.result})`);
      c.removeManifest('policy.yaml');
    });

    await t.test('closed flows leave no TCP entry behind on either node', async (t) => {
      // What is left open: node 1 admitted the connections node 2's policy denied (SYN_SENT
      // until they expire); each keeps its entries, one per ingress device plus one.
      for (const n of c.nodes) {
        const perFlow = (await fp(n)).uplinks!.length + 1;
        const tcp = async () => (await n.podnetd!.ctl.flows()).flows.filter((f) => f.protocol === 'TCP');
        const flows = await eventually(`${n.name}: closed flows uncached`, tcp, (fs) => fs.every((f) => !f.cached || !['TIME_WAIT', 'CLOSE'].includes(f.state)), 10_000);
        const closed = flows.filter((f) => ['TIME_WAIT', 'CLOSE'].includes(f.state));
        const open = flows.filter((f) => f.cached);
        t.ok(closed.every((f) => !f.cached), `${n.name}: ${closed.length} closed TCP flows still recorded, none cached`);
        t.ok(open.every((f) => f.state === 'SYN_SENT'), `${n.name}: cached TCP flows left: ${open.map((f) => f.state).join(', ') || 'none'}`);
        const entries = (await cacheEntries(c.sb, n.podnetd!)).filter((e) => e.proto === 6);
        t.equal(entries.length, open.length * perFlow, `${n.name}: ${entries.length} TCP entries, all of flows still open`);
      }
    });
  });
}
