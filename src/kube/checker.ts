// Field-by-field checks for Kubernetes objects as they arrive (manifests, API): each failure is an
// InvalidObjectError naming the object and the field. Shared by the service and policy validators.
import { canonicalIp, ipFamily } from '../net/ip';
import { InvalidObjectError } from './errors';

export type Obj = Record<string, unknown>;

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
    return canonicalIp(s);
  }
}

