// Manifest-directory source: real files in a temp dir, real fs.watch, real timers, a fake sink.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ControlPlane } from '../../src/services/control-plane';
import { ManifestSource } from '../../src/kube/manifest';
import { servicesManifestSubscription } from '../../src/services/manifest';
import { SyncMetrics } from '../../src/services/metrics';
import { valueOf } from '../helpers/metrics';
import { service, slice } from '../services/fixtures/builders';
import { FakeSink, captureLogger } from '../services/fixtures/fakes';
import { waitFor } from '../helpers/wait';

const FIXTURES = path.join(__dirname, '..', 'services', 'fixtures', 'manifests');

function setup(t: Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podnet-manifests-'));
  for (const f of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
  const sink = new FakeSink();
  const { logger, lines } = captureLogger();
  const metrics = new SyncMetrics();
  const cp = new ControlPlane({ sink, nodeName: 'node-a', logger, metrics, minSyncIntervalMs: 10 });
  const src = new ManifestSource({ dir, subscriptions: [servicesManifestSubscription(cp)], logger, onInvalid: () => metrics.invalidObjects.inc(), debounceMs: 30, rescanIntervalMs: 0 });
  cp.start();
  t.teardown(() => { src.stop(); cp.stop(); fs.rmSync(dir, { recursive: true, force: true }); });
  return { dir, sink, cp, src, lines, metrics };
}

const BASE = [
  '10.96.0.10:53/TCP 10.244.0.2:53,~10.244.0.3:53',
  '10.96.0.10:53/UDP 10.244.0.2:53,~10.244.0.3:53',
  '10.96.0.10:9153/TCP 10.244.0.2:9153,~10.244.0.3:9153',
  '10.96.12.34:80/TCP 10.244.1.5:8080,10.244.2.7:8080',
  'fd00:10:96::1234:80/TCP fd00:10:244:1::5:8080',
];

t.test('loads real-shaped YAML and JSON (List) manifests', async (t) => {
  const { sink, src, lines } = setup(t);
  const r = await src.start();
  t.same(r, { files: 3, objects: 6, changed: 6, removed: 0, invalid: 0 });
  await waitFor('first sync', () => sink.calls.length > 0);
  t.same(sink.render(), BASE);
  t.equal(sink.calls[0].op, 'replace', 'first sync after the initial load is full');
  t.notOk(lines.some((l) => l.level >= 40), 'no warnings for a clean directory');
});

t.test('editing an EndpointSlice moves the table within 1 s, as a delta', async (t) => {
  const { dir, sink, src } = setup(t);
  await src.start();
  await waitFor('first sync', () => sink.calls.length > 0);
  const file = path.join(dir, 'web.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('- 10.244.2.7', '- 10.244.2.8'));
  const ms = await waitFor('the edited slice programmed', () => sink.render()[3] === '10.96.12.34:80/TCP 10.244.1.5:8080,10.244.2.8:8080', { timeoutMs: 1000 });
  t.ok(ms < 1000, `programmed after ${ms} ms`);
  const last = sink.calls[sink.calls.length - 1];
  t.equal(last.op, 'apply');
  if (last.op === 'apply') t.same(last.delta.upsert!.map((s) => s.vip), ['10.96.12.34'], 'only the changed spec');
});

t.test('a broken file leaves the others served; one log line per invalid document', async (t) => {
  const { dir, sink, src, lines, metrics } = setup(t);
  await src.start();
  await waitFor('first sync', () => sink.calls.length > 0);
  const good = service({ name: 'api', namespace: 'shop', clusterIPs: ['10.96.7.7'] });
  const bad = service({ name: 'bad', namespace: 'shop', clusterIPs: ['10.96.7.8'] });
  bad.spec.ports[0].port = 99999;
  const goodSlice = slice({ service: 'api', namespace: 'shop', endpoints: [{ ip: '10.244.3.3' }] });
  fs.writeFileSync(path.join(dir, 'mixed.yaml'), [good, bad, goodSlice].map((o) => stringify(o)).join('---\n'));
  fs.writeFileSync(path.join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: [oops\n');
  await waitFor('the new file served', () => sink.render().some((l) => l.startsWith('10.96.7.7')));
  await new Promise((r) => setTimeout(r, 100));
  t.same(sink.render(), [...BASE, '10.96.7.7:80/TCP 10.244.3.3:8080'].sort());
  const warn = lines.filter((l) => l.msg === 'invalid manifest document skipped');
  t.equal(warn.length, 2, 'exactly one line per invalid document');
  const v = warn.find((l) => l.file === 'mixed.yaml');
  t.match(v, { file: 'mixed.yaml', doc: 1, kind: 'Service', object: 'shop/bad', field: 'spec.ports[0].port', code: 'CONTROL_INVALID_OBJECT' });
  t.match(v?.reason, /between 1 and 65535/);
  const s = warn.find((l) => l.file === 'broken.yaml');
  t.match(s, { file: 'broken.yaml', doc: 0, code: 'CONTROL_MANIFEST_PARSE' });
  t.ok(s?.reason, 'has a reason');
  t.equal(await valueOf(metrics.invalidObjects), 2);
  // Touching another file does not re-log the unchanged broken ones.
  fs.writeFileSync(path.join(dir, 'node.yaml'), fs.readFileSync(path.join(dir, 'node.yaml'), 'utf8') + '\n');
  await new Promise((r) => setTimeout(r, 150));
  t.equal(lines.filter((l) => l.msg === 'invalid manifest document skipped').length, 2);
});

t.test('an object whose document turns invalid keeps its last good version', async (t) => {
  const { dir, sink, src, lines } = setup(t);
  await src.start();
  await waitFor('first sync', () => sink.calls.length > 0);
  const file = path.join(dir, 'web.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('  - 10.244.2.7', '  - 10.244.2.777'));
  await waitFor('the skip logged', () => lines.some((l) => l.msg === 'invalid manifest document skipped'));
  await new Promise((r) => setTimeout(r, 100));
  t.same(sink.render(), BASE, 'nothing changed in the engine');
  t.match(lines.find((l) => l.msg === 'invalid manifest document skipped'), { file: 'web.yaml', doc: 1, field: 'endpoints[1].addresses[0]', keptLastGood: true });
});

t.test('deleting a file removes its objects; a reload is a difference, not a restart', async (t) => {
  const { dir, sink, src } = setup(t);
  await src.start();
  await waitFor('first sync', () => sink.calls.length > 0);
  fs.unlinkSync(path.join(dir, 'kube-dns.json'));
  await waitFor('two specs served', () => sink.render().length === 2);
  t.same(sink.render(), BASE.slice(3));
  t.same(sink.calls.map((c) => c.op), ['replace', 'apply']);
  const last = sink.calls[1];
  if (last.op === 'apply') t.equal(last.delta.remove!.length, 3);
});

t.test('duplicates: the first file in name order wins', async (t) => {
  const { dir, sink, src, lines } = setup(t);
  const a = service({ name: 'dup', clusterIPs: ['10.96.9.1'] });
  const b = service({ name: 'dup', clusterIPs: ['10.96.9.2'] });
  fs.writeFileSync(path.join(dir, 'a-dup.yaml'), stringify(a));
  fs.writeFileSync(path.join(dir, 'b-dup.yaml'), stringify(b));
  await src.start();
  await waitFor('first sync', () => sink.calls.length > 0);
  t.ok(sink.render().some((l) => l.startsWith('10.96.9.1:80/TCP')));
  t.notOk(sink.render().some((l) => l.startsWith('10.96.9.2')));
  t.ok(lines.some((l) => /defined twice/.test(l.msg) && l.winner === 'a-dup.yaml'));
});

t.test('missing directory: served empty, picked up when it appears', async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'podnet-missing-'));
  t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
  const dir = path.join(base, 'manifests');
  const sink = new FakeSink();
  const cp = new ControlPlane({ sink, nodeName: 'node-a', minSyncIntervalMs: 10 });
  const src = new ManifestSource({ dir, subscriptions: [servicesManifestSubscription(cp)], debounceMs: 20, rescanIntervalMs: 50 });
  cp.start();
  t.teardown(() => { src.stop(); cp.stop(); });
  const r = await src.start();
  t.equal(r.objects, 0);
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(FIXTURES, 'web.yaml'), path.join(dir, 'web.yaml'));
  await waitFor('two specs served', () => sink.render().length === 2);
  t.pass('loaded after the directory appeared');
});
