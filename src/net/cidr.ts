// CIDRs on top of ip.ts: parse with an explicit host-bit policy, canonical text, containment,
// overlap and the n-th address. What "10.244.1.5/24" means depends on who reads it: an interface
// address (host bits kept), a block written loosely (cleared, as kube-proxy and NetworkPolicy
// ipBlock do) or a network that must be exact (node config: an error). Callers say which.
import { AddressError, bitsOf, formatIp, parseIp, type Family, type Ip } from './ip';

export interface Cidr {
  family: Family;
  /** The address as parsed: host bits kept under 'keep', zero under 'clear' and 'reject'. */
  ip: bigint;
  prefix: number;
}

/** keep: "10.244.1.5/24" is an interface address; clear: it means 10.244.1.0/24; reject: an error. */
export type HostBits = 'keep' | 'clear' | 'reject';

export interface CidrOptions {
  /** A bare address is its /32 or /128 (default: a prefix is required). */
  bare?: boolean;
}

export function hostMask(c: { family: Family; prefix: number }): bigint {
  return (1n << BigInt(bitsOf(c.family) - c.prefix)) - 1n;
}

/**
 * Parses "addr/prefix" under `hostBits`: the CIDR, or the reason it is not one (a message that
 * quotes the input). The prefix is 0-32 or 0-128 in plain decimal.
 */
export function readCidr(s: string, hostBits: HostBits, opts: CidrOptions = {}): Cidr | string {
  if (typeof s !== 'string') return `not a CIDR: ${JSON.stringify(s)}`;
  const slash = s.indexOf('/');
  if (slash < 0 && !opts.bare) return `not a CIDR (no /prefix): ${JSON.stringify(s)}`;
  const ip = parseIp(slash < 0 ? s : s.slice(0, slash));
  if (!ip) return `not a CIDR (bad address): ${JSON.stringify(s)}`;
  const p = slash < 0 ? String(bitsOf(ip.family)) : s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > bitsOf(ip.family)) return `not a CIDR (bad prefix): ${JSON.stringify(s)}`;
  const c: Cidr = { family: ip.family, ip: ip.value, prefix: Number(p) };
  if (hostBits === 'keep') return c;
  const network = networkOf(c);
  if (network !== c.ip && hostBits === 'reject') return `not a CIDR (host bits set): ${JSON.stringify(s)}`;
  c.ip = network;
  return c;
}

/** readCidr, or undefined for anything that is not a CIDR. */
export function tryParseCidr(s: string, hostBits: HostBits, opts?: CidrOptions): Cidr | undefined {
  const c = readCidr(s, hostBits, opts);
  return typeof c === 'string' ? undefined : c;
}

/** readCidr, throwing AddressError (code NET_BAD_CIDR) with the reason. */
export function parseCidr(s: string, hostBits: HostBits, opts?: CidrOptions): Cidr {
  const c = readCidr(s, hostBits, opts);
  if (typeof c === 'string') throw new AddressError('NET_BAD_CIDR', c);
  return c;
}

/**
 * A network as node configuration and Node objects write it: host bits must be zero, a bare
 * address is a host network. Throws AddressError.
 */
export function parseNetwork(s: string): Cidr {
  return parseCidr(s, 'reject', { bare: true });
}

/**
 * Canonical "network/prefix" text of a loosely written block (host bits cleared, IPv6
 * compressed, a bare address its /32 or /128, surrounding blanks ignored), or `fail(reason)`.
 */
export function canonicalCidr(s: string, fail: (why: string) => never): string {
  const c = readCidr(typeof s === 'string' ? s.trim() : s, 'clear', { bare: true });
  return typeof c === 'string' ? fail(c) : formatCidr(c);
}

export function networkOf(c: Cidr): bigint { return c.ip & ~hostMask(c); }
export function broadcastOf(c: Cidr): bigint { return networkOf(c) | hostMask(c); }

/** `ip` lies inside `c` (never across families). */
export function contains(c: Cidr, ip: Ip): boolean {
  return c.family === ip.family && (ip.value & ~hostMask(c)) === networkOf(c);
}

/** `inner` lies entirely inside `outer` (same family, longer or equal prefix). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && inner.prefix >= outer.prefix && contains(outer, { family: inner.family, value: inner.ip });
}

/** contains() on text: false when either is not one. */
export function cidrHasIp(cidr: string, ip: string): boolean {
  const c = tryParseCidr(cidr, 'keep');
  const a = parseIp(ip);
  return !!c && !!a && contains(c, a);
}

/** The two share at least one address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const m = ~hostMask({ family: a.family, prefix: Math.min(a.prefix, b.prefix) });
  return (a.ip & m) === (b.ip & m);
}

/** "addr/prefix" with the address as parsed (host bits kept under 'keep'). */
export function formatCidr(c: Cidr): string {
  return `${formatIp({ family: c.family, value: c.ip })}/${c.prefix}`;
}

/** "10.244.1.0/24" form: host bits cleared. */
export function formatNetwork(c: Cidr): string {
  return `${formatIp({ family: c.family, value: networkOf(c) })}/${c.prefix}`;
}

/** Address number `n` of the network (n=1: the conventional gateway). */
export function nthAddress(c: Cidr, n: number): string {
  return formatIp({ family: c.family, value: networkOf(c) + BigInt(n) });
}

/** The host route of one address: its /32 or /128 (canonical input gives canonical output). */
export function hostCidr(ip: string): string {
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}
