// The ADD result: one internal shape (the 1.x one) and its conversion to and from each
// supported cniVersion. 0.3.x and 0.4.0 carry `version: "4"|"6"` on every IP; 1.x dropped it.
import { DecodeError } from './errors';
import { tryParseCidr } from '../net/cidr';
import { compareVersions, requireSupported } from './version';

export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
}

export interface IpConfig {
  /** CIDR form: "10.244.1.5/24". */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface Result {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IpConfig[];
  routes?: Route[];
  dns?: Dns;
}

const ROUTE_V11_KEYS = ['mtu', 'advmss', 'priority', 'table', 'scope'] as const;

/** Renders `r` in `version`'s shape (the config's cniVersion). */
export function toVersion(r: Result, version: string): Record<string, unknown> {
  const legacy = compareVersions(version, '1.0.0') < 0;
  const v11 = compareVersions(version, '1.1.0') >= 0;
  const out: Record<string, unknown> = { cniVersion: version };
  if (r.interfaces?.length) {
    // mtu on interfaces is 1.1.0; older strict decoders should not meet it.
    out.interfaces = r.interfaces.map((i) => { const o = { ...i }; if (!v11) delete o.mtu; return o; });
  }
  out.ips = (r.ips ?? []).map((ip) => {
    const c = tryParseCidr(ip.address, 'keep');
    const o: Record<string, unknown> = {};
    if (legacy) o.version = c?.family === 6 ? '6' : '4';
    if (ip.interface !== undefined) o.interface = ip.interface;
    o.address = ip.address;
    if (ip.gateway) o.gateway = ip.gateway;
    return o;
  });
  if (r.routes?.length) {
    out.routes = r.routes.map((rt) => {
      const o: Record<string, unknown> = { dst: rt.dst };
      if (rt.gw) o.gw = rt.gw;
      if (v11) for (const k of ROUTE_V11_KEYS) if (rt[k] !== undefined) o[k] = rt[k];
      return o;
    });
  }
  out.dns = r.dns ?? {};
  return out;
}

function fail(what: string, v: unknown): never {
  throw new DecodeError(`cannot decode ${what}`, JSON.stringify(v));
}

/** Parses a result of any supported version (prevResult, a delegated IPAM's answer). */
export function fromAny(raw: unknown, what = 'prevResult'): Result {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(what, raw);
  const o = raw as Record<string, unknown>;
  const version = requireSupported(o.cniVersion, `${what} cniVersion`);
  const r: Result = { cniVersion: version };
  if (o.interfaces !== undefined) {
    if (!Array.isArray(o.interfaces)) fail(`${what}.interfaces`, o.interfaces);
    r.interfaces = o.interfaces.map((i) => {
      if (!i || typeof i !== 'object' || typeof (i as Interface).name !== 'string') fail(`${what}.interfaces[]`, i);
      return { ...(i as Interface) };
    });
  }
  if (o.ips !== undefined) {
    if (!Array.isArray(o.ips)) fail(`${what}.ips`, o.ips);
    r.ips = o.ips.map((i) => {
      const ip = i as Record<string, unknown>;
      if (!ip || typeof ip.address !== 'string' || !tryParseCidr(ip.address, 'keep')) fail(`${what}.ips[]`, i);
      const c: IpConfig = { address: ip.address as string };
      if (typeof ip.gateway === 'string') c.gateway = ip.gateway;
      if (typeof ip.interface === 'number') c.interface = ip.interface;
      return c;
    });
  }
  if (o.routes !== undefined) {
    if (!Array.isArray(o.routes)) fail(`${what}.routes`, o.routes);
    r.routes = o.routes.map((x) => {
      const rt = x as Record<string, unknown>;
      if (!rt || typeof rt.dst !== 'string' || !tryParseCidr(rt.dst, 'keep')) fail(`${what}.routes[]`, x);
      return { ...(rt as unknown as Route) };
    });
  }
  if (o.dns && typeof o.dns === 'object') r.dns = { ...(o.dns as Dns) };
  return r;
}
