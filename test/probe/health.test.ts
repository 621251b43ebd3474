// The miss counter behind /livez (ProbeHealth): a round counts when every family answered;
// `failures` missed rounds in a row make it not live, one answered round makes it live again.
// Then the HTTP side: /livez follows the probe, /healthz does not. No root needed.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import t from 'tap';
import { HttpEndpoints } from '../../src/daemon/http';
import { ProbeHealth, type PingResult } from '../../src/probe/datapath';

const ok = (target: string, rttMs = 0.1): PingResult => ({ target, rttMs });
const miss = (target: string, error?: string): PingResult => ({ target, ...(error ? { error } : {}) });

t.test('misses in a row → not live → live again', async (t) => {
  const h = new ProbeHealth(3);
  t.equal(h.live(), true, 'live before the first round');
  h.record([ok('a'), ok('b')], 1000);
  t.same([h.live(), h.consecutiveMisses, h.lastOkAt], [true, 0, 1000], 'answered');
  h.record([ok('a'), miss('b')]);
  h.record([miss('a'), miss('b', 'send: ENETUNREACH')]);
  t.same([h.live(), h.consecutiveMisses], [true, 2], 'two misses: still live (one family missing is a miss)');
  h.record([miss('a'), miss('b')]);
  t.same([h.live(), h.consecutiveMisses, h.missedRounds, h.rounds], [false, 3, 3, 4], 'third miss in a row: not live');
  h.record([miss('a'), miss('b')]);
  t.equal(h.live(), false, 'stays down');
  h.record([ok('a'), ok('b')], 2000);
  t.same([h.live(), h.consecutiveMisses, h.missedRounds, h.lastOkAt], [true, 0, 4, 2000], 'one answered round: live again');
  t.same(h.snapshot().last, [ok('a'), ok('b')], 'snapshot keeps the last round');
  h.record([]);
  t.equal(h.consecutiveMisses, 1, 'a round with no ping at all is a miss');
});

t.test('failures 1: the first miss fails', async (t) => {
  const h = new ProbeHealth(1);
  h.record([miss('a')]);
  t.equal(h.live(), false);
});

t.test('/livez follows the probe, /healthz does not', async (t) => {
  let live = true;
  const ep = new HttpEndpoints({ ready: () => true, syncing: () => true, lastUpdatedMs: () => 0, metrics: async () => '', live: () => live }, pino({ level: 'silent' }));
  await ep.start('127.0.0.1:0', '');
  t.teardown(() => ep.stop());
  const port = ((ep as unknown as { servers: http.Server[] }).servers[0].address() as AddressInfo).port;
  const code = (p: string) => new Promise<number>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
  });
  t.same([await code('/livez'), await code('/healthz')], [200, 200], 'probe answered');
  live = false;
  t.same([await code('/livez'), await code('/healthz')], [503, 200], 'probe failing: /livez 503 only');
});
