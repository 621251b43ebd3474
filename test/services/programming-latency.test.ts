// Network programming latency (kube-proxy's network_programming_duration_seconds): counted from
// the EndpointSlice's endpoints.kubernetes.io/last-change-trigger-time when it is usable, else
// from when the control plane saw the change; one observation per distinct trigger time.
import t from 'tap';
import { ControlPlane } from '../../src/services/control-plane';
import { fingerprint } from '../../src/kube/objects';
import { TRIGGER_TIME_ANNOTATION, validateEndpointSlice, validateService } from '../../src/services/validate';
import { bumped, service, slice } from './fixtures/builders';
import { FakeSink, ManualClock } from './fixtures/fakes';
import { countOf, sumOf } from '../helpers/metrics';

const START = Date.parse('2026-03-01T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function setup() {
  const sink = new FakeSink();
  const clock = new ManualClock();
  let wall = START;
  const cp = new ControlPlane({ sink, nodeName: 'node-a', clock, wallNow: () => wall, minSyncIntervalMs: 100, maxSyncIntervalMs: 60_000 });
  const svc = (o: Record<string, any>) => cp.setService(`${o.metadata.namespace}/${o.metadata.name}`, validateService(o));
  const sl = (o: Record<string, any>) => cp.setEndpointSlice(`${o.metadata.namespace}/${o.metadata.name}`, validateEndpointSlice(o) ?? undefined);
  /** Moves both clocks: the monotonic one (runner, `since`) and the wall clock (trigger times). */
  const advance = (ms: number) => { wall += ms; clock.advance(ms); };
  cp.start();
  return { sink, cp, svc, sl, advance, h: cp.metrics.programmingDuration };
}

function withTrigger(o: Record<string, any>, when: number | string | undefined): Record<string, any> {
  return bumped(o, (c) => {
    if (when === undefined) delete c.metadata.annotations[TRIGGER_TIME_ANNOTATION];
    else c.metadata.annotations[TRIGGER_TIME_ANNOTATION] = typeof when === 'number' ? iso(when) : when;
  });
}

/** setup() with the web Service and its slice `e` synced, 1 s after the start. */
function syncedWeb() {
  const env = setup();
  const e = slice({ service: 'web', endpoints: [{ ip: '10.244.1.5' }] });
  env.svc(service({ name: 'web' }));
  env.sl(e);
  env.cp.setInitialized();
  env.advance(1000);
  return { ...env, e };
}

t.test('validation reads the trigger time; it never makes an update a change', async (t) => {
  const base = slice({ service: 'web', endpoints: [{ ip: '10.244.1.5' }] });
  t.equal(validateEndpointSlice(withTrigger(base, '2026-03-01T10:00:05Z'))?.triggerTime, START + 5000);
  t.equal(validateEndpointSlice(withTrigger(base, '2026-03-01T11:00:05.250+01:00'))?.triggerTime, START + 5250, 'offset and fraction');
  t.equal(validateEndpointSlice(withTrigger(base, undefined))?.triggerTime, undefined, 'absent');
  for (const bad of ['yesterday', '2026-03-01', '', '2026-13-45T99:00:00Z']) {
    const v = validateEndpointSlice(withTrigger(base, bad));
    t.ok(v, `slice with annotation ${JSON.stringify(bad)} stays valid`);
    t.equal(v?.triggerTime, undefined, `unparseable ${JSON.stringify(bad)} is ignored`);
  }
  t.equal(fingerprint(validateEndpointSlice(withTrigger(base, START))), fingerprint(validateEndpointSlice(withTrigger(base, START + 1))));
});

t.test('latency counts from the trigger time when the slice carries one', async (t) => {
  const { cp, svc, sl, advance, h } = setup();
  const s = service({ name: 'web' });
  const e = slice({ service: 'web', endpoints: [{ ip: '10.244.1.5' }] }); // trigger from before start
  svc(s);
  sl(e);
  cp.setInitialized();
  advance(0);
  t.equal(await countOf(h), 2, 'initial objects observed');
  t.ok(await sumOf(h) < 0.001, `a trigger time from before podnetd started is not used (sum ${await sumOf(h)})`);

  // The endpoint changed upstream 1.5 s before podnetd hears of it; programmed 0.2 s later.
  advance(10_000);
  const before = await sumOf(h);
  const changedAt = START + 10_000 - 1500;
  sl(withTrigger(bumped(e, (c) => { c.endpoints[0].addresses = ['10.244.1.6']; }), changedAt));
  advance(200);
  t.equal(await countOf(h), 3);
  t.ok(Math.abs(await sumOf(h) - before - 1.7) < 1e-6, `observed from the trigger: ${(await sumOf(h) - before).toFixed(3)} s`);
});

t.test('without a trigger time, latency counts from when the change was seen', async (t) => {
  const { cp, svc, sl, advance, h } = setup();
  const e = withTrigger(slice({ service: 'web', endpoints: [{ ip: '10.244.1.5' }] }), undefined);
  svc(service({ name: 'web' }));
  sl(e);
  cp.setInitialized();
  advance(0);
  advance(5000);
  const e2 = bumped(e, (c) => { c.endpoints[0].conditions.ready = false; });
  sl(e2);
  advance(0); // the runner was idle: synced at once
  t.equal(await countOf(h), 3);
  const before = await sumOf(h);
  advance(30);
  sl(bumped(e2, (c) => { c.endpoints[0].conditions.ready = true; }));
  advance(100); // waits out the 100 ms min interval: programmed 70 ms after it was seen
  t.equal(await countOf(h), 4);
  t.ok(Math.abs(await sumOf(h) - before - 0.07) < 1e-6, `observed from when it was seen: ${(await sumOf(h) - before).toFixed(3)} s`);
});

t.test('several updates of one slice before a sync: one observation per trigger time', async (t) => {
  const { cp, sl, advance, h, e } = syncedWeb();
  const n0 = await countOf(h);
  const s0 = await sumOf(h);
  const e2 = withTrigger(bumped(e, (c) => { c.endpoints[0].addresses = ['10.244.1.6']; }), START + 900);
  const e3 = withTrigger(bumped(e2, (c) => { c.endpoints[0].addresses = ['10.244.1.7']; }), START + 950);
  sl(e2);
  sl(e3);
  sl(withTrigger(e3, START + 950)); // a no-op re-delivery adds nothing
  advance(100);
  t.equal(await countOf(h) - n0, 2, 'two distinct trigger times, two observations');
  t.ok(Math.abs(await sumOf(h) - s0 - (0.2 + 0.15)) < 1e-6, `sum ${(await sumOf(h) - s0).toFixed(3)} s`);
  t.match(await cp.metrics.registry.metrics(), /podnet_network_programming_duration_seconds_count 4/);
});

t.test('a trigger time ahead of this clock counts as zero, never negative', async (t) => {
  const { cp, sl, advance, h, e } = syncedWeb();
  const s0 = await sumOf(h);
  sl(withTrigger(bumped(e, (c) => { c.endpoints[0].addresses = ['10.244.1.6']; }), START + 60_000));
  advance(100);
  t.equal(await sumOf(h), s0);
});
