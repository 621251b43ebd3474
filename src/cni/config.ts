// Network config (stdin) → a validated NetConf. Order of checks follows the reference plugins:
// decode (code 6) → cniVersion (code 1) → name (code 7) → every other key (code 7, naming the
// key and its value). Unknown keys are ignored, as the spec asks.
import { ConfigError, DecodeError } from './errors';
import { validIfname } from './env';
import { nodePodMtu } from './ipam/node';
import { tryParseCidr, type Cidr } from '../net/cidr';
import { parseIp, type Ip } from '../net/ip';
import { fromAny, type Dns, type Result } from './result';
import { requireSupported, type CniVersion } from './version';

export interface RangeConf {
  /** Undefined: take the node's pod CIDR (see ipam/node.ts). */
  subnet?: Cidr;
  rangeStart?: Ip;
  rangeEnd?: Ip;
  gateway?: Ip;
}

export interface RouteConf { dst: Cidr; gw?: Ip }

export interface BuiltinIpamConf {
  type: 'podnet';
  rangeSets: RangeConf[][];
  routes: RouteConf[];
  dataDir: string;
}

export interface Attachment { containerID: string; ifname: string }

export interface NetConf {
  cniVersion: CniVersion;
  name: string;
  type: string;
  bridge: string;
  mtu: number;
  isolatePods: boolean;
  /** tc filters on the host veth drop packets whose source is not the pod's own (default true). */
  antiSpoofing: boolean;
  /** Built-in IPAM, or the raw section for a delegated plugin (`type` names it). */
  ipam: BuiltinIpamConf | { type: string; raw: Record<string, unknown> };
  prevResult?: Result;
  /** From runtimeConfig.mac / args.cni.mac. */
  mac?: string;
  /** From runtimeConfig.ips / args.cni.ips (requested addresses). */
  ips: string[];
  validAttachments?: Attachment[];
  /** The config's own `dns` section, returned in the result as the reference bridge does. */
  dns?: Dns;
  /** Structured log destination (default: none; stderr when `logLevel` alone is set). */
  logLevel?: string;
  logFile?: string;
  /** The bytes as received: a delegated IPAM plugin gets them unchanged. */
  raw: Buffer;
}

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAC = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

function optString(o: Obj, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ConfigError(`${path}${key}`, v, 'must be a string');
  return v;
}

function optIp(o: Obj, key: string, path: string): Ip | undefined {
  const s = optString(o, key, path);
  if (s === undefined || s === '') return undefined;
  const ip = parseIp(s);
  if (!ip) throw new ConfigError(`${path}${key}`, s, 'not an IP address');
  return ip;
}

function parseRange(o: unknown, path: string): RangeConf {
  if (!isObj(o)) throw new ConfigError(path, o, 'must be an object');
  const r: RangeConf = {};
  const subnet = optString(o, 'subnet', `${path}.`);
  if (subnet !== undefined && subnet !== '') {
    const c = tryParseCidr(subnet, 'keep');
    if (!c) throw new ConfigError(`${path}.subnet`, subnet, 'not a CIDR');
    const maxPrefix = c.family === 4 ? 30 : 126;
    if (c.prefix > maxPrefix) throw new ConfigError(`${path}.subnet`, subnet, 'too small to allocate from');
    r.subnet = c;
  }
  r.rangeStart = optIp(o, 'rangeStart', `${path}.`);
  r.rangeEnd = optIp(o, 'rangeEnd', `${path}.`);
  r.gateway = optIp(o, 'gateway', `${path}.`);
  return r;
}

function parseRoutes(v: unknown, path: string): RouteConf[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ConfigError(path, v, 'must be an array');
  return v.map((x, i) => {
    if (!isObj(x)) throw new ConfigError(`${path}[${i}]`, x, 'must be an object');
    const dst = tryParseCidr(String(x.dst), 'keep');
    if (!dst) throw new ConfigError(`${path}[${i}].dst`, x.dst, 'not a CIDR');
    return { dst, gw: optIp(x, 'gw', `${path}[${i}].`) };
  });
}

