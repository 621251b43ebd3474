// Multi-packet engine behaviour through the test entry point: reverse NAT, TCP/UDP state and
// timeouts, ICMP error translation, table swaps, Maglev spread and stickiness, affinity, counters.
import t from 'tap';
import { Engine, type ServicePortSpec } from '../../src/engine';
import { BACKENDS4, CLIENT4, CLIENT6, SERVICES } from './fixtures';
import { decode, ip, TCP } from '../helpers/packets';

function engine(services: ServicePortSpec[] = SERVICES, opts = {}): Engine {
  const e = new Engine({ flowCapacity: 4096, ...opts });
  e.replace(services);
  return e;
}

const syn = (sport: number, vip = '10.96.0.10', src = CLIENT4) => ip(src, vip, { proto: 'tcp', sport, dport: 80, flags: TCP.SYN, seq: 100 });

t.test('replies from the backend are reverse-NATed to the VIP (IPv4 and IPv6)', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  for (const [client, vip, be] of [[CLIENT4, '10.96.0.12', '10.244.1.2'], [CLIENT6, 'fd00:10:96::10', 'fd00:10:244:1::2']]) {
    const fwd = decode(e.process(ip(client, vip, { proto: 'tcp', sport: 42000, dport: 80, flags: TCP.SYN })).packet!);
    t.equal(fwd.dst, be);
    const r = e.process(ip(be, client, { proto: 'tcp', sport: 8080, dport: 42000, flags: TCP.SYN | TCP.ACK }));
    t.equal(r.verdict, 'forward');
    const d = decode(r.packet!);
    t.equal(d.src, vip, 'source rewritten to the VIP');
    t.equal(d.sport, 80, 'source port rewritten to the service port');
    t.equal(d.dst, client);
    t.ok(d.ipChecksumOk && d.l4ChecksumOk, 'checksums verify');
  }
  const flows = e.flows();
  t.equal(flows.length, 2);
  t.ok(flows.every((f) => f.state === 'ESTABLISHED'), 'SYN-ACK moves the flow to ESTABLISHED');
});

t.test('a flow keeps its backend; Maglev spreads new flows evenly and deterministically', async (t) => {
  const a = engine();
  const b = engine();
  t.teardown(() => { a.close(); b.close(); });
  const counts = new Map<string, number>();
  for (let port = 20000; port < 23000; port++) {
    const da = decode(a.process(syn(port)).packet!).dst;
    const db = decode(b.process(syn(port)).packet!).dst;
    if (da !== db) { t.fail(`engines disagree for port ${port}`); break; }
    counts.set(da, (counts.get(da) ?? 0) + 1);
    const again = decode(a.process(ip(CLIENT4, '10.96.0.10', { proto: 'tcp', sport: port, dport: 80, flags: TCP.ACK })).packet!).dst;
    if (again !== da) { t.fail('established flow changed backend'); break; }
  }
  t.same([...counts.keys()].sort(), BACKENDS4, 'all backends used');
  for (const [be, n] of counts) t.ok(n > 1000 * 0.8 && n < 1000 * 1.2, `${be} got ${n} of 3000 (±20% of even)`);
});

t.test('removing one backend moves only its flows (Maglev minimal disruption)', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const before = new Map<number, string>();
  for (let port = 30000; port < 31000; port++) before.set(port, decode(e.process(syn(port)).packet!).dst);
  const r = e.apply({ upsert: [{ ...SERVICES[0], backends: SERVICES[0].backends.slice(0, 2) }] });
  t.ok(r.flowsPurged > 200, `flows to the removed backend purged (${r.flowsPurged})`);
  let moved = 0;
  for (let port = 31000; port < 32000; port++) {
    const d = decode(e.process(syn(port)).packet!).dst;
    t.not(d, BACKENDS4[2], 'no new flow to the removed backend');
    if (d === BACKENDS4[2]) break;
  }
  for (const [port, be] of before) {
    if (be === BACKENDS4[2]) continue;
    const d = decode(e.process(ip(CLIENT4, '10.96.0.10', { proto: 'tcp', sport: port, dport: 80, flags: TCP.ACK })).packet!).dst;
    if (d !== be) moved++;
  }
  t.equal(moved, 0, 'established flows to the remaining backends are undisturbed');
});

