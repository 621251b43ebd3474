// The engine's monitor ring through Engine.process: drops (with the packet, and for NetworkPolicy
// the policies that isolate the denied end), new flows (service port, backend, SNAT, policy),
// ended flows (cut by a policy change), nothing recorded while no monitor is attached, and the
// rate limit counting what it skips without ever holding a packet back.
import t, { type Test } from 'tap';
import { Engine, type MonitorEvent, type PolicyTables } from '../../src/engine';
import { SERVICES } from './fixtures';
import { ip, TCP } from '../helpers/packets';

const A = '10.244.1.10';
const B = '10.244.1.2';   // backend of 10.96.0.12:80 (default/one:http)
const C = '10.244.1.30';

const TABLES: PolicyTables = {
  ruleSets: [{ isolatedBy: ['y/allow-a', 'y/default-deny'], rules: [{ policy: 'y/allow-a', peers: [{ cidr: `${A}/32` }], ports: [{ protocol: 'TCP', port: 8080 }] }] }],
  pods: [{ ips: [A], name: 'x/a' }, { ips: [B], name: 'y/b', ingress: 0 }, { ips: [C], name: 'x/c' }],
};

const syn = (src: string, dst: string, dport: number, sport = 40000) => ip(src, dst, { proto: 'tcp', sport, dport, flags: TCP.SYN });

function engine(t: Test): Engine {
  const e = new Engine({ flowCapacity: 4096 });
  t.teardown(() => e.close());
  e.replace(SERVICES);
  return e;
}

const of = (events: MonitorEvent[], type: MonitorEvent['type']) => events.filter((e) => e.type === type);

t.test('nothing is recorded while no monitor is attached', async (t) => {
  const e = engine(t);
  e.process(syn(A, '10.96.0.11', 80));
  e.monitorStart();
  t.same(e.monitorRead(), { events: [], skipped: 0, lost: 0 });
  e.monitorStop();
  e.process(syn(A, '10.96.0.11', 80, 40001));
  e.monitorStart();
  t.same(e.monitorRead().events, [], 'detached again: nothing');
  e.monitorStop();
});

t.test('a policy drop and a new flow through a VIP', async (t) => {
  const e = engine(t);
  e.setPolicy(TABLES);
  e.monitorStart();
  const before = Date.now();
  t.match(e.process(syn(C, B, 8080)), { verdict: 'drop', reason: 'policy_ingress' });
  t.equal(e.process(syn(A, '10.96.0.12', 80, 41000)).verdict, 'forward');
  t.match(e.process(syn(A, '10.96.0.11', 80)), { verdict: 'reply', reason: 'no_backend' });
  t.match(e.process(Buffer.from([0x45, 0, 0])), { verdict: 'drop', reason: 'truncated' });
  const r = e.monitorRead();
  t.equal(r.skipped, 0);
  const drops = of(r.events, 'drop');
  t.match(drops[0], {
    reason: 'policy_ingress', protocol: 'TCP', family: 4, src: `${C}:40000`, dst: `${B}:8080`, srcPod: 'x/c', dstPod: 'y/b',
    deniedBy: ['y/allow-a', 'y/default-deny'],
  }, 'policy drop: the packet, the pods, the isolating policies');
  t.ok(drops[0].timeMs >= before - 1000 && drops[0].timeMs <= Date.now() + 1000, 'wall-clock time');
  t.match(drops[1], { reason: 'no_backend', servicePort: 'default/empty:http', dst: '10.96.0.11:80' }, 'a reject is a drop with its reason');
  t.match(drops[2], { reason: 'truncated', family: 4 });
  t.notOk(drops[2].src, 'an unparsed packet has no addresses');
  const flows = of(r.events, 'flow-new');
  t.equal(flows.length, 1);
  t.match(flows[0], {
    protocol: 'TCP', src: `${A}:41000`, dst: '10.96.0.12:80', servicePort: 'default/one:http', backend: `${B}:8080`,
    backendPod: 'y/b', kind: 'service', allowedBy: 'y/allow-a', srcPod: 'x/a',
  });
  t.notOk('cached' in flows[0], 'cached is only said when the fast path is on');
  t.notOk(flows[0].snat);
  e.monitorStop();
});

t.test('hairpin: the new flow names its SNAT; a policy change reports the cut', async (t) => {
  const e = engine(t);
  e.monitorStart();
  e.process(syn(B, '10.96.0.12', 80, 42000));
  const [flow] = e.monitorRead().events;
  t.match(flow, { type: 'flow-new', backend: `${B}:8080`, snat: /^169\.254\.42\.1:\d+$/ });
  t.equal(e.setPolicy({ ...TABLES, ruleSets: [{ isolatedBy: ['y/deny-all'], rules: [] }] }).flowsCut, 1);
  const [end] = e.monitorRead().events;
  t.match(end, { type: 'flow-end', reason: 'cut', src: `${B}:42000`, dst: '10.96.0.12:80', backend: `${B}:8080`, state: 'SYN_SENT' });
  e.monitorStop();
});

t.test('the rate limit skips and counts, and never holds a packet back', async (t) => {
  const e = engine(t);
  e.monitorStart({ rate: 1, burst: 20 });
  const n = 500;
  const t0 = performance.now();
  let replies = 0;
  for (let i = 0; i < n; i++) if (e.process(syn(A, '10.96.0.11', 80, 20000 + i)).verdict === 'reply') replies++;
  const ms = performance.now() - t0;
  t.equal(replies, n, 'every packet answered');
  const r = e.monitorRead();
  t.ok(r.events.length >= 20 && r.events.length <= 22, `the burst passed (${r.events.length})`);
  t.equal(r.skipped + r.events.length, n, 'everything else counted as skipped');
  t.equal(r.lost, 0);
  t.ok(ms < 2000, `${n} packets in ${ms.toFixed(0)} ms`);
  t.equal(e.stats().drops.no_backend, n, 'every drop still counted');
  e.monitorStop();
});
