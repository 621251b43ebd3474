// Cut TCP flows end with a RST to both ends (issues 3 and 7): when a flow's backend leaves its
// service or a policy change denies it, the flow is marked RESET and its next segment, from
// either side, becomes a RST back to the sender (seq = the segment's ack) and a RST to the other
// end (seq = the segment's seq), addressed as the flow translates. UDP flows are removed at once.
// Every RST is decoded and its checksums recomputed independently (test/helpers/packets.ts).
import t, { type Test } from 'tap';
import { Engine, type PolicyTables, type ServicePortSpec } from '../../src/engine';
import { CLIENT4, CLIENT6, SERVICES } from './fixtures';
import { decode, ip, TCP, type Decoded } from '../helpers/packets';

const VIP = '10.96.0.12';
const BE = '10.244.1.2';
const BE2 = '10.244.1.3';
const one = SERVICES.find((s) => s.vip === VIP && s.protocol === 'TCP')!;

function engine(services: ServicePortSpec[] = SERVICES, opts = {}): Engine {
  const e = new Engine({ flowCapacity: 4096, ...opts });
  e.replace(services);
  return e;
}

// The engine's clock (CLOCK_MONOTONIC) as Node sees it.
const nowMs = () => Number(process.hrtime.bigint() / 1_000_000n);

function rst(t: Test, pkt: Buffer | undefined, want: Partial<Decoded>, what: string): void {
  t.ok(pkt, `${what}: a packet`);
  if (!pkt) return;
  const d = decode(pkt);
  t.ok(d.ipChecksumOk && d.l4ChecksumOk, `${what}: checksums verify`);
  t.equal(d.proto, 6, `${what}: TCP`);
  t.equal(d.flags! & TCP.RST, TCP.RST, `${what}: RST set`);
  t.equal(d.flags! & (TCP.SYN | TCP.FIN | TCP.PSH), 0, `${what}: nothing but RST/ACK`);
  t.equal(d.payload.length, 0, `${what}: no payload`);
  for (const k of ['src', 'dst', 'sport', 'dport', 'seq'] as const) {
    if (want[k] !== undefined) t.equal(d[k], want[k], `${what}: ${k}`);
  }
}

// A handshake through the VIP plus one data segment each way; returns the sequence numbers
// each side expects next.
function connect(e: Engine, client: string, vip: string, be: string, sport: number) {
  const c = (flags: number, seq: number, ack: number, payload?: Buffer) =>
    e.process(ip(client, vip, { proto: 'tcp', sport, dport: 80, flags, seq, ack, payload }));
  const s = (flags: number, seq: number, ack: number, payload?: Buffer) =>
    e.process(ip(be, client, { proto: 'tcp', sport: 8080, dport: sport, flags, seq, ack, payload }));
  const req = Buffer.from('GET / HTTP/1.1\r\n\r\n');
  c(TCP.SYN, 1000, 0);
  s(TCP.SYN | TCP.ACK, 9000, 1001);
  c(TCP.ACK, 1001, 9001);
  c(TCP.ACK | TCP.PSH, 1001, 9001, req);
  return { clientNext: 1001 + req.length, serverNext: 9001 };
}

t.test('backend removed: its in-flight reply becomes a RST to it and a RST to the client from the VIP', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const { clientNext, serverNext } = connect(e, CLIENT4, VIP, BE, 42000);
  t.equal(e.flows()[0].state, 'ESTABLISHED');

  const r = e.apply({ upsert: [{ ...one, backends: [{ ip: BE2, port: 8080 }] }] });
  t.equal(r.flowsPurged, 1, 'the flow is cut');
  t.equal(e.flows().length, 1, 'but stays indexed ...');
  t.equal(e.flows()[0].state, 'RESET', '... marked RESET');

  // The old backend's response was already on the wire.
  const reply = e.process(ip(BE, CLIENT4, { proto: 'tcp', sport: 8080, dport: 42000, flags: TCP.ACK | TCP.PSH,
    seq: serverNext, ack: clientNext, payload: Buffer.from('HTTP/1.1 200 OK\r\n\r\n') }));
  t.equal(reply.verdict, 'reply');
  t.equal(reply.reason, 'reset_cut_flow');
  rst(t, reply.packet, { src: CLIENT4, sport: 42000, dst: BE, dport: 8080, seq: clientNext }, 'RST back to the backend');
  rst(t, reply.extra, { src: VIP, sport: 80, dst: CLIENT4, dport: 42000, seq: serverNext }, 'RST to the client');
  t.match(decode(reply.extra!), { flags: TCP.RST | TCP.ACK, ack: clientNext }, 'the onward RST carries the segment\'s ACK');

  // The client, which never saw that reply, sends again: it is reset too, from the VIP.
  const again = e.process(ip(CLIENT4, VIP, { proto: 'tcp', sport: 42000, dport: 80, flags: TCP.ACK, seq: clientNext, ack: serverNext }));
  t.equal(again.reason, 'reset_cut_flow');
  rst(t, again.packet, { src: VIP, sport: 80, dst: CLIENT4, dport: 42000, seq: serverNext }, 'RST back to the client');
  rst(t, again.extra, { src: CLIENT4, sport: 42000, dst: BE, dport: 8080, seq: clientNext }, 'RST to the old backend');

  // A RST from either end is passed on (translated), never answered.
  const theirs = e.process(ip(BE, CLIENT4, { proto: 'tcp', sport: 8080, dport: 42000, flags: TCP.RST, seq: serverNext }));
  t.equal(theirs.verdict, 'forward');
  t.equal(theirs.extra, undefined);
  t.match(decode(theirs.packet!), { src: VIP, sport: 80, dst: CLIENT4, l4ChecksumOk: true }, 'the backend RST reaches the client from the VIP');

  const s = e.stats();
  t.equal(s.drops.reset_cut_flow, 2, 'two segments answered with RSTs');
  t.equal(s.replies.rst, 4, 'four RSTs generated');

  // The client reuses the port for a new connection: a new flow to the remaining backend.
  const syn = e.process(ip(CLIENT4, VIP, { proto: 'tcp', sport: 42000, dport: 80, flags: TCP.SYN, seq: 77 }));
  t.equal(syn.verdict, 'forward', 'a SYN on the port of a cut flow starts afresh');
  t.equal(decode(syn.packet!).dst, BE2);
  t.equal(e.flows()[0].state, 'SYN_SENT');
});