t.test('terminating backends keep their flows but take no new ones', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const owned = new Map<number, string>();
  for (let port = 33000; port < 33300; port++) owned.set(port, decode(e.process(syn(port)).packet!).dst);
  const spec = { ...SERVICES[0], backends: SERVICES[0].backends.map((b, i) => ({ ...b, terminating: i === 0 })) };
  t.equal(e.apply({ upsert: [spec] }).flowsPurged, 0, 'nothing purged');
  for (const [port, be] of owned) {
    const d = decode(e.process(ip(CLIENT4, '10.96.0.10', { proto: 'tcp', sport: port, dport: 80, flags: TCP.ACK })).packet!).dst;
    if (d !== be) { t.fail(`flow ${port} moved`); break; }
  }
  for (let port = 34000; port < 34300; port++) {
    if (decode(e.process(syn(port)).packet!).dst === BACKENDS4[0]) { t.fail('new flow to a terminating backend'); break; }
  }
  t.pass('checked');
});

t.test('a service removed: its VIP is no longer translated and flows are purged', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  e.process(ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 5000, dport: 53 }));
  const r = e.apply({ remove: [{ vip: '10.96.0.10', port: 53, protocol: 'UDP' }] });
  t.equal(r.flowsPurged, 1);
  const reply = e.process(ip('10.244.1.5', CLIENT4, { proto: 'udp', sport: 5353, dport: 5000 }));
  t.equal(decode(reply.packet!).src, '10.244.1.5', 'the stale reply is no longer reverse-NATed');
  const again = e.process(ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 5000, dport: 53 }));
  t.equal(again.verdict, 'reply', 'the VIP still exists (TCP port) so UDP/53 is now refused');
});

t.test('timeouts: UDP expires, TCP established survives, closed TCP expires fast', async (t) => {
  const e = engine(SERVICES, { timeouts: { udpSec: 30, tcpCloseSec: 10 } });
  t.teardown(() => e.close());
  const t0 = 1_000_000;
  e.process(ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 6000, dport: 53 }), { nowMs: t0 });
  const late = e.process(ip('10.244.1.5', CLIENT4, { proto: 'udp', sport: 5353, dport: 6000 }), { nowMs: t0 + 31_000 });
  t.equal(decode(late.packet!).src, '10.244.1.5', 'UDP reply after 31 s: flow gone, not translated');

  e.process(ip(CLIENT4, '10.96.0.12', { proto: 'tcp', sport: 7000, dport: 80, flags: TCP.SYN }), { nowMs: t0 });
  e.process(ip('10.244.1.2', CLIENT4, { proto: 'tcp', sport: 8080, dport: 7000, flags: TCP.SYN | TCP.ACK }), { nowMs: t0 + 1 });
  const idle = e.process(ip('10.244.1.2', CLIENT4, { proto: 'tcp', sport: 8080, dport: 7000, flags: TCP.ACK }), { nowMs: t0 + 3_600_000 });
  t.equal(decode(idle.packet!).src, '10.96.0.12', 'established TCP idle for an hour is still translated');
  e.process(ip(CLIENT4, '10.96.0.12', { proto: 'tcp', sport: 7000, dport: 80, flags: TCP.RST }), { nowMs: t0 + 3_600_001 });
  t.equal(e.flows()[0]?.state, 'CLOSE');
  const after = e.process(ip('10.244.1.2', CLIENT4, { proto: 'tcp', sport: 8080, dport: 7000, flags: TCP.ACK }), { nowMs: t0 + 3_611_000 });
  t.equal(decode(after.packet!).src, '10.244.1.2', 'closed flow expired after 10 s');
});

