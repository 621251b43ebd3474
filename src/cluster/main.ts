// `node dist/src/cluster/main.js --self NODE --manifests DIR --mode routed|vxlan --uplink DEV
//  [--table N] [--uplink-mtu N]`: one sync of cross-node routing in the CURRENT netns from the
// Node objects of a manifest directory; prints one JSON line {added, removed, podMtu, skipped}.
// A tool: podnetd itself programs the same state on every Node change (src/cluster/controller.ts,
// config key `cluster`); run after podnetd it reports no change (test/e2e/multinode.test.ts).
import { DEFAULT_ROUTE_TABLE } from '../node/wiring';
import { nodesFromManifestDir } from './manifests';
import { desiredClusterRouting, type ClusterMode } from './model';
import { syncNodeRoutes } from './program';

function arg(name: string, def?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : def;
  if (v === undefined) { process.stderr.write(`missing --${name}\n`); process.exit(2); }
  return v;
}

async function main(): Promise<void> {
  const nodes = await nodesFromManifestDir(arg('manifests'));
  const state = desiredClusterRouting(arg('self'), nodes, {
    mode: arg('mode') as ClusterMode, uplink: arg('uplink'),
    uplinkMtu: Number(arg('uplink-mtu', '1500')), podTable: Number(arg('table', String(DEFAULT_ROUTE_TABLE))),
  });
  const r = await syncNodeRoutes(state);
  process.stdout.write(`${JSON.stringify({ ...r, podMtu: state.podMtu, skipped: state.skipped })}\n`);
}

main().catch((e: Error & { code?: string }) => {
  process.stdout.write(`${JSON.stringify({ error: e.code ?? 'CLUSTER_ERROR', message: e.message })}\n`);
  process.exit(1);
});
