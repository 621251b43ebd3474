// Address and CIDR parsing for node wiring: netlink wants raw address bytes and prefix lengths.
// Kept tiny on purpose (ip6addr has no types and silently drops host bits; here host bits are an error).
import { isIPv4, isIPv6 } from 'node:net';
import { NodeWiringError } from './errors';

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** Network address bytes (4 or 16), host bits zero. */
  bytes: Buffer;
  prefix: number;
  /** Canonical "addr/prefix". */
  text: string;
}

export function familyOf(ip: string): Family {
  if (isIPv4(ip)) return 4;
  if (isIPv6(ip)) return 6;
  throw new NodeWiringError('NODE_BAD_ADDRESS', `not an IP address: ${ip}`);
}

/** Raw bytes of an IPv4 or IPv6 literal. */
export function ipBytes(ip: string): Buffer {
  if (familyOf(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const zone = ip.indexOf('%');
  const s = zone >= 0 ? ip.slice(0, zone) : ip;
  let head = s, tail = '';
  const dbl = s.indexOf('::');
  if (dbl >= 0) { head = s.slice(0, dbl); tail = s.slice(dbl + 2); }
  const parse = (part: string): number[] => {
    if (!part) return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) { const b = ipBytes(g); out.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]); }
      else out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = parse(head), t = parse(tail);
  const groups = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const buf = Buffer.alloc(16);
  groups.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
  return buf;
}

/** Text form of raw address bytes (4 or 16). */
export function ipText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups, as inet_ntop does.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i; while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Parses "addr/prefix"; host bits must be zero. */
export function parseCidr(text: string): Cidr {
  const [addr, p] = text.split('/');
  const family = familyOf(addr);
  const max = family === 4 ? 32 : 128;
  const prefix = p === undefined ? max : Number(p);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new NodeWiringError('NODE_BAD_CIDR', `bad prefix length in ${text}`);
  }
  const bytes = ipBytes(addr);
  const masked = Buffer.from(bytes);
  for (let bit = prefix; bit < max; bit++) masked[bit >> 3] &= ~(0x80 >> (bit & 7));
  if (!masked.equals(bytes)) throw new NodeWiringError('NODE_BAD_CIDR', `host bits set in ${text}`);
  return { family, bytes, prefix, text: `${ipText(bytes)}/${prefix}` };
}

/** Address number `n` inside a CIDR (n=1: the conventional gateway). */
export function nthAddress(cidr: Cidr, n: number): string {
  const b = Buffer.from(cidr.bytes);
  let carry = n;
  for (let i = b.length - 1; i >= 0 && carry > 0; i--) {
    const v = b[i] + carry;
    b[i] = v & 0xff;
    carry = Math.floor(v / 256);
  }
  return ipText(b);
}
