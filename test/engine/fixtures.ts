// Table-driven packet fixtures for the engine: {name, input, expected verdict/output}.
// Shared by the pipeline tests (normal and ASan+UBSan builds) and the engine benchmark.
import type { ServicePortSpec } from '../../src/engine';
import { ip, TCP, vnetHdr, toPartial } from '../helpers/packets';

export const CLIENT4 = '10.244.1.100';
export const CLIENT6 = 'fd00:10:244:1::64';
export const BACKENDS4 = ['10.244.1.2', '10.244.1.3', '10.244.1.4'];

export const SERVICES: ServicePortSpec[] = [
  { vip: '10.96.0.10', port: 80, protocol: 'TCP', name: 'default/web:http', backends: BACKENDS4.map((b) => ({ ip: b, port: 8080 })) },
  { vip: '10.96.0.10', port: 53, protocol: 'UDP', name: 'default/dns:dns', backends: [{ ip: '10.244.1.5', port: 5353 }] },
  { vip: '10.96.0.11', port: 80, protocol: 'TCP', name: 'default/empty:http', backends: [] },
  { vip: '10.96.0.11', port: 53, protocol: 'UDP', name: 'default/empty:dns', backends: [] },
  { vip: '10.96.0.12', port: 80, protocol: 'TCP', name: 'default/one:http', backends: [{ ip: '10.244.1.2', port: 8080 }] },
  { vip: 'fd00:10:96::10', port: 80, protocol: 'TCP', name: 'default/web6:http', backends: [{ ip: 'fd00:10:244:1::2', port: 8080 }] },
  { vip: 'fd00:10:96::10', port: 53, protocol: 'UDP', name: 'default/dns6:dns', backends: [{ ip: 'fd00:10:244:1::5', port: 5353 }] },
  { vip: 'fd00:10:96::11', port: 53, protocol: 'UDP', name: 'default/empty6:dns', backends: [] },
];

export interface Expect {
  verdict: 'forward' | 'reply' | 'drop';
  reason?: string;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  /** Output must equal the input byte for byte. */
  unchanged?: boolean;
  icmpType?: number;
  icmpCode?: number;
  tcpFlags?: number;
}

export interface Fixture {
  name: string;
  input: Buffer;
  vnet?: Buffer;
  expect: Expect;
}

const payload = Buffer.from('GET / HTTP/1.1\r\nHost: web\r\n\r\n');
const syn4 = (dst: string, dport: number, sport = 40000) => ip(CLIENT4, dst, { proto: 'tcp', sport, dport, flags: TCP.SYN, seq: 5000 });

