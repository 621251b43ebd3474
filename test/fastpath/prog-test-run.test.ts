// The kernel flow cache's tc program under BPF_PROG_TEST_RUN, as a table of packet fixtures:
// {pods, flows, packets in, verdict, bytes out, counters}. Expected frames are built from
// scratch (checksums over the whole packet, TTL already decremented), so an incremental
// checksum mistake in the program shows as a byte mismatch. Needs root (CAP_BPF).
//
// The test-run skb is CHECKSUM_NONE, so every packet here carries a full checksum; the
// CHECKSUM_PARTIAL path of the same helpers is left to the kernel's own handling.
import t from 'tap';
import fs from 'node:fs';
import { ip, TCP, type L4, type IpOpts } from '../helpers/packets';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { arpRequest, eth, frame, nsBody, solicitedNode, tagged } from './frames';
import {
  build, testRun, SPOOF_REASONS, STATS, TC_ACT_OK, TC_ACT_REDIRECT, TC_ACT_SHOT, TC_ACT_UNSPEC,
  type Flow, type Pod, type Run, type SpoofReason, type Stat,
} from './testrun';

const GW = '02:00:00:00:00:01';
const CLIENT_MAC = '02:00:00:00:01:64';
const BACKEND_MAC = '02:00:00:00:01:02';
const CLIENT_IF = 7;
const BACKEND_IF = 9;
const UPLINK_IF = 3;

const CLIENT4 = '10.244.1.100';
const VIP4 = '10.96.0.12';
const BACKEND4 = '10.244.1.2';
const REMOTE4 = '10.244.2.7';
const NODE4 = '192.168.0.2';
const CLIENT6 = 'fd00:10:244:1::64';
const VIP6 = 'fd00:10:96::10';
const BACKEND6 = 'fd00:10:244:1::2';

const CLIENT: Pod = { if: CLIENT_IF, mac: CLIENT_MAC, v4: [CLIENT4], v6: [CLIENT6] };
const BACKEND: Pod = { if: BACKEND_IF, mac: BACKEND_MAC, v4: [BACKEND4], v6: [BACKEND6] };

const payload = Buffer.from('GET / HTTP/1.1\r\nHost: web\r\n\r\n');
const data = (sport: number, dport: number, flags: number = TCP.ACK | TCP.PSH): L4 => ({ proto: 'tcp', sport, dport, flags, seq: 7000, ack: 9000, payload });
const udp = (sport: number, dport: number): L4 => ({ proto: 'udp', sport, dport, payload: Buffer.from('query') });

/** A frame as the client pod sends it to the gateway. */
const fromClient = (src: string, dst: string, l4: L4, o: IpOpts = {}) => frame(GW, CLIENT_MAC, ip(src, dst, l4, o));
/** A frame as it must arrive in the backend pod after redirect_peer (MACs rewritten, TTL - 1). */
const toBackend = (src: string, dst: string, l4: L4, ttl = 63) => frame(BACKEND_MAC, GW, ip(src, dst, l4, { ttl }));

// The DNAT flow of the client to the VIP and its reverse-NAT return direction, per family.
const dnat4: Flow = { if: CLIENT_IF, proto: 'tcp', src: CLIENT4, dst: VIP4, sport: 40000, dport: 80, newDst: BACKEND4, newDport: 8080, action: 'peer', target: BACKEND_IF, dmac: BACKEND_MAC, smac: GW, mtu: 1500, id: 41 };
const rnat4: Flow = { if: BACKEND_IF, proto: 'tcp', src: BACKEND4, dst: CLIENT4, sport: 8080, dport: 40000, newSrc: VIP4, newSport: 80, action: 'peer', target: CLIENT_IF, dmac: CLIENT_MAC, smac: GW, mtu: 1500, id: 41 };
const dnat6: Flow = { ...dnat4, src: CLIENT6, dst: VIP6, newDst: BACKEND6, id: 61 };
const rnat6: Flow = { ...rnat4, src: BACKEND6, dst: CLIENT6, newSrc: VIP6, id: 61 };
const udp4: Flow = { if: CLIENT_IF, proto: 'udp', src: CLIENT4, dst: VIP4, sport: 33000, dport: 53, newDst: BACKEND4, newDport: 5353, action: 'peer', target: BACKEND_IF, dmac: BACKEND_MAC, smac: GW, id: 42 };
const udp6: Flow = { ...udp4, src: CLIENT6, dst: VIP6, newDst: BACKEND6, id: 62 };

type Counts = Partial<Record<Stat, number>>;

interface Step {
  run: Run;
  retval: number | 'rejected';
  /** The expected output frame, or 'same' for byte-for-byte unchanged. */
  out?: Buffer | 'same';
}

interface Case {
  name: string;
  pods?: Pod[];
  flows?: Flow[];
  steps: Step[];
  /** Every counter not named must stay 0. */
  stats: Counts;
  /** Stats tail of flows[0] after the run. */
  flow?: { packets: number; bytes: number; tcp_flags?: number };
  spoof?: Partial<Record<SpoofReason, number>>;
  /** Routes for the FIB lookups: the run gets a fresh network namespace built by these. */
  netns?: string[];
}

const step = (frame: Buffer, retval: Step['retval'], out?: Step['out'], o: Partial<Run> = {}): Step => ({ run: { if: CLIENT_IF, frame, ...o }, retval, out });
const punt = (frame: Buffer, o: Partial<Run> = {}): Step => step(frame, TC_ACT_UNSPEC, 'same', o);
const l3len = (f: Buffer) => f.length - 14;

const fwd4 = fromClient(CLIENT4, VIP4, data(40000, 80));
const fwd6 = fromClient(CLIENT6, VIP6, data(40000, 80));
const ret4 = frame(GW, BACKEND_MAC, ip(BACKEND4, CLIENT4, data(8080, 40000)));
const ret6 = frame(GW, BACKEND_MAC, ip(BACKEND6, CLIENT6, data(8080, 40000)));
const toClient = (src: string, dst: string, l4: L4) => frame(CLIENT_MAC, GW, ip(src, dst, l4, { ttl: 63 }));

