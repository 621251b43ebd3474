// networking.k8s.io/v1 ServiceCIDR as podnet reads it (src/kube/servicecidr.ts), and through the
// manifest directory source: present, changed at run time, removed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ManifestSource } from '../../src/kube/manifest';
import { serviceCIDRFromV1, serviceCIDRSubscription, type ServiceCIDRInfo } from '../../src/kube/servicecidr';

const obj = (name: string, cidrs: unknown) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name }, spec: { cidrs } });

t.test('validation', async (t) => {
  t.same(serviceCIDRFromV1(obj('kubernetes', ['fd00:10:96::/112', '10.96.0.0/12'])), { name: 'kubernetes', cidrs: ['10.96.0.0/12', 'fd00:10:96::/112'] }, 'canonical, IPv4 first');
  t.same(serviceCIDRFromV1({ ...obj('x', []), spec: undefined }), { name: 'x', cidrs: [] }, 'no spec: no ranges');
  t.throws(() => serviceCIDRFromV1(obj('x', ['10.96.0.1/12'])), { code: 'CONTROL_INVALID_OBJECT', field: 'spec.cidrs[0]' }, 'host bits');
  t.throws(() => serviceCIDRFromV1(obj('x', ['10.96.0.0/12', '10.100.0.0/16'])), { code: 'CONTROL_INVALID_OBJECT', field: 'spec.cidrs[1]', message: /one per family/ });
  t.throws(() => serviceCIDRFromV1(obj('x', 'nope')), { code: 'CONTROL_INVALID_OBJECT', field: 'spec.cidrs' });
});

t.test('through the manifest directory: watched', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'svccidr-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const seen = new Map<string, ServiceCIDRInfo>();
  let changes = 0;
  const src = new ManifestSource({
    dir, debounceMs: 10, rescanIntervalMs: 0,
    subscriptions: [serviceCIDRSubscription('test', (name, info) => { changes++; if (info) seen.set(name, info); else seen.delete(name); })],
  });
  t.teardown(() => src.stop());
  await src.start();
  t.equal(seen.size, 0, 'none present');
  writeFileSync(path.join(dir, 'cidr.yaml'), JSON.stringify(obj('kubernetes', ['10.96.0.0/16'])));
  await src.reload();
  t.same(seen.get('kubernetes'), { name: 'kubernetes', cidrs: ['10.96.0.0/16'] }, 'added');
  writeFileSync(path.join(dir, 'cidr.yaml'), JSON.stringify(obj('kubernetes', ['10.97.0.0/16'])));
  await src.reload();
  t.same(seen.get('kubernetes')?.cidrs, ['10.97.0.0/16'], 'changed');
  rmSync(path.join(dir, 'cidr.yaml'));
  await src.reload();
  t.equal(seen.size, 0, 'removed');
  t.equal(changes, 3);
});
