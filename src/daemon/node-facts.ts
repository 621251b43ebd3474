// The facts podnetd's zero-config defaults (defaults.ts) are resolved from, kept current:
//   this node's Node object (spec.podCIDRs, InternalIPs) and the cluster's ServiceCIDR objects —
//   from the manifest directory (a ManifestSource of its own with two subscriptions) or the API
//   (node-facts-kube.ts: a Node informer on this node's name and a ServiceCIDR informer);
//   the node's links, their addresses and its default routes — read from the kernel on demand.
// Only started when something is left to default; changes go to `onChange` (daemon.ts acts).
import type { Logger } from 'pino';
import { ManifestSource, type ManifestSubscription } from '../kube/manifest';
import { serviceCIDRSubscription, type ServiceCIDRInfo } from '../kube/servicecidr';
import { globalAddresses } from '../netlink/addr';
import { linkNames } from '../netlink/link';
import { defaultRouteLinks } from '../netlink/route';
import { closeRtnl, openRtnl } from '../netlink/socket';
import { selfNodeFromV1, type LinkAddresses, type SelfNode } from './defaults';

export interface NodeFactsOptions {
  nodeName: string;
  /** Manifest directory source; else the API (kubeconfig path or "in-cluster"). */
  manifests?: string;
  kubeconfig?: string;
  log: Logger;
  /** The Node or a ServiceCIDR changed (not called during start()). */
  onChange: () => void;
  /** How long start() waits for the API's ServiceCIDR list before going on without (old API servers lack it). Default 3 s. */
  serviceCIDRWaitMs?: number;
}

/** The Node and ServiceCIDR objects the defaults read, kept current. */
export class NodeFacts {
  node: SelfNode | undefined;
  private readonly cidrs = new Map<string, ServiceCIDRInfo>();
  private src: { stop(): void | Promise<void> } | undefined;
  private started = false;
  private nodeWaiters: Array<() => void> = [];

  constructor(private readonly opts: NodeFactsOptions) {}

  /** The ServiceCIDR objects now, by name. */
  serviceCIDRs(): ServiceCIDRInfo[] {
    return [...this.cidrs.values()];
  }

  /** Loads the objects once (manifests: the directory; API: the lists), then follows changes. */
  async start(): Promise<void> {
    const { opts } = this;
    const setNode = (n: SelfNode | undefined) => {
      this.node = n;
      if (n?.podCIDRs.length) for (const w of this.nodeWaiters.splice(0)) w();
      if (this.started) opts.onChange();
    };
    const setCidr = (name: string, info: ServiceCIDRInfo | undefined) => {
      if (info) this.cidrs.set(name, info); else this.cidrs.delete(name);
      if (this.started) opts.onChange();
    };
    if (opts.manifests) {
      const selfNode: ManifestSubscription = {
        plane: 'defaults', kinds: [['v1', 'Node']],
        parse: (o) => { const n = selfNodeFromV1(o, opts.nodeName); return n ? { kind: 'Node', key: n.name, info: n } : undefined; },
        set: (_kind, _key, info) => setNode(info as SelfNode | undefined),
      };
      const src = new ManifestSource({ dir: opts.manifests, logger: opts.log.child({ plane: 'defaults' }), reportInvalid: false, subscriptions: [selfNode, serviceCIDRSubscription('defaults', setCidr)] });
      this.src = src;
      await src.start();
    } else {
      // Loaded only here, like the other API sources: a manifest node never pays for the client.
      const { NodeFactsKube } = await import('./node-facts-kube');
      const kube = new NodeFactsKube({ ...opts, onNode: setNode, onServiceCIDR: setCidr });
      this.src = kube;
      await kube.start(opts.serviceCIDRWaitMs ?? 3000);
    }
    this.started = true;
  }

  /** Resolves once this node's Node object has pod CIDRs. */
  waitForPodCIDRs(): Promise<void> {
    if (this.node?.podCIDRs.length) return Promise.resolve();
    return new Promise((resolve) => this.nodeWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    await this.src?.stop();
    this.nodeWaiters = [];
  }
}

/** The node's links with their global addresses, and the links of its default routes (IPv4 first). */
export async function linkFacts(): Promise<{ links: LinkAddresses[]; defaultRouteLinks: string[] }> {
  const sock = openRtnl();
  try {
    const names = await linkNames(sock);
    const addrs = await globalAddresses(sock);
    const links = [...names].map(([index, name]) => ({ name, addresses: addrs.filter((a) => a.index === index).map((a) => a.ip) }));
    const routed = (await defaultRouteLinks(sock)).map((i) => names.get(i)).filter((n): n is string => !!n);
    return { links, defaultRouteLinks: routed };
  } finally {
    closeRtnl(sock);
  }
}
