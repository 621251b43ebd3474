// Zero-config defaults: what podnetd uses for podCIDRs, serviceCIDRs and external.uplinks when
// the config names none, as pure functions of what the node can see — its own Node object, the
// cluster's ServiceCIDR objects, its links' addresses and default routes. Explicit config always
// wins. Every resolution says where its value came from ("Node n1", "kubeadm default",
// "InternalIP 192.168.1.5"): podnetd logs it once and `podnetctl status` shows it.
// The watching and the kernel reads live in node-facts.ts; podnetd's start-up in daemon.ts.
import { clusterNodeFromV1 } from '../cluster/nodes';
import { InvalidObjectError } from '../kube/errors';
import { formatCidr, parseNetwork } from '../net/cidr';
import { canonicalIp, ipFamily } from '../net/ip';

/** A resolved list and where it came from ("config", "Node n1", "kubeadm default", ...). */
export interface Resolved {
  values: string[];
  source: string;
}

/** kubeadm's default service subnet (ClusterConfiguration networking.serviceSubnet). */
export const KUBEADM_SERVICE_CIDR_V4 = '10.96.0.0/12';
/** The IPv6 service range a dual-stack kubeadm cluster is usually given alongside it. */
export const KUBEADM_SERVICE_CIDR_V6 = 'fd00:10:96::/112';

/** What podnetd reads of its own Node object. */
export interface SelfNode {
  name: string;
  /** Canonical, one per family, v4 first. */
  podCIDRs: readonly string[];
  /** InternalIP addresses, canonical. */
  internalIPs: readonly string[];
}

/** One networking.k8s.io/v1 ServiceCIDR: its name and spec.cidrs (canonical). */
export interface ServiceCIDRObject {
  name: string;
  cidrs: readonly string[];
}

/** A link and its global addresses (canonical), as the kernel reports them. */
export interface LinkAddresses {
  name: string;
  addresses: readonly string[];
}

/** Parses this node's v1 Node; undefined for any other Node. */
export function selfNodeFromV1(o: unknown, nodeName: string): SelfNode | undefined {
  const name = (o as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  if (name !== nodeName) return undefined;
  try {
    const n = clusterNodeFromV1(o);
    return { name: n.name, podCIDRs: n.podCIDRs, internalIPs: n.internalIPs };
  } catch (e) {
    throw new InvalidObjectError('Node', nodeName, 'spec.podCIDRs/status.addresses', (e as Error).message);
  }
}

const byFamily = (a: string, b: string) => (a.includes(':') ? 6 : 4) - (b.includes(':') ? 6 : 4);

/**
 * podCIDRs: the config's, else this node's Node object's spec.podCIDRs. undefined = nothing yet
 * (the Node is absent or has no pod CIDR allocated): podnetd waits for it.
 */
export function resolvePodCIDRs(configured: readonly string[], node: SelfNode | undefined): Resolved | undefined {
  if (configured.length) return { values: [...configured], source: 'config' };
  if (node?.podCIDRs.length) return { values: [...node.podCIDRs], source: `Node ${node.name}` };
  return undefined;
}

/**
 * serviceCIDRs: the config's, else the union of the cluster's ServiceCIDR objects, else kubeadm's
 * default (plus the IPv6 default when the node has an IPv6 pod CIDR, i.e. the cluster is dual-stack).
 */
export function resolveServiceCIDRs(configured: readonly string[], objects: readonly ServiceCIDRObject[], podCIDRs: readonly string[]): Resolved {
  if (configured.length) return { values: [...configured], source: 'config' };
  const named = objects.filter((o) => o.cidrs.length).sort((a, b) => a.name.localeCompare(b.name));
  if (named.length) {
    const values = [...new Set(named.flatMap((o) => o.cidrs.map((c) => formatCidr(parseNetwork(c)))))].sort(byFamily);
    return { values, source: `ServiceCIDR ${named.map((o) => o.name).join(', ')}` };
  }
  const dualStack = podCIDRs.some((c) => parseNetwork(c).family === 6);
  return { values: [KUBEADM_SERVICE_CIDR_V4, ...(dualStack ? [KUBEADM_SERVICE_CIDR_V6] : [])], source: 'kubeadm default' };
}

/**
 * external.uplinks: the config's list when it names one (an empty list = no external traffic),
 * else ("auto") the links holding this node's InternalIP addresses, else the links of the
 * default routes (IPv4 first), else none.
 */
export function resolveUplinks(configured: readonly string[], auto: boolean, node: SelfNode | undefined,
  links: readonly LinkAddresses[], defaultRouteLinks: readonly string[]): Resolved {
  if (!auto) return { values: [...configured], source: 'config' };
  const values: string[] = [];
  const found: string[] = [];
  for (const ip of node?.internalIPs ?? []) {
    const want = canonicalIp(ip);
    const link = links.find((l) => l.addresses.some((a) => ipFamily(a) && canonicalIp(a) === want));
    if (!link) continue;
    found.push(want);
    if (!values.includes(link.name)) values.push(link.name);
  }
  if (values.length) return { values, source: `InternalIP ${found.join(', ')}` };
  const routed = [...new Set(defaultRouteLinks)];
  if (routed.length) return { values: routed, source: 'default route' };
  return { values: [], source: node ? `none (no link holds the InternalIPs of Node ${node.name}, no default route)` : 'none (no Node object, no default route)' };
}

/** Same values, order aside: a change worth acting on? */
export function sameValues(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}
