// Cross-node routing: Node objects → desired state (model.ts) → current netns (program.ts).
export { ClusterError, type ClusterErrorCode } from './errors';
export { clusterNodeFromV1, type ClusterNode } from './nodes';
export { nodesFromManifestDir } from './manifests';
export * from './model';
export { syncNodeRoutes, PROTO, type Exec, type SyncOptions, type SyncReport } from './program';
// The all-Nodes API informer (src/cluster/kube.ts) is imported on its own: it loads the client library.
