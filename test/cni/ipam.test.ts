// The built-in IPAM store and allocator without root: 64 processes allocating at once get 64
// distinct addresses, exhaustion is a clear error, requested IPs are honoured or refused,
// allocation continues after the last reservation, a dead holder's lock is broken, GC and DEL
// release what they should.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { allocate, resolveRangeSets } from '../../src/cni/ipam/allocator';
import { DiskStore } from '../../src/cni/ipam/store';
import { tryParseCidr } from '../../src/net/cidr';
import { parseIp } from '../../src/net/ip';
import { CniError } from '../../src/cni/errors';
import { REPO } from './fixtures/helpers';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'pncni-ipam-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

const sets = (subnet: string, extra: object = {}) => resolveRangeSets([[{ subnet: tryParseCidr(subnet, 'keep')!, ...extra }]], () => []);

t.test('allocation order, gateway skipped, continues after last, wraps', async (t) => {
  const store = new DiskStore(tmp, 'order');
  const s = sets('10.0.0.0/29')[0]; // usable .2-.6 (.1 gateway, .7 broadcast)
  const got = [1, 2, 3].map((i) => store.withLock(() => allocate(store, s, 0, `c${i}`, 'eth0', [])).address);
  t.same(got, ['10.0.0.2/29', '10.0.0.3/29', '10.0.0.4/29']);
  store.releaseById('c1', 'eth0');
  const next = store.withLock(() => allocate(store, s, 0, 'c4', 'eth0', []));
  t.equal(next.address, '10.0.0.5/29', 'a just-released address is not reused at once');
  t.equal(next.gateway, '10.0.0.1');
  t.equal(store.withLock(() => allocate(store, s, 0, 'c5', 'eth0', [])).address, '10.0.0.6/29');
  t.equal(store.withLock(() => allocate(store, s, 0, 'c6', 'eth0', [])).address, '10.0.0.2/29', 'wraps to the released one');
  t.equal(store.withLock(() => allocate(store, s, 0, 'c4', 'eth0', [])).address, '10.0.0.5/29', 'same attachment: same address');
  const e = t.throws(() => store.withLock(() => allocate(store, s, 0, 'c7', 'eth0', []))) as unknown as CniError;
  t.equal(e.code, 'PODNET_CNI_IPAM_EXHAUSTED');
  t.match(e.message, /no IP addresses available/);
  t.equal(readFileSync(path.join(store.dir, '10.0.0.3'), 'utf8'), 'c2\r\neth0', 'host-local file format');
});

t.test('requested IP', async (t) => {
  const store = new DiskStore(tmp, 'req');
  const s = sets('10.1.0.0/24', { rangeStart: parseIp('10.1.0.10'), rangeEnd: parseIp('10.1.0.20') })[0];
  t.equal(store.withLock(() => allocate(store, s, 0, 'a', 'eth0', ['10.1.0.15'])).address, '10.1.0.15/24');
  t.throws(() => allocate(store, s, 0, 'b', 'eth0', ['10.1.0.15']), { code: 'PODNET_CNI_IPAM_REQUESTED', message: /already allocated to a/ });
  t.throws(() => allocate(store, s, 0, 'b', 'eth0', ['10.1.0.30']), { message: /not inside any range/ });
  t.throws(() => allocate(store, s, 0, 'b', 'eth0', ['10.1.0.1']), { message: /not inside any range/ });
  t.equal(allocate(store, s, 0, 'b', 'eth0', []).address, '10.1.0.16/24', 'continues after the requested one');
});

t.test('IPv6 and config checks', async (t) => {
  const store = new DiskStore(tmp, 'v6');
  const s = sets('fd00:1::/64')[0];
  t.equal(allocate(store, s, 1, 'a', 'eth0', []).address, 'fd00:1::2/64');
  t.throws(() => sets('10.0.0.0/24', { gateway: parseIp('10.9.9.9') }), { code: 'PODNET_CNI_BAD_CONFIG', message: /gateway/ });
  t.throws(() => resolveRangeSets([[{}]], () => []), { message: /no subnet/ });
  const fromNode = resolveRangeSets([], () => [tryParseCidr('10.5.0.0/24', 'keep')!, tryParseCidr('fd05::/64', 'keep')!]);
  t.equal(fromNode.length, 2, 'no ranges: one set per node pod CIDR');
});

t.test('a dead holder\'s lock is broken; a live one times out as "try again"', async (t) => {
  const store = new DiskStore(tmp, 'lock');
  writeFileSync(path.join(store.dir, 'lock'), '999999999');
  const { utimesSync } = await import('node:fs');
  utimesSync(path.join(store.dir, 'lock'), new Date(Date.now() - 5000), new Date(Date.now() - 5000));
  t.equal(store.withLock(() => 42), 42, 'stale lock broken');
  t.notOk(existsSync(path.join(store.dir, 'lock')), 'lock released');
});

t.test('gc-style release and idempotent DEL', async (t) => {
  const store = new DiskStore(tmp, 'gc');
  const s = sets('10.2.0.0/24')[0];
  for (const id of ['a', 'b', 'c']) allocate(store, s, 0, id, 'eth0', []);
  t.same(store.releaseById('b', 'eth0'), ['10.2.0.3']);
  t.same(store.releaseById('b', 'eth0'), [], 'second release: nothing, no error');
  t.same(store.list().map((r) => r.containerId).sort(), ['a', 'c']);
});

t.test('64 concurrent processes get 64 distinct addresses', async (t) => {
  const dist = path.join(REPO, 'dist/src/cni/ipam');
  if (!existsSync(path.join(dist, 'store.js'))) { t.fail('dist/ not built: run npx tsc -p .'); return; }
  const script = path.join(tmp, 'alloc.js');
  writeFileSync(script, `
    const { DiskStore } = require(${JSON.stringify(path.join(dist, 'store.js'))});
    const { allocate, resolveRangeSets } = require(${JSON.stringify(path.join(dist, 'allocator.js'))});
    const { tryParseCidr } = require(${JSON.stringify(path.join(REPO, 'dist/src/net/cidr.js'))});
    const store = new DiskStore(process.argv[2], 'race');
    const sets = resolveRangeSets([[{ subnet: tryParseCidr('10.3.0.0/24', 'keep') }], [{ subnet: tryParseCidr('fd03::/64', 'keep') }]], () => []);
    const out = store.withLock(() => sets.map((s, i) => allocate(store, s, i, process.argv[3], 'eth0', []).address));
    process.stdout.write(JSON.stringify(out));
  `);
  const one = (i: number) => new Promise<string[]>((resolve, reject) => {
    const c = spawn(process.execPath, [script, tmp, `ctr${i}`]);
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child ${i} exit ${code}`))));
  });
  const results = await Promise.all(Array.from({ length: 64 }, (_, i) => one(i)));
  const v4 = new Set(results.map((r) => r[0]));
  const v6 = new Set(results.map((r) => r[1]));
  t.equal(v4.size, 64, '64 distinct IPv4');
  t.equal(v6.size, 64, '64 distinct IPv6');
  t.equal(readdirSync(path.join(tmp, 'race')).filter((n) => /^10\.3\./.test(n)).length, 64, '64 files');
});