const hits: Case[] = [
  { name: 'IPv4 TCP DNAT hit: rewritten, TTL - 1, MACs set, redirect_peer', pods: [CLIENT], flows: [dnat4],
    steps: [step(fwd4, TC_ACT_REDIRECT, toBackend(CLIENT4, BACKEND4, data(40000, 8080)))],
    stats: { hit_peer: 1 }, flow: { packets: 1, bytes: l3len(fwd4), tcp_flags: TCP.ACK | TCP.PSH } },
  { name: 'IPv4 TCP reverse-NAT return: source back to the VIP', pods: [BACKEND], flows: [rnat4],
    steps: [step(ret4, TC_ACT_REDIRECT, toClient(VIP4, CLIENT4, data(80, 40000)), { if: BACKEND_IF })],
    stats: { hit_peer: 1 }, flow: { packets: 1, bytes: l3len(ret4) } },
  { name: 'IPv6 TCP DNAT hit (pseudo-header diff over 16 bytes, hop limit - 1)', pods: [CLIENT], flows: [dnat6],
    steps: [step(fwd6, TC_ACT_REDIRECT, toBackend(CLIENT6, BACKEND6, data(40000, 8080)))],
    stats: { hit_peer: 1 }, flow: { packets: 1, bytes: l3len(fwd6) } },
  { name: 'IPv6 TCP reverse-NAT return', pods: [BACKEND], flows: [rnat6],
    steps: [step(ret6, TC_ACT_REDIRECT, toClient(VIP6, CLIENT6, data(80, 40000)), { if: BACKEND_IF })],
    stats: { hit_peer: 1 }, flow: { packets: 1, bytes: l3len(ret6) } },
  { name: 'IPv4 UDP DNAT hit', pods: [CLIENT], flows: [udp4],
    steps: [step(fromClient(CLIENT4, VIP4, udp(33000, 53)), TC_ACT_REDIRECT, toBackend(CLIENT4, BACKEND4, udp(33000, 5353)))],
    stats: { hit_peer: 1 } },
  { name: 'IPv6 UDP DNAT hit', pods: [CLIENT], flows: [udp6],
    steps: [step(fromClient(CLIENT6, VIP6, udp(33000, 53)), TC_ACT_REDIRECT, toBackend(CLIENT6, BACKEND6, udp(33000, 5353)))],
    stats: { hit_peer: 1 } },
  { name: 'IPv4 UDP without checksum stays without one', pods: [CLIENT], flows: [udp4],
    steps: [step(zeroUdpSum(fromClient(CLIENT4, VIP4, udp(33000, 53))), TC_ACT_REDIRECT, zeroUdpSum(toBackend(CLIENT4, BACKEND4, udp(33000, 5353))))],
    stats: { hit_peer: 1 } },
  { name: 'off-node SNAT: redirect_neigh with a next hop, MACs left to the neighbour table', pods: [CLIENT],
    flows: [{ if: CLIENT_IF, proto: 'udp', src: CLIENT4, dst: REMOTE4, sport: 33000, dport: 53, newSrc: NODE4, newSport: 61000, action: 'neigh', target: UPLINK_IF, nh: '192.168.0.1' }],
    steps: [step(fromClient(CLIENT4, REMOTE4, udp(33000, 53)), TC_ACT_REDIRECT, frame(GW, CLIENT_MAC, ip(NODE4, REMOTE4, udp(61000, 53), { ttl: 63 })))],
    stats: { hit_neigh: 1 } },
  { name: 'pass action: rewritten, TTL left to the kernel forward path', pods: [CLIENT],
    flows: [{ ...dnat4, action: 'pass', dmac: undefined, smac: undefined }],
    steps: [step(fwd4, TC_ACT_OK, frame(GW, CLIENT_MAC, ip(CLIENT4, BACKEND4, data(40000, 8080))))],
    stats: { hit_pass: 1 } },
  { name: 'IPv4 ICMP echo with a new source and identifier (no pseudo header)', pods: [CLIENT],
    flows: [{ if: CLIENT_IF, proto: 'icmp', src: CLIENT4, dst: REMOTE4, sport: 7, dport: 7, newSrc: NODE4, newSport: 1007, action: 'neigh', target: UPLINK_IF }],
    steps: [step(fromClient(CLIENT4, REMOTE4, { proto: 'icmp', type: 8, code: 0, id: 7, seq: 1, payload }), TC_ACT_REDIRECT,
      frame(GW, CLIENT_MAC, ip(NODE4, REMOTE4, { proto: 'icmp', type: 8, code: 0, id: 1007, seq: 1, payload }, { ttl: 63 })))],
    stats: { hit_neigh: 1 } },
  { name: 'IPv6 ICMP echo with a new source and identifier (pseudo header)', pods: [CLIENT],
    flows: [{ if: CLIENT_IF, proto: 'icmp', src: CLIENT6, dst: 'fd00:10:244:2::7', sport: 7, dport: 7, newSrc: 'fd00::2', newSport: 1007, action: 'neigh', target: UPLINK_IF }],
    steps: [step(fromClient(CLIENT6, 'fd00:10:244:2::7', { proto: 'icmp', type: 128, code: 0, id: 7, seq: 1, payload }), TC_ACT_REDIRECT,
      frame(GW, CLIENT_MAC, ip('fd00::2', 'fd00:10:244:2::7', { proto: 'icmp', type: 128, code: 0, id: 1007, seq: 1, payload }, { ttl: 63 })))],
    stats: { hit_neigh: 1 } },
  { name: 'uplink (no pod entry): no anti-spoofing, cached like any ingress', flows: [{ ...rnat4, if: UPLINK_IF }],
    steps: [step(ret4, TC_ACT_REDIRECT, toClient(VIP4, CLIENT4, data(80, 40000)), { if: UPLINK_IF })],
    stats: { hit_peer: 1 } },
];

