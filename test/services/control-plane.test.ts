// ControlPlane: trackers → runner → sync → sink, with a fake sink and a manual clock.
import t from 'tap';
import { ControlPlane } from '../../src/services/control-plane';
import { validateEndpointSlice, validateNode, validateService } from '../../src/services/validate';
import { bumped, node, service, slice } from './fixtures/builders';
import { FakeSink, ManualClock, captureLogger } from './fixtures/fakes';
import { countOf, valueOf } from '../helpers/metrics';

function setup(opts: { nodeName?: string; min?: number } = {}) {
  const sink = new FakeSink();
  const clock = new ManualClock();
  const { logger, lines } = captureLogger();
  const cp = new ControlPlane({ sink, nodeName: opts.nodeName ?? 'node-a', clock, logger, minSyncIntervalMs: opts.min ?? 100, maxSyncIntervalMs: 60_000, retryIntervalMs: 1000 });
  const svc = (o: Record<string, any>) => cp.setService(`${o.metadata.namespace}/${o.metadata.name}`, validateService(o));
  const sl = (o: Record<string, any>) => cp.setEndpointSlice(`${o.metadata.namespace}/${o.metadata.name}`, validateEndpointSlice(o) ?? undefined);
  cp.start();
  return { sink, clock, cp, lines, svc, sl };
}

t.test('nothing is programmed before the sources are initialized; first sync is full', async (t) => {
  const { sink, clock, cp, svc, sl } = setup();
  svc(service({ name: 'web' }));
  sl(slice({ service: 'web', endpoints: [{ ip: '10.244.1.5' }] }));
  clock.advance(1000);
  t.equal(sink.calls.length, 0);
  cp.setInitialized();
  clock.advance(0);
  t.equal(sink.calls.length, 1);
  t.equal(sink.calls[0].op, 'replace');
  t.same(sink.render(), ['10.96.0.10:80/TCP 10.244.1.5:8080']);
});

