// NetworkPolicy in the engine: decisions on the first packet after DNAT, stateful replies,
// ipBlock except, port ranges, named policies in trace and counters, cutting flows on change.
import t from 'tap';
import { Engine, type PolicyTables } from '../../src/engine';
import { SERVICES } from './fixtures';
import { decode, ip, TCP } from '../helpers/packets';

const A = '10.244.1.10'; // client pod, namespace x
const B = '10.244.1.2';  // web pod (also a backend of 10.96.0.12), namespace y
const C = '10.244.1.30'; // other pod
const HOST = '10.244.1.1';

function engine(): Engine {
  const e = new Engine({ flowCapacity: 4096 });
  e.replace(SERVICES);
  return e;
}

// B is isolated for ingress by y/allow-a: only A may reach it, TCP 8080-8090. C is isolated
// for egress by x/deny-egress with DNS (UDP 53) allowed to anywhere but 10.244.9.0/24.
const TABLES: PolicyTables = {
  ruleSets: [
    { isolatedBy: ['y/allow-a'], rules: [{ policy: 'y/allow-a', peers: [{ cidr: `${A}/32` }], ports: [{ protocol: 'TCP', port: 8080, endPort: 8090 }] }] },
    { isolatedBy: ['x/deny-egress'], rules: [{ policy: 'x/dns', peers: [{ cidr: '0.0.0.0/0', except: ['10.244.9.0/24'] }], ports: [{ protocol: 'UDP', port: 53 }] }] },
  ],
  pods: [
    { ips: [A], name: 'x/a' },
    { ips: [B, 'fd00:10:244:1::2'], name: 'y/b', ingress: 0 },
    { ips: [C], name: 'x/c', egress: 1 },
  ],
  hostAddresses: [HOST],
};

const syn = (src: string, dst: string, dport: number, sport = 40000) => ip(src, dst, { proto: 'tcp', sport, dport, flags: TCP.SYN });

t.test('ingress isolation: only the allowed peer and ports reach the pod, directly and through a VIP', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  t.same(e.setPolicy(TABLES), { version: 1, flowsCut: 0 });
  t.equal(e.process(syn(A, B, 8080)).verdict, 'forward', 'A -> B:8080 allowed');
  t.equal(e.process(syn(A, B, 8085, 40001)).verdict, 'forward', 'endPort range');
  t.match(e.process(syn(A, B, 9000)), { verdict: 'drop', reason: 'policy_ingress' }, 'port outside the range');
  t.match(e.process(syn(C, B, 8080)), { verdict: 'drop', reason: 'policy_ingress' }, 'C is not allowed');
  const viaVip = e.process(syn(A, '10.96.0.12', 80, 40002));
  t.equal(viaVip.verdict, 'forward', 'A -> VIP -> B:8080 allowed (checked after DNAT)');
  t.match(e.process(syn('10.244.1.31', '10.96.0.12', 80)), { verdict: 'drop', reason: 'policy_ingress' }, 'others denied through the VIP too');
  const reply = e.process(ip(B, A, { proto: 'tcp', sport: 8080, dport: 40000, flags: TCP.SYN | TCP.ACK }));
  t.equal(reply.verdict, 'forward', 'the reply of an allowed flow passes');
  t.equal(e.process(syn(HOST, B, 22)).verdict, 'forward', 'the node reaches its pods');
  t.equal(e.process(syn(A, C, 22)).verdict, 'forward', 'a pod not isolated for ingress is reachable');
});

t.test('egress isolation with an ipBlock except; replies to an isolated pod still pass', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  e.setPolicy(TABLES);
  t.match(e.process(ip(C, '10.96.0.10', { proto: 'udp', sport: 5000, dport: 53 })), { verdict: 'drop', reason: 'policy_egress' },
    'VIP port 53 is DNATed to 10.244.1.5:5353 and judged there: 5353 is not allowed');
  t.equal(e.process(ip(C, '10.244.8.8', { proto: 'udp', sport: 5002, dport: 53 })).verdict, 'forward', 'UDP 53 to the world allowed');
  t.match(e.process(ip(C, '10.244.9.9', { proto: 'udp', sport: 5003, dport: 53 })), { verdict: 'drop', reason: 'policy_egress' }, 'except block denied');
  t.match(e.process(syn(C, A, 80)), { verdict: 'drop', reason: 'policy_egress' }, 'TCP denied');
  t.equal(e.process(syn(A, C, 80, 41000)).verdict, 'forward', 'A -> C allowed (C not isolated for ingress)');
  t.equal(e.process(ip(C, A, { proto: 'tcp', sport: 80, dport: 41000, flags: TCP.SYN | TCP.ACK })).verdict, 'forward', "C's reply passes: the flow is tracked");
  const ping = e.process(ip(A, C, { proto: 'icmp', type: 8, code: 0, id: 9, seq: 1 }));
  t.equal(ping.verdict, 'forward');
  t.equal(e.process(ip(C, A, { proto: 'icmp', type: 0, code: 0, id: 9, seq: 1 })).verdict, 'forward', 'echo reply of a tracked ping passes');
  t.match(e.process(ip(C, A, { proto: 'icmp', type: 8, code: 0, id: 10, seq: 1 })), { verdict: 'drop' }, 'C may not ping');
});