t.test('TCP state follows FIN from both sides to TIME_WAIT', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const c = (flags: number) => e.process(ip(CLIENT4, '10.96.0.12', { proto: 'tcp', sport: 7100, dport: 80, flags }));
  const s = (flags: number) => e.process(ip('10.244.1.2', CLIENT4, { proto: 'tcp', sport: 8080, dport: 7100, flags }));
  c(TCP.SYN); s(TCP.SYN | TCP.ACK); c(TCP.ACK);
  t.equal(e.flows()[0].state, 'ESTABLISHED');
  c(TCP.FIN | TCP.ACK);
  t.equal(e.flows()[0].state, 'FIN_WAIT');
  s(TCP.FIN | TCP.ACK);
  t.equal(e.flows()[0].state, 'TIME_WAIT');
  // The client reuses the port (as conntrack, a SYN in TIME_WAIT starts a new entry): a new
  // decision and a new record, counted as a new flow of the service.
  const flowsBefore = e.stats().services.find((x) => x.vip === '10.96.0.12')!.flows;
  e.monitorStart();
  t.teardown(() => e.monitorStop());
  t.equal(c(TCP.SYN).verdict, 'forward');
  t.equal(e.flows()[0].state, 'SYN_SENT', 'a new connection');
  t.equal(e.flows().length, 1, 'the old record is gone');
  t.equal(e.stats().services.find((x) => x.vip === '10.96.0.12')!.flows, flowsBefore + 1, 'counted as a new flow');
  const events = e.monitorRead().events;
  t.match(events.find((x) => x.type === 'flow-end'), { reason: 'closed', state: 'TIME_WAIT' }, 'the old one ended as closed');
  t.ok(events.some((x) => x.type === 'flow-new'), 'the new one reported');
  s(TCP.SYN | TCP.ACK);
  t.equal(e.flows()[0].state, 'ESTABLISHED');
  t.equal(c(TCP.SYN).verdict, 'forward', 'a retransmitted SYN of a live flow stays on it');
  t.equal(e.flows().length, 1);
});

t.test('ICMP errors about a flow are translated, quote included (PMTUD through a VIP)', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const out = e.process(ip(CLIENT4, '10.96.0.12', { proto: 'tcp', sport: 43000, dport: 80, flags: TCP.ACK, payload: Buffer.alloc(1400) })).packet!;
  // A router on the backend's side says "fragmentation needed", quoting the DNATed packet.
  const quote = out.subarray(0, 28);
  const fragNeeded = ip('10.244.9.1', CLIENT4, { proto: 'icmp', type: 3, code: 4, rest: Buffer.alloc(0), payload: quote });
  fragNeeded.writeUInt16BE(1280, 20 + 6); // next-hop MTU
  fragNeeded.writeUInt16BE(0, 22);
  fragNeeded.writeUInt16BE(require('../helpers/packets').checksum(fragNeeded.subarray(20)), 22);
  const r = e.process(fragNeeded);
  t.equal(r.verdict, 'forward');
  const d = decode(r.packet!);
  t.equal(d.dst, CLIENT4);
  t.ok(d.ipChecksumOk && d.l4ChecksumOk, 'outer checksums verify');
  const inner = decode(Buffer.concat([d.payload, Buffer.alloc(0)]));
  t.equal(inner.dst, '10.96.0.12', 'quoted destination is the VIP again');
  t.equal(inner.dport, 80, 'quoted destination port is the service port again');
  t.ok(inner.ipChecksumOk, 'quoted IP header checksum verifies');

  // The backend itself sends port unreachable: the outer source becomes the VIP too.
  const udpOut = e.process(ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 43001, dport: 53, payload: Buffer.from('x') })).packet!;
  const unreach = ip('10.244.1.5', CLIENT4, { proto: 'icmp', type: 3, code: 3, payload: udpOut });
  const u = decode(e.process(unreach).packet!);
  t.equal(u.src, '10.96.0.10', 'outer source rewritten to the VIP');
  const uq = decode(u.payload);
  t.equal(uq.dst, '10.96.0.10');
  t.equal(uq.dport, 53);
  t.ok(uq.l4ChecksumOk, 'quoted UDP checksum verifies');
  t.ok(u.l4ChecksumOk, 'ICMP checksum verifies');

  // Packet too big about a reply (VIP -> client) is sent to the VIP: deliver it to the backend.
  const e6 = engine();
  t.teardown(() => e6.close());
  e6.process(ip(CLIENT6, 'fd00:10:96::10', { proto: 'tcp', sport: 43002, dport: 80, flags: TCP.SYN }));
  const reply = e6.process(ip('fd00:10:244:1::2', CLIENT6, { proto: 'tcp', sport: 8080, dport: 43002, flags: TCP.ACK, payload: Buffer.alloc(1300) })).packet!;
  // MTU 1280 in the header's second word.
  const ptb = ip('fd00:10:244:9::1', 'fd00:10:96::10', { proto: 'icmp', type: 2, code: 0, id: 0, seq: 1280, payload: reply.subarray(0, 1000) });
  const p = decode(e6.process(ptb).packet!);
  t.equal(p.dst, 'fd00:10:244:1::2', 'delivered to the backend');
  t.ok(p.l4ChecksumOk, 'ICMPv6 checksum verifies');
  const pq = decode(p.payload);
  t.equal(pq.src, 'fd00:10:244:1::2', 'quoted source is the backend');
  t.equal(pq.sport, 8080);
});

