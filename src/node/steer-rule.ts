// One steering rule: what a tc filter on an uplink's ingress does with external traffic
// (steering.ts installs them, the services plane computes the list), and its identity, the key
// the steering diffs installed filters by.

export type SteerProto = 'tcp' | 'udp';

/** One tc rule on the uplink's ingress, in priority order (first match wins). */
export interface SteerRule {
  /** redirect: into the TUN; pass: leave to the kernel stack; drop: discard. */
  readonly action: 'redirect' | 'pass' | 'drop';
  readonly family: 4 | 6;
  readonly dst: string;
  readonly proto?: SteerProto;
  /** One port or an inclusive range. */
  readonly dstPort?: number | readonly [number, number];
  /** Source CIDR (loadBalancerSourceRanges). */
  readonly src?: string;
}

/** Stable identity of a rule (the steering's diff key). */
export function steerKey(r: SteerRule): string {
  const p = r.dstPort === undefined ? '' : typeof r.dstPort === 'number' ? String(r.dstPort) : `${r.dstPort[0]}-${r.dstPort[1]}`;
  return `${r.action} ${r.family} ${r.src ?? '*'} > ${r.dst} ${r.proto ?? '*'}/${p}`;
}