// Single-step fixtures on a fresh engine with SERVICES programmed.
export const FIXTURES: Fixture[] = [
  { name: 'TCP SYN to a single-backend VIP is DNATed', input: syn4('10.96.0.12', 80),
    expect: { verdict: 'forward', src: CLIENT4, dst: '10.244.1.2', sport: 40000, dport: 8080 } },
  { name: 'TCP data to a VIP (mid-stream, no flow yet) is DNATed', input: ip(CLIENT4, '10.96.0.12', { proto: 'tcp', sport: 40001, dport: 80, flags: TCP.ACK | TCP.PSH, payload }),
    expect: { verdict: 'forward', dst: '10.244.1.2', dport: 8080 } },
  { name: 'UDP to a VIP is DNATed', input: ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 33000, dport: 53, payload: Buffer.from('query') }),
    expect: { verdict: 'forward', dst: '10.244.1.5', dport: 5353 } },
  { name: 'UDP with no checksum (IPv4) stays without one', input: (() => { const p = ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 33001, dport: 53, payload: Buffer.from('q') }); p.writeUInt16BE(0, 26); return p; })(),
    expect: { verdict: 'forward', dst: '10.244.1.5', dport: 5353 } },
  { name: 'IPv6 TCP SYN is DNATed', input: ip(CLIENT6, 'fd00:10:96::10', { proto: 'tcp', sport: 40000, dport: 80, flags: TCP.SYN }),
    expect: { verdict: 'forward', dst: 'fd00:10:244:1::2', dport: 8080 } },
  { name: 'IPv6 UDP is DNATed', input: ip(CLIENT6, 'fd00:10:96::10', { proto: 'udp', sport: 33000, dport: 53, payload: Buffer.from('q6') }),
    expect: { verdict: 'forward', dst: 'fd00:10:244:1::5', dport: 5353 } },
  { name: 'IPv6 with hop-by-hop and destination options is DNATed', input: ip(CLIENT6, 'fd00:10:96::10', { proto: 'tcp', sport: 40002, dport: 80, flags: TCP.SYN },
      { ext: [{ type: 0, body: Buffer.from([0, 0, 1, 4, 0, 0, 0, 0]) }, { type: 60, body: Buffer.from([0, 0, 1, 4, 0, 0, 0, 0]) }] }),
    expect: { verdict: 'forward', dst: 'fd00:10:244:1::2', dport: 8080 } },
  { name: 'IPv4 with options is DNATed', input: ip(CLIENT4, '10.96.0.12', { proto: 'tcp', sport: 40003, dport: 80, flags: TCP.SYN }, { options: Buffer.from([1, 1, 1, 0]) }),
    expect: { verdict: 'forward', dst: '10.244.1.2', dport: 8080 } },
  { name: 'TCP SYN to a VIP port without backends gets a RST', input: syn4('10.96.0.11', 80),
    expect: { verdict: 'reply', reason: 'no_backend', src: '10.96.0.11', dst: CLIENT4, sport: 80, dport: 40000, tcpFlags: TCP.RST | TCP.ACK } },
  { name: 'TCP SYN to an undefined port of a VIP gets a RST', input: syn4('10.96.0.10', 81),
    expect: { verdict: 'reply', reason: 'no_service_port', src: '10.96.0.10', dst: CLIENT4, tcpFlags: TCP.RST | TCP.ACK } },
  { name: 'UDP to a VIP port without backends gets ICMP port unreachable', input: ip(CLIENT4, '10.96.0.11', { proto: 'udp', sport: 33000, dport: 53 }),
    expect: { verdict: 'reply', reason: 'no_backend', src: '10.96.0.11', dst: CLIENT4, icmpType: 3, icmpCode: 3 } },
  { name: 'UDP to an undefined port of a VIP gets ICMP port unreachable', input: ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 33000, dport: 54 }),
    expect: { verdict: 'reply', reason: 'no_service_port', icmpType: 3, icmpCode: 3 } },
  { name: 'IPv6 UDP to a VIP without backends gets ICMPv6 port unreachable', input: ip(CLIENT6, 'fd00:10:96::11', { proto: 'udp', sport: 33000, dport: 53 }),
    expect: { verdict: 'reply', reason: 'no_backend', src: 'fd00:10:96::11', dst: CLIENT6, icmpType: 1, icmpCode: 4 } },
  { name: 'a RST to a VIP port without backends is not answered', input: ip(CLIENT4, '10.96.0.11', { proto: 'tcp', sport: 40000, dport: 80, flags: TCP.RST }),
    expect: { verdict: 'drop', reason: 'stale_flow' } },
  { name: 'ping to a VIP is answered', input: ip(CLIENT4, '10.96.0.10', { proto: 'icmp', type: 8, code: 0, id: 7, seq: 1, payload: Buffer.from('ping') }),
    expect: { verdict: 'reply', src: '10.96.0.10', dst: CLIENT4, icmpType: 0 } },
  { name: 'IPv6 ping to a VIP is answered', input: ip(CLIENT6, 'fd00:10:96::10', { proto: 'icmp', type: 128, code: 0, id: 7, seq: 1, payload: Buffer.from('ping') }),
    expect: { verdict: 'reply', src: 'fd00:10:96::10', dst: CLIENT6, icmpType: 129 } },
  { name: 'pod-to-pod TCP passes unchanged', input: ip(CLIENT4, '10.244.1.2', { proto: 'tcp', sport: 40000, dport: 8080, flags: TCP.SYN }),
    expect: { verdict: 'forward', unchanged: true } },
  { name: 'pod-to-pod ICMP passes unchanged', input: ip(CLIENT4, '10.244.1.2', { proto: 'icmp', type: 8, code: 0, id: 1, seq: 1 }),
    expect: { verdict: 'forward', unchanged: true } },
  { name: 'unknown protocol between pods passes unchanged', input: (() => { const p = ip(CLIENT4, '10.244.1.2', { proto: 'udp', sport: 1, dport: 2 }); p[9] = 47; p.writeUInt16BE(0, 10); return p; })(),
    expect: { verdict: 'forward', unchanged: true } },
  { name: 'unknown protocol to a VIP is dropped', input: (() => { const p = ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 1, dport: 2 }); p[9] = 47; return p; })(),
    expect: { verdict: 'drop', reason: 'vip_bad_proto' } },
  // Malformed input: every case a counted drop.
  { name: 'zero length', input: Buffer.alloc(0), expect: { verdict: 'drop', reason: 'empty' } },
  { name: 'truncated IPv4 header', input: syn4('10.96.0.10', 80).subarray(0, 12), expect: { verdict: 'drop', reason: 'truncated' } },
  { name: 'truncated IPv6 header', input: ip(CLIENT6, 'fd00:10:96::10', { proto: 'udp', sport: 1, dport: 53 }).subarray(0, 30), expect: { verdict: 'drop', reason: 'truncated' } },
  { name: 'bad IP version', input: (() => { const p = syn4('10.96.0.10', 80); p[0] = 0x55; return p; })(), expect: { verdict: 'drop', reason: 'bad_version' } },
  { name: 'IHL below 5', input: (() => { const p = syn4('10.96.0.10', 80); p[0] = 0x44; return p; })(), expect: { verdict: 'drop', reason: 'bad_ip_header' } },
  { name: 'IHL beyond the buffer', input: (() => { const p = syn4('10.96.0.10', 80).subarray(0, 24); p[0] = 0x4f; return p; })(), expect: { verdict: 'drop', reason: 'truncated' } },
  { name: 'IPv4 total length beyond the buffer', input: syn4('10.96.0.10', 80).subarray(0, 30), expect: { verdict: 'drop', reason: 'bad_length' } },
  { name: 'IPv4 total length below the header', input: (() => { const p = syn4('10.96.0.10', 80); p.writeUInt16BE(10, 2); return p; })(), expect: { verdict: 'drop', reason: 'bad_length' } },
  { name: 'IPv6 payload length beyond the buffer', input: ip(CLIENT6, 'fd00:10:96::10', { proto: 'udp', sport: 1, dport: 53 }).subarray(0, 44), expect: { verdict: 'drop', reason: 'bad_length' } },
  { name: 'TCP data offset below 5', input: (() => { const p = syn4('10.96.0.10', 80); p[32] = 0x40; return p; })(), expect: { verdict: 'drop', reason: 'bad_l4_header' } },
  { name: 'TCP data offset beyond the packet', input: (() => { const p = syn4('10.96.0.10', 80); p[32] = 0xf0; return p; })(), expect: { verdict: 'drop', reason: 'bad_l4_header' } },
  { name: 'TCP header cut short', input: (() => { const p = syn4('10.96.0.10', 80).subarray(0, 30); p.writeUInt16BE(30, 2); return p; })(), expect: { verdict: 'drop', reason: 'bad_l4_header' } },
  { name: 'UDP length beyond the packet', input: (() => { const p = ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 1, dport: 53 }); p.writeUInt16BE(100, 24); return p; })(), expect: { verdict: 'drop', reason: 'bad_l4_header' } },
  { name: 'UDP length below 8', input: (() => { const p = ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 1, dport: 53 }); p.writeUInt16BE(4, 24); return p; })(), expect: { verdict: 'drop', reason: 'bad_l4_header' } },
  { name: 'IPv4 fragment to a VIP', input: ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 1, dport: 53, payload: Buffer.alloc(16) }, { moreFragments: true }), expect: { verdict: 'drop', reason: 'fragment' } },
  { name: 'IPv4 later fragment to a VIP', input: ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 1, dport: 53, payload: Buffer.alloc(16) }, { fragOffset: 1480 }), expect: { verdict: 'drop', reason: 'fragment' } },
  { name: 'IPv6 fragment to a VIP', input: ip(CLIENT6, 'fd00:10:96::10', { proto: 'udp', sport: 1, dport: 53 }, { ext: [{ type: 44, body: Buffer.from([0, 0, 0, 1, 0, 0, 0, 9]) }] }), expect: { verdict: 'drop', reason: 'fragment' } },
  { name: 'IPv6 extension header beyond the packet', input: (() => { const p = ip(CLIENT6, 'fd00:10:96::10', { proto: 'udp', sport: 1, dport: 53 }, { ext: [{ type: 0, body: Buffer.from([0, 0, 1, 4, 0, 0, 0, 0]) }] }); p[41] = 200; return p; })(), expect: { verdict: 'drop', reason: 'bad_ext_header' } },
  { name: 'ICMP header cut short', input: (() => { const p = ip(CLIENT4, '10.96.0.10', { proto: 'icmp', type: 8, code: 0 }).subarray(0, 24); p.writeUInt16BE(24, 2); return p; })(), expect: { verdict: 'drop', reason: 'bad_l4_header' } },
  // virtio_net_hdr cases
  { name: 'NEEDS_CSUM TCP is DNATed with the partial sum adjusted', input: toPartial(syn4('10.96.0.12', 80, 41000)),
    vnet: vnetHdr({ flags: 1, csumStart: 20, csumOffset: 16 }), expect: { verdict: 'forward', dst: '10.244.1.2', dport: 8080 } },
  { name: 'TSO super-packet (GSO_TCPV4) is DNATed once', input: toPartial(ip(CLIENT4, '10.96.0.12', { proto: 'tcp', sport: 41001, dport: 80, flags: TCP.ACK, payload: Buffer.alloc(30000, 7) })),
    vnet: vnetHdr({ flags: 1, gsoType: 1, gsoSize: 1448, hdrLen: 9999, csumStart: 20, csumOffset: 16 }), expect: { verdict: 'forward', dst: '10.244.1.2', dport: 8080 } },
  { name: 'TSO IPv6 super-packet (GSO_TCPV6) is DNATed', input: toPartial(ip(CLIENT6, 'fd00:10:96::10', { proto: 'tcp', sport: 41002, dport: 80, flags: TCP.ACK, payload: Buffer.alloc(20000, 9) })),
    vnet: vnetHdr({ flags: 1, gsoType: 4, gsoSize: 1428, csumStart: 40, csumOffset: 16 }), expect: { verdict: 'forward', dst: 'fd00:10:244:1::2', dport: 8080 } },
  { name: 'USO super-packet (GSO_UDP_L4) is DNATed', input: toPartial(ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 41003, dport: 53, payload: Buffer.alloc(8000, 3) })),
    vnet: vnetHdr({ flags: 1, gsoType: 5, gsoSize: 1400, csumStart: 20, csumOffset: 6 }), expect: { verdict: 'forward', dst: '10.244.1.5', dport: 5353 } },
  { name: 'GSO type that does not match the packet', input: toPartial(ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 1, dport: 53, payload: Buffer.alloc(100) })),
    vnet: vnetHdr({ flags: 1, gsoType: 1, gsoSize: 1448, csumStart: 20, csumOffset: 6 }), expect: { verdict: 'drop', reason: 'bad_vnet_hdr' } },
  { name: 'NEEDS_CSUM pointing at the wrong offset', input: toPartial(syn4('10.96.0.12', 80)),
    vnet: vnetHdr({ flags: 1, csumStart: 20, csumOffset: 6 }), expect: { verdict: 'drop', reason: 'bad_vnet_hdr' } },
  { name: 'GSO without NEEDS_CSUM', input: syn4('10.96.0.12', 80), vnet: vnetHdr({ gsoType: 1, gsoSize: 1448 }), expect: { verdict: 'drop', reason: 'bad_vnet_hdr' } },
  { name: 'GSO with gso_size 0', input: toPartial(syn4('10.96.0.12', 80)), vnet: vnetHdr({ flags: 1, gsoType: 1, csumStart: 20, csumOffset: 16 }), expect: { verdict: 'drop', reason: 'bad_vnet_hdr' } },
];