t.test('an ICMP error to a VIP about no known flow is dropped and counted', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const quote = ip('10.96.0.10', CLIENT4, { proto: 'tcp', sport: 80, dport: 1234 }).subarray(0, 28);
  const r = e.process(ip('10.244.9.1', '10.96.0.10', { proto: 'icmp', type: 3, code: 4, payload: quote }));
  t.equal(r.verdict, 'drop');
  t.equal(r.reason, 'icmp_untracked');
});

t.test('ClientIP affinity: one client sticks to one backend across connections', async (t) => {
  const e = engine([{ ...SERVICES[0], affinityTimeoutSec: 60 }]);
  t.teardown(() => e.close());
  const t0 = 5_000_000;
  const seen = new Set<string>();
  for (let port = 50000; port < 50200; port++) seen.add(decode(e.process(syn(port), { nowMs: t0 }).packet!).dst);
  t.equal(seen.size, 1, 'every connection of the client went to one backend');
  const others = new Set<string>();
  for (let i = 1; i < 60; i++) others.add(decode(e.process(syn(40000, '10.96.0.10', `10.244.2.${i}`), { nowMs: t0 }).packet!).dst);
  t.ok(others.size > 1, 'different clients spread');
});

t.test('counters per service port and backend, drops by reason', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  e.process(syn(1111, '10.96.0.12'));
  e.process(ip('10.244.1.2', CLIENT4, { proto: 'tcp', sport: 8080, dport: 1111, flags: TCP.SYN | TCP.ACK }));
  e.process(syn(1112, '10.96.0.11'));
  const s = e.stats();
  const one = s.services.find((x) => x.name === 'default/one:http')!;
  t.equal(one.packets, 2);
  t.equal(one.flows, 1);
  t.equal(one.backends[0].packets, 2);
  t.equal(one.bytes, 80, 'bytes of both directions');
  t.equal(s.drops.no_backend, 1);
  t.equal(s.replies.rst, 1);
  t.equal(s.flows.active, 1);
});

t.test('bad specs are coded errors naming the field, and change nothing', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const v = e.stats().version;
  const bad: [unknown, RegExp][] = [
    [{ upsert: [{ vip: '10.96.0.300', port: 80, protocol: 'TCP', backends: [] }] }, /upsert\[0\]\.vip/],
    [{ upsert: [{ vip: '10.96.0.1', port: 0, protocol: 'TCP', backends: [] }] }, /upsert\[0\]\.port/],
    [{ upsert: [{ vip: '10.96.0.1', port: 80, protocol: 'SCTP', backends: [] }] }, /protocol/],
    [{ upsert: [{ vip: '10.96.0.1', port: 80, protocol: 'TCP', backends: [{ ip: 'fd00::1', port: 80 }] }] }, /backends\[0\]\.ip: family/],
    [{ upsert: [{ vip: '10.96.0.1', port: 80, protocol: 'TCP', backends: 'x' }] }, /backends: not an array/],
    [{ remove: [{ vip: 1 }] }, /remove\[0\]\.vip/],
  ];
  for (const [delta, re] of bad) {
    t.throws(() => e.apply(delta as never), { code: 'ENGINE_BAD_SPEC', message: re });
  }
  t.equal(e.stats().version, v, 'no version published');
  t.throws(() => new Engine({ maglevSize: 100 }), { code: 'ENGINE_BAD_OPTION' });
  t.throws(() => new Engine({ flowCapacity: -1 }), { code: 'ENGINE_BAD_OPTION' });
});

