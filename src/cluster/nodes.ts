// v1 Node → ClusterNode: the three things cross-node routing reads from a Node object — its name,
// spec.podCIDRs (spec.podCIDR as fallback, as older API servers serve it) and its InternalIP
// addresses (status.addresses). Host bits in a pod CIDR are an error, not silently dropped.
import { formatCidr, parseNetwork } from '../net/cidr';
import { canonicalIp, ipFamily, type Family } from '../net/ip';
import { ClusterError } from './errors';

/** A node as cross-node routing sees it. */
export interface ClusterNode {
  readonly name: string;
  /** Canonical "addr/prefix", at most one per family, sorted v4 first. */
  readonly podCIDRs: readonly string[];
  /** InternalIP addresses, canonical, at most one per family (the first the API lists wins). */
  readonly internalIPs: readonly string[];
}

type Obj = Record<string, unknown>;

function bad(name: string, why: string): never {
  throw new ClusterError('CLUSTER_BAD_NODE', `Node ${name || '(unnamed)'}: ${why}`);
}

function familyOfIp(ip: string): Family | undefined {
  return ipFamily(ip) || undefined;
}

/** Parses one v1 Node. Throws ClusterError CLUSTER_BAD_NODE when it is unusable. */
export function clusterNodeFromV1(input: unknown): ClusterNode {
  if (!input || typeof input !== 'object') bad('', 'not an object');
  const o = input as Obj;
  if (o.kind !== 'Node' || o.apiVersion !== 'v1') bad('', `not a v1 Node (${String(o.apiVersion)}/${String(o.kind)})`);
  const name = (o.metadata as Obj | undefined)?.name;
  if (typeof name !== 'string' || name === '') bad('', 'metadata.name missing');
  const spec = (o.spec ?? {}) as Obj;
  const raw = Array.isArray(spec.podCIDRs) ? spec.podCIDRs : typeof spec.podCIDR === 'string' ? [spec.podCIDR] : [];
  const byFamily = new Map<Family, string>();
  for (const c of raw) {
    if (typeof c !== 'string') bad(name, 'spec.podCIDRs holds a non-string');
    let p;
    try { p = parseNetwork(c); } catch (e) { bad(name, `spec.podCIDRs: ${(e as Error).message}`); }
    if (byFamily.has(p.family)) bad(name, `spec.podCIDRs has two IPv${p.family} CIDRs`);
    byFamily.set(p.family, formatCidr(p));
  }
  const addrs = ((o.status as Obj | undefined)?.addresses ?? []) as unknown[];
  const ips = new Map<Family, string>();
  for (const a of Array.isArray(addrs) ? addrs : []) {
    const { type, address } = (a ?? {}) as Obj;
    if (type !== 'InternalIP' || typeof address !== 'string') continue;
    const f = familyOfIp(address);
    if (!f) bad(name, `InternalIP ${address} is not an IP address`);
    if (!ips.has(f)) ips.set(f, canonicalIp(address));
  }
  const sorted = <T>(m: Map<Family, T>) => [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  return { name, podCIDRs: sorted(byFamily), internalIPs: sorted(ips) };
}
