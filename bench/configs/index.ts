// The configurations the benchmark knows, in report order. Baselines come first: `direct`, which
// every VIP configuration is divided by, then `plain`, the node without podnet that podnet's
// pod-to-pod figures are divided by.
import os from 'node:os';
import { direct } from './direct';
import { haproxy } from './haproxy';
import { iptables } from './iptables';
import { ipvs } from './ipvs';
import { nftables } from './nftables';
import { plain } from './plain';
import { podnet } from './podnet';
import { SCALE_CONFIGURATIONS } from './scale';
import type { Configuration } from './types';

export type { Active, Configuration, Targets } from './types';

export const CONFIGURATIONS: Configuration[] = [
  direct,
  plain,
  nftables,
  iptables,
  ipvs,
  haproxy,
  podnet('podnet', 'podnet (1 queue, busy poll 50 µs: the defaults)'),
  podnet('podnet-p2p', 'podnet pod→pod (no VIP)', { target: 'pod' }),
  podnet('podnet-fast', 'podnet, kernel fast path', { fastPath: true }),
  podnet('podnet-fast-p2p', 'podnet pod→pod, kernel fast path', { target: 'pod', fastPath: true }),
  podnet('podnet-nobp', 'podnet, no busy poll', { busyPollUs: 0 }),
  podnet('podnet-q2', 'podnet, 2 queues', { queues: 2 }),
];

/** Diagnostic variants, only on request (`--configs`): not part of a default run. */
export const EXTRA_CONFIGURATIONS: Configuration[] = [
  podnet('podnet-fast-q2', 'podnet, kernel fast path, 2 queues', { fastPath: true, queues: 2 }),
  podnet('podnet-fast-mq', 'podnet, kernel fast path, a queue per CPU (steered by CPU)', { fastPath: true, queues: os.availableParallelism() }),
  podnet('podnet-fast-nobp', 'podnet, kernel fast path, no busy poll', { fastPath: true, busyPollUs: 0 }),
  podnet('podnet-nice', 'podnet, threads at nice -10', { nice: -10 }),
  podnet('podnet-batch1', 'podnet, batch 1', { batch: 1 }),
];

/** Scale runs (`--scale`): the same services plus filler, 10 / 1,000 / 10,000 in all. */
export { SCALE_CONFIGURATIONS };
export const ALL_CONFIGURATIONS: Configuration[] = [...CONFIGURATIONS, ...EXTRA_CONFIGURATIONS, ...SCALE_CONFIGURATIONS];