function zeroUdpSum(f: Buffer): Buffer {
  const q = Buffer.from(f);
  q.writeUInt16BE(0, 14 + 20 + 6);
  return q;
}

const gsoPayload = Buffer.alloc(2800, 0x5a);
const gso4 = fromClient(CLIENT4, VIP4, { proto: 'tcp', sport: 40000, dport: 80, flags: TCP.ACK, payload: gsoPayload });

const gso: Case[] = [
  { name: 'GSO packet (gso_size 1400, 2 segments): rewritten once, counted as 2 segments with their headers', pods: [CLIENT], flows: [dnat4],
    steps: [step(gso4, TC_ACT_REDIRECT, toBackend(CLIENT4, BACKEND4, { proto: 'tcp', sport: 40000, dport: 8080, flags: TCP.ACK, payload: gsoPayload }), { gsoSize: 1400, gsoSegs: 2 })],
    stats: { hit_peer: 1 }, flow: { packets: 2, bytes: l3len(gso4) + 40, tcp_flags: TCP.ACK } },
  { name: 'GSO packet without gso_segs: segments derived from gso_size', pods: [CLIENT], flows: [dnat4],
    steps: [step(gso4, TC_ACT_REDIRECT, undefined, { gsoSize: 1000 })],
    stats: { hit_peer: 1 }, flow: { packets: 3, bytes: l3len(gso4) + 2 * 40 } },
  { name: 'GSO packet larger than the MTU is not an MTU punt', pods: [CLIENT], flows: [dnat4],
    steps: [step(gso4, TC_ACT_REDIRECT, undefined, { gsoSize: 1400, gsoSegs: 2 })], stats: { hit_peer: 1 } },
  { name: 'GSO segments over the egress MTU are punted', pods: [CLIENT], flows: [{ ...dnat4, mtu: 1400 }],
    steps: [punt(gso4, { gsoSize: 1400, gsoSegs: 2 })], stats: { punt_mtu: 1 }, flow: { packets: 0, bytes: 0 } },
];

const fin4 = fromClient(CLIENT4, VIP4, data(40000, 80, TCP.FIN | TCP.ACK));
const synAck4 = frame(GW, BACKEND_MAC, ip(BACKEND4, CLIENT4, data(8080, 40000, TCP.SYN | TCP.ACK)));
const fin: Case[] = [
  { name: 'TCP SYN+ACK of an admitted flow is forwarded by the cache (the decision\'s own reply), SYN left in the flags', pods: [BACKEND], flows: [rnat4],
    steps: [step(synAck4, TC_ACT_REDIRECT, toClient(VIP4, CLIENT4, data(80, 40000, TCP.SYN | TCP.ACK)), { if: BACKEND_IF })],
    stats: { hit_peer: 1 }, flow: { packets: 1, bytes: l3len(synAck4), tcp_flags: TCP.SYN | TCP.ACK } },
  { name: 'TCP FIN is forwarded by the cache and leaves FIN in the flow flags for the sweep', pods: [CLIENT], flows: [dnat4],
    steps: [
      step(fwd4, TC_ACT_REDIRECT),
      step(fin4, TC_ACT_REDIRECT, toBackend(CLIENT4, BACKEND4, data(40000, 8080, TCP.FIN | TCP.ACK))),
      step(fromClient(CLIENT4, VIP4, data(40000, 80, TCP.ACK)), TC_ACT_REDIRECT),
    ],
    stats: { hit_peer: 3 }, flow: { packets: 3, bytes: 3 * l3len(fin4), tcp_flags: TCP.FIN | TCP.ACK | TCP.PSH } },
];

// Each punt: the packet leaves unchanged with TC_ACT_UNSPEC (a later classifier still runs)
// and only its reason is counted.
const syn4 = fromClient(CLIENT4, VIP4, { proto: 'tcp', sport: 40000, dport: 80, flags: TCP.SYN });
const withFlows = (c: Omit<Case, 'pods' | 'flows'>): Case => ({ pods: [CLIENT], flows: [dnat4, udp4, dnat6, udp6], ...c });
const cutTcp = (f: Buffer, n: number) => { const q = Buffer.from(f.subarray(0, 34 + n)); q.writeUInt16BE(20 + n, 16); return q; };

