// The sync building blocks on their own: change trackers ({previous, current}, no-ops dropped,
// trigger times), caches applying a tracker, the bounded-frequency runner on a manual clock.
import t from 'tap';
import { Cache } from '../../src/sync/cache';
import { BoundedFrequencyRunner } from '../../src/sync/runner';
import { ChangeTracker } from '../../src/sync/tracker';
import { ManualClock } from '../services/fixtures/fakes';

let now = 0;
/** Sets the trackers' clock, for the update that follows. */
function at(ms: number): void { now = ms; }

t.test('change tracker: {previous, current}, no-ops dropped, revert cancels', async (t) => {
  const tr = new ChangeTracker<{ v: number }>({ now: () => now });
  t.equal((at(0), tr.update('a', undefined, { v: 1 })), true);
  t.equal((at(5), tr.update('a', { v: 1 }, { v: 2 })), true);
  t.equal((at(5), tr.update('b', { v: 1 }, { v: 1 })), false, 'no-op update');
  t.equal(tr.pending, 1);
  const d = tr.drain();
  t.match(d.get('a'), { previous: undefined, current: { v: 2 }, since: 0, triggers: [] }, 'previous kept from the first change');
  t.equal(tr.pending, 0);
  (at(10), tr.update('c', { v: 1 }, { v: 2 }));
  t.equal((at(11), tr.update('c', { v: 2 }, { v: 1 })), false, 'reverted before the sync');
  t.equal(tr.pending, 0);
  (at(12), tr.update('d', undefined, { v: 1 }));
  (at(13), tr.update('d', { v: 1 }, undefined));
  t.equal(tr.pending, 0, 'added then deleted');
});

t.test('runner: bursts merge, min interval respected, max interval periodic, retry', async (t) => {
  const clock = new ManualClock();
  const runs: number[] = [];
  const r = new BoundedFrequencyRunner(() => { runs.push(clock.now()); }, { minIntervalMs: 100, maxIntervalMs: 1000, clock });
  r.start();
  r.run(); r.run(); r.run();
  clock.advance(0);
  t.same(runs, [0], 'a burst is one run');
  r.run();
  clock.advance(50);
  t.same(runs, [0], 'not before minInterval');
  clock.advance(50);
  t.same(runs, [0, 100]);
  clock.advance(1000);
  t.same(runs, [0, 100, 1100], 'periodic after maxInterval');
  r.retryAfter(300);
  clock.advance(300);
  t.same(runs, [0, 100, 1100, 1400]);
  r.stop();
  r.run();
  clock.advance(5000);
  t.equal(runs.length, 4, 'stopped');
});

t.test('tracker keeps each distinct trigger time of a pending change', async (t) => {
  const tr = new ChangeTracker<{ v: number; at?: number }>({ triggerTime: (o) => o.at, now: () => now });
  (at(0), tr.update('a', { v: 1 }, { v: 2, at: 10 }));
  (at(1), tr.update('a', { v: 2, at: 10 }, { v: 3, at: 10 }));
  (at(2), tr.update('a', { v: 3, at: 10 }, { v: 4, at: 20 }));
  (at(3), tr.update('b', undefined, { v: 1 }));
  const d = tr.drain();
  t.same(d.get('a')?.triggers, [10, 20]);
  t.equal(d.get('a')?.since, 0);
  t.same(d.get('b')?.triggers, [], 'no trigger time: empty');
});


t.test('checkout: trigger times from before the tracker started are not used; the cache applies the changes', async (t) => {
  let wall = 1000;
  const tr = new ChangeTracker<{ v: number; at?: number }>({ triggerTime: (o) => o.at, now: () => now, wallNow: () => wall });
  t.equal(tr.startTime, 1000);
  wall = 5000;
  const cache = new Cache<{ v: number; at?: number }>();
  at(7);
  cache.record(tr, 'old', { v: 1, at: 500 });
  cache.record(tr, 'new', { v: 1, at: 2000 });
  cache.record(tr, 'none', { v: 1 });
  t.equal(cache.size, 0, 'nothing applied before update()');
  const u = cache.update(tr);
  t.same([...u.changes.keys()].sort(), ['new', 'none', 'old']);
  t.same(u.triggers, [2000], 'only the trigger time after the start');
  t.same(u.since, [7, 7], 'the others count from when they were seen');
  t.equal(cache.size, 3);
  t.equal(tr.pending, 0);
  t.equal(cache.record(tr, 'none', { v: 1 }), false, 'no-op against the cache');
  t.equal(cache.record(tr, 'none', undefined), true);
  t.equal(cache.record(tr, 'none', { v: 1 }), false, 'deleted then re-added as it was: no change');
  cache.record(tr, 'old', undefined);
  cache.update(tr);
  t.same([...cache.keys()].sort(), ['new', 'none']);
});

t.test('runner: an async function is not re-entered; runNow resolves after a run that started after it', async (t) => {
  const clock = new ManualClock();
  const log: string[] = [];
  let release: (() => void) | undefined;
  const r = new BoundedFrequencyRunner(() => {
    log.push(`start ${clock.now()}`);
    return new Promise<void>((resolve) => { release = () => { log.push('end'); resolve(); }; });
  }, { minIntervalMs: 100, maxIntervalMs: 10_000, clock });
  r.start();
  const first = r.runNow();
  clock.advance(0);
  t.same(log, ['start 0']);
  r.run();
  clock.advance(500);
  t.same(log, ['start 0'], 'no second run while the first is in progress');
  let secondDone = false;
  const second = r.runNow().then(() => { secondDone = true; });
  release!();
  await first;
  clock.advance(0);
  t.same(log, ['start 0', 'end', 'start 500'], 'the request made during the run runs right after it');
  t.notOk(secondDone);
  release!();
  await second;
  t.ok(secondDone);
  r.stop();
});
