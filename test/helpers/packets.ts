// Crafted packets for engine tests, built and checked independently of the engine's code:
// checksums here are computed from scratch over the whole packet (RFC 1071), so an
// incremental-update bug in the engine shows as a mismatch.
import net from 'node:net';

export type L4 =
  | { proto: 'tcp'; sport: number; dport: number; flags?: number; seq?: number; ack?: number; payload?: Buffer }
  | { proto: 'udp'; sport: number; dport: number; payload?: Buffer }
  | { proto: 'icmp'; type: number; code: number; id?: number; seq?: number; payload?: Buffer; rest?: Buffer };

export const TCP = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

export function addrBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return b;
}

export function formatAddr(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i).toString(16));
  return g.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

export function sum16(buf: Buffer, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < buf.length; i += 2) s += buf.readUInt16BE(i);
  if (buf.length % 2) s += buf[buf.length - 1] << 8;
  return s;
}

export function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

export function checksum(buf: Buffer, init = 0): number {
  return ~fold(sum16(buf, init)) & 0xffff;
}

function pseudo(src: Buffer, dst: Buffer, proto: number, len: number): number {
  return sum16(Buffer.concat([src, dst])) + proto + len;
}

const PROTO = { tcp: 6, udp: 17 } as const;

function l4bytes(l4: L4, v6: boolean, src: Buffer, dst: Buffer): { proto: number; bytes: Buffer } {
  const payload = l4.payload ?? Buffer.alloc(0);
  if (l4.proto === 'tcp') {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(l4.sport, 0);
    h.writeUInt16BE(l4.dport, 2);
    h.writeUInt32BE((l4.seq ?? 1000) >>> 0, 4);
    h.writeUInt32BE((l4.ack ?? 0) >>> 0, 8);
    h[12] = 5 << 4;
    h[13] = l4.flags ?? TCP.ACK;
    h.writeUInt16BE(65535, 14);
    const b = Buffer.concat([h, payload]);
    b.writeUInt16BE(checksum(b, pseudo(src, dst, 6, b.length)), 16);
    return { proto: 6, bytes: b };
  }
  if (l4.proto === 'udp') {
    const b = Buffer.concat([Buffer.alloc(8), payload]);
    b.writeUInt16BE(l4.sport, 0);
    b.writeUInt16BE(l4.dport, 2);
    b.writeUInt16BE(b.length, 4);
    let c = checksum(b, pseudo(src, dst, 17, b.length));
    if (c === 0) c = 0xffff;
    b.writeUInt16BE(c, 6);
    return { proto: 17, bytes: b };
  }
  const b = Buffer.concat([Buffer.alloc(8), l4.rest ?? Buffer.alloc(0), payload]);
  b[0] = l4.type;
  b[1] = l4.code;
  if (l4.id !== undefined) b.writeUInt16BE(l4.id, 4);
  if (l4.seq !== undefined) b.writeUInt16BE(l4.seq, 6);
  const proto = v6 ? 58 : 1;
  b.writeUInt16BE(checksum(b, v6 ? pseudo(src, dst, 58, b.length) : 0), 2);
  return { proto, bytes: b };
}

export interface IpOpts {
  ttl?: number;
  /** IPv4 options bytes (multiple of 4). */
  options?: Buffer;
  /** IPv6 extension headers inserted before L4: raw bytes with their own next-header fields fixed up. */
  ext?: { type: number; body: Buffer }[];
  fragOffset?: number;
  moreFragments?: boolean;
}

export function ip(src: string, dst: string, l4: L4, o: IpOpts = {}): Buffer {
  const s = addrBytes(src);
  const d = addrBytes(dst);
  const v6 = s.length === 16;
  const { proto, bytes } = l4bytes(l4, v6, s, d);
  if (!v6) {
    const opts = o.options ?? Buffer.alloc(0);
    const h = Buffer.alloc(20 + opts.length);
    h[0] = 0x40 | ((20 + opts.length) / 4);
    h.writeUInt16BE(h.length + bytes.length, 2);
    h.writeUInt16BE(0x1234, 4);
    h.writeUInt16BE(((o.moreFragments ? 0x2000 : 0x4000 * (o.fragOffset ? 0 : 1)) | ((o.fragOffset ?? 0) >> 3)) & 0xffff, 6);
    if (o.moreFragments) h.writeUInt16BE(0x2000 | ((o.fragOffset ?? 0) >> 3), 6);
    h[8] = o.ttl ?? 64;
    h[9] = proto;
    s.copy(h, 12);
    d.copy(h, 16);
    opts.copy(h, 20);
    h.writeUInt16BE(checksum(h), 10);
    return Buffer.concat([h, bytes]);
  }
  const ext = o.ext ?? [];
  const extBufs: Buffer[] = [];
  for (let i = 0; i < ext.length; i++) {
    const b = Buffer.from(ext[i].body);
    b[0] = i + 1 < ext.length ? ext[i + 1].type : proto;
    extBufs.push(b);
  }
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  const extLen = extBufs.reduce((a, b) => a + b.length, 0);
  h.writeUInt16BE(extLen + bytes.length, 4);
  h[6] = ext.length ? ext[0].type : proto;
  h[7] = o.ttl ?? 64;
  s.copy(h, 8);
  d.copy(h, 24);
  return Buffer.concat([h, ...extBufs, bytes]);
}