const punts: Case[] = [
  withFlows({ name: 'miss: no entry for the 5-tuple', steps: [punt(fromClient(CLIENT4, VIP4, data(40001, 80)))], stats: { miss: 1 } }),
  withFlows({ name: 'miss: same 5-tuple on another ingress device', steps: [punt(frame(GW, BACKEND_MAC, ip(CLIENT4, VIP4, data(40000, 80))), { if: 11 })], stats: { miss: 1 } }),
  withFlows({ name: 'TCP SYN of a cached flow', steps: [punt(syn4)], stats: { punt_tcp_syn: 1 } }),
  withFlows({ name: 'TCP SYN+ACK without an entry is a miss (only a SYN without ACK is a SYN punt)', steps: [punt(fromClient(CLIENT4, VIP4, data(40001, 80, TCP.SYN | TCP.ACK)))], stats: { miss: 1 } }),
  withFlows({ name: 'TCP RST of a cached flow', steps: [punt(fromClient(CLIENT4, VIP4, data(40000, 80, TCP.RST | TCP.ACK)))], stats: { punt_tcp_rst: 1 } }),
  withFlows({ name: 'IPv4 first fragment (MF)', steps: [punt(fromClient(CLIENT4, VIP4, udp(33000, 53), { moreFragments: true }))], stats: { punt_fragment: 1 } }),
  withFlows({ name: 'IPv4 later fragment (offset)', steps: [punt(fromClient(CLIENT4, VIP4, udp(33000, 53), { fragOffset: 1480 }))], stats: { punt_fragment: 1 } }),
  withFlows({ name: 'IPv4 options', steps: [punt(fromClient(CLIENT4, VIP4, data(40000, 80), { options: Buffer.from([1, 1, 1, 0]) }))], stats: { punt_ip_options: 1 } }),
  // (from a pod, a hop-by-hop header is an anti-spoofing drop: see the spoof cases)
  withFlows({ name: 'IPv6 hop-by-hop header on the uplink', steps: [punt(fromClient(CLIENT6, VIP6, data(40000, 80), { ext: [{ type: 0, body: Buffer.from([0, 0, 1, 4, 0, 0, 0, 0]) }] }), { if: UPLINK_IF })], stats: { punt_ipv6_ext: 1 } }),
  withFlows({ name: 'IPv6 fragment header', steps: [punt(fromClient(CLIENT6, VIP6, udp(33000, 53), { ext: [{ type: 44, body: Buffer.from([0, 0, 0, 1, 0, 0, 0, 9]) }] }))], stats: { punt_ipv6_ext: 1 } }),
  withFlows({ name: 'IPv4 TTL 1', steps: [punt(fromClient(CLIENT4, VIP4, data(40000, 80), { ttl: 1 }))], stats: { punt_ttl: 1 } }),
  withFlows({ name: 'IPv4 TTL 0', steps: [punt(fromClient(CLIENT4, VIP4, udp(33000, 53), { ttl: 0 }))], stats: { punt_ttl: 1 } }),
  withFlows({ name: 'IPv6 hop limit 1', steps: [punt(fromClient(CLIENT6, VIP6, data(40000, 80), { ttl: 1 }))], stats: { punt_ttl: 1 } }),
  withFlows({ name: 'ICMP error (fragmentation needed) about a cached flow', steps: [punt(fromClient(CLIENT4, VIP4, { proto: 'icmp', type: 3, code: 4, rest: ip(VIP4, CLIENT4, data(80, 40000)).subarray(0, 28) }))], stats: { punt_icmp_error: 1 } }),
  withFlows({ name: 'ICMPv6 error (packet too big)', steps: [punt(fromClient(CLIENT6, VIP6, { proto: 'icmp', type: 2, code: 0, rest: ip(VIP6, CLIENT6, data(80, 40000)).subarray(0, 48) }))], stats: { punt_icmp_error: 1 } }),
  withFlows({ name: 'ICMP timestamp (neither echo nor error)', steps: [punt(fromClient(CLIENT4, VIP4, { proto: 'icmp', type: 13, code: 0 }))], stats: { punt_icmp_other: 1 } }),
  withFlows({ name: 'ICMP echo without an entry is a miss', steps: [punt(fromClient(CLIENT4, VIP4, { proto: 'icmp', type: 8, code: 0, id: 9, seq: 1 }))], stats: { miss: 1 } }),
  withFlows({ name: 'other L4 protocol (GRE)', steps: [punt(fromClient(CLIENT4, VIP4, { proto: 'udp', sport: 1, dport: 2 }).fill(47, 14 + 9, 14 + 10))], stats: { punt_l4: 1 } }),
  { name: 'non-GSO packet over the egress MTU', pods: [CLIENT], flows: [{ ...dnat4, mtu: 60 }], steps: [punt(fwd4)], stats: { punt_mtu: 1 }, flow: { packets: 0, bytes: 0 } },
  { name: 'packet exactly at the egress MTU is a hit', pods: [CLIENT], flows: [{ ...dnat4, mtu: l3len(fwd4) }], steps: [step(fwd4, TC_ACT_REDIRECT)], stats: { hit_peer: 1 } },
];

const truncated: Case[] = [
  withFlows({ name: 'TCP header cut to 10 bytes', steps: [punt(cutTcp(fwd4, 10))], stats: { punt_truncated: 1 } }),
  withFlows({ name: 'TCP data offset below 5', steps: [punt((() => { const f = Buffer.from(fwd4); f[14 + 20 + 12] = 0x40; return f; })())], stats: { punt_truncated: 1 } }),
  withFlows({ name: 'UDP header cut to 4 bytes', steps: [punt(cutTcp(fromClient(CLIENT4, VIP4, udp(33000, 53)), 4))], stats: { punt_truncated: 1 } }),
  withFlows({ name: 'ICMP header cut to 4 bytes', steps: [punt(cutTcp(fromClient(CLIENT4, VIP4, { proto: 'icmp', type: 8, code: 0, id: 1 }), 4))], stats: { punt_truncated: 1 } }),
  withFlows({ name: 'IPv6 without any L4 bytes', steps: [punt(fromClient(CLIENT6, VIP6, data(40000, 80)).subarray(0, 54))], stats: { punt_truncated: 1 } }),
  withFlows({ name: 'IPv4 header with version 6 (bad version)', steps: [punt((() => { const f = Buffer.from(fwd4); f[14] = 0x65; return f; })())], stats: { punt_truncated: 1 } }),
  withFlows({ name: 'IPv4 ihl below 5', steps: [punt((() => { const f = Buffer.from(fwd4); f[14] = 0x44; return f; })())], stats: { punt_truncated: 1 } }),
  { name: 'bare Ethernet header of an unknown ethertype', steps: [punt(eth(GW, CLIENT_MAC, 0x88b5))], stats: { punt_not_ip: 1 } },
  // The kernel's test-run refuses an IP ethertype without a whole IP header before the
  // program runs; the program's own bound checks still punt such frames as truncated.
  { name: 'IPv4 ethertype with 10 bytes of header is refused by the kernel', steps: [step(fwd4.subarray(0, 24), 'rejected')], stats: {} },
  { name: 'IPv6 ethertype with no header is refused by the kernel', steps: [step(fwd6.subarray(0, 14), 'rejected')], stats: {} },
];

