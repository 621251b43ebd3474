// podnetd's cross-node routing loop (src/cluster/controller.ts) against a real kernel: a sandbox
// namespace with an uplink, Node objects in a manifest directory read by the real ManifestSource
// (its manifest subscription), iproute2 run inside the namespace. Node changes are programmed, a
// removed node is withdrawn, a failed sync is retried until it succeeds, an invalid Node keeps
// its last good version, a mode change replaces the VXLAN device by routes, and cleanupCluster
// (`podnetd --cleanup`) leaves nothing of ours behind.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import t from 'tap';
import { ManifestSource } from '../../src/kube/manifest';
import { servicesManifestSubscription } from '../../src/services/manifest';
import type { ObjectSink } from '../../src/services/control-plane';
import { buildConfig } from '../../src/daemon/config';
import { ClusterRouting, cleanupCluster, clusterManifestHook } from '../../src/cluster/controller';
import { run } from '../../src/netns/exec';
import { writeManifest } from '../../src/sandbox/manifests';
import { isRoot, requires } from '../helpers/privileged';
import { waitFor } from '../helpers/wait';
import { sandboxFor } from '../helpers/sandbox';

const nodeObj = (i: number, podCIDRs = [`10.244.${i}.0/24`, `fd00:10:244:${i}::/64`]) => ({
  apiVersion: 'v1', kind: 'Node', metadata: { name: `n${i}` },
  spec: { podCIDRs }, status: { addresses: [{ type: 'InternalIP', address: `192.168.77.${10 + i}` }] },
});

/** The service plane is not under test here: it only has to accept what the source sends. */
const nullSink: ObjectSink = { setService: () => undefined, setEndpointSlice: () => undefined, setNode: () => undefined, setInitialized: () => undefined };