t.test('partial syncs send only the changed service ports', async (t) => {
  const { sink, clock, cp, svc, sl } = setup();
  const a = service({ name: 'a', clusterIPs: ['10.96.0.1'] });
  const b = service({ name: 'b', clusterIPs: ['10.96.0.2'], ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }] });
  const sa = slice({ service: 'a', endpoints: [{ ip: '10.244.1.1' }] });
  const sb = slice({ service: 'b', ports: [{ name: 'http', port: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }], endpoints: [{ ip: '10.244.2.1' }] });
  svc(a); svc(b); sl(sa); sl(sb);
  cp.setInitialized();
  clock.advance(0);
  t.equal(sink.calls.length, 1);

  // An endpoint of b's pod goes not-ready: only b's two ports change.
  sl(bumped(sb, (o) => { o.endpoints.push({ addresses: ['10.244.2.2'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-b' }); }));
  clock.advance(100);
  t.equal(sink.calls.length, 2);
  const c = sink.calls[1];
  t.equal(c.op, 'apply');
  if (c.op === 'apply') {
    t.same(c.delta.upsert!.map((s) => `${s.vip}:${s.port}`).sort(), ['10.96.0.2:53', '10.96.0.2:80']);
    t.same(c.delta.remove, []);
  }

  // A no-op update (new resourceVersion, annotation) triggers nothing.
  sl(bumped(sa, (o) => { o.metadata.annotations.foo = 'bar'; }));
  svc(bumped(a, (o) => { o.metadata.labels.team = 'x'; }));
  t.equal(cp.status().pending, 0);
  clock.advance(500);
  t.equal(sink.calls.length, 2, 'no-op updates do not reach the engine');

  // Service deleted: its ports are removed; its slice lingering doesn't matter.
  cp.setService('default/b', undefined);
  clock.advance(100);
  const d = sink.calls[2];
  t.equal(d.op, 'apply');
  if (d.op === 'apply') t.same(d.delta.remove!.map((k) => `${k.vip}:${k.port}/${k.protocol}`).sort(), ['10.96.0.2:53/UDP', '10.96.0.2:80/TCP']);
  t.same(sink.render(), ['10.96.0.1:80/TCP 10.244.1.1:8080']);
  t.same(cp.specs().length, 1);
  t.equal(await valueOf(cp.metrics.servicePorts), 1);
  t.equal(await valueOf(cp.metrics.endpoints), 1);
});

t.test('a slice relabelled to another service updates both', async (t) => {
  const { sink, clock, cp, svc, sl } = setup();
  svc(service({ name: 'a', clusterIPs: ['10.96.0.1'] }));
  svc(service({ name: 'b', clusterIPs: ['10.96.0.2'] }));
  const s = slice({ service: 'a', name: 'shared-1', endpoints: [{ ip: '10.244.1.1' }] });
  sl(s);
  cp.setInitialized();
  clock.advance(0);
  t.same(sink.render(), ['10.96.0.1:80/TCP 10.244.1.1:8080', '10.96.0.2:80/TCP -']);
  sl(bumped(s, (o) => { o.metadata.labels['kubernetes.io/service-name'] = 'b'; }));
  clock.advance(100);
  t.same(sink.render(), ['10.96.0.1:80/TCP -', '10.96.0.2:80/TCP 10.244.1.1:8080']);
  // Label removed: the slice belongs to nobody.
  sl(bumped(s, (o) => { delete o.metadata.labels['kubernetes.io/service-name']; }));
  clock.advance(100);
  t.same(sink.render(), ['10.96.0.1:80/TCP -', '10.96.0.2:80/TCP -']);
});

t.test('engine failure: nothing lost, next sync is a full replace', async (t) => {
  const { sink, clock, cp, svc, sl, lines } = setup();
  svc(service({ name: 'web' }));
  cp.setInitialized();
  clock.advance(0);
  sink.failNext = 1;
  sl(slice({ service: 'web', endpoints: [{ ip: '10.244.1.5' }] }));
  clock.advance(100);
  t.same(sink.render(), ['10.96.0.10:80/TCP -'], 'engine unchanged after the failure');
  t.equal(await valueOf(cp.metrics.syncFailures), 1);
  t.ok(lines.some((l) => l.level === 50 && l.code === 'CONTROL_SYNC_FAILED'), 'logged with a stable code');
  t.equal(cp.healthy(10_000, Date.now()), true);
  clock.advance(1000);
  const last = sink.calls[sink.calls.length - 1];
  t.equal(last.op, 'replace', 'retry is a full sync');
  t.same(sink.render(), ['10.96.0.10:80/TCP 10.244.1.5:8080']);
  t.equal(await countOf(cp.metrics.programmingDuration), 2, 'both changes observed once programmed');
});

t.test('node zone change re-evaluates topology for every service', async (t) => {
  const { sink, clock, cp, svc, sl } = setup();
  svc(service({ name: 'web' }));
  sl(slice({ service: 'web', endpoints: [{ ip: '10.244.1.5', zoneHints: ['zone-1'] }, { ip: '10.244.2.7', zoneHints: ['zone-2'] }] }));
  { const n = validateNode(node('node-a')); cp.setNode(n.name, n); }
  cp.setInitialized();
  clock.advance(0);
  t.same(sink.render(), ['10.96.0.10:80/TCP 10.244.1.5:8080,10.244.2.7:8080'], 'no zone: hints ignored');
  { const n = validateNode(node('node-a', 'zone-2')); cp.setNode(n.name, n); }
  { const n = validateNode(node('node-zzz', 'zone-1')); cp.setNode(n.name, n); } // another node: ignored
  clock.advance(100);
  t.same(sink.render(), ['10.96.0.10:80/TCP 10.244.2.7:8080,~10.244.1.5:8080']);
  t.equal(sink.calls[sink.calls.length - 1].op, 'replace');
  const n = sink.calls.length;
  { const n = validateNode(bumped(node('node-a', 'zone-2'), (o) => { o.status.conditions[0].lastHeartbeatTime = 'now'; })); cp.setNode(n.name, n); }
  clock.advance(1000);
  t.equal(sink.calls.length, n, 'node status updates are no-ops');
});

t.test('two services claiming one VIP:port: first keeps it, the other takes over when it goes', async (t) => {
  const { sink, clock, cp, svc, sl, lines } = setup();
  svc(service({ name: 'a', clusterIPs: ['10.96.0.1'] }));
  sl(slice({ service: 'a', endpoints: [{ ip: '10.244.1.1' }] }));
  cp.setInitialized();
  clock.advance(0);
  svc(service({ name: 'b', clusterIPs: ['10.96.0.1'] }));
  sl(slice({ service: 'b', endpoints: [{ ip: '10.244.2.2' }] }));
  clock.advance(100);
  t.same(sink.render(), ['10.96.0.1:80/TCP 10.244.1.1:8080']);
  t.ok(lines.some((l) => /already programmed/.test(l.msg)));
  cp.setService('default/a', undefined);
  clock.advance(100);
  t.same(sink.render(), ['10.96.0.1:80/TCP 10.244.2.2:8080']);
});

t.test('metrics and health', async (t) => {
  const { clock, cp, svc, sl } = setup();
  svc(service({ name: 'web' }));
  sl(slice({ service: 'web', endpoints: [{ ip: '10.244.1.5' }, { ip: '10.244.1.6' }] }));
  cp.setInitialized();
  clock.advance(0);
  const text = await cp.metrics.registry.metrics();
  for (const m of ['podnet_sync_proxy_rules_duration_seconds_count 1', 'podnet_sync_full_proxy_rules_duration_seconds_count 1',
    'podnet_sync_partial_proxy_rules_duration_seconds_count 0', 'podnet_network_programming_duration_seconds_count 2',
    'podnet_sync_proxy_rules_services 1', 'podnet_sync_proxy_rules_service_ports 1', 'podnet_sync_proxy_rules_endpoints 2',
    'podnet_sync_proxy_rules_service_changes_pending 0', 'podnet_sync_proxy_rules_endpoint_changes_total 1',
    '# TYPE podnet_sync_proxy_rules_last_timestamp_seconds gauge']) {
    t.ok(text.includes(m), m);
  }
  t.match(text, /podnet_network_programming_duration_seconds_bucket\{le="\+Inf"\} 2/);
  t.equal(cp.healthy(), true);
  // A change queued while syncs are stuck makes healthz fail after the timeout.
  cp.stop();
  svc(service({ name: 'web2', clusterIPs: ['10.96.0.20'] }));
  t.equal(cp.healthy(10_000, Date.now() + 11_000), false);
});