const llSrc = 'fe80::ff:fe00:164';
const sn = solicitedNode(BACKEND6);
const spoof: Case[] = [
  { name: 'spoofed source MAC is dropped', pods: [CLIENT], flows: [dnat4],
    steps: [step(frame(GW, '02:00:00:00:09:99', ip(CLIENT4, VIP4, data(40000, 80))), TC_ACT_SHOT)],
    stats: { spoof_drop: 1 }, spoof: { src_mac: 1 }, flow: { packets: 0, bytes: 0 } },
  { name: 'spoofed IPv4 source is dropped even with a cached flow', pods: [CLIENT], flows: [{ ...dnat4, src: '10.244.1.101' }],
    steps: [step(fromClient('10.244.1.101', VIP4, data(40000, 80)), TC_ACT_SHOT)],
    stats: { spoof_drop: 1 }, spoof: { src_ipv4: 1 }, flow: { packets: 0, bytes: 0 } },
  { name: 'spoofed IPv6 source is dropped', pods: [CLIENT],
    steps: [step(fromClient('fd00:10:244:1::65', VIP6, data(40000, 80)), TC_ACT_SHOT)], stats: { spoof_drop: 1 }, spoof: { src_ipv6: 1 } },
  { name: 'IPv4 from a pod without an IPv4 address is dropped', pods: [{ ...CLIENT, v4: [] }],
    steps: [step(fwd4, TC_ACT_SHOT)], stats: { spoof_drop: 1 }, spoof: { src_ipv4: 1 } },
  { name: 'unknown ethertype from a pod with its own MAC passes', pods: [CLIENT],
    steps: [punt(eth(GW, CLIENT_MAC, 0x88b5, Buffer.alloc(46)))], stats: { punt_not_ip: 1 }, spoof: {} },
  { name: 'unknown ethertype with a foreign MAC is dropped', pods: [CLIENT],
    steps: [step(eth(GW, '02:00:00:00:09:99', 0x88b5, Buffer.alloc(46)), TC_ACT_SHOT)], stats: { spoof_drop: 1 }, spoof: { src_mac: 1 } },
  { name: 'drops are counted per pod and reason', pods: [CLIENT, BACKEND],
    steps: [
      step(frame(GW, '02:00:00:00:09:99', ip(CLIENT4, VIP4, data(40000, 80))), TC_ACT_SHOT),
      step(fromClient('10.244.1.101', VIP4, data(40000, 80)), TC_ACT_SHOT),
      step(fromClient('10.244.1.101', VIP4, data(40000, 80)), TC_ACT_SHOT),
      punt(ret4, { if: BACKEND_IF }),
    ],
    stats: { spoof_drop: 3, miss: 1 }, spoof: { src_mac: 1, src_ipv4: 2 } },
  { name: 'second IPv4 address of a pod is accepted', pods: [{ ...CLIENT, v4: ['10.244.9.9', CLIENT4] }], flows: [dnat4],
    steps: [step(fwd4, TC_ACT_REDIRECT)], stats: { hit_peer: 1 } },
  { name: 'ARP from the pod is allowed', pods: [CLIENT], steps: [punt(arpRequest(CLIENT_MAC, CLIENT4, '10.244.1.1'))],
    stats: { spoof_allowed_arp_nd: 1, punt_not_ip: 1 } },
  { name: 'ARP with a foreign source MAC is dropped', pods: [CLIENT], steps: [step(arpRequest('02:00:00:00:09:99', CLIENT4, '10.244.1.1'), TC_ACT_SHOT)],
    stats: { spoof_drop: 1 }, spoof: { src_mac: 1 } },
  { name: 'neighbour solicitation from the link-local address is allowed', pods: [CLIENT],
    steps: [punt(frame(sn.mac, CLIENT_MAC, ip(llSrc, sn.addr, { proto: 'icmp', type: 135, code: 0, rest: nsBody(BACKEND6, CLIENT_MAC) }, { ttl: 255 })))],
    stats: { spoof_allowed_arp_nd: 1, punt_icmp_other: 1 } },
  { name: 'duplicate address detection from :: is allowed', pods: [CLIENT],
    steps: [punt(frame(solicitedNode(CLIENT6).mac, CLIENT_MAC, ip('::', solicitedNode(CLIENT6).addr, { proto: 'icmp', type: 135, code: 0, rest: nsBody(CLIENT6) }, { ttl: 255 })))],
    stats: { spoof_allowed_arp_nd: 1, punt_icmp_other: 1 } },
  { name: 'UDP from :: is dropped', pods: [CLIENT], steps: [step(fromClient('::', VIP6, udp(1, 2)), TC_ACT_SHOT)],
    stats: { spoof_drop: 1 }, spoof: { src_ipv6: 1 } },
  { name: 'neighbour advertisement from the pod address is allowed', pods: [CLIENT],
    steps: [punt(frame(GW, CLIENT_MAC, ip(CLIENT6, 'fe80::1', { proto: 'icmp', type: 136, code: 0, rest: nsBody(CLIENT6, CLIENT_MAC) }, { ttl: 255 })))],
    stats: { spoof_allowed_arp_nd: 1, punt_icmp_other: 1 } },  ...spoofParity(),
];

/** The u32 filters' rules (src/node/antispoof.ts) one by one: ARP sender, NA target, extension
 * headers and MLD reports, VLAN tags. */
