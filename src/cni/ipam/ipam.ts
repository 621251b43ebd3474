// What every IPAM backend is to the CNI commands: the Ipam interface and its result, and the
// request helpers the backends share. index.ts picks the backend.
import type { NetConf, BuiltinIpamConf, Attachment } from '../config';
import type { CniEnv } from '../env';
import type { Dns, Route } from '../result';
import type { Family } from '../../net/ip';

export interface IpamAddress {
  /** "10.244.1.5/24" */
  address: string;
  gateway?: string;
  family: Family;
}

export interface IpamResult {
  ips: IpamAddress[];
  routes: Route[];
  dns?: Dns;
}

/** Built-in methods are synchronous (one short locked section); delegated ones spawn a plugin. */
export interface Ipam {
  add(): IpamResult | Promise<IpamResult>;
  /** Idempotent: nothing reserved is success. */
  del(): void | Promise<void>;
  /** Addresses held for this attachment, when the backend can tell (built-in only). */
  held(): string[];
  /** Throws unless every address of `ips` is reserved for this attachment. */
  check(ips: string[]): void | Promise<void>;
  gc(valid: Attachment[]): void | Promise<void>;
  status(): void | Promise<void>;
}

export function isBuiltin(ipam: NetConf['ipam']): ipam is BuiltinIpamConf {
  return ipam.type === 'podnet';
}

/** Requested addresses: runtimeConfig/args first, then CNI_ARGS IP=a,b. */
export function requestedIps(conf: NetConf, env: CniEnv): string[] {
  const fromArgs = (env.args.get('IP') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return [...conf.ips, ...fromArgs].map((s) => s.split('/')[0]);
}
