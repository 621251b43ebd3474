// Kubernetes API source: client-node 1.4 informers against the fake list+watch server on
// 127.0.0.1. Adds, modifies and deletes reach the engine; watch timeouts, 410 Gone (event and
// HTTP status) and an API restart recover without losing or duplicating state.
import t, { type Test } from 'tap';
import { ControlPlane } from '../../src/services/control-plane';
import { KubeSource } from '../../src/services/kube';
import { bumped, node, service, slice } from './fixtures/builders';
import { FakeApiServer, NODES, SERVICES, SLICES, fakeKubeConfig as kubeconfig } from '../helpers/fake-apiserver';
import { FakeSink, captureLogger } from './fixtures/fakes';
import { sleep, waitFor } from '../helpers/wait';

const settle = (ms = 100) => sleep(ms);

async function setup(t: Test, seed?: (api: FakeApiServer) => void) {
  const api = new FakeApiServer();
  seed?.(api);
  await api.listen();
  const sink = new FakeSink();
  const { logger, lines } = captureLogger();
  const cp = new ControlPlane({ sink, nodeName: 'node-a', logger, minSyncIntervalMs: 10 });
  cp.start();
  const src = new KubeSource({ sink: cp, nodeName: 'node-a', kubeConfig: kubeconfig(api.url), logger, backoffInitialMs: 50, backoffMaxMs: 200 });
  await src.start();
  t.teardown(async () => { await src.stop(); cp.stop(); await api.close(); });
  return { api, sink, cp, src, lines };
}

const web = service({ name: 'web', namespace: 'shop', clusterIPs: ['10.96.12.34'] });
const webSlice = slice({ service: 'web', namespace: 'shop', name: 'web-4xq8n', endpoints: [{ ip: '10.244.1.5' }, { ip: '10.244.2.7' }] });

t.test('initial list programs the engine once, as a full sync', async (t) => {
  const { sink, src } = await setup(t, (api) => {
    api.put(SERVICES, web);
    api.put(SLICES, webSlice);
    api.put(NODES, node('node-a', 'zone-1'));
    api.put(NODES, node('node-b', 'zone-2'));
  });
  await waitFor('first sync', () => sink.calls.length > 0);
  await settle();
  t.same(sink.render(), ['10.96.12.34:80/TCP 10.244.1.5:8080,10.244.2.7:8080']);
  t.same(sink.calls.map((c) => c.op), ['replace'], 'one full sync, no churn');
  t.equal(src.status().Node.objects, 1, 'only this node is watched (fieldSelector)');
});

t.test('adds, modifies and deletes of services and slices reach the engine', async (t) => {
  const { api, sink } = await setup(t, (api) => { api.put(SERVICES, web); api.put(SLICES, webSlice); });
  await waitFor('first sync', () => sink.calls.length > 0);
  await waitFor('watches', () => api.watcherCount === 3);

  const dns = api.put(SERVICES, service({ name: 'kube-dns', namespace: 'kube-system', clusterIPs: ['10.96.0.10'], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }));
  await waitFor('service add', () => sink.render().includes('10.96.0.10:53/UDP -'));
  const dnsSlice = api.put(SLICES, slice({ service: 'kube-dns', namespace: 'kube-system', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }], endpoints: [{ ip: '10.244.0.2' }] }));
  await waitFor('slice add', () => sink.render().includes('10.96.0.10:53/UDP 10.244.0.2:53'));

  // Endpoint terminating → it keeps its flows but takes no new ones.
  api.put(SLICES, bumped(webSlice, (o) => { o.endpoints[1].conditions = { ready: false, serving: true, terminating: true }; }));
  await waitFor('slice modify', () => sink.render().includes('10.96.12.34:80/TCP 10.244.1.5:8080,~10.244.2.7:8080'));

  // Service port change: endpoints still match by port name.
  api.put(SERVICES, bumped(dns, (o) => { o.spec.ports[0].port = 5353; }));
  await waitFor('service modify', () => sink.render().includes('10.96.0.10:5353/UDP 10.244.0.2:53'));
  t.notOk(sink.render().some((l) => l.startsWith('10.96.0.10:53/')), 'old port removed');

  api.delete(SLICES, 'kube-system', dnsSlice.metadata.name);
  api.delete(SERVICES, 'kube-system', 'kube-dns');
  await waitFor('deletes', () => sink.render().length === 1);
  t.same(sink.render(), ['10.96.12.34:80/TCP 10.244.1.5:8080,~10.244.2.7:8080']);
  t.ok(sink.calls.slice(1).every((c) => c.op === 'apply'), 'everything after the first sync is a delta');
});

t.test('bookmarks and watch timeouts: reconnect from the last version, nothing duplicated', async (t) => {
  const { api, sink } = await setup(t, (api) => { api.put(SERVICES, web); api.put(SLICES, webSlice); });
  await waitFor('watches', () => api.watcherCount === 3);
  await waitFor('first sync', () => sink.calls.length > 0);
  api.bookmark();
  await settle();
  api.endWatches();
  await waitFor('rewatch', () => api.watcherCount === 3);
  const rewatch = api.requests.filter((r) => r.startsWith('WATCH')).slice(-3);
  t.ok(rewatch.every((r) => !r.endsWith('rv=0')), `resumed from a version: ${rewatch.join('; ')}`);
  t.equal(api.requests.filter((r) => r.startsWith('LIST')).length, 3, 'no relist');
  const n = sink.calls.length;
  await settle();
  t.equal(sink.calls.length, n, 'no engine update for a reconnect');
  api.put(SLICES, bumped(webSlice, (o) => { o.endpoints.pop(); }));
  await waitFor('the slice edit after the reconnect', () => sink.render()[0] === '10.96.12.34:80/TCP 10.244.1.5:8080');
  t.pass('events after the reconnect arrive');
});