t.test('a cut that lands mid-handshake: the client in SYN-SENT gets a RST it accepts (it acknowledges its SYN)', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  e.process(ip(CLIENT4, VIP, { proto: 'tcp', sport: 42100, dport: 80, flags: TCP.SYN, seq: 4000 }));
  t.equal(e.apply({ upsert: [{ ...one, backends: [{ ip: BE2, port: 8080 }] }] }).flowsPurged, 1);
  const r = e.process(ip(BE, CLIENT4, { proto: 'tcp', sport: 8080, dport: 42100, flags: TCP.SYN | TCP.ACK, seq: 6000, ack: 4001 }));
  t.equal(r.reason, 'reset_cut_flow');
  rst(t, r.packet, { src: CLIENT4, dst: BE, seq: 4001 }, 'RST to the backend in SYN-RECEIVED');
  rst(t, r.extra, { src: VIP, sport: 80, dst: CLIENT4, seq: 6000 }, 'RST to the client');
  t.match(decode(r.extra!), { flags: TCP.RST | TCP.ACK, ack: 4001 }, 'acknowledging the client\'s SYN');
  // Its retransmitted SYN is a new connection to the remaining backend.
  const syn = e.process(ip(CLIENT4, VIP, { proto: 'tcp', sport: 42100, dport: 80, flags: TCP.SYN, seq: 4000 }));
  t.equal(decode(syn.packet!).dst, BE2);
});

t.test('IPv6 and masqueraded (hairpin) flows: the RSTs carry the flow\'s translation both ways', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const VIP6 = 'fd00:10:96::10';
  const BE6 = 'fd00:10:244:1::2';
  const { clientNext, serverNext } = connect(e, CLIENT6, VIP6, BE6, 43000);
  const web6 = SERVICES.find((s) => s.vip === VIP6 && s.protocol === 'TCP')!;
  t.equal(e.apply({ upsert: [{ ...web6, backends: [] }] }).flowsPurged, 1);
  const r = e.process(ip(BE6, CLIENT6, { proto: 'tcp', sport: 8080, dport: 43000, flags: TCP.ACK, seq: serverNext, ack: clientNext }));
  t.equal(r.reason, 'reset_cut_flow');
  rst(t, r.packet, { src: CLIENT6, dst: BE6, sport: 43000, dport: 8080, seq: clientNext }, 'v6 RST to the backend');
  rst(t, r.extra, { src: VIP6, dst: CLIENT6, sport: 80, dport: 43000, seq: serverNext }, 'v6 RST to the client');

  // Hairpin: the backend reaches itself through the VIP, masqueraded to 169.254.42.1.
  const h = engine();
  t.teardown(() => h.close());
  const out = decode(h.process(ip(BE, VIP, { proto: 'tcp', sport: 44000, dport: 80, flags: TCP.SYN, seq: 10 })).packet!);
  t.equal(out.src, '169.254.42.1');
  h.process(ip(BE, out.src, { proto: 'tcp', sport: 8080, dport: out.sport!, flags: TCP.SYN | TCP.ACK, seq: 500, ack: 11 }));
  t.equal(h.apply({ upsert: [{ ...one, backends: [{ ip: BE2, port: 8080 }] }] }).flowsPurged, 1);
  const c = h.process(ip(BE, VIP, { proto: 'tcp', sport: 44000, dport: 80, flags: TCP.ACK, seq: 11, ack: 501 }));
  t.equal(c.reason, 'reset_cut_flow');
  rst(t, c.packet, { src: VIP, sport: 80, dst: BE, dport: 44000, seq: 501 }, 'RST to the client side');
  rst(t, c.extra, { src: '169.254.42.1', sport: out.sport, dst: BE, dport: 8080, seq: 11 }, 'RST to the server side, from the SNAT address');
});

