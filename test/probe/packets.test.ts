// The probes' packets without a socket: what podnetd and `podnetctl probe` send (echo request,
// TCP SYN, UDP datagram) checked against checksums computed from scratch (test/helpers/packets),
// and what comes back (echo replies, SYN-ACK, RST, UDP replies, ICMP errors quoting the probe,
// as an IPv4 raw socket delivers them with their IP header and an IPv6 one without) read
// right, strangers ignored. No root needed.
import t from 'tap';
import {
  answerTo, echoReply, echoRequest, icmpText, received, tcpSyn, udpDatagram, IPPROTO_ICMPV6, IPPROTO_TCP, type ProbeTuple,
} from '../../src/probe/packets';
import { addrBytes, checksum, ip, sum16, TCP } from '../helpers/packets';

/** The L4 checksum over the pseudo-header verifies (0 after summing everything). */
function l4ChecksumOk(src: string, dst: string, proto: number, seg: Buffer): boolean {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(seg.length);
  return checksum(seg, sum16(Buffer.concat([addrBytes(src), addrBytes(dst), len])) + proto) === 0;
}

const T4: ProbeTuple = { proto: 'tcp', src: '10.244.1.2', sport: 41000, dst: '10.96.0.10', dport: 80 };
const T6: ProbeTuple = { proto: 'tcp', src: 'fd00:10:244:1::2', sport: 41000, dst: 'fd00:10:96::a', dport: 80 };

/** What an IPv6 raw socket hands over: the payload after the fixed header. */
const v6payload = (pkt: Buffer) => pkt.subarray(40);

t.test('echo request', async (t) => {
  const e4 = echoRequest(4, 0x1234, 7, Buffer.from('abc'));
  t.same([e4[0], e4[1], e4.readUInt16BE(4), e4.readUInt16BE(6)], [8, 0, 0x1234, 7], 'type 8, id, seq');
  t.equal(checksum(e4), 0, 'ICMP checksum verifies');
  t.equal(e4.subarray(8).toString(), 'abc', 'payload');
  const e6 = echoRequest(6, 0x1234, 7);
  t.same([e6[0], e6.readUInt16BE(2)], [128, 0], 'ICMPv6 type 128, checksum left to the kernel');
});

t.test('echo reply read from a raw socket', async (t) => {
  const r4 = received(4, ip('169.254.42.2', '10.244.0.1', { proto: 'icmp', type: 0, code: 0, id: 0x1234, seq: 7 }), '169.254.42.2', 1);
  t.equal(r4?.src, '169.254.42.2', 'IPv4: source from the IP header');
  t.same(r4 && echoReply(r4), { id: 0x1234, seq: 7 }, 'IPv4 echo reply');
  const req4 = received(4, ip('10.244.0.1', '169.254.42.2', { proto: 'icmp', type: 8, code: 0, id: 0x1234, seq: 7 }), '10.244.0.1', 1);
  t.equal(req4 && echoReply(req4), undefined, 'an echo request is not a reply');
  const pkt6 = ip('fd00:a9fe:2a::2', 'fd00:10:244::1', { proto: 'icmp', type: 129, code: 0, id: 0x1234, seq: 9 });
  const r6 = received(6, v6payload(pkt6), 'fd00:a9fe:2a::2', IPPROTO_ICMPV6);
  t.same(r6 && echoReply(r6), { id: 0x1234, seq: 9 }, 'IPv6 echo reply (no IP header)');
  t.equal(received(4, Buffer.alloc(10), 'x', 1), undefined, 'too short to be an IPv4 datagram');
});

t.test('TCP SYN and UDP datagram', async (t) => {
  for (const tu of [T4, T6]) {
    const syn = tcpSyn(tu, 0xdeadbeef);
    t.same([syn.readUInt16BE(0), syn.readUInt16BE(2), syn.readUInt32BE(4), syn[13], syn[12] >> 4], [41000, 80, 0xdeadbeef, TCP.SYN, 6], 'ports, seq, SYN, 24-byte header');
    t.ok(l4ChecksumOk(tu.src, tu.dst, IPPROTO_TCP, syn), `TCP checksum over the IPv${tu.src.includes(':') ? 6 : 4} pseudo-header`);
    const u = { ...tu, proto: 'udp' as const, dport: 53 };
    const d = udpDatagram(u, Buffer.from('hello'));
    t.same([d.readUInt16BE(0), d.readUInt16BE(2), d.readUInt16BE(4)], [41000, 53, 13], 'UDP ports and length');
    t.ok(l4ChecksumOk(u.src, u.dst, 17, d), 'UDP checksum');
  }
});

