// The control plane against the real engine (no root, no TUN): the specs the model emits from
// the manifest fixtures are accepted by the native side, and a partial sync lands as expected.
// Skipped when the addon (build/Release/podnet_engine.node) is not built.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ControlPlane } from '../../src/services/control-plane';
import { ManifestSource } from '../../src/kube/manifest';
import { servicesManifestSubscription } from '../../src/services/manifest';

// src/engine resolves the addon relative to dist/; from the TS sources point it at the build.
process.env.PODNET_ADDON ??= path.resolve(__dirname, '../../build/Release/podnet_engine.node');
let Engine: typeof import('../../src/engine').Engine | undefined;
// Probe in a child first: a half-built addon dies with a symbol lookup error nothing can catch.
const probe = spawnSync(process.execPath, ['-e', `new (require(${JSON.stringify(process.env.PODNET_ADDON)}).Engine)({}).close()`]);
try {
  if (probe.status !== 0) throw new Error('addon unusable');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  Engine = (require('../../src/engine') as typeof import('../../src/engine')).Engine;
  new Engine().close();
} catch {
  Engine = undefined;
}

t.test('model output programs the real engine', { skip: Engine ? false : 'engine addon not built (or not loadable)' }, async (t) => {
  const engine = new Engine!();
  t.teardown(() => engine.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podnet-engine-sink-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fixtures = path.join(__dirname, 'fixtures', 'manifests');
  for (const f of fs.readdirSync(fixtures)) fs.copyFileSync(path.join(fixtures, f), path.join(dir, f));
  const cp = new ControlPlane({ sink: engine, nodeName: 'node-a' });
  const src = new ManifestSource({ dir, subscriptions: [servicesManifestSubscription(cp)], rescanIntervalMs: 0 });
  await src.start();
  src.stop();
  const rep = cp.sync();
  t.notOk(rep?.error, `full sync accepted: ${rep?.error?.message ?? ''}`);
  const st = engine.stats();
  const byName = (n: string) => st.services.filter((s) => s.name === n);
  t.equal(st.services.length, 5, 'five service ports (dual-stack web, three kube-dns ports)');
  const web = byName('shop/web:http');
  t.same(web.map((s) => s.vip).sort(), ['10.96.12.34', 'fd00:10:96::1234']);
  const dns = byName('kube-system/kube-dns:dns')[0];
  t.same(dns.backends.map((b) => [b.ip, b.terminating]), [['10.244.0.2', false], ['10.244.0.3', true]]);

  // Partial sync: the service goes away, its ports leave the engine.
  cp.setService('kube-system/kube-dns', undefined);
  const rep2 = cp.sync();
  t.notOk(rep2?.error);
  t.equal(rep2?.full, false);
  t.equal(engine.stats().services.length, 2);
});
