// Every Node from the Kubernetes API (list + watch of /api/v1/nodes, no selector) → ClusterNode →
// a sink (podnetd's ClusterRouting). The service source (src/services/kube.ts) watches only
// this node's Node; cross-node routing needs all of them. Restarts with backoff and 410 relists
// are the informer's (src/kube/informer.ts); while the API is away nothing is withdrawn.
import * as k8s from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import { connectionOf, type InformerConnection, InformerGroup, type InformerStatus } from '../kube/informer';
import { clusterNodeFromV1, type ClusterNode } from './nodes';

export interface NodeInformerSink {
  setNode(name: string, node: ClusterNode | undefined): void;
  setInitialized(): void;
}

export interface NodeInformerOptions extends InformerConnection {
  sink: NodeInformerSink;
  logger?: Logger;
}

/** Keeps what routing reads: a large cluster's Node objects carry images, conditions, capacity... */
function trim(n: k8s.V1Node): k8s.V1Node {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: n.metadata?.name, resourceVersion: n.metadata?.resourceVersion },
    spec: { podCIDR: n.spec?.podCIDR, podCIDRs: n.spec?.podCIDRs },
    status: { addresses: n.status?.addresses },
  };
}

/** The all-Nodes informer of cross-node routing. */
export class NodeInformer {
  private readonly group: InformerGroup;

  constructor(private readonly opts: NodeInformerOptions) {
    const log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'cluster-nodes' });
    this.group = new InformerGroup({
      logger: log,
      onSynced: () => opts.sink.setInitialized(),
      ...connectionOf(opts),
    });
  }

  async start(): Promise<void> {
    const core = this.group.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const { sink } = this.opts;
    this.group.add<k8s.V1Node>({
      kind: 'Node', path: '/api/v1/nodes', transform: trim,
      list: () => core.listNode(),
      // Throws CLUSTER_BAD_NODE for an unusable Node: the group logs it once and keeps the last good one.
      onUpsert: (o) => { const n = clusterNodeFromV1({ ...o, apiVersion: 'v1', kind: 'Node' }); sink.setNode(n.name, n); },
      onDelete: (o) => { if (o.metadata?.name) sink.setNode(o.metadata.name, undefined); },
    });
    await this.group.start();
  }

  async stop(): Promise<void> { await this.group.stop(); }

  status(): InformerStatus | undefined { return this.group.status().Node; }
}