function spoofParity(): Case[] {
  const na = (src: string, target: string, o: IpOpts = {}) => frame(GW, CLIENT_MAC, ip(src, 'ff02::1', { proto: 'icmp', type: 136, code: 0, rest: nsBody(target, CLIENT_MAC) }, { ttl: 255, ...o }));
  const hbh = (len = 0) => ({ type: 0, body: Buffer.concat([Buffer.from([0, len, 5, 2, 0, 0, 1, 0]), Buffer.alloc(len * 8)]) });
  const mld = (src: string, type = 143, o: IpOpts = { ext: [hbh()] }) => frame('33:33:00:00:00:16', CLIENT_MAC, ip(src, 'ff02::16', { proto: 'icmp', type, code: 0, rest: Buffer.from([0, 0, 0, 1, 4, 0, 0, 0, 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16, 0xfb]) }, { ttl: 1, ...o }));
  const pod = (name: string, f: Buffer, stats: Counts): Case => ({ name, pods: [CLIENT], steps: [punt(f)], stats, spoof: {} });
  const drop = (name: string, f: Buffer, reason: SpoofReason, o: Partial<Run> = {}): Case =>
    ({ name, pods: [CLIENT], steps: [step(f, TC_ACT_SHOT, undefined, o)], stats: { spoof_drop: 1 }, spoof: { [reason]: 1 } });
  const arpND = { spoof_allowed_arp_nd: 1 };
  return [
    pod('ARP probe from 0.0.0.0 is allowed', arpRequest(CLIENT_MAC, '0.0.0.0', CLIENT4), { ...arpND, punt_not_ip: 1 }),
    drop('ARP with another sender MAC inside is dropped', arpRequest(CLIENT_MAC, CLIENT4, '10.244.1.1', BACKEND_MAC), 'arp_sender'),
    drop('ARP claiming a neighbour\'s IPv4 is dropped', arpRequest(CLIENT_MAC, BACKEND4, '10.244.1.1'), 'arp_sender'),
    drop('ARP cut short before the sender IP is dropped', arpRequest(CLIENT_MAC, CLIENT4, '10.244.1.1').subarray(0, 14 + 16), 'arp_sender'),
    pod('neighbour advertisement for a link-local target is allowed', na(llSrc, llSrc), { ...arpND, punt_icmp_other: 1 }),
    drop('neighbour advertisement for a neighbour\'s address is dropped', na(llSrc, BACKEND6), 'ipv6_na_target'),
    drop('neighbour advertisement cut before its target is dropped', frame(GW, CLIENT_MAC, ip(llSrc, 'ff02::1', { proto: 'icmp', type: 136, code: 0 }, { ttl: 255 })), 'ipv6_na_target'),
    drop('neighbour advertisement behind a destination options header is dropped', na(llSrc, BACKEND6, { ext: [{ type: 60, body: Buffer.from([0, 0, 1, 4, 0, 0, 0, 0]) }] }), 'ipv6_ext_header'),
    pod('MLDv2 report behind an 8-byte hop-by-hop header from link-local is allowed', mld(llSrc), { punt_ipv6_ext: 1 }),
    pod('MLDv1 report from :: is allowed', mld('::', 131), { punt_ipv6_ext: 1 }),
    pod('MLDv1 done from link-local is allowed', mld(llSrc, 132), { punt_ipv6_ext: 1 }),
    drop('MLD report from the pod\'s global address is dropped', mld(CLIENT6), 'ipv6_ext_header'),
    drop('MLD report behind a 16-byte hop-by-hop header is dropped', mld(llSrc, 143, { ext: [hbh(1)] }), 'ipv6_ext_header'),
    drop('ICMPv6 echo behind a hop-by-hop header is dropped', fromClient(CLIENT6, VIP6, { proto: 'icmp', type: 128, code: 0, id: 1, seq: 1 }, { ext: [hbh()] }), 'ipv6_ext_header'),
    drop('IPv6 routing header is dropped', fromClient(CLIENT6, VIP6, udp(33000, 53), { ext: [{ type: 43, body: Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]) }] }), 'ipv6_ext_header'),
    drop('IPv6 mobility header first is dropped', (() => { const f = Buffer.from(fromClient(CLIENT6, VIP6, udp(33000, 53))); f[14 + 6] = 135; return f; })(), 'ipv6_ext_header'),
    pod('IPv6 fragment header from the pod goes on to the source rule', fromClient(CLIENT6, VIP6, udp(33000, 53), { ext: [{ type: 44, body: Buffer.from([0, 0, 0, 1, 0, 0, 0, 9]) }] }), { punt_ipv6_ext: 1 }),
    drop('802.1Q tagged frame is dropped', tagged(fwd4), 'vlan_tagged'),
    drop('802.1ad tagged frame is dropped', tagged(fwd4, 0x88a8), 'vlan_tagged'),
    drop('priority-tagged (VID 0) ARP is dropped', tagged(arpRequest(CLIENT_MAC, CLIENT4, '10.244.1.1'), 0x8100, 0), 'vlan_tagged'),
    { name: '802.1Q tagged frame on the uplink is punted', steps: [punt(tagged(fwd4), { if: UPLINK_IF })], stats: { punt_not_ip: 1 } },
  ];
}

const fwd4b = fromClient(CLIENT4, VIP4, data(40000, 80, TCP.ACK));
const counters: Case[] = [
  { name: 'both directions of a flow count separately; a miss and a punt in between count alone', pods: [CLIENT, BACKEND], flows: [dnat4, rnat4],
    steps: [
      step(fwd4, TC_ACT_REDIRECT),
      step(ret4, TC_ACT_REDIRECT, undefined, { if: BACKEND_IF }),
      punt(fromClient(CLIENT4, VIP4, data(40002, 80))),
      punt(syn4),
      step(fwd4b, TC_ACT_REDIRECT),
    ],
    stats: { hit_peer: 3, miss: 1, punt_tcp_syn: 1 }, flow: { packets: 2, bytes: l3len(fwd4) + l3len(fwd4b), tcp_flags: TCP.ACK | TCP.PSH } },
];