t.test('a cut flow is removed tcp_close_ms after the cut, however chatty its ends', async (t) => {
  const e = engine(SERVICES, { timeouts: { tcpCloseSec: 10 } });
  t.teardown(() => e.close());
  const { clientNext, serverNext } = connect(e, CLIENT4, VIP, BE, 45000);
  e.apply({ upsert: [{ ...one, backends: [{ ip: BE2, port: 8080 }] }] });
  const t0 = nowMs();
  const fromBe = (at: number) => e.process(ip(BE, CLIENT4, { proto: 'tcp', sport: 8080, dport: 45000, flags: TCP.ACK, seq: serverNext, ack: clientNext }), { nowMs: at });
  t.equal(fromBe(t0 + 5_000).reason, 'reset_cut_flow', 'still reset 5 s after the cut');
  t.equal(fromBe(t0 + 9_000).reason, 'reset_cut_flow', 'and at 9 s: packets do not extend it');
  const late = fromBe(t0 + 12_000);
  t.equal(late.verdict, 'forward', 'gone after tcpCloseSec');
  t.equal(decode(late.packet!).src, BE, 'no longer translated');
  t.equal(e.flows().length, 0);
});

t.test('UDP flows to a removed backend are still removed at once', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const dns = SERVICES.find((s) => s.vip === '10.96.0.10' && s.protocol === 'UDP')!;
  e.process(ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 5000, dport: 53 }));
  t.equal(e.apply({ upsert: [{ ...dns, backends: [{ ip: '10.244.1.6', port: 5353 }] }] }).flowsPurged, 1);
  t.equal(e.flows().length, 0, 'no entry left');
  const late = e.process(ip('10.244.1.5', CLIENT4, { proto: 'udp', sport: 5353, dport: 5000 }));
  t.equal(late.verdict, 'forward');
  t.equal(late.extra, undefined);
  t.equal(decode(late.packet!).src, '10.244.1.5', 'the stale reply passes untranslated, as before');
  const next = e.process(ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 5000, dport: 53 }));
  t.equal(decode(next.packet!).dst, '10.244.1.6', 'the client re-balances on its next datagram');
  t.equal(e.stats().drops.reset_cut_flow, 0);
});

t.test('policy cut: service and pod-to-pod flows get RSTs both ways; a new SYN is judged by the new policy', async (t) => {
  const A = '10.244.1.10';
  const allowA = (on: boolean): PolicyTables => ({
    ruleSets: [{ isolatedBy: ['y/allow-a'], rules: on ? [{ policy: 'y/allow-a', peers: [{ cidr: `${A}/32` }] }] : [] }],
    pods: [{ ips: [A], name: 'x/a' }, { ips: [BE], name: 'y/b', ingress: 0 }],
  });
  const e = engine();
  t.teardown(() => e.close());
  e.setPolicy(allowA(true));
  // A -> VIP -> BE, and A -> BE directly (a tracked, untranslated flow).
  const viaVip = connect(e, A, VIP, BE, 46000);
  t.equal(e.process(ip(A, BE, { proto: 'tcp', sport: 46001, dport: 8080, flags: TCP.SYN, seq: 300 })).verdict, 'forward');
  t.equal(e.process(ip(BE, A, { proto: 'tcp', sport: 8080, dport: 46001, flags: TCP.SYN | TCP.ACK, seq: 700, ack: 301 })).verdict, 'forward');
  t.equal(e.setPolicy(allowA(false)).flowsCut, 2, 'both flows cut');

  const r = e.process(ip(BE, A, { proto: 'tcp', sport: 8080, dport: 46000, flags: TCP.ACK, seq: viaVip.serverNext, ack: viaVip.clientNext }));
  t.equal(r.reason, 'reset_cut_flow');
  rst(t, r.packet, { src: A, dst: BE, dport: 8080, seq: viaVip.clientNext }, 'service flow: RST to the pod');
  rst(t, r.extra, { src: VIP, sport: 80, dst: A, seq: viaVip.serverNext }, 'service flow: RST to the client from the VIP');

  const d = e.process(ip(A, BE, { proto: 'tcp', sport: 46001, dport: 8080, flags: TCP.ACK | TCP.PSH, seq: 301, ack: 701, payload: Buffer.from('x') }));
  t.equal(d.reason, 'reset_cut_flow');
  rst(t, d.packet, { src: BE, sport: 8080, dst: A, dport: 46001, seq: 701 }, 'pod-to-pod: RST back to the client');
  rst(t, d.extra, { src: A, sport: 46001, dst: BE, dport: 8080, seq: 301 }, 'pod-to-pod: RST to the server');

  t.match(e.process(ip(A, BE, { proto: 'tcp', sport: 46001, dport: 8080, flags: TCP.SYN, seq: 900 })), { verdict: 'drop', reason: 'policy_ingress' },
    'a new connection on the same port is denied by the new policy, not reset');
  t.equal(e.stats().drops.reset_cut_flow, 2);
});
