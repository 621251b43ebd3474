// The drop sink (src/node/drop-sink.ts) created over rtnetlink: in the current namespace, and
// in a named one from outside it, both ends there and down, idempotently. The test process
// never creates anything where it runs: each call is made by a child that runs inside a
// namespace of this test ("outer"), so even a peer born in the caller's namespace would land
// in that test namespace, where the test looks for it.
import { randomBytes } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { haveCommand, isRoot, requires } from '../helpers/privileged';

const REPO = path.resolve(__dirname, '../..');
const MOD = JSON.stringify(path.join(REPO, 'dist/src/node/drop-sink.js'));

interface Link { ifname: string; flags: string[]; link?: string; linkinfo?: { info_kind?: string } }

t.test('ensureDropSink over rtnetlink', requires({ root: isRoot, ip: () => haveCommand('ip') }), async (t) => {
  const prefix = `pnds${randomBytes(2).toString('hex')}`;
  const outer = `${prefix}-outer`, inner = `${prefix}-inner`;
  for (const n of [outer, inner]) execFileSync('ip', ['netns', 'add', n]);
  t.teardown(() => { for (const n of [outer, inner]) spawnSync('ip', ['netns', 'del', n]); });
  const links = (ns: string) => JSON.parse(execFileSync('ip', ['-n', ns, '-d', '-j', 'link', 'show'], { encoding: 'utf8' })) as Link[];
  const sink = (ns: string) => links(ns).filter((l) => l.ifname.startsWith('podnet-drop'));
  /** ensureDropSink(arg) `times` times, from a child inside `outer`. */
  const call = (arg: string | undefined, times = 2) => {
    const js = `const d = require(${MOD}); (async () => { for (let i = 0; i < ${times}; i++) await d.ensureDropSink(${arg ? JSON.stringify(arg) : ''}); })()` +
      '.catch((e) => { console.error(e.message); process.exit(1); })';
    return spawnSync('ip', ['netns', 'exec', outer, process.execPath, '-e', js], { encoding: 'utf8', timeout: 30_000 });
  };

  await t.test('in a named namespace, from outside it', async (t) => {
    const r = call(inner);
    t.equal(r.status, 0, `twice: ${r.stderr}`);
    const there = sink(inner);
    t.same(there.map((l) => l.ifname).sort(), ['podnet-drop', 'podnet-dropp'], 'both ends there');
    for (const l of there) {
      t.equal(l.linkinfo?.info_kind, 'veth', `${l.ifname} is a veth`);
      t.notOk(l.flags.includes('UP'), `${l.ifname} is down`);
    }
    t.same(sink(outer), [], "nothing in the caller's namespace");
  });

  await t.test('by its namespace file', async (t) => {
    const r = call(`/var/run/netns/${inner}`, 1);
    t.equal(r.status, 0, `present already: ${r.stderr}`);
    t.equal(sink(inner).length, 2, 'still the one pair');
  });

  await t.test('in the current namespace', async (t) => {
    const r = call(undefined);
    t.equal(r.status, 0, `twice: ${r.stderr}`);
    const here = sink(outer);
    t.same(here.map((l) => l.ifname).sort(), ['podnet-drop', 'podnet-dropp'], 'both ends in the caller\'s namespace');
    t.ok(here.every((l) => !l.flags.includes('UP')), 'down');
  });
});
