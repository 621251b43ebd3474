// CIDR arithmetic for ipBlock: parse, canonicalize (host bits cleared, IPv6 compressed) and test
// containment, so "10.0.0.1/24" and "10.0.0.0/24" are one peer and an `except` outside its
// `cidr` is caught at validation. Addresses are BigInts: small, exact, and off the hot path.
import net from 'node:net';
import { canonicalIP } from '../services/validate';

export interface Cidr {
  readonly family: 4 | 6;
  /** Network address (host bits cleared). */
  readonly base: bigint;
  readonly prefix: number;
}

/** An IP literal as a BigInt, or undefined when it is not one. */
export function ipToBigInt(ip: string): { family: 4 | 6; value: bigint } | undefined {
  const f = net.isIP(ip);
  if (f === 4) {
    let v = 0n;
    for (const part of ip.split('.')) v = (v << 8n) | BigInt(Number(part));
    return { family: 4, value: v };
  }
  if (f === 6) {
    let s = canonicalIP(ip);
    // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
    const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
    if (m) {
      const v4 = ipToBigInt(m[2])!.value;
      s = `${m[1]}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
    }
    const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    let v = 0n;
    for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
    return { family: 6, value: v };
  }
  return undefined;
}

function bits(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

/** Parses "addr/prefix"; host bits are cleared. Returns a reason string when invalid. */
export function parseCidr(s: string): Cidr | string {
  const slash = s.indexOf('/');
  if (slash < 0) return `not a CIDR (no /prefix): ${JSON.stringify(s)}`;
  const ip = ipToBigInt(s.slice(0, slash));
  if (!ip) return `not a CIDR (bad address): ${JSON.stringify(s)}`;
  const p = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > bits(ip.family)) return `not a CIDR (bad prefix): ${JSON.stringify(s)}`;
  const prefix = Number(p);
  const host = (1n << BigInt(bits(ip.family) - prefix)) - 1n;
  return { family: ip.family, base: ip.value & ~host, prefix };
}

/** Textual form of an address BigInt. */
export function bigIntToIp(family: 4 | 6, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((sh) => String((v >> sh) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let sh = 112n; sh >= 0n; sh -= 16n) groups.push(((v >> sh) & 0xffffn).toString(16));
  return canonicalIP(groups.join(':'));
}

export function formatCidr(c: Cidr): string {
  return `${bigIntToIp(c.family, c.base)}/${c.prefix}`;
}

/** `inner` lies entirely inside `outer` (same family, longer or equal prefix). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  const host = (1n << BigInt(bits(outer.family) - outer.prefix)) - 1n;
  return (inner.base & ~host) === outer.base;
}

/** The host route of one canonical address: its /32 or /128. */
export function hostCidr(ip: string): string {
  // Canonical literals only (validate.ts): a colon means IPv6, no need for net.isIPv6's regex.
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}
