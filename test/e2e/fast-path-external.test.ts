// The kernel flow cache for traffic from outside: podnetd (engine.fastPath on, external.uplinks
// naming the uplink) in a sandbox node with an "outside" namespace behind the uplink. A NodePort
// flow's first packets go through the TUN as always; then the program on the uplink carries the
// forward direction straight into the backend pod (redirect_peer) and the program on the pod's
// veth delivers the replies where the kernel's FIB routes them (no netfilter, no TUN):
//   - 64 MiB byte-exact through an eTP Cluster (masqueraded) and an eTP Local NodePort, IPv4 and
//     IPv6, counted as program hits, the engine seeing only a handful of packets
//   - the source the endpoint sees (node address / the client's own)
//   - a route change towards the client (another link, another next hop) is followed by the
//     cached replies at once, nothing more leaves by the old link
//   - a Service edit that removes the endpoint cuts the cached flow: its uplink entries go and
//     the next request is reset, as on the TUN path
//   - a pod's egress-masquerade flow to the outside, the other way round: 64 MiB byte-exact, the
//     pod's packets delivered off-node by the FIB, the replies from the uplink into the pod
//   - podnetctl trace agrees; `--cleanup` detaches the program from the uplink
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { FastPathWireStatus } from '../../src/ctl/api';
import { run } from '../../src/netns/exec';
import { Podnetd, Sandbox } from '../../src/sandbox';
import { writeManifest } from '../../src/sandbox/manifests';
import { repoRoot } from '../../src/sandbox/paths';
import { bpffsDir } from '../../src/sandbox/sandbox';
import { BACKEND_HTTP, BACKEND_SINK, BACKEND_UDP, cacheEntries, eventually, privileged } from './fixtures/helpers';
import { NODE4, NODE6, OUT4, OUT6, UPLINK, addOutside, curl, external, whoami } from './fixtures/outside';

const BYTES = 64 * 1024 * 1024;
const WHOAMI = 9090;
/** NodePorts: sink eTP Cluster / eTP Local, whoami eTP Cluster / eTP Local, HTTP (the cut). */
/** A sink in the outside namespace, for pod egress. */
const OUTSIDE_SINK = 9100;
const SINK_CLUSTER = 30090, SINK_LOCAL = 30091, WHO_CLUSTER = 30092, WHO_LOCAL = 30093, WEB = 30094, DNS = 30095;
/** The second link between the node and the outside, for the route change. */
const UPLINK2 = 'up1', NODE4B = '192.168.51.2', OUT4B = '192.168.51.10';

interface Sent { localHash: string; remoteHash: string; bytes: number; remoteBytes: number; ms: number; gbps: number; error?: string }
interface Hold { conns: { errors: number; errorCodes: string[]; requests: number; seen: string[] }[] }

