// Field-by-field checks for Kubernetes objects as they arrive (manifests, API): each failure is an
// InvalidObjectError naming the object and the field. Shared by the service and policy validators.
import net from 'node:net';
import { InvalidObjectError } from './errors';

export type Obj = Record<string, unknown>;

/**
 * True for a dotted quad exactly as net.isIPv4 accepts it (no leading zeros, each part <= 255).
 * A full sync checks every VIP and endpoint address; node's regexes (and canonicalIP's IPv6 test
 * on every IPv4 address) were a visible share of it. Only ever a shortcut: a false here falls
 * back to node's own checks.
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

/** Canonical textual form, so "FD00::0A" and "fd00::a" are the same VIP and the same backend. */
export function canonicalIP(ip: string): string {
  if (isDottedQuad(ip)) return ip;
  let c = canonical6.get(ip);
  if (c !== undefined) return c;
  if (!net.isIPv6(ip)) return ip;
  c = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  if (canonical6.size >= CANONICAL6_MAX) canonical6.clear(); // bounded: garbage input must not grow it
  canonical6.set(ip, c);
  return c;
}

/** 4, 6 or 0 for a canonical IP literal. */
export function ipFamily(ip: string): 4 | 6 | 0 {
  return isDottedQuad(ip) ? 4 : net.isIP(ip) as 4 | 6 | 0;
}

/** Collects the kind and name so every error names the object as well as the field. */
export class Checker {
  constructor(readonly kind: string, public object = '') {}
  fail(field: string, reason: string): never {
    throw new InvalidObjectError(this.kind, this.object, field, reason);
  }
  obj(v: unknown, field: string, optional = false): Obj | undefined {
    if (v === undefined || v === null) return optional ? undefined : this.fail(field, 'required');
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(field, 'must be an object');
    return v as Obj;
  }
  arr(v: unknown, field: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(field, 'must be a list');
    return v;
  }
  str(v: unknown, field: string, optional = false): string | undefined {
    if (v === undefined || v === null) return optional ? undefined : this.fail(field, 'required');
    if (typeof v !== 'string') this.fail(field, `must be a string, got ${typeof v}`);
    return v;
  }
  bool(v: unknown, field: string): boolean | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(field, `must be a boolean, got ${typeof v}`);
    return v;
  }
  int(v: unknown, field: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(field, `must be an integer, got ${JSON.stringify(v)}`);
    if (v < min || v > max) this.fail(field, `must be between ${min} and ${max}, got ${v}`);
    return v;
  }
  oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[], dflt?: T): T {
    if ((v === undefined || v === null) && dflt !== undefined) return dflt;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(field, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  }
  /** A label map (sorted keys), each value a string. */
  labels(v: unknown, field: string): Record<string, string> {
    const out: Record<string, string> = {};
    const l = this.obj(v, field, true);
    if (l) for (const k of Object.keys(l).sort()) out[k] = this.str(l[k], `${field}[${k}]`) as string;
    return out;
  }
  /** Canonical IP literal (IPv6 compressed, lower case), or a failure naming the field. */
  ip(v: unknown, field: string, family?: 4 | 6): string {
    const s = this.str(v, field) as string;
    const f = ipFamily(s);
    if (f === 0) this.fail(field, `not an IP address: ${JSON.stringify(s)}`);
    if (family && f !== family) this.fail(field, `not an IPv${family} address: ${s}`);
    return canonicalIP(s);
  }
}