t.test('flow table full: the clock hand evicts the oldest flows', async (t) => {
  const e = engine(SERVICES, { flowCapacity: 64 });
  t.teardown(() => e.close());
  for (let port = 1; port <= 500; port++) {
    const r = e.process(syn(port), { nowMs: 1000 + port });
    if (r.verdict !== 'forward') { t.fail(`flow ${port} not created: ${r.reason}`); break; }
  }
  const s = e.stats().flows;
  t.equal(s.active, 64, 'bounded');
  t.ok(s.evicted >= 436, `evicted ${s.evicted}`);
});

t.test('random bytes never crash the engine: every packet is forwarded or a counted drop', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const seeds = [syn(1), ip(CLIENT6, 'fd00:10:96::10', { proto: 'udp', sport: 1, dport: 53, payload: Buffer.alloc(20) })];
  let n = 0;
  for (let i = 0; i < 20000; i++) {
    const base = Buffer.from(seeds[i % 2]);
    const flips = 1 + (rnd() % 6);
    for (let f = 0; f < flips; f++) base[rnd() % base.length] = rnd() & 0xff;
    const cut = rnd() % 3 === 0 ? base.subarray(0, rnd() % base.length) : base;
    const vnet = rnd() % 4 === 0;
    const input = vnet ? Buffer.concat([Buffer.from([rnd() & 3, rnd() % 6, 0, 0, 0x50, 0x05, 20, 0, 16, 0]), cut]) : cut;
    const r = e.process(input, { vnetHdr: vnet });
    if (!['forward', 'drop', 'reply'].includes(r.verdict)) { t.fail('bad verdict'); break; }
    n++;
  }
  t.equal(n, 20000, 'all processed');
});

t.test('flows survive the process through the state file', async (t) => {
  const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'podnet-state-'));
  const file = `${dir}/flows`;
  t.teardown(() => require('node:fs').rmSync(dir, { recursive: true, force: true }));
  const first = new Engine({ flowCapacity: 4096, stateFile: file });
  first.replace(SERVICES);
  const owned = new Map<number, string>();
  for (let port = 20000; port < 20100; port++) owned.set(port, decode(first.process(syn(port)).packet!).dst);
  first.process(ip(CLIENT4, '10.96.0.10', { proto: 'udp', sport: 9000, dport: 53 }));
  first.close();

  // A different backend order and one backend more: Maglev alone would move some flows.
  const second = new Engine({ flowCapacity: 4096, stateFile: file });
  t.teardown(() => second.close());
  t.equal(second.stats().restoredFlows, true, 'restored');
  t.equal(second.stats().flows.active, 101, 'all flows back');
  const moved = { ...SERVICES[0], backends: [...SERVICES[0].backends].reverse().concat([{ ip: '10.244.1.9', port: 8080 }]) };
  second.replace([moved, ...SERVICES.slice(2)]);
  t.equal(second.stats().flows.active, 100, 'the UDP flow of the service that went away is dropped');
  let same = 0;
  for (const [port, be] of owned) {
    const r = e2(second, port);
    if (r.dst === be) same++;
    const back = decode(second.process(ip(be, CLIENT4, { proto: 'tcp', sport: 8080, dport: port, flags: TCP.ACK })).packet!);
    if (back.src !== '10.96.0.10') { t.fail(`reply of ${port} not reverse-NATed`); break; }
  }
  t.equal(same, owned.size, 'every established flow kept its backend');
  const svc = second.stats().services.find((s) => s.name === 'default/web:http')!;
  t.ok(svc.packets >= 200, 'counters rebound to the new slots');

  const small = new Engine({ flowCapacity: 1024, stateFile: file });
  t.equal(small.stats().restoredFlows, false, 'another capacity starts empty');
  t.equal(small.stats().flows.active, 0);
  small.close();
});

function e2(e: Engine, port: number) {
  return decode(e.process(ip(CLIENT4, '10.96.0.10', { proto: 'tcp', sport: port, dport: 80, flags: TCP.ACK })).packet!);
}

