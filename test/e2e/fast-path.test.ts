// The kernel flow cache with real traffic: podnetd with engine.fastPath in a sandbox node (its
// own bpffs in the sandbox's directory). After each flow's first packets through the engine,
// the tc program on the pods' veths carries the rest: a TCP transfer and UDP exchanges through
// a VIP and straight pod to pod arrive intact, counted as program hits, with the engine seeing
// only a handful of packets; a killed podnetd leaves established connections answering; a
// policy that cuts a cached flow resets it at once; a deleted pod leaves nothing behind.
import { mkdirSync } from 'node:fs';
import t from 'tap';
import type { FastPathWireStatus } from '../../src/ctl/api';
import { Podnetd, serviceObjects, writeManifest } from '../../src/sandbox';
import { allowFrontend, podObjects, policyPods } from './fixtures/policy-pods';
import { BACKEND_SINK, FAMILIES, HTTP_PORT, cacheEntries, eventually, expectResetWithin1s, podIp, serviceEnv, vip, type Hold } from './fixtures/helpers';

const BYTES = 64 * 1024 * 1024;

interface Sent { localHash: string; remoteHash: string; bytes: number; remoteBytes: number; ms: number; gbps: number }

t.test('the kernel flow cache carries admitted flows', async (t) => {
  const env = await serviceEnv(t, { sink: true });
  if (!env) return;
  const { sb, client, podnetd } = env;
  const fp = async (): Promise<FastPathWireStatus> => (await podnetd.status()).fastPath!;
  const engineIn = async () => (await podnetd.stats()).queues.reduce((a, q) => a + q.packetsIn, 0);

  await t.test('on, attached to every pod veth', async (t) => {
    const s = await eventually('pods attached', fp, (s) => s.pods === 4);
    t.equal(s.mode, 'on', `fast path on (${s.reason ?? ''})`);
    t.match(s.attachMode, /^(tcx|clsact)$/, `attach mode ${s.attachMode}`);
  });

  for (const f of FAMILIES) {
    await t.test(`IPv${f}: 64 MiB through the VIP, byte-exact, through the cache`, async (t) => {
      const before = await fp(), in0 = await engineIn();
      const r = await sb.agentRun<Sent>(client.ns, 'send', [vip(f), BACKEND_SINK, BYTES, 7 + f], 120_000);
      t.equal(r.remoteBytes, BYTES, 'the endpoint received every byte');
      t.equal(r.remoteHash, r.localHash, 'sha256 matches');
      const after = await eventually('sweep counted the flow', fp, (s) => (s.installs ?? 0) > (before.installs ?? 0));
      const hits = (after.hits ?? 0) - (before.hits ?? 0), engine = (await engineIn()) - in0;
      t.ok(hits > 100, `${hits} packets forwarded by the program`);
      t.ok(engine < hits / 10, `the engine saw ${engine} packets`);
      t.comment(`${r.gbps.toFixed(2)} Gbit/s; program ${JSON.stringify(after.program)}`);
    });
  }

  await t.test('pod to pod without a VIP is cached too', async (t) => {
    const before = await fp();
    const r = await sb.agentRun<Sent>(client.ns, 'send', [podIp(env.endpoints[0], 4), BACKEND_SINK, 8 << 20, 3], 60_000);
    t.equal(r.remoteHash, r.localHash, 'byte-exact');
    const after = await fp();
    t.ok((after.hits ?? 0) - (before.hits ?? 0) > 50, `${(after.hits ?? 0) - (before.hits ?? 0)} program hits`);
  });

  await t.test('trace says the flow would be cached', async (t) => {
    const tr = await podnetd.ctl.trace({ from: client.ip4, to: vip(4), port: HTTP_PORT, protocol: 'TCP' });
    t.equal(tr.result.cached, true, JSON.stringify(tr.result));
  });
});