export interface Decoded {
  family: 4 | 6;
  src: string;
  dst: string;
  proto: number;
  l4off: number;
  sport?: number;
  dport?: number;
  flags?: number;
  seq?: number;
  ack?: number;
  icmpType?: number;
  icmpCode?: number;
  /** Independent verification of every checksum in the packet. */
  ipChecksumOk: boolean;
  l4ChecksumOk: boolean;
  payload: Buffer;
}

export function decode(p: Buffer): Decoded {
  const v6 = p[0] >> 4 === 6;
  let l4off: number;
  let proto: number;
  let src: Buffer;
  let dst: Buffer;
  let ipOk = true;
  let len: number;
  if (!v6) {
    l4off = (p[0] & 15) * 4;
    proto = p[9];
    src = p.subarray(12, 16);
    dst = p.subarray(16, 20);
    ipOk = fold(sum16(p.subarray(0, l4off))) === 0xffff;
    len = p.readUInt16BE(2);
  } else {
    proto = p[6];
    l4off = 40;
    while ([0, 43, 60].includes(proto)) {
      const next = p[l4off];
      l4off += (p[l4off + 1] + 1) * 8;
      proto = next;
    }
    src = p.subarray(8, 24);
    dst = p.subarray(24, 40);
    len = 40 + p.readUInt16BE(4);
  }
  const l4 = p.subarray(l4off, len);
  const d: Decoded = {
    family: v6 ? 6 : 4, src: formatAddr(Buffer.from(src)), dst: formatAddr(Buffer.from(dst)), proto, l4off,
    ipChecksumOk: ipOk, l4ChecksumOk: true, payload: Buffer.alloc(0),
  };
  if (proto === 6 || proto === 17) {
    d.sport = l4.readUInt16BE(0);
    d.dport = l4.readUInt16BE(2);
    const skip = proto === 17 && !v6 && l4.readUInt16BE(6) === 0;
    d.l4ChecksumOk = skip || fold(sum16(l4, pseudo(src, dst, proto, l4.length))) === 0xffff;
    if (proto === 6 && l4.length >= 20) {
      d.flags = l4[13];
      d.seq = l4.readUInt32BE(4);
      d.ack = l4.readUInt32BE(8);
      d.payload = l4.subarray((l4[12] >> 4) * 4);
    } else d.payload = l4.subarray(8);
  } else if (proto === 1 || proto === 58) {
    d.icmpType = l4[0];
    d.icmpCode = l4[1];
    d.l4ChecksumOk = fold(sum16(l4, proto === 58 ? pseudo(src, dst, 58, l4.length) : 0)) === 0xffff;
    d.payload = l4.subarray(8);
  }
  return d;
}

/** virtio_net_hdr (little-endian, as the TUN uses on x86). */
export function vnetHdr(h: { flags?: number; gsoType?: number; hdrLen?: number; gsoSize?: number; csumStart?: number; csumOffset?: number }): Buffer {
  const b = Buffer.alloc(10);
  b[0] = h.flags ?? 0;
  b[1] = h.gsoType ?? 0;
  b.writeUInt16LE(h.hdrLen ?? 0, 2);
  b.writeUInt16LE(h.gsoSize ?? 0, 4);
  b.writeUInt16LE(h.csumStart ?? 0, 6);
  b.writeUInt16LE(h.csumOffset ?? 0, 8);
  return b;
}

/**
 * Turns a complete TCP/UDP packet into the CHECKSUM_PARTIAL form a sender with checksum
 * offload hands the TUN: the L4 field holds the folded pseudo-header sum, not complemented.
 */
export function toPartial(p: Buffer): Buffer {
  const d = decode(p);
  const q = Buffer.from(p);
  const off = d.l4off + (d.proto === 6 ? 16 : 6);
  const len = (d.family === 4 ? p.readUInt16BE(2) : 40 + p.readUInt16BE(4)) - d.l4off;
  const src = d.family === 4 ? p.subarray(12, 16) : p.subarray(8, 24);
  const dst = d.family === 4 ? p.subarray(16, 20) : p.subarray(24, 40);
  q.writeUInt16BE(fold(pseudo(src, dst, d.proto, len)), off);
  return q;
}

/** Completes a CHECKSUM_PARTIAL packet the way the kernel or a NIC would. */
export function completePartial(p: Buffer, csumStart: number, csumOffset: number): Buffer {
  const q = Buffer.from(p);
  const seed = q.readUInt16BE(csumStart + csumOffset);
  q.writeUInt16BE(0, csumStart + csumOffset);
  q.writeUInt16BE(checksum(q.subarray(csumStart), seed), csumStart + csumOffset);
  return q;
}