// Off-node delivery (action fib): the reply of a flow from outside leaves the backend pod's
// veth for the FIB's egress device and next hop. The namespace: the uplink (ifindex 3) with
// the node address, the backend's veth (ifindex 9); OUTSIDE4/6 behind a gateway with a
// resolved neighbour, UNRESOLVED4 behind one without, ON_POD_VETH routed back out of the
// backend's own veth, NOWHERE4 without a route. redirect_neigh leaves the MACs to the
// neighbour layer (not run under test-run), so the frames keep theirs.
const OUTSIDE4 = '203.0.113.10', OUTSIDE6 = 'fd00:99::10', UNRESOLVED4 = '100.64.0.10', ON_POD_VETH = '198.51.100.10', NOWHERE4 = '198.18.0.1';
const NODE6 = 'fd00:50::2';
const fibNetns = (uplinkMtu = 1500) => [
  `ip link add up0 index ${UPLINK_IF} mtu ${uplinkMtu} type veth peer name up0p`,
  `ip link add pv0 index ${BACKEND_IF} type veth peer name pv0p`,
  'for l in lo up0 up0p pv0 pv0p; do ip link set $l up; done',
  `ip addr add ${NODE4}/24 dev up0`,
  `ip -6 addr add ${NODE6}/64 dev up0 nodad`,
  'ip neigh add 192.168.0.1 lladdr 02:00:00:00:00:fe dev up0 nud permanent',
  'ip -6 neigh add fd00:50::1 lladdr 02:00:00:00:00:fe dev up0 nud permanent',
  'ip route add 203.0.113.0/24 via 192.168.0.1',
  'ip route add 100.64.0.0/24 via 192.168.0.3',
  `ip route add 198.51.100.0/24 dev pv0`,
  'ip -6 route add fd00:99::/64 via fd00:50::1',
  'sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1',
];
const fromBackend = (src: string, dst: string, l4: L4, o: IpOpts = {}) => frame(GW, BACKEND_MAC, ip(src, dst, l4, o));
/** The reply leaving for the outside: translated, TTL - 1, MACs as the pod sent them. */
const outward = (src: string, dst: string, l4: L4) => frame(GW, BACKEND_MAC, ip(src, dst, l4, { ttl: 63 }));
// eTP Local: the backend answers the client itself; the source goes back to the NodePort.
const rfib4: Flow = { if: BACKEND_IF, proto: 'tcp', src: BACKEND4, dst: OUTSIDE4, sport: 8080, dport: 40000, newSrc: NODE4, newSport: 30080, action: 'fib', id: 71 };
const rfib6: Flow = { ...rfib4, src: BACKEND6, dst: OUTSIDE6, newSrc: NODE6, id: 72 };
const fibCase = (c: Omit<Case, 'netns' | 'pods'> & { mtu?: number }): Case => ({ pods: [BACKEND], netns: fibNetns(c.mtu), ...c });
const atBackend = { if: BACKEND_IF };
// A NodePort flow passing through (its endpoint on another node): in by the uplink, SNAT to the
// node, DNAT to the endpoint, which is routed out of the same uplink.
const ROUTER_MAC = '02:00:00:00:00:fe', REMOTE_EP4 = '203.0.113.20';
const through4: Flow = { if: UPLINK_IF, proto: 'tcp', src: OUTSIDE4, dst: NODE4, sport: 40000, dport: 30086,
  newSrc: NODE4, newSport: 61000, newDst: REMOTE_EP4, newDport: 8080, action: 'fib', hairpin: true, id: 73 };
const fromUplink = frame(GW, ROUTER_MAC, ip(OUTSIDE4, NODE4, data(40000, 30086)));
const atUplink = { if: UPLINK_IF };
const big = Buffer.alloc(1400, 0x33);

