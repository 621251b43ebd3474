// The probes' packets, built and read as plain bytes (no socket, no root): the ICMP echo of
// podnetd's datapath probe (datapath.ts) and the TCP SYN / UDP datagram of `podnetctl probe`
// (pod.ts), plus the reading of what comes back on a raw socket.
//
// What a raw socket hands over (and takes): Linux gives an IPv4 raw socket's reader the whole
// datagram, IP header first; an IPv6 raw socket's reader gets the payload only, the source
// address beside it. Sending, the kernel writes the IP header in both families (no
// IP_HDRINCL), so the segments built here carry their L4 checksum computed over the source
// address the kernel will pick (the caller asks the kernel for it first, see pod.ts).
import { ipBytes, ipText, type Family } from '../net/ip';

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

const TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_ACK = 0x10;

/** RFC 1071 ones' complement sum of `buf`, added to `init`, folded to 16 bits. */
function sum16(buf: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < buf.length; i += 2) s += (buf[i] << 8) | buf[i + 1];
  if (buf.length & 1) s += buf[buf.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** The Internet checksum of `buf` (with `init`, e.g. a pseudo-header sum). */
export function checksum(buf: Uint8Array, init = 0): number {
  return ~sum16(buf, init) & 0xffff;
}

/** Sum of the TCP/UDP/ICMPv6 pseudo-header (RFC 9293 section 3.1, RFC 8200 section 8.1). */
function pseudoSum(src: string, dst: string, proto: number, len: number): number {
  const s = ipBytes(src), d = ipBytes(dst);
  const tail = Buffer.alloc(s.length === 4 ? 4 : 8);
  if (s.length === 4) { tail[1] = proto; tail.writeUInt16BE(len, 2); } else { tail.writeUInt32BE(len, 0); tail[7] = proto; }
  return sum16(tail, sum16(d, sum16(s)));
}

/**
 * An ICMP echo request (type 8, or ICMPv6 128) with `payload`. The IPv4 checksum is filled in;
 * the ICMPv6 one is left 0: the kernel computes it for every raw ICMPv6 socket (RFC 3542 section 3.1).
 */
export function echoRequest(family: Family, id: number, seq: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.concat([Buffer.alloc(8), payload]);
  b[0] = family === 4 ? 8 : 128;
  b.writeUInt16BE(id & 0xffff, 4);
  b.writeUInt16BE(seq & 0xffff, 6);
  if (family === 4) b.writeUInt16BE(checksum(b), 2);
  return b;
}

/** What a raw socket delivered, as the L4 message and the addresses around it. */
export interface Received {
  family: Family;
  src: string;
  /** Destination: from the IPv4 header; undefined for IPv6 (the socket does not say). */
  dst?: string;
  proto: number;
  l4: Buffer;
}

/**
 * Reads one message of a raw socket: an IPv4 one starts with its IP header; an IPv6 one is
 * the payload alone, `source` naming the sender. Undefined when it is too short to be one.
 */
export function received(family: Family, buf: Buffer, source: string, proto: number): Received | undefined {
  if (family === 6) return { family, src: source, proto, l4: buf };
  if (buf.length < 20 || buf[0] >> 4 !== 4) return undefined;
  const ihl = (buf[0] & 0x0f) * 4;
  const total = Math.min(buf.readUInt16BE(2), buf.length);
  if (ihl < 20 || total < ihl) return undefined;
  return { family, src: ipText(buf.subarray(12, 16)), dst: ipText(buf.subarray(16, 20)), proto: buf[9], l4: buf.subarray(ihl, total) };
}

/** The echo reply `m` carries, if it is one (type 0, or ICMPv6 129). */
export function echoReply(m: Received): { id: number; seq: number } | undefined {
  const want = m.family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
  if (m.proto !== want || m.l4.length < 8 || m.l4[0] !== (m.family === 4 ? 0 : 129)) return undefined;
  return { id: m.l4.readUInt16BE(4), seq: m.l4.readUInt16BE(6) };
}

/** One end of a probe: the pod's address and port, the VIP's. */
export interface ProbeTuple {
  proto: 'tcp' | 'udp';
  src: string;
  sport: number;
  dst: string;
  dport: number;
}

/** A TCP SYN (MSS 1460 option, window 64240) from src:sport to dst:dport, checksummed. */
export function tcpSyn(t: ProbeTuple, seq: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt16BE(t.sport, 0);
  b.writeUInt16BE(t.dport, 2);
  b.writeUInt32BE(seq >>> 0, 4);
  b[12] = 6 << 4;
  b[13] = TCP_SYN;
  b.writeUInt16BE(64240, 14);
  b[20] = 2; b[21] = 4; b.writeUInt16BE(1460, 22); // MSS
  b.writeUInt16BE(checksum(b, pseudoSum(t.src, t.dst, IPPROTO_TCP, b.length)), 16);
  return b;
}

/** A UDP datagram from src:sport to dst:dport carrying `payload`, checksummed. */
export function udpDatagram(t: ProbeTuple, payload: Buffer): Buffer {
  const b = Buffer.concat([Buffer.alloc(8), payload]);
  b.writeUInt16BE(t.sport, 0);
  b.writeUInt16BE(t.dport, 2);
  b.writeUInt16BE(b.length, 4);
  const c = checksum(b, pseudoSum(t.src, t.dst, IPPROTO_UDP, b.length));
  b.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  return b;
}

/** The answer to a probe, as `podnetctl probe` prints it. */
export type Answer =
  | { kind: 'syn-ack' | 'rst'; from: string; flags: string }
  | { kind: 'udp'; from: string; bytes: number }
  | { kind: 'icmp'; from: string; type: number; code: number; text: string };

function flagText(f: number): string {
  return [[TCP_SYN, 'SYN'], [TCP_ACK, 'ACK'], [TCP_RST, 'RST'], [TCP_FIN, 'FIN']].filter(([bit]) => f & (bit as number)).map(([, n]) => n).join('|');
}

const ICMP4_TEXT: Record<string, string> = {
  '3/0': 'net unreachable', '3/1': 'host unreachable', '3/2': 'protocol unreachable', '3/3': 'port unreachable',
  '3/4': 'fragmentation needed', '3/9': 'net prohibited', '3/10': 'host prohibited', '3/13': 'administratively prohibited',
  '11/0': 'TTL exceeded in transit',
};
const ICMP6_TEXT: Record<string, string> = {
  '1/0': 'no route', '1/1': 'administratively prohibited', '1/3': 'address unreachable', '1/4': 'port unreachable',
  '1/5': 'source address failed policy', '1/6': 'reject route', '2/0': 'packet too big', '3/0': 'hop limit exceeded',
};

/** A short name of an ICMP(v6) error: "port unreachable", else "type T code C". */
export function icmpText(family: Family, type: number, code: number): string {
  return (family === 4 ? ICMP4_TEXT : ICMP6_TEXT)[`${type}/${code}`] ?? `type ${type} code ${code}`;
}

/** `m` answers the probe `t`: a segment or datagram from dst:dport to sport, or an ICMP error quoting the probe. */
export function answerTo(t: ProbeTuple, m: Received): Answer | undefined {
  const l4proto = t.proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  if (m.proto === l4proto) {
    if (m.l4.length < 8 || m.src !== t.dst || m.l4.readUInt16BE(0) !== t.dport || m.l4.readUInt16BE(2) !== t.sport) return undefined;
    if (t.proto === 'udp') return { kind: 'udp', from: m.src, bytes: m.l4.length - 8 };
    if (m.l4.length < 20) return undefined;
    const f = m.l4[13];
    if (f & TCP_RST) return { kind: 'rst', from: m.src, flags: flagText(f) };
    if ((f & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) return { kind: 'syn-ack', from: m.src, flags: flagText(f) };
    return undefined;
  }
  const error = quotedProbe(m);
  if (!error) return undefined;
  const { type, code, quote } = error;
  if (quote.proto !== l4proto || quote.dst !== t.dst || quote.sport !== t.sport || quote.dport !== t.dport) return undefined;
  return { kind: 'icmp', from: m.src, type, code, text: icmpText(m.family, type, code) };
}

/** The header an ICMP(v6) error quotes: the datagram it is about. */
function quotedProbe(m: Received): { type: number; code: number; quote: { proto: number; dst: string; sport: number; dport: number } } | undefined {
  const v4 = m.family === 4;
  if (m.proto !== (v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6) || m.l4.length < 8) return undefined;
  const type = m.l4[0], code = m.l4[1];
  const isError = v4 ? [3, 11, 12].includes(type) : type >= 1 && type <= 4;
  if (!isError) return undefined;
  const q = m.l4.subarray(8);
  if (v4) {
    if (q.length < 28 || q[0] >> 4 !== 4) return undefined;
    const ihl = (q[0] & 0x0f) * 4;
    if (q.length < ihl + 4) return undefined;
    return { type, code, quote: { proto: q[9], dst: ipText(q.subarray(16, 20)), sport: q.readUInt16BE(ihl), dport: q.readUInt16BE(ihl + 2) } };
  }
  // Extension headers in the quote would be ours; the probe sends none.
  if (q.length < 44 || q[0] >> 4 !== 6) return undefined;
  return { type, code, quote: { proto: q[6], dst: ipText(q.subarray(24, 40)), sport: q.readUInt16BE(40), dport: q.readUInt16BE(42) } };
}