t.test('hairpin: a pod reaching itself through a VIP is masqueraded, and the reply restored', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const out = decode(e.process(ip('10.244.1.2', '10.96.0.12', { proto: 'tcp', sport: 45000, dport: 80, flags: TCP.SYN })).packet!);
  t.equal(out.dst, '10.244.1.2');
  t.equal(out.src, '169.254.42.1', 'source masqueraded to the hairpin address');
  t.ok(out.ipChecksumOk && out.l4ChecksumOk);
  const back = decode(e.process(ip('10.244.1.2', '169.254.42.1', { proto: 'tcp', sport: 8080, dport: out.sport!, flags: TCP.SYN | TCP.ACK })).packet!);
  t.equal(back.src, '10.96.0.12', 'reply comes from the VIP');
  t.equal(back.sport, 80);
  t.equal(back.dst, '10.244.1.2', 'and goes to the pod');
  t.equal(back.dport, 45000);
  t.ok(back.ipChecksumOk && back.l4ChecksumOk);
  t.equal(e.flows()[0].snat, `169.254.42.1:${out.sport}`);
});

t.test('masquerade per service port: distinct clients on one port get distinct SNAT ports', async (t) => {
  const e = engine([{ vip: '192.0.2.10', port: 80, protocol: 'TCP', masquerade: '10.0.0.1', backends: [{ ip: '10.244.1.2', port: 8080 }] }]);
  t.teardown(() => e.close());
  const a = decode(e.process(ip('198.51.100.7', '192.0.2.10', { proto: 'tcp', sport: 5555, dport: 80, flags: TCP.SYN })).packet!);
  const b = decode(e.process(ip('198.51.100.8', '192.0.2.10', { proto: 'tcp', sport: 5555, dport: 80, flags: TCP.SYN })).packet!);
  t.equal(a.src, '10.0.0.1');
  t.equal(b.src, '10.0.0.1');
  t.equal(a.sport, 5555, 'the first keeps its own port');
  t.ok(b.sport! >= 61000, 'the second gets one from the masquerade range (61000-65535 by default)');
  t.not(a.sport, b.sport, 'distinct ports');
  const ra = decode(e.process(ip('10.244.1.2', '10.0.0.1', { proto: 'tcp', sport: 8080, dport: a.sport!, flags: TCP.ACK })).packet!);
  const rb = decode(e.process(ip('10.244.1.2', '10.0.0.1', { proto: 'tcp', sport: 8080, dport: b.sport!, flags: TCP.ACK })).packet!);
  t.equal(ra.dst, '198.51.100.7');
  t.equal(rb.dst, '198.51.100.8');
  t.equal(rb.dport, 5555);
  t.equal(ra.src, '192.0.2.10');
  // An ICMP error from the backend about the masqueraded flow goes back to the real client.
  const q = e.process(ip('198.51.100.7', '192.0.2.10', { proto: 'tcp', sport: 5555, dport: 80, flags: TCP.ACK, payload: Buffer.alloc(100) })).packet!;
  const err = decode(e.process(ip('10.244.1.2', '10.0.0.1', { proto: 'icmp', type: 3, code: 4, id: 0, seq: 1280, payload: q.subarray(0, 48) })).packet!);
  t.equal(err.dst, '198.51.100.7', 'error delivered to the real client');
  t.equal(err.src, '192.0.2.10', 'from the VIP');
  t.ok(err.l4ChecksumOk);
  const inner = decode(err.payload);
  t.equal(inner.src, '198.51.100.7');
  t.equal(inner.sport, 5555);
  t.equal(inner.dst, '192.0.2.10');
  t.equal(inner.dport, 80);
  t.throws(() => e.apply({ upsert: [{ vip: '192.0.2.10', port: 81, protocol: 'TCP', masquerade: 'fd00::1', backends: [] }] }), { code: 'ENGINE_BAD_SPEC' });
});

