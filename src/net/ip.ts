// IP addresses: parse, canonical text, family and raw bytes, for every part of podnet (the CNI
// plugin, node wiring, the planes). Values are bigints. Import-free and hand-written on purpose:
// the CNI plugin loads this at every ADD, and node:net's IPv6 regex alone costs ~10-40 ms to
// compile on first use. CIDRs build on it in cidr.ts, MACs live in mac.ts.

export type Family = 4 | 6;

export interface Ip {
  family: Family;
  value: bigint;
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

/** A malformed address or CIDR given to a function that cannot return "not one". */
export class AddressError extends Error {
  constructor(readonly code: 'NET_BAD_ADDRESS' | 'NET_BAD_CIDR', message: string) {
    super(message);
    this.name = 'AddressError';
  }
}

/**
 * True for a dotted quad exactly as parseIp accepts it (no leading zeros, each part <= 255),
 * without allocating: a full sync canonicalizes every VIP and endpoint address.
 */
function isDottedQuad(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let val = 0;
  let digits = 0;
  for (let i = 0; i <= n; i++) {
    const ch = i < n ? s.charCodeAt(i) : 46;
    if (ch === 46) {
      if (digits === 0 || val > 255) return false;
      parts++;
      val = 0;
      digits = 0;
      continue;
    }
    if (ch < 48 || ch > 57 || (digits === 1 && val === 0) || digits === 3) return false;
    val = val * 10 + (ch - 48);
    digits++;
  }
  return parts === 4;
}

/** Canonical IPv6 forms already computed: the same few thousand addresses recur on every relist. */
const canonical6 = new Map<string, string>();
const CANONICAL6_MAX = 65536;

/**
 * Canonical text form (RFC 5952: "FD00:0::0A" → "fd00::a", an IPv4-mapped tail as hex groups),
 * so one address is one VIP, one backend, one key; the input itself when it is not an address.
 */
export function canonicalIp(s: string): string {
  if (isDottedQuad(s)) return s;
  let c = canonical6.get(s);
  if (c !== undefined) return c;
  const ip = parseIp(s);
  if (!ip) return s;
  c = formatIp(ip);
  if (canonical6.size >= CANONICAL6_MAX) canonical6.clear(); // bounded: garbage input must not grow it
  canonical6.set(s, c);
  return c;
}

/** 4, 6, or 0 when `s` is not an address. */
export function ipFamily(s: string): Family | 0 {
  if (isDottedQuad(s)) return 4;
  return parseIp(s)?.family ?? 0;
}

/** 4 or 6; throws AddressError when `s` is not an address. */
export function familyOf(s: string): Family {
  const f = ipFamily(s);
  if (f === 0) throw new AddressError('NET_BAD_ADDRESS', `not an IP address: ${s}`);
  return f;
}

/** Parses an address or throws AddressError. */
export function mustParseIp(s: string): Ip {
  const ip = parseIp(s);
  if (!ip) throw new AddressError('NET_BAD_ADDRESS', `not an IP address: ${s}`);
  return ip;
}

/** Raw network-order bytes (4 or 16) of an address or an address literal (AddressError if not one). */
export function ipBytes(addr: Ip | string): Buffer {
  const ip = typeof addr === 'string' ? mustParseIp(addr) : addr;
  const n = ip.family === 4 ? 4 : 16;
  const b = Buffer.alloc(n);
  let v = ip.value;
  for (let i = n - 1; i >= 0; i--) { b[i] = Number(v & 0xffn); v >>= 8n; }
  return b;
}

/** The address in raw bytes (4: IPv4, 16: IPv6). */
export function ipFromBytes(b: Uint8Array): Ip {
  if (b.length !== 4 && b.length !== 16) throw new AddressError('NET_BAD_ADDRESS', `an address has 4 or 16 bytes, not ${b.length}`);
  let v = 0n;
  for (const byte of b) v = (v << 8n) | BigInt(byte);
  return { family: b.length === 4 ? 4 : 6, value: v };
}

/** Canonical text of raw address bytes. */
export function ipText(b: Uint8Array): string {
  return formatIp(ipFromBytes(b));
}