t.test('the kernel flow cache carries NodePort traffic from outside', async (t) => {
  if (!(await privileged(t))) return;
  const sb = await Sandbox.create();
  t.teardown(() => sb.destroy());
  const ep1 = await sb.addPod('ep1');
  await sb.serve(ep1, 'sink-server', BACKEND_SINK);
  await sb.serve(ep1, 'http-server', BACKEND_HTTP, ep1.name);
  await sb.serve(ep1, 'udp-server', BACKEND_UDP, ep1.name);
  await whoami(sb, ep1, WHOAMI);
  const out = await addOutside(sb, []);
  const node = sb.nodeNs;

  const ports = (name: string, targetPort: number, nodePort: number) => [{ name, port: 80, targetPort, nodePort }];
  const dual = (n: number) => [`10.96.0.${n}`, `fd00:10:96::${n.toString(16)}`];
  const local = { externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 };
  const web = (pods: typeof ep1[]) => external('web', ['10.96.0.64'], ports('http', BACKEND_HTTP, WEB), pods, node, { type: 'NodePort' });
  const dir = Podnetd.paths(sb).manifests;
  mkdirSync(dir, { recursive: true });
  writeManifest(dir, 'sink.yaml', external('sink', dual(60), ports('tcp', BACKEND_SINK, SINK_CLUSTER), [ep1], node, { type: 'NodePort', ipFamilyPolicy: 'RequireDualStack' }));
  writeManifest(dir, 'sink-local.yaml', external('sink-local', dual(61), ports('tcp', BACKEND_SINK, SINK_LOCAL), [ep1], node, { type: 'NodePort', ipFamilyPolicy: 'RequireDualStack', ...local }));
  writeManifest(dir, 'who.yaml', external('who', ['10.96.0.62'], ports('http', WHOAMI, WHO_CLUSTER), [ep1], node, { type: 'NodePort' }));
  writeManifest(dir, 'who-local.yaml', external('who-local', ['10.96.0.63'], ports('http', WHOAMI, WHO_LOCAL), [ep1], node, { type: 'NodePort', ...local, healthCheckNodePort: 32001 }));
  writeManifest(dir, 'web.yaml', web([ep1]));
  writeManifest(dir, 'dns.yaml', external('dns', dual(65), [{ name: 'dns', port: 53, targetPort: BACKEND_UDP, protocol: 'UDP', nodePort: DNS }], [ep1], node, { type: 'NodePort', ipFamilyPolicy: 'RequireDualStack' }));
  // The config's engine section replaces the sandbox's: the fast path and its bpffs named again.
  const podnetd = await Podnetd.startManifests(sb, { config: {
    engine: { fastPath: true, bpffs: bpffsDir(sb.dir), egressMasquerade: { enabled: true } },
    external: { uplinks: [UPLINK], nodePortRange: '30000-32767' }, sync: { retryIntervalMs: 200 },
  } });
  t.teardown(() => podnetd.stop());

  const fp = async (): Promise<FastPathWireStatus> => (await podnetd.status()).fastPath!;
  const engineIn = async () => (await podnetd.stats()).queues.reduce((a, q) => a + q.packetsIn, 0);
  const ifindexOf = async (ns: string, dev: string) => (JSON.parse((await sb.exec(ns, ['ip', '-j', 'link', 'show', dev])).stdout) as { ifindex: number }[])[0].ifindex;
  const txPackets = async (dev: string) => (JSON.parse((await sb.exec(node, ['ip', '-j', '-s', 'link', 'show', dev])).stdout) as { stats64: { tx: { packets: number } } }[])[0].stats64.tx.packets;
  const uplink = await ifindexOf(node, UPLINK);
  const ep1Veth = await ifindexOf(node, ep1.hostVeth);

  await t.test('the program runs on the uplink', async (t) => {
    const s = await eventually('uplink known', fp, (s) => (s.uplinks ?? []).includes(uplink) && (s.attachedTo ?? []).includes(uplink));
    t.equal(s.mode, 'on', `fast path on (${s.reason ?? ''})`);
    t.same(s.uplinks, [uplink], `the uplink ${UPLINK} (ifindex ${uplink})`);
  });

  for (const [what, port] of [['eTP Cluster (masqueraded)', SINK_CLUSTER], ['eTP Local', SINK_LOCAL]] as const) {
    for (const [f, host] of [[4, NODE4], [6, NODE6]] as const) {
      await t.test(`IPv${f} ${what}: 64 MiB through the NodePort from outside, byte-exact, through the cache`, async (t) => {
        const before = await fp(), in0 = await engineIn();
        const r = await sb.agentRun<Sent>(out.ns, 'send', [host, port, BYTES, 11 + f + port], 120_000);
        t.equal(r.remoteBytes, BYTES, 'the endpoint received every byte');
        t.equal(r.remoteHash, r.localHash, 'sha256 matches');
        const after = await eventually('sweep counted the flow', fp, (s) => (s.installs ?? 0) > (before.installs ?? 0));
        const d = (k: string) => (after.program?.[k] ?? 0) - (before.program?.[k] ?? 0);
        const engine = (await engineIn()) - in0;
        t.ok(d('hit_peer') > 100, `${d('hit_peer')} packets from the uplink into the pod by the program`);
        t.ok(d('hit_fib') > 20, `${d('hit_fib')} replies delivered off-node by the program`);
        t.ok(engine < (d('hit_peer') + d('hit_fib')) / 10, `the engine saw ${engine} packets`);
        t.comment(`${r.gbps.toFixed(2)} Gbit/s; program ${JSON.stringify(after.program)}`);
      });
    }
  }

  for (const [f, host] of [[4, NODE4], [6, NODE6]] as const) {
    await t.test(`IPv${f} UDP through the NodePort from outside: one socket, one flow, the cache carries it after the first datagram`, async (t) => {
      const before = await fp();
      const r = await sb.agentRun<{ tally: Record<string, number>; lost: number; wrongSource: number }>(out.ns, 'udp-ask', [host, DNS, 200]);
      t.equal(r.lost, 0, 'no datagram lost');
      t.equal(r.wrongSource, 0, 'every answer from the NodePort address');
      t.same(r.tally, { ep1: 200 }, 'answered by the endpoint');
      const after = await fp();
      const d = (k: string) => (after.program?.[k] ?? 0) - (before.program?.[k] ?? 0);
      t.ok(d('hit_peer') >= 190, `${d('hit_peer')} datagrams into the pod by the program`);
      t.ok(d('hit_fib') >= 190, `${d('hit_fib')} answers delivered off-node by the program`);
    });
  }

  await sb.spawn(out.ns, sb.agent('sink-server', OUTSIDE_SINK), { readyLine: /^listening$/ });
  for (const [f, host] of [[4, OUT4], [6, OUT6]] as const) {
    await t.test(`IPv${f} egress masquerade: 64 MiB from a pod to the outside, byte-exact, through the cache`, async (t) => {
      const before = await fp(), in0 = await engineIn();
      const r = await sb.agentRun<Sent>(ep1.ns, 'send', [host, OUTSIDE_SINK, BYTES, 31 + f], 120_000);
      t.equal(r.remoteBytes, BYTES, 'the outside received every byte');
      t.equal(r.remoteHash, r.localHash, 'sha256 matches');
      const flows = (await podnetd.ctl.flows({})).flows.filter((x) => x.vip.endsWith(`:${OUTSIDE_SINK}`) || x.backend.endsWith(`:${OUTSIDE_SINK}`));
      t.ok(flows.length > 0, `the engine masqueraded it: ${JSON.stringify(flows[flows.length - 1])}`);
      const after = await fp();
      const d = (k: string) => (after.program?.[k] ?? 0) - (before.program?.[k] ?? 0);
      const engine = (await engineIn()) - in0;
      t.ok(d('hit_fib') > 100, `${d('hit_fib')} packets from the pod delivered off-node by the program`);
      t.ok(d('hit_peer') > 20, `${d('hit_peer')} replies from the uplink into the pod by the program`);
      t.ok(engine < (d('hit_peer') + d('hit_fib')) / 10, `the engine saw ${engine} packets`);
      t.comment(`${r.gbps.toFixed(2)} Gbit/s`);
    });
  }

  await t.test('the endpoint sees the node address (eTP Cluster) or the client (eTP Local)', async (t) => {
    t.equal((await curl(sb, out.ns, NODE4, WHO_CLUSTER)).body, NODE4, 'masqueraded to the node address');
    t.equal((await curl(sb, out.ns, NODE4, WHO_LOCAL)).body, OUT4, 'the client address kept');
  });

  await t.test('trace says a NodePort flow from outside is cached', async (t) => {
    const tr = await podnetd.ctl.trace({ from: OUT4, to: NODE4, port: SINK_CLUSTER, protocol: 'TCP' });
    t.equal(tr.result.cached, true, JSON.stringify(tr.result));
  });

  await t.test('a route change towards the client is followed by the cached replies', async (t) => {
    // A second link to the outside; the client address stays on its first link, so packets for
    // it that come in by the second are taken (no reverse path filter in the outside namespace).
    await sb.ipNode('link', 'add', UPLINK2, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', out.ns);
    await sb.ipNode('addr', 'add', `${NODE4B}/24`, 'dev', UPLINK2);
    await sb.ipNode('link', 'set', UPLINK2, 'up');
    const ipOut = (...a: string[]) => sb.exec(out.ns, ['ip', ...a]);
    await ipOut('addr', 'add', `${OUT4B}/24`, 'dev', 'eth1');
    await ipOut('link', 'set', 'eth1', 'up');
    await sb.exec(out.ns, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.eth1.rp_filter=0', 'net.ipv4.conf.eth0.rp_filter=0']);
    // 16 MiB at 2 MiB/s: cached first, then moved.
    const sender = sb.agentRun<Sent>(out.ns, 'send-paced', [NODE4, SINK_LOCAL, 16 << 20, 5, 2 << 20], 60_000);
    const f0 = await eventually('the replies are cached', fp, (s) => (s.program?.hit_fib ?? 0) > 0, 10_000, 100);
    const fib0 = f0.program!.hit_fib;
    await eventually('replies flowing through the cache', fp, (s) => (s.program?.hit_fib ?? 0) > fib0 + 50, 10_000, 100);
    await sb.ipNode('route', 'add', `${OUT4}/32`, 'via', OUT4B, 'dev', UPLINK2);
    const moved = Date.now();
    const up0Tx = await txPackets(UPLINK), up1Tx = await txPackets(UPLINK2), fib1 = (await fp()).program!.hit_fib;
    await new Promise((r) => setTimeout(r, 1500));
    const up0d = (await txPackets(UPLINK)) - up0Tx, up1d = (await txPackets(UPLINK2)) - up1Tx, fibd = (await fp()).program!.hit_fib - fib1;
    t.ok(up1d > 50, `${up1d} packets left by the new route's link within 1.5 s of the change`);
    t.ok(up0d < 5, `${up0d} left by the old link after the change (no stale delivery)`);
    t.ok(fibd > 50, `${fibd} of them delivered by the program`);
    const r = await sender;
    t.equal(r.remoteHash, r.localHash, `byte-exact across the change (${Date.now() - moved} ms after it)`);
    await sb.ipNode('route', 'del', `${OUT4}/32`);
  });

  await t.test('a Service edit removing the endpoint cuts the cached flow from outside', async (t) => {
    const entries = () => cacheEntries(sb, podnetd);
    const atUplink = (es: { ifindex: number; target: number; proto: number }[]) => es.some((e) => e.ifindex === uplink && e.target === ep1Veth && e.proto === 6);
    // The earlier TCP flows closed and left the cache (the UDP ones stay until they expire): the
    // next TCP entries at the uplink are the held connection's.
    await eventually('earlier flows gone from the cache', entries, (es) => !atUplink(es), 15_000, 100);
    const hold = sb.agentRun<Hold>(out.ns, 'http-hold', [NODE4, WEB, 1, 6000], 30_000);
    const cached = await eventually('the held connection is cached at the uplink', entries, atUplink, 10_000, 50);
    t.pass(`${cached.filter((e) => e.ifindex === uplink).length} entries at the uplink`);
    writeManifest(dir, 'web.yaml', web([]));
    const tEdit = Date.now();
    const gone = await eventually('its uplink entries gone', entries, (es) => !atUplink(es), 10_000, 50);
    t.pass(`${gone.length} entries left, none from the uplink to the removed endpoint (${Date.now() - tEdit} ms after the edit)`);
    const h = await hold;
    const first = Number(h.conns[0].errorCodes[0]?.split(':')[0] ?? NaN);
    t.ok(h.conns[0].errors > 0, `the held connection was cut (${h.conns[0].errorCodes.slice(0, 3).join(', ')})`);
    // The engine's reset reaches the client either on the request in flight (ECONNRESET) or on
    // its keep-alive socket while idle, when the next connection is refused: a reset, never a
    // timeout, whichever way.
    t.match(h.conns[0].errorCodes[0], /ECONNRESET|ECONNREFUSED/, 'by a reset, not a timeout');
    t.ok(first - tEdit < 3000, `first failure ${first - tEdit} ms after the edit was written`);
  });

  await t.test('--cleanup detaches the program from the uplink', async (t) => {
    const pinDir = (await fp()).pinDir!;
    t.equal(await podnetd.stop(), 0, 'exit 0');
    const pins = async () => (await sb.exec(node, ['ls', pinDir])).stdout.split('\n').filter(Boolean);
    const ours = (ls: string[]) => ls.filter((n) => n === `tcx_${uplink}` || n.startsWith(`clsact_${uplink}_`));
    const kept = ours(await pins());
    t.equal(kept.length, 1, `a stop keeps the attachment (${kept.join()}), a restart resumes`);
    // The pinned tcx link by id: gone from the kernel after the cleanup, not only unpinned.
    const linkId = kept[0]?.startsWith('tcx_') ? (JSON.parse((await sb.exec(node, ['bpftool', '-j', 'link', 'show', 'pinned', `${pinDir}/${kept[0]}`])).stdout) as { id: number }).id : undefined;
    await run(node, [process.execPath, path.join(repoRoot(), 'bin/podnetd'), '--config', podnetd.configFile, '--cleanup']);
    t.same(ours(await pins().catch(() => [])), [], 'its pin removed');
    if (linkId !== undefined) {
      const gone = await sb.exec(node, ['bpftool', 'link', 'show', 'id', String(linkId)]).then(() => false, () => true);
      t.ok(gone, `tcx link ${linkId} detached`);
    } else {
      const f = (await sb.exec(node, ['tc', 'filter', 'show', 'dev', UPLINK, 'ingress'])).stdout;
      t.notMatch(f, /podnet_fastpath/, 'no cls_bpf filter of ours left');
    }
  });
});
