// Node objects from a manifest directory (the sandbox's one directory of Nodes, Services,
// EndpointSlices and policies), read once through the manifest source (src/kube/manifest.ts)
// with cross-node routing's subscription, as podnetd reads them. For the one-shot CLI (main.ts).
import pino from 'pino';
import { ManifestSource } from '../kube/manifest';
import { clusterManifestHook } from './controller';
import { ClusterError } from './errors';
import type { ClusterNode } from './nodes';

/** The directory's v1 Nodes; an invalid one is logged on stderr and fails the read. */
export async function nodesFromManifestDir(dir: string): Promise<ClusterNode[]> {
  const nodes = new Map<string, ClusterNode>();
  const src = new ManifestSource({
    dir, rescanIntervalMs: 0, logger: pino({ level: 'warn' }, pino.destination(2)),
    subscriptions: [clusterManifestHook({
      setNode: (name, n) => { if (n) nodes.set(name, n); else nodes.delete(name); },
      setInitialized: () => undefined,
    })],
  });
  const r = await src.reload();
  src.stop();
  if (r.invalid) throw new ClusterError('CLUSTER_BAD_NODE', `${r.invalid} invalid manifest document(s) in ${dir}`);
  return [...nodes.values()];
}
