// The API half of node-facts.ts: this node's Node (list + watch with a field selector on its
// name) and every networking.k8s.io/v1 ServiceCIDR, through the restartable informers
// (src/kube/informer.ts). An API server without ServiceCIDRs (before Kubernetes 1.33 serves v1)
// fails that list: start() stops waiting after a short grace, the defaults fall back to kubeadm's,
// and the informer keeps retrying in the background.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { InformerGroup } from '../kube/informer';
import { serviceCIDRFromV1, SERVICE_CIDR_API_VERSION, type ServiceCIDRInfo } from '../kube/servicecidr';
import { selfNodeFromV1, type SelfNode } from './defaults';

export interface NodeFactsKubeOptions {
  nodeName: string;
  kubeconfig?: string;
  log: Logger;
  onNode(n: SelfNode | undefined): void;
  onServiceCIDR(name: string, info: ServiceCIDRInfo | undefined): void;
}

export class NodeFactsKube {
  private readonly nodes: InformerGroup;
  private readonly cidrs: InformerGroup;
  private readonly nodeListed: Promise<void>;
  private readonly cidrsListed: Promise<void>;

  constructor(private readonly opts: NodeFactsKubeOptions) {
    let kubeConfig: k8s.KubeConfig | undefined;
    if (opts.kubeconfig && opts.kubeconfig !== 'in-cluster') { kubeConfig = new k8s.KubeConfig(); kubeConfig.loadFromFile(opts.kubeconfig); }
    const log = opts.log.child({ component: 'defaults' });
    let nodeDone!: () => void, cidrDone!: () => void;
    this.nodeListed = new Promise((r) => { nodeDone = r; });
    this.cidrsListed = new Promise((r) => { cidrDone = r; });
    this.nodes = new InformerGroup({ logger: log, onSynced: () => nodeDone(), ...(kubeConfig ? { kubeConfig } : {}) });
    this.cidrs = new InformerGroup({ logger: log, onSynced: () => cidrDone(), ...(kubeConfig ? { kubeConfig } : {}) });
  }

  /** Starts both informers; waits for this node's list, and at most `cidrWaitMs` for the ServiceCIDRs'. */
  async start(cidrWaitMs: number): Promise<void> {
    const { opts } = this;
    const core = this.nodes.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const net = this.cidrs.kubeConfig.makeApiClient(k8s.NetworkingV1Api);
    const sel = `metadata.name=${opts.nodeName}`;
    this.nodes.add<k8s.V1Node>({
      kind: 'Node', path: '/api/v1/nodes', fieldSelector: sel,
      list: () => core.listNode({ fieldSelector: sel }),
      onUpsert: (o) => opts.onNode(selfNodeFromV1({ ...o, apiVersion: 'v1', kind: 'Node' }, opts.nodeName)),
      onDelete: () => opts.onNode(undefined),
    });
    this.cidrs.add<k8s.V1ServiceCIDR>({
      kind: 'ServiceCIDR', path: '/apis/networking.k8s.io/v1/servicecidrs',
      list: () => net.listServiceCIDR(),
      onUpsert: (o) => { const s = serviceCIDRFromV1({ ...o, apiVersion: SERVICE_CIDR_API_VERSION, kind: 'ServiceCIDR' }); opts.onServiceCIDR(s.name, s); },
      onDelete: (o) => { if (o.metadata?.name) opts.onServiceCIDR(o.metadata.name, undefined); },
    });
    await Promise.all([this.nodes.start(), this.cidrs.start()]);
    await this.nodeListed;
    let t: NodeJS.Timeout | undefined;
    const late = await Promise.race([this.cidrsListed.then(() => false), new Promise<boolean>((r) => { t = setTimeout(() => r(true), cidrWaitMs); })]);
    clearTimeout(t);
    if (late) opts.log.warn({ waitedMs: cidrWaitMs }, 'no ServiceCIDR list from the API yet; service CIDRs default for now and follow it once it answers');
  }

  async stop(): Promise<void> {
    await this.nodes.stop();
    await this.cidrs.stop();
  }
}