for (const mode of ['event', 'status'] as const) {
  t.test(`410 Gone (${mode}) → relist; changes missed meanwhile are reconciled`, async (t) => {
    const { api, sink } = await setup(t, (api) => { api.put(SERVICES, web); api.put(SLICES, webSlice); api.goneMode = mode; });
    await waitFor('watches', () => api.watcherCount === 3);
    await waitFor('first sync', () => sink.calls.length > 0);
    // Changes the informer never sees as events: a deleted slice, a new service and slice.
    api.deleteSilently(SLICES, 'shop', 'web-4xq8n');
    api.putSilently(SERVICES, service({ name: 'api', namespace: 'shop', clusterIPs: ['10.96.7.7'] }));
    api.putSilently(SLICES, slice({ service: 'api', namespace: 'shop', endpoints: [{ ip: '10.244.3.3' }] }));
    if (mode === 'event') api.expireWatches();
    else { api.compact(); api.endWatches(); }
    await waitFor('relist', () => sink.render().length === 2 && sink.render()[1] === '10.96.7.7:80/TCP 10.244.3.3:8080');
    t.same(sink.render(), ['10.96.12.34:80/TCP -', '10.96.7.7:80/TCP 10.244.3.3:8080']);
    t.ok(api.requests.filter((r) => r.startsWith('LIST')).length >= 5, 'relisted');
    await waitFor('watching again', () => api.watcherCount === 3);
  });
}

t.test('API restart: last-known state kept while away, backoff, then reconciled', async (t) => {
  const { api, sink, src, lines } = await setup(t, (api) => { api.put(SERVICES, web); api.put(SLICES, webSlice); });
  await waitFor('watches', () => api.watcherCount === 3);
  await waitFor('first sync', () => sink.calls.length > 0);
  const port = api.port;
  await api.close();
  await settle(300);
  t.same(sink.render(), ['10.96.12.34:80/TCP 10.244.1.5:8080,10.244.2.7:8080'], 'still programmed while the API is away');
  t.ok(lines.some((l) => l.msg.startsWith('API watch failed') && l.code === 'CONTROL_SOURCE_FAILED'), 'logged with a stable code');
  // The API comes back with a compacted history and changes made while we were away.
  api.putSilently(SLICES, bumped(webSlice, (o) => { o.endpoints[0].addresses = ['10.244.1.9']; }));
  api.compact();
  await api.listen(port);
  await waitFor('reconciled', () => sink.render()[0] === '10.96.12.34:80/TCP 10.244.1.9:8080,10.244.2.7:8080');
  await waitFor('watching again', () => api.watcherCount === 3);
  const st = src.status();
  t.ok(st.Service.restarts + st.EndpointSlice.restarts > 0, 'informers were restarted');
  t.equal(st.Service.objects, 1);
  t.equal(st.EndpointSlice.objects, 1, 'no duplicate objects after the restart');
  const n = sink.calls.length;
  await settle(200);
  t.equal(sink.calls.length, n, 'quiet once reconciled');
});

t.test('an object the model cannot read is logged once and its last good version kept', async (t) => {
  const { api, sink, lines } = await setup(t, (api) => { api.put(SERVICES, web); api.put(SLICES, webSlice); });
  await waitFor('watches', () => api.watcherCount === 3);
  await waitFor('first sync', () => sink.calls.length > 0);
  api.put(SLICES, bumped(webSlice, (o) => { o.endpoints[0].addresses = ['not-an-ip']; }));
  await waitFor('the skip logged', () => lines.some((l) => l.msg.startsWith('invalid object skipped')));
  const l = lines.find((x) => x.msg.startsWith('invalid object skipped'));
  t.match(l, { kind: 'EndpointSlice', object: 'shop/web-4xq8n', field: 'endpoints[0].addresses[0]', code: 'CONTROL_INVALID_OBJECT' });
  t.same(sink.render(), ['10.96.12.34:80/TCP 10.244.1.5:8080,10.244.2.7:8080']);
});

t.test('node zone from the API drives topology hints', async (t) => {
  const hinted = slice({ service: 'web', namespace: 'shop', name: 'web-4xq8n', endpoints: [{ ip: '10.244.1.5', zoneHints: ['zone-1'] }, { ip: '10.244.2.7', zoneHints: ['zone-2'] }] });
  const { api, sink } = await setup(t, (api) => { api.put(SERVICES, web); api.put(SLICES, hinted); api.put(NODES, node('node-a', 'zone-1')); });
  await waitFor('zone-1', () => sink.render()[0] === '10.96.12.34:80/TCP 10.244.1.5:8080,~10.244.2.7:8080');
  api.put(NODES, node('node-a', 'zone-2'));
  await waitFor('zone-2', () => sink.render()[0] === '10.96.12.34:80/TCP 10.244.2.7:8080,~10.244.1.5:8080');
  t.pass('zone change re-programmed');
});