t.test('cross-node routing from a manifest directory, in a real netns', requires({ root: isRoot }), async (t) => {
  const sb = await sandboxFor(t);
  if (!sb) return;
  const ns = await sb.addBareNamespace('cr');
  const ip = async (...a: string[]) => (await run(ns, ['ip', ...a])).stdout;
  const uplink = async () => {
    // A veth pair (no dummy module on these kernels); the peer up gives eth1 its carrier.
    await ip('link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1p');
    await ip('addr', 'add', '192.168.77.11/24', 'dev', 'eth1');
    await ip('link', 'set', 'eth1p', 'up');
    await ip('link', 'set', 'eth1', 'up');
  };
  await uplink();
  const ours = async () => JSON.parse(await ip('-j', 'route', 'show', 'proto', '112')) as { dst: string; gateway: string; dev: string }[];
  const vxlan = async () => (JSON.parse(await ip('-j', 'link', 'show', 'type', 'vxlan')) as { ifname: string; mtu: number }[]);
  const rules = async () => JSON.parse(await ip('-j', 'rule', 'show', 'pref', '101')) as { iif: string }[];

  const dir = mkdtempSync(path.join(os.tmpdir(), 'podnet-cluster-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeManifest(dir, 'nodes.yaml', [nodeObj(1), nodeObj(2), nodeObj(3)]);

  const exec = async (argv: string[]) => (await run(ns, argv)).stdout;
  const log = pino({ level: 'silent' });
  const cfg = buildConfig({ nodeName: 'n1', manifests: dir, serviceCIDRs: ['10.96.0.0/16'], cluster: { mode: 'vxlan', uplink: 'eth1' } });
  const cr = new ClusterRouting({ cfg, log, exec, debounceMs: 20, retryMs: 100 });
  const src = new ManifestSource({ dir, subscriptions: [servicesManifestSubscription(nullSink), clusterManifestHook(cr)], logger: log, debounceMs: 20, rescanIntervalMs: 0 });
  t.teardown(() => { cr.stop(); src.stop(); });
  await src.start();
  const self = () => cr.view().nodes.find((n) => n.name === 'n1');
  await waitFor('this node\'s Node object', async () => !!self()?.podCIDRs.length, { timeoutMs: 10_000, everyMs: 20 });
  t.same(self()?.podCIDRs, ['10.244.1.0/24', 'fd00:10:244:1::/64'], 'this node\'s pod CIDRs come from its Node object');

  await cr.start();
  t.notOk(cr.last?.error, `first sync succeeded ${JSON.stringify(cr.last?.error ?? '')}`);
  t.same((await ours()).map((r) => r.dst).sort(), ['10.244.2.0/24', '10.244.3.0/24'], 'a route per remote node (v4)');
  t.same((await vxlan()).map((l) => [l.ifname, l.mtu]), [['podnet-vxlan', 1450]], 'the VXLAN device, MTU from the uplink\'s 1500');
  t.same((await rules()).map((r) => r.iif), ['podnet-vxlan'], 'traffic from other nodes goes through the engine');

  await t.test('a node removed from the manifests is withdrawn', async (t) => {
    writeManifest(dir, 'nodes.yaml', [nodeObj(1), nodeObj(2)]);
    await waitFor('node 3 is withdrawn', async () => (await ours()).length === 1 && !!cr.lastChange?.removed.length, { timeoutMs: 10_000, everyMs: 50 });
    t.ok(cr.lastChange?.removed.some((e) => e.includes('10.244.3.0/24')), `removed: ${JSON.stringify(cr.lastChange?.removed)}`);
    const fdb = (await run(ns, ['bridge', 'fdb', 'show', 'dev', 'podnet-vxlan'])).stdout;
    t.notMatch(fdb, '192.168.77.13', 'its FDB entry too');
  });

  await t.test('an invalid Node keeps its last good version', async (t) => {
    const before = await ours();
    writeManifest(dir, 'nodes.yaml', [nodeObj(1), nodeObj(2, ['10.244.2.5/24'])]);
    await src.reload();
    await cr.syncNow();
    t.same(await ours(), before, 'routes unchanged');
  });

  await t.test('a failed sync is retried until it succeeds', async (t) => {
    await ip('link', 'del', 'eth1');
    await cr.syncNow();
    t.equal(cr.last?.error?.code, 'CLUSTER_PROGRAM', `reported: ${cr.last?.error?.message}`);
    await uplink();
    await waitFor('the retry succeeds', async () => !cr.last?.error && (await ours()).length === 1, { timeoutMs: 10_000, everyMs: 50 });
    t.pass('routes back after the uplink returned');
  });

  await t.test('mode change: routed replaces the VXLAN device', async (t) => {
    cr.stop();
    const routed = new ClusterRouting({ cfg: { ...cfg, cluster: { ...cfg.cluster, mode: 'routed' } }, log, exec });
    writeManifest(dir, 'nodes.yaml', [nodeObj(1), nodeObj(2)]);
    const src2 = new ManifestSource({ dir, subscriptions: [servicesManifestSubscription(nullSink), clusterManifestHook(routed)], logger: log, rescanIntervalMs: 0 });
    await src2.start();
    await routed.start();
    src2.stop();
    routed.stop();
    t.same((await ours()).map((r) => [r.dst, r.gateway, r.dev]), [['10.244.2.0/24', '192.168.77.12', 'eth1']], 'route via the InternalIP');
    t.same(await vxlan(), [], 'no VXLAN device');
    t.same((await rules()).map((r) => r.iif), ['eth1']);
  });

  await t.test('cleanup removes every route, rule and device of ours', async (t) => {
    await ip('route', 'add', '10.99.0.0/24', 'via', '192.168.77.1', 'dev', 'eth1');
    const r = await cleanupCluster(cfg, log, exec);
    t.ok(r.removed.length >= 2, `removed ${JSON.stringify(r.removed)}`);
    t.same(await ours(), []);
    t.same(await rules(), []);
    t.same(await vxlan(), []);
    t.match(await ip('route', 'show', '10.99.0.0/24'), /10\.99\.0\.0/, 'a route not ours stays');
    t.same((await cleanupCluster(cfg, log, exec)).removed, [], 'a second cleanup finds nothing');
  });
});
