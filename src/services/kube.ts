// Kubernetes API source: informers (list + watch, src/kube/informer.ts) for Services, EndpointSlices and
// this node's Node → validated → ObjectSink. Relists on 410 Gone and restarts with backoff are
// the informers' business; while the API is away nothing is withdrawn: the control plane keeps
// programming the last-known state.
import * as k8s from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import type { ObjectSink } from './control-plane';
import type { SyncMetrics } from './metrics';
import { SERVICE_PROXY_NAME_LABEL, validateEndpointSlice, validateNode, validateService } from './validate';
import { connectionOf, type InformerConnection, InformerGroup, type InformerStatus } from '../kube/informer';
import { objectKey } from '../kube/objects';

export interface KubeSourceOptions extends InformerConnection {
  sink: ObjectSink;
  /** This node's name: only its Node object is watched (fieldSelector). */
  nodeName: string;
  logger?: Logger;
  metrics?: SyncMetrics;
}

type Kind = 'Service' | 'EndpointSlice' | 'Node';

// kube-proxy's selectors: objects owned by another proxy, and headless services' slices, are not ours.
const SERVICE_SELECTOR = `!${SERVICE_PROXY_NAME_LABEL}`;
const SLICE_SELECTOR = `!${SERVICE_PROXY_NAME_LABEL},!service.kubernetes.io/headless`;

/** Feeds an ObjectSink from the Kubernetes API, like kube-proxy's informers. */
export class KubeSource {
  private readonly group: InformerGroup;

  constructor(private readonly opts: KubeSourceOptions) {
    const log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'kube-source' });
    this.group = new InformerGroup({
      logger: log,
      // This node's zone is listed too before the first sync, or topology would churn right after it.
      onSynced: () => opts.sink.setInitialized(),
      onInvalid: () => opts.metrics?.invalidObjects.inc(),
      ...connectionOf(opts),
    });
  }

  /** Starts the three informers; the sink is marked initialized once all three were listed. */
  async start(): Promise<void> {
    const { sink, nodeName } = this.opts;
    const kc = this.group.kubeConfig;
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    const nodeSel = `metadata.name=${nodeName}`;
    this.group.add({
      kind: 'Service', path: '/api/v1/services', labelSelector: SERVICE_SELECTOR,
      list: () => core.listServiceForAllNamespaces({ labelSelector: SERVICE_SELECTOR }),
      onUpsert: (o) => sink.setService(objectKey(o), validateService(o)),
      onDelete: (o) => sink.setService(objectKey(o), undefined),
    });
    this.group.add({
      kind: 'EndpointSlice', path: '/apis/discovery.k8s.io/v1/endpointslices', labelSelector: SLICE_SELECTOR,
      list: () => discovery.listEndpointSliceForAllNamespaces({ labelSelector: SLICE_SELECTOR }),
      onUpsert: (o) => sink.setEndpointSlice(objectKey(o), validateEndpointSlice(o) ?? undefined),
      onDelete: (o) => sink.setEndpointSlice(objectKey(o), undefined),
    });
    this.group.add({
      kind: 'Node', path: '/api/v1/nodes', fieldSelector: nodeSel,
      list: () => core.listNode({ fieldSelector: nodeSel }),
      onUpsert: (o) => sink.setNode(objectKey(o), validateNode(o)),
      onDelete: (o) => sink.setNode(objectKey(o), undefined),
    });
    await this.group.start();
  }

  async stop(): Promise<void> {
    await this.group.stop();
  }

  /** Restarts and errors so far, per kind (for status and tests). */
  status(): Record<Kind, InformerStatus> {
    return this.group.status() as Record<Kind, InformerStatus>;
  }
}