function parseBuiltinIpam(o: Obj): BuiltinIpamConf {
  let rangeSets: RangeConf[][];
  if (o.ranges !== undefined) {
    if (!Array.isArray(o.ranges) || o.ranges.length === 0) throw new ConfigError('ipam.ranges', o.ranges, 'must be a non-empty array of range sets');
    rangeSets = o.ranges.map((set, i) => {
      if (!Array.isArray(set) || set.length === 0) throw new ConfigError(`ipam.ranges[${i}]`, set, 'must be a non-empty array of ranges');
      return set.map((r, j) => parseRange(r, `ipam.ranges[${i}][${j}]`));
    });
  } else if (o.subnet !== undefined) {
    // host-local's single-range shorthand: subnet/rangeStart/rangeEnd/gateway at the top.
    rangeSets = [[parseRange(o, 'ipam')]];
  } else {
    rangeSets = []; // all from the node's pod CIDRs
  }
  const dataDir = optString(o, 'dataDir', 'ipam.') || DEFAULT_DATA_DIR;
  return { type: 'podnet', rangeSets, routes: parseRoutes(o.routes, 'ipam.routes'), dataDir };
}

function parseRequestedIps(v: unknown, key: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ConfigError(key, v, 'must be an array of strings');
  return v as string[];
}

function parseAttachments(v: unknown): Attachment[] | undefined {
  if (v === undefined) return undefined;
  const key = 'cni.dev/valid-attachments';
  if (!Array.isArray(v)) throw new ConfigError(key, v, 'must be an array');
  return v.map((a, i) => {
    if (!isObj(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') {
      throw new ConfigError(`${key}[${i}]`, a, 'must be {containerID, ifname}');
    }
    return { containerID: a.containerID, ifname: a.ifname };
  });
}

/** Parses stdin (everything but VERSION, which needs no config). */
export function parseConfig(raw: Buffer): NetConf {
  let o: unknown;
  try { o = JSON.parse(raw.toString('utf8')); } catch (e) {
    throw new DecodeError(`error unmarshalling network config: ${(e as Error).message}`);
  }
  if (!isObj(o)) throw new DecodeError('network config is not a JSON object');
  const cniVersion = requireSupported(o.cniVersion);
  const name = o.name;
  if (typeof name !== 'string' || !NAME.test(name)) throw new ConfigError('name', name, 'invalid characters found in network name');
  const type = typeof o.type === 'string' ? o.type : 'podnet';

  const bridge = o.bridge === undefined ? 'podnet0' : o.bridge;
  if (typeof bridge !== 'string' || validIfname(bridge)) throw new ConfigError('bridge', bridge, validIfname(String(bridge)) ?? 'must be a string');
  // No mtu in the config: the one podnetd recorded for this node (VXLAN), else Ethernet's.
  const mtu = o.mtu === undefined ? nodePodMtu() ?? 1500 : o.mtu;
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new ConfigError('mtu', mtu, 'must be an integer in 68..65535');
  const isolatePods = o.isolatePods === undefined ? true : o.isolatePods;
  if (typeof isolatePods !== 'boolean') throw new ConfigError('isolatePods', isolatePods, 'must be a boolean');
  const antiSpoofing = o.antiSpoofing === undefined ? true : o.antiSpoofing;
  if (typeof antiSpoofing !== 'boolean') throw new ConfigError('antiSpoofing', antiSpoofing, 'must be a boolean');

  if (!isObj(o.ipam) || typeof o.ipam.type !== 'string' || !o.ipam.type) throw new ConfigError('ipam.type', isObj(o.ipam) ? o.ipam.type : o.ipam, 'an ipam section with a type is required');
  const ipam = o.ipam.type === 'podnet' ? parseBuiltinIpam(o.ipam) : { type: o.ipam.type, raw: o.ipam };
  if (ipam.type !== 'podnet' && !NAME.test(ipam.type)) throw new ConfigError('ipam.type', ipam.type, 'not a plugin name');

  const rc = isObj(o.runtimeConfig) ? o.runtimeConfig : {};
  const argsCni = isObj(o.args) && isObj(o.args.cni) ? o.args.cni : {};
  let mac = (rc.mac ?? argsCni.mac) as unknown;
  if (mac !== undefined && (typeof mac !== 'string' || !MAC.test(mac))) throw new ConfigError('runtimeConfig.mac', mac, 'not a MAC address');
  const ips = [...parseRequestedIps(rc.ips, 'runtimeConfig.ips'), ...parseRequestedIps(argsCni.ips, 'args.cni.ips')];

  return {
    cniVersion, name, type, bridge, mtu, isolatePods, antiSpoofing, ipam,
    prevResult: o.prevResult === undefined ? undefined : fromAny(o.prevResult),
    mac: mac as string | undefined,
    ips,
    validAttachments: parseAttachments(o['cni.dev/valid-attachments']),
    dns: isObj(o.dns) ? (o.dns as Dns) : undefined,
    logLevel: typeof o.logLevel === 'string' ? o.logLevel : undefined,
    logFile: typeof o.logFile === 'string' ? o.logFile : undefined,
    raw,
  };
}
