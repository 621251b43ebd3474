// IPv4/IPv6 address arithmetic for IPAM and results, on bigints. Small on purpose: the plugin's
// start-up time matters (every pod pays it), and ip6addr lacks iteration and host-bit checks.

export type Family = 4 | 6;

export interface Ip {
  family: Family;
  value: bigint;
}

export interface Cidr {
  family: Family;
  /** The address as written (host bits kept: "10.244.1.5/24" is an interface address). */
  ip: bigint;
  prefix: number;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

export function bitsOf(f: Family): number { return BITS[f]; }

const DEC_OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => DEC_OCTET.test(p))) return undefined;
  return parts.reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
}

/**
 * Parses an address; undefined when it is not one. Hand-written rather than net.isIPv6: that
 * regex costs ~10-40 ms to compile on first use, a large slice of a CNI call's budget.
 */
export function parseIp(s: string): Ip | undefined {
  if (typeof s !== 'string' || s.length === 0 || s.length > 45) return undefined;
  if (!s.includes(':')) {
    const v = parseV4(s);
    return v === undefined ? undefined : { family: 4, value: v };
  }
  const bare = s.includes('%') ? s.slice(0, s.indexOf('%')) : s;
  let head = bare;
  let tail = 0n;
  let tailGroups = 0;
  const lastColon = bare.lastIndexOf(':');
  if (bare.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(bare.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = v4; tailGroups = 2;
    head = bare.slice(0, lastColon + 1);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const split = (h: string) => (h === '' ? [] : h.split(':'));
  const left = split(halves[0]);
  const right = halves.length === 2 ? split(halves[1]) : [];
  if (![...left, ...right].every((g) => HEX_GROUP.test(g))) return undefined;
  const have = left.length + right.length + tailGroups;
  if (halves.length === 1 ? have !== 8 : have > 7) return undefined;
  const groups = [...left, ...Array(8 - have).fill('0'), ...right];
  let v = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  if (tailGroups) v = (v << 32n) | tail;
  return { family: 6, value: v };
}

export function formatIp(ip: Ip): string {
  if (ip.family === 4) {
    const v = ip.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (≥ 2) of zero groups, the first one on ties.
  let bestAt = -1; let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i; while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/** Canonical text form ("fd00:0::1" → "fd00::1"); the input when it is not an address. */
export function canonicalIp(s: string): string {
  const ip = parseIp(s);
  return ip ? formatIp(ip) : s;
}

export function parseCidr(s: string): Cidr | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const pstr = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(pstr)) return undefined;
  const prefix = Number(pstr);
  if (prefix > BITS[ip.family]) return undefined;
  return { family: ip.family, ip: ip.value, prefix };
}

export function hostMask(c: { family: Family; prefix: number }): bigint {
  return (1n << BigInt(BITS[c.family] - c.prefix)) - 1n;
}

export function networkOf(c: Cidr): bigint { return c.ip & ~hostMask(c); }
export function broadcastOf(c: Cidr): bigint { return networkOf(c) | hostMask(c); }

export function contains(c: Cidr, ip: Ip): boolean {
  return c.family === ip.family && (ip.value & ~hostMask(c)) === networkOf(c);
}

export function formatCidr(c: Cidr): string {
  return `${formatIp({ family: c.family, value: c.ip })}/${c.prefix}`;
}

/** "10.244.1.0/24" form: host bits cleared. */
export function formatNetwork(c: Cidr): string {
  return `${formatIp({ family: c.family, value: networkOf(c) })}/${c.prefix}`;
}

export function ipBytes(ip: Ip): Buffer {
  const n = ip.family === 4 ? 4 : 16;
  const b = Buffer.alloc(n);
  let v = ip.value;
  for (let i = n - 1; i >= 0; i--) { b[i] = Number(v & 0xffn); v >>= 8n; }
  return b;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const p = Math.min(a.prefix, b.prefix);
  const m = ~hostMask({ family: a.family, prefix: p });
  return (a.ip & m) === (b.ip & m);
}