t.test('answers to a TCP probe', async (t) => {
  const from = (flags: number, o: { sport?: number; dport?: number; src?: string } = {}) =>
    received(4, ip(o.src ?? T4.dst, T4.src, { proto: 'tcp', sport: o.sport ?? 80, dport: o.dport ?? 41000, flags }), '', IPPROTO_TCP)!;
  t.match(answerTo(T4, from(TCP.SYN | TCP.ACK)), { kind: 'syn-ack', from: '10.96.0.10', flags: 'SYN|ACK' }, 'SYN-ACK');
  t.match(answerTo(T4, from(TCP.RST | TCP.ACK)), { kind: 'rst', flags: 'ACK|RST' }, 'RST');
  t.equal(answerTo(T4, from(TCP.SYN | TCP.ACK, { dport: 41001 })), undefined, 'another connection');
  t.equal(answerTo(T4, from(TCP.SYN | TCP.ACK, { sport: 81 })), undefined, 'another port of the VIP');
  t.equal(answerTo(T4, from(TCP.SYN | TCP.ACK, { src: '10.96.0.11' })), undefined, 'another address');
  t.equal(answerTo(T4, from(TCP.ACK)), undefined, 'a bare ACK is no answer');
  const r6 = received(6, v6payload(ip(T6.dst, T6.src, { proto: 'tcp', sport: 80, dport: 41000, flags: TCP.SYN | TCP.ACK })), T6.dst, IPPROTO_TCP)!;
  t.match(answerTo(T6, r6), { kind: 'syn-ack', from: 'fd00:10:96::a' }, 'IPv6 SYN-ACK');
});

t.test('ICMP errors quoting the probe', async (t) => {
  const u4: ProbeTuple = { ...T4, proto: 'udp', dport: 54 };
  const probe4 = ip(u4.src, u4.dst, { proto: 'udp', sport: u4.sport, dport: u4.dport, payload: Buffer.from('x') });
  const err4 = received(4, ip(u4.dst, u4.src, { proto: 'icmp', type: 3, code: 3, rest: probe4 }), '', 1)!;
  t.same(answerTo(u4, err4), { kind: 'icmp', from: '10.96.0.10', type: 3, code: 3, text: 'port unreachable' }, 'IPv4 port unreachable');
  t.equal(answerTo({ ...u4, sport: 41001 }, err4), undefined, 'quotes another probe');
  t.equal(answerTo(T4, err4), undefined, 'quotes UDP, the probe was TCP');

  const u6: ProbeTuple = { ...T6, proto: 'udp', dport: 54 };
  const probe6 = ip(u6.src, u6.dst, { proto: 'udp', sport: u6.sport, dport: u6.dport });
  const err6 = received(6, v6payload(ip(u6.dst, u6.src, { proto: 'icmp', type: 1, code: 4, rest: probe6 })), u6.dst, IPPROTO_ICMPV6)!;
  t.same(answerTo(u6, err6), { kind: 'icmp', from: 'fd00:10:96::a', type: 1, code: 4, text: 'port unreachable' }, 'IPv6 port unreachable');
  const echo6 = received(6, v6payload(ip(u6.dst, u6.src, { proto: 'icmp', type: 129, code: 0, id: 1, seq: 1 })), u6.dst, IPPROTO_ICMPV6)!;
  t.equal(answerTo(u6, echo6), undefined, 'an echo reply is not an error');
  t.equal(icmpText(4, 5, 1), 'type 5 code 1', 'unnamed types by number');
});

t.test('UDP reply', async (t) => {
  const u4: ProbeTuple = { ...T4, proto: 'udp', dport: 53 };
  const r = received(4, ip(u4.dst, u4.src, { proto: 'udp', sport: 53, dport: u4.sport, payload: Buffer.from('ep1') }), '', 17)!;
  t.same(answerTo(u4, r), { kind: 'udp', from: '10.96.0.10', bytes: 3 }, 'datagram from the VIP port');
});