t.test('a policy added mid-connection cuts the flow; counters and trace name the policies', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  t.equal(e.process(syn(C, B, 8080)).verdict, 'forward', 'no policy: everything passes');
  e.process(ip(B, C, { proto: 'tcp', sport: 8080, dport: 40000, flags: TCP.SYN | TCP.ACK }));
  t.equal(e.process(syn(A, '10.96.0.12', 80)).verdict, 'forward');
  const r = e.setPolicy(TABLES);
  t.equal(r.flowsCut, 0, 'the untracked C -> B flow had no entry to cut ...');
  t.match(e.process(ip(C, B, { proto: 'tcp', sport: 40000, dport: 8080, flags: TCP.ACK })), { verdict: 'drop', reason: 'policy_ingress' }, '... and its next packet is denied');
  const e2 = engine();
  t.teardown(() => e2.close());
  e2.process(syn('10.244.1.31', '10.96.0.12', 80));
  t.equal(e2.setPolicy(TABLES).flowsCut, 1, 'an established service flow no longer allowed is cut');
  t.match(e2.process(ip('10.244.1.31', '10.96.0.12', { proto: 'tcp', sport: 40000, dport: 80, flags: TCP.ACK })),
    { verdict: 'reply', reason: 'reset_cut_flow' }, 'its next segment is answered with RSTs (see cut-flows.test.ts)');
  t.match(e.trace({ from: C, to: B, port: 8080, protocol: 'TCP', sourcePort: 1 }), { verdict: 'drop', reason: 'policy_ingress', deniedBy: ['y/allow-a'] });
  t.match(e.trace({ from: A, to: '10.96.0.12', port: 80, protocol: 'TCP', sourcePort: 2 }), { verdict: 'forward', allowedBy: 'y/allow-a', backend: '10.244.1.2:8080' });
  t.equal(e.process(syn(A, B, 8080, 42000)).verdict, 'forward');
  const s = e.policyStats();
  t.ok(s.allowed['y/allow-a'] >= 1);
  t.ok(s.denied.some((d) => d.policy === 'y/allow-a' && d.direction === 'ingress' && d.flows >= 1));
  t.ok(e.stats().drops.policy_ingress >= 1);
  t.same(e.setPolicy({ pods: [], ruleSets: [] }).flowsCut, 0, 'policy removed');
  t.equal(e.process(ip(C, B, { proto: 'tcp', sport: 40000, dport: 8080, flags: TCP.ACK })).verdict, 'forward', 'everything passes again');
});

t.test('IPv6 peers and bad policy tables', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  e.setPolicy({ ruleSets: [{ rules: [{ policy: 'y/v6', peers: [{ cidr: 'fd00:10:244:1::/64', except: ['fd00:10:244:1::66/128'] }] }] }], pods: [{ ips: ['fd00:10:244:1::2'], ingress: 0 }] });
  t.equal(e.process(ip('fd00:10:244:1::64', 'fd00:10:96::10', { proto: 'tcp', sport: 1, dport: 80, flags: TCP.SYN })).verdict, 'forward');
  t.match(e.process(ip('fd00:10:244:1::66', 'fd00:10:96::10', { proto: 'tcp', sport: 1, dport: 80, flags: TCP.SYN })), { verdict: 'drop' });
  t.match(e.process(ip('fd00:10:244:2::1', 'fd00:10:96::10', { proto: 'tcp', sport: 1, dport: 80, flags: TCP.SYN })), { verdict: 'drop' });
  const v = e.policyStats().version;
  for (const [bad, re] of [
    [{ pods: [{ ips: ['x'] }], ruleSets: [] }, /pods\[0\]\.ips\[0\]/],
    [{ pods: [{ ips: [A], ingress: 3 }], ruleSets: [] }, /pods\[0\]\.ingress/],
    [{ pods: [], ruleSets: [{ rules: [{ policy: 'p', peers: [{ cidr: '10.0.0.0/33' }] }] }] }, /peers\[0\]\.cidr/],
    [{ pods: [], ruleSets: [{ rules: [{ policy: 'p', ports: [{ protocol: 'ICMP' }] }] }] }, /protocol/],
    [{ pods: [], ruleSets: [{ rules: [{ policy: 'p', ports: [{ protocol: 'TCP', port: 90, endPort: 80 }] }] }] }, /endPort/],
  ] as const) {
    t.throws(() => e.setPolicy(bad as never), { code: 'ENGINE_BAD_SPEC', message: re });
  }
  t.equal(e.policyStats().version, v, 'nothing published');
  void decode;
});