t.test('trace answers what would happen without creating anything', async (t) => {
  const e = engine([...SERVICES, { vip: '10.96.0.20', port: 80, protocol: 'TCP', name: 'default/aff:http', affinityTimeoutSec: 60, backends: SERVICES[0].backends }]);
  t.teardown(() => e.close());
  const tr = e.trace({ from: CLIENT4, to: '10.96.0.10', port: 80, protocol: 'TCP', sourcePort: 41234 });
  const real = decode(e.process(ip(CLIENT4, '10.96.0.10', { proto: 'tcp', sport: 41234, dport: 80, flags: TCP.SYN })).packet!);
  t.equal(tr.verdict, 'forward');
  t.equal(tr.servicePort, 'default/web:http');
  t.equal(tr.backend, `${real.dst}:8080`, 'trace names the backend the real packet then got');
  t.equal(tr.existingFlow, false);
  t.equal(e.trace({ from: CLIENT4, to: '10.96.0.10', port: 80, protocol: 'TCP', sourcePort: 41234 }).existingFlow, true);
  t.same(e.trace({ from: CLIENT4, to: '10.96.0.11', port: 80, protocol: 'TCP' }), { verdict: 'reject', reason: 'no_backend', service: true, servicePort: 'default/empty:http', existingFlow: false });
  t.match(e.trace({ from: CLIENT4, to: '10.96.0.10', port: 81, protocol: 'UDP' }), { verdict: 'reject', reason: 'no_service_port' });
  t.match(e.trace({ from: CLIENT4, to: '10.244.1.9', port: 80, protocol: 'TCP' }), { verdict: 'forward', service: false });
  t.match(e.trace({ from: '10.244.1.2', to: '10.96.0.12', port: 80, protocol: 'TCP' }), { backend: '10.244.1.2:8080', snat: '169.254.42.1:40000' });
  t.match(e.trace({ from: CLIENT6, to: 'fd00:10:96::10', port: 80, protocol: 'TCP' }), { backend: '[fd00:10:244:1::2]:8080' });
  const aff = e.trace({ from: CLIENT4, to: '10.96.0.20', port: 80, protocol: 'TCP', sourcePort: 1 });
  const affReal = decode(e.process(ip(CLIENT4, '10.96.0.20', { proto: 'tcp', sport: 1, dport: 80, flags: TCP.SYN })).packet!);
  t.equal(aff.backend, `${affReal.dst}:8080`, 'affinity choice traced');
  t.equal(e.stats().flows.active, 3, 'only the two real packets created flows (plus one affinity record)');
  t.throws(() => e.trace({ from: 'x', to: '10.96.0.10', port: 80, protocol: 'TCP' }), { code: 'ENGINE_BAD_SPEC' });
});

t.test('egress masquerade: pod traffic leaving the cluster gets the node address, replies are restored', async (t) => {
  const e = new Engine({
    flowCapacity: 1024,
    egressMasquerade: { podCIDRs: ['10.244.0.0/16'], exemptCIDRs: ['10.244.0.0/16', '10.96.0.0/12'], sourceIPv4: '192.168.50.2', portMin: 62000, portMax: 62010 },
  });
  t.teardown(() => e.close());
  e.replace(SERVICES);
  const out = decode(e.process(ip(CLIENT4, '203.0.113.9', { proto: 'tcp', sport: 40000, dport: 443, flags: TCP.SYN })).packet!);
  t.equal(out.src, '192.168.50.2', 'masqueraded to the node address');
  t.ok(out.sport! >= 62000 && out.sport! <= 62010, 'port from the configured range');
  t.ok(out.ipChecksumOk && out.l4ChecksumOk);
  const back = decode(e.process(ip('203.0.113.9', '192.168.50.2', { proto: 'tcp', sport: 443, dport: out.sport!, flags: TCP.SYN | TCP.ACK })).packet!);
  t.equal(back.dst, CLIENT4);
  t.equal(back.dport, 40000);
  t.ok(back.l4ChecksumOk);
  t.same(e.process(ip(CLIENT4, '10.244.2.7', { proto: 'tcp', sport: 1, dport: 80, flags: TCP.SYN })).packet, ip(CLIENT4, '10.244.2.7', { proto: 'tcp', sport: 1, dport: 80, flags: TCP.SYN }), 'pod-to-pod keeps its address');
  t.equal(decode(e.process(ip(CLIENT6, 'fd00:99::1', { proto: 'udp', sport: 1, dport: 53 })).packet!).src, CLIENT6, 'no IPv6 source configured: not masqueraded');
  for (let i = 0; i < 10; i++) e.process(ip(CLIENT4, '203.0.113.9', { proto: 'tcp', sport: 50000 + i, dport: 443, flags: TCP.SYN }));
  t.match(e.process(ip(CLIENT4, '203.0.113.9', { proto: 'tcp', sport: 50100, dport: 443, flags: TCP.SYN })), { verdict: 'drop', reason: 'snat_exhausted' }, 'an exhausted range is a counted drop');
  t.throws(() => new Engine({ egressMasquerade: { podCIDRs: ['x'], exemptCIDRs: [] } }), { code: 'ENGINE_BAD_OPTION' });
});