const fib: Case[] = [
  fibCase({ name: 'off-node reply (eTP Local): FIB route via a resolved gateway, rewritten, TTL - 1, redirect_neigh', flows: [rfib4],
    steps: [step(fromBackend(BACKEND4, OUTSIDE4, data(8080, 40000)), TC_ACT_REDIRECT, outward(NODE4, OUTSIDE4, data(30080, 40000)), atBackend)],
    stats: { hit_fib: 1 }, flow: { packets: 1, bytes: l3len(fromBackend(BACKEND4, OUTSIDE4, data(8080, 40000))) } }),
  fibCase({ name: 'off-node reply, IPv6', flows: [rfib6],
    steps: [step(fromBackend(BACKEND6, OUTSIDE6, data(8080, 40000)), TC_ACT_REDIRECT, outward(NODE6, OUTSIDE6, data(30080, 40000)), atBackend)],
    stats: { hit_fib: 1 } }),
  fibCase({ name: 'off-node reply (eTP Cluster): the lookup uses the translated destination, not the node address the pod answered',
    flows: [{ ...rfib4, proto: 'udp', dst: NODE4, sport: 5353, dport: 41000, newSport: 30053, newDst: OUTSIDE4, newDport: 50000 }],
    steps: [step(fromBackend(BACKEND4, NODE4, udp(5353, 41000)), TC_ACT_REDIRECT, outward(NODE4, OUTSIDE4, udp(30053, 50000)), atBackend)],
    stats: { hit_fib: 1 } }),
  fibCase({ name: 'off-node reply via a gateway without a neighbour entry yet: redirect_neigh resolves it', flows: [{ ...rfib4, dst: UNRESOLVED4 }],
    steps: [step(fromBackend(BACKEND4, UNRESOLVED4, data(8080, 40000)), TC_ACT_REDIRECT, outward(NODE4, UNRESOLVED4, data(30080, 40000)), atBackend)],
    stats: { hit_fib: 1 } }),
  fibCase({ name: 'no route to the client: punted untouched', flows: [{ ...rfib4, dst: NOWHERE4 }],
    steps: [punt(fromBackend(BACKEND4, NOWHERE4, data(8080, 40000)), atBackend)], stats: { punt_fib: 1 }, flow: { packets: 0, bytes: 0 } }),
  fibCase({ name: 'translated destination is the node itself: punted', flows: [{ ...rfib4, newDst: NODE4 }],
    steps: [punt(fromBackend(BACKEND4, OUTSIDE4, data(8080, 40000)), atBackend)], stats: { punt_fib: 1 } }),
  fibCase({ name: 'route back out of the ingress veth: punted', flows: [{ ...rfib4, dst: ON_POD_VETH }],
    steps: [punt(fromBackend(BACKEND4, ON_POD_VETH, data(8080, 40000)), atBackend)], stats: { punt_fib: 1 } }),
  fibCase({ name: 'a NodePort flow passing through to another node (hairpin flag): out by the uplink it came in on', flows: [through4],
    steps: [step(fromUplink, TC_ACT_REDIRECT, frame(GW, ROUTER_MAC, ip(NODE4, REMOTE_EP4, data(61000, 8080), { ttl: 63 })), atUplink)], stats: { hit_fib: 1 } }),
  fibCase({ name: 'the same without the hairpin flag: punted', flows: [{ ...through4, hairpin: false }],
    steps: [punt(fromUplink, atUplink)], stats: { punt_fib: 1 } }),
  fibCase({ name: 'non-GSO packet over the egress device MTU: punted for the engine\'s ICMP error', mtu: 1280, flows: [rfib4],
    steps: [punt(fromBackend(BACKEND4, OUTSIDE4, { ...data(8080, 40000), payload: big }), atBackend)], stats: { punt_mtu: 1 }, flow: { packets: 0, bytes: 0 } }),
  fibCase({ name: 'GSO segments over the egress device MTU: punted', mtu: 1280, flows: [rfib4],
    steps: [punt(fromBackend(BACKEND4, OUTSIDE4, { ...data(8080, 40000), payload: Buffer.concat([big, big]) }), { ...atBackend, gsoSize: 1400, gsoSegs: 2 })], stats: { punt_mtu: 1 } }),
  fibCase({ name: 'GSO segments within the egress device MTU: delivered', mtu: 1500, flows: [rfib4],
    steps: [step(fromBackend(BACKEND4, OUTSIDE4, { ...data(8080, 40000), payload: Buffer.concat([big, big]) }), TC_ACT_REDIRECT, undefined, { ...atBackend, gsoSize: 1400, gsoSegs: 2 })], stats: { hit_fib: 1 } }),
  fibCase({ name: 'the entry\'s own MTU still applies first', flows: [{ ...rfib4, mtu: 60 }],
    steps: [punt(fromBackend(BACKEND4, OUTSIDE4, data(8080, 40000)), atBackend)], stats: { punt_mtu: 1 } }),
];

const CASES: Case[] = [...hits, ...gso, ...fin, ...punts, ...truncated, ...spoof, ...counters, ...fib];

t.test('kernel flow cache tc program under BPF_PROG_TEST_RUN', requires({
  root: isRoot,
  clang: () => haveCommand('clang'),
  'libbpf headers': () => fs.existsSync('/usr/include/bpf/libbpf.h'),
}), async (t) => {
  const b = build();
  t.ok(b.ok, `native/bpf/build.sh builds the object and the harness${b.ok ? '' : `:\n${b.output}`}`);
  if (!b.ok) return;
  t.test('the verifier accepts the program within a small budget', async (t) => {
    const r = testRun([], [], []);
    t.equal(r.status, 0, `loads${r.status ? `:\n${r.stderr.slice(-6000)}` : ''}`);
    // about 7,000 today; a jump towards the 1M limit means a loop or branch explosion
    t.ok(r.prog && r.prog.verified_insns > 0 && r.prog.verified_insns < 50000, `verified instructions: ${r.prog?.verified_insns}`);
  });
  for (const c of CASES) {
    t.test(c.name, async (t) => {
      const r = testRun(c.pods ?? [], c.flows ?? [], c.steps.map((s) => s.run), c.netns);
      t.equal(r.status, 0, `harness exits cleanly${r.status ? `:\n${r.stderr.slice(-6000)}` : ''}`);
      c.steps.forEach((s, i) => {
        const got = r.runs[i];
        if (s.retval === 'rejected') {
          t.equal(got?.error, 'Invalid argument', `packet ${i}: refused by the kernel`);
          return;
        }
        t.equal(got?.retval, s.retval, `packet ${i}: verdict`);
        if (s.out === 'same') t.equal(got?.packet?.toString('hex'), s.run.frame.toString('hex'), `packet ${i}: unchanged`);
        else if (s.out) t.equal(got?.packet?.toString('hex'), s.out.toString('hex'), `packet ${i}: bytes match the independently built frame`);
      });
      const want = Object.fromEntries(STATS.map((s) => [s, c.stats[s] ?? 0]));
      t.same(r.stats, want, 'counters');
      if (c.flow) {
        const f = r.flows[0];
        t.equal(f?.packets, c.flow.packets, 'flow packets');
        t.equal(f?.bytes, c.flow.bytes, 'flow bytes');
        if (c.flow.tcp_flags !== undefined) t.equal(f?.tcp_flags, c.flow.tcp_flags, 'flow TCP flags (OR)');
        if (c.flow.packets > 0) t.ok(f.last_seen_ns > 0, 'last seen stamped');
        else t.equal(f?.last_seen_ns, 0, 'last seen untouched');
      }
      if (c.spoof) {
        const pod = c.pods?.[0]?.if ?? CLIENT_IF;
        const want = { ...Object.fromEntries(SPOOF_REASONS.map((r) => [r, 0])), ...c.spoof };
        t.same(r.spoof.get(pod), want, 'anti-spoofing drops of the pod by reason');
      }
    });
  }
});
