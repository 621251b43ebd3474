// networking.k8s.io/v1 ServiceCIDR as podnet reads it: the cluster's service IP ranges
// (spec.cidrs, at most one per family), which podnetd routes into the TUN when its config names
// no serviceCIDRs. Trimmed to name and canonical CIDRs; read from the manifest directory
// (serviceCIDRSubscription) or the API (SERVICE_CIDR_PATH, an informer in src/daemon/node-facts-kube.ts).
import { formatCidr, readCidr } from '../net/cidr';
import { Checker, type Obj } from './checker';
import type { ManifestSubscription } from './manifest';

export const SERVICE_CIDR_API_VERSION = 'networking.k8s.io/v1';

/** One ServiceCIDR: its name and its ranges, canonical ("10.96.0.0/12"), v4 first. */
export interface ServiceCIDRInfo {
  name: string;
  cidrs: string[];
}

/** Validates one ServiceCIDR; throws InvalidObjectError naming the field. */
export function serviceCIDRFromV1(input: unknown): ServiceCIDRInfo {
  const c: Checker = new Checker('ServiceCIDR');
  const o = c.obj(input, '(object)') as Obj;
  const md = c.obj(o.metadata, 'metadata') as Obj;
  const name = c.str(md.name, 'metadata.name') as string;
  c.object = name;
  const spec = c.obj(o.spec, 'spec', true) ?? {};
  const fams = new Set<number>();
  const cidrs = c.arr(spec.cidrs, 'spec.cidrs').map((v, i) => {
    const s = c.str(v, `spec.cidrs[${i}]`) as string;
    // The API server rejects host bits here, as podnet does.
    const p = readCidr(s, 'reject');
    if (typeof p === 'string') c.fail(`spec.cidrs[${i}]`, p);
    if (fams.has(p.family)) c.fail(`spec.cidrs[${i}]`, `a second IPv${p.family} CIDR (one per family)`);
    fams.add(p.family);
    return formatCidr(p);
  });
  return { name, cidrs: cidrs.sort((a, b) => Number(a.includes(':')) - Number(b.includes(':'))) };
}

/** A subscription to the manifest directory's ServiceCIDRs (src/kube/manifest.ts). */
export function serviceCIDRSubscription(plane: string, set: (name: string, info: ServiceCIDRInfo | undefined) => void, setInitialized?: () => void): ManifestSubscription {
  return {
    plane,
    kinds: [[SERVICE_CIDR_API_VERSION, 'ServiceCIDR']],
    parse: (o) => { const s = serviceCIDRFromV1(o); return { kind: 'ServiceCIDR', key: s.name, info: s }; },
    set: (_kind, key, info) => set(key, info as ServiceCIDRInfo | undefined),
    ...(setInitialized ? { setInitialized } : {}),
  };
}