t.test('loadBalancerSourceRanges filter before DNAT; noEndpoints drop is silent', async (t) => {
  const e = engine([
    { vip: '192.0.2.20', port: 80, protocol: 'TCP', sourceRanges: ['198.51.100.0/24', '2001:db8::/32'], backends: [{ ip: '10.244.1.2', port: 8080 }] },
    { vip: '10.96.0.30', port: 80, protocol: 'TCP', noEndpoints: 'drop', backends: [] },
  ]);
  t.teardown(() => e.close());
  t.equal(e.process(ip('198.51.100.9', '192.0.2.20', { proto: 'tcp', sport: 1, dport: 80, flags: TCP.SYN })).verdict, 'forward');
  t.match(e.process(ip('203.0.113.9', '192.0.2.20', { proto: 'tcp', sport: 1, dport: 80, flags: TCP.SYN })), { verdict: 'drop', reason: 'source_range' });
  t.match(e.process(syn(1, '10.96.0.30')), { verdict: 'drop', reason: 'no_backend' }, 'dropped, no RST');
  t.equal(e.stats().replies.rst, 0);
  t.throws(() => e.apply({ upsert: [{ vip: '10.96.0.31', port: 80, protocol: 'TCP', sourceRanges: ['nope'], backends: [] }] }), { code: 'ENGINE_BAD_SPEC', message: /sourceRanges\[0\]/ });
  t.throws(() => e.apply({ upsert: [{ vip: '10.96.0.31', port: 80, protocol: 'TCP', noEndpoints: 'x' as never, backends: [] }] }), { code: 'ENGINE_BAD_SPEC' });
});

t.test('a node address carrying NodePorts: other ports pass to the host; SNAT ports of closed flows are reused', async (t) => {
  const e = engine([
    { vip: '192.168.50.2', port: 30080, protocol: 'TCP', sharedAddress: true, masquerade: '192.168.50.2', backends: [{ ip: '10.244.1.2', port: 8080 }] },
    { vip: '10.96.0.10', port: 80, protocol: 'TCP', backends: [{ ip: '10.244.1.2', port: 8080 }] },
  ]);
  t.teardown(() => e.close());
  const kubelet = ip(CLIENT4, '192.168.50.2', { proto: 'tcp', sport: 1, dport: 10250, flags: TCP.SYN });
  t.match(e.process(kubelet), { verdict: 'forward' }, 'pod -> node:10250 passes');
  t.same(e.process(kubelet).packet, kubelet, 'untouched');
  t.match(e.process(ip(CLIENT4, '192.168.50.2', { proto: 'icmp', type: 8, code: 0, id: 1, seq: 1 })), { verdict: 'forward' }, 'ping to the node is the host’s');
  t.match(e.process(syn(1, '10.96.0.10').subarray(0)), { verdict: 'forward' });
  t.match(e.process(ip(CLIENT4, '10.96.0.10', { proto: 'tcp', sport: 2, dport: 81, flags: TCP.SYN })), { verdict: 'reply' }, 'a ClusterIP still rejects undefined ports');
  const first = decode(e.process(ip('198.51.100.7', '192.168.50.2', { proto: 'tcp', sport: 5555, dport: 30080, flags: TCP.SYN })).packet!);
  t.equal(first.sport, 5555, 'service masquerade keeps the client port when free');
  // The flow closes (RST); a new client on the same port takes the SNAT port over at once.
  e.process(ip('198.51.100.7', '192.168.50.2', { proto: 'tcp', sport: 5555, dport: 30080, flags: TCP.RST | TCP.ACK }));
  const again = decode(e.process(ip('198.51.100.8', '192.168.50.2', { proto: 'tcp', sport: 5555, dport: 30080, flags: TCP.SYN })).packet!);
  t.equal(again.sport, 5555, 'the closed flow’s port is reused');
  t.equal(e.stats().drops.snat_exhausted, 0);
});
