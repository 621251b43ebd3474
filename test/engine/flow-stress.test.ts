// The flow table under concurrency (native/stress): four threads playing TUN queues insert,
// look up both directions, touch and remove while a GC thread expires, purges backends and
// cuts flows, with eviction running constantly. Under ThreadSanitizer and at -O2, every hit
// must belong to the key it was found by, and nothing may hang (a corrupted chain loops).
// Cut TCP flows stay indexed as RESET: the queues must find them so, reopen them with a SYN,
// and a touch racing the cut must never bring one back to life.
// This is what found the insert/release race fixed with it: a flow released between linking
// its two directions left the reverse entry in a chain while its record was recycled.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { haveCommand, requires } from '../helpers/privileged';

const root = path.resolve(__dirname, '../..');
const seconds = Number(process.env.PODNET_STRESS_SECONDS ?? 4);

t.test(`flow table stress, ${seconds} s under TSan and at -O2`, requires({ 'clang++ with ThreadSanitizer': () => haveCommand('clang++') }), async (t) => {
  const r = spawnSync('bash', [path.join(root, 'native/stress/run.sh'), String(seconds), '4'], {
    encoding: 'utf8', timeout: (seconds * 8 + 600) * 1000, maxBuffer: 64 << 20, // clang builds take a while on a loaded machine
  });
  const out = `${r.stdout}\n${r.stderr}`;
  t.equal(r.status, 0, `stress runs exit cleanly${r.status ? `:\n${out.slice(-4000)}` : ''}`);
  t.notMatch(out, /WARNING: ThreadSanitizer|FAIL /, 'no race reported, no invariant broken');
  const runs = [...out.matchAll(/ops=(\d+) .* evicted=(\d+) purged=(\d+) cut=(\d+) reset_hits=(\d+) reopened=(\d+) .* failures=(\d+)/g)];
  t.equal(runs.length, 2, 'both builds ran to the end');
  for (const m of runs) {
    t.ok(Number(m[1]) > 50_000, `${m[1]} operations`);
    t.ok(Number(m[2]) > 0, `eviction exercised (${m[2]})`);
    t.ok(Number(m[3]) > 0, `backend purges exercised (${m[3]})`);
    t.ok(Number(m[5]) > 0, `reset flows hit by the queues (${m[5]})`);
    t.ok(Number(m[6]) > 0, `reset flows reopened by a SYN (${m[6]})`);
    t.equal(Number(m[7]), 0, 'no wrong hit, no reset undone');
  }
});
