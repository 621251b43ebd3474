// Hand-built netlink attributes, for the messages the `netlink` package has no builder for
// (tc filters, veth peers, nested link info). Pure and import-free: the CNI plugin loads it at
// every ADD, so it must not pull in anything heavier than Buffer.

/** NLA_F_NESTED: the attribute's payload is itself a list of attributes. */
export const NLA_F_NESTED = 0x8000;

/** One attribute (length, type, payload), padded to 4 bytes. */
export function nlattr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

/** A nested attribute holding `parts`. */
export const nlnest = (type: number, ...parts: Buffer[]): Buffer => nlattr(type | NLA_F_NESTED, Buffer.concat(parts));

/** Host-order (little-endian here) u32 payload. */
export const u32le = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };

/** NUL-terminated string payload. */
export const cstr = (s: string): Buffer => Buffer.from(`${s}\0`);

/** The text of a NUL-terminated string payload. */
export const cstrText = (b: Buffer): string => { const end = b.indexOf(0); return b.toString('latin1', 0, end < 0 ? b.length : end); };

/** One attribute of a received message: its type (flag bits cleared) and payload. */
export interface NlAttr { type: number; payload: Buffer }

/** The attributes in `buf` (a message's or a nest's payload), in order; a truncated tail is ignored. */
export function parseNlattrs(buf: Buffer): NlAttr[] {
  const out: NlAttr[] = [];
  for (let at = 0; at + 4 <= buf.length;) {
    const len = buf.readUInt16LE(at);
    if (len < 4 || at + len > buf.length) break;
    out.push({ type: buf.readUInt16LE(at + 2) & 0x3fff, payload: buf.subarray(at + 4, at + len) });
    at += (len + 3) & ~3;
  }
  return out;
}