t.test('established connections keep answering while podnetd is down', async (t) => {
  const env = await serviceEnv(t);
  if (!env) return;
  const { sb, client } = env;
  let podnetd = env.podnetd;
  await eventually('pods attached', async () => (await podnetd.status()).fastPath?.pods ?? 0, (n) => n === 4);
  // One keep-alive connection, a request every 20 ms, 9 s long: podnetd is gone for 5 s of it.
  const hold = sb.agentRun<Hold>(client.ns, 'http-hold', [vip(4), HTTP_PORT, 1, 9000], 30_000);
  await new Promise((r) => setTimeout(r, 1500));
  await podnetd.kill();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, 5000));
  podnetd = await podnetd.restart();
  t.comment(`podnetd down for ${Date.now() - t0} ms`);
  const h = await hold;
  t.equal(h.conns[0].errors, 0, `no failed request (${h.conns[0].errorCodes.join(', ')})`);
  t.ok(h.conns[0].requests > 200, `${h.conns[0].requests} requests answered on one connection`);
  t.equal(h.conns[0].seen.length, 1, `one backend throughout (${h.conns[0].seen.join(', ')})`);
  const s = await eventually('restarted podnetd follows the pods again', async () => (await podnetd.status()).fastPath!, (s) => s.pods === 4);
  t.equal(s.mode, 'on', 'fast path on after the restart');
  await podnetd.stop();
});

t.test('a deleted pod leaves no cache entry and no attachment', async (t) => {
  const env = await serviceEnv(t, { sink: true });
  if (!env) return;
  const { sb, client, podnetd } = env;
  const fp = async () => (await podnetd.status()).fastPath!;
  const gone = await sb.addPod('gone');
  await sb.serve(gone, 'sink-server', BACKEND_SINK);
  const { stdout } = await sb.ipNode('-j', 'link', 'show', gone.hostVeth);
  const ifindex = (JSON.parse(stdout) as { ifindex: number }[])[0].ifindex;
  await eventually('the new pod is attached', fp, (s) => s.attachedTo?.includes(ifindex) ?? false);
  // A cached flow to it, still open (paced) when the pod goes.
  const sender = await sb.spawn(client.ns, sb.agent('send-paced', gone.ip4, BACKEND_SINK, 64 << 20, 5, 4 << 20), { readyLine: /^connected$/ });
  const entries = () => cacheEntries(sb, podnetd);
  await eventually('its flow is cached', entries, (es) => es.some((e) => e.ifindex === ifindex || e.target === ifindex), 10_000);
  const fl = (await podnetd.ctl.flows({})).flows.filter((f) => f.backend.startsWith(`${gone.ip4}:`));
  t.same(fl.map((f) => f.cached), [true], `podnetctl flows marks it cached (${JSON.stringify(fl)})`);
  await sb.exec(sb.nodeNs, ['ip', 'link', 'del', gone.hostVeth]);
  const left = await eventually('nothing of the pod left in the cache', entries, (es) => !es.some((e) => e.ifindex === ifindex || e.target === ifindex), 5_000);
  t.pass(`${left.length} entries left, none of ifindex ${ifindex}`);
  const s = await eventually('attachment gone', fp, (s) => !s.attachedTo?.includes(ifindex));
  t.equal(s.pods, 4, 'four pods remain');
  await sender.stop(1000).catch(() => undefined);
});


t.test('a cached flow cut by a policy change is reset within 1 s', async (t) => {
  const pp = await policyPods(t);
  if (!pp) return;
  const { sb, web, other } = pp;
  const dir = Podnetd.paths(sb).manifests;
  mkdirSync(dir, { recursive: true });
  writeManifest(dir, 'web.yaml', serviceObjects({ name: 'web', clusterIPs: ['10.96.0.41'], ports: [{ name: 'http', port: 80, targetPort: 8080 }], endpoints: [{ pod: web }] }));
  writeManifest(dir, 'pods.yaml', podObjects(pp));
  const podnetd = await Podnetd.startManifests(sb);
  t.teardown(() => podnetd.stop());
  await eventually('pods attached', async () => (await podnetd.status()).fastPath?.pods ?? 0, (n) => n === 3);
  const hold = sb.agentRun<Hold>(other.ns, 'http-hold', [web.ip4, 8080, 1, 6000], 30_000);
  // The held connection is up and carried by the cache before the policy arrives.
  const hits0 = await eventually('the held connection is cached', async () => (await podnetd.status()).fastPath!.hits ?? 0, (n) => n > 20, 10_000, 50);
  writeManifest(dir, 'policy.yaml', [allowFrontend]);
  // When the engine has the policy: from then on the held connection must fail within 1 s.
  const programmed = await eventually('policy programmed', async () => (await podnetd.ctl.policies()).pods.some((p) => p.ingress.isolated), (v) => v, 4000, 20);
  const tProgrammed = Date.now();
  t.ok(programmed, 'the policy isolates web');
  await expectResetWithin1s(t, hold, tProgrammed);
  t.ok(hits0 > 0, `the connection was cached before the cut (${hits0} program hits)`);
});
