// podnetd's wiring of the datapath probe (src/probe/datapath.ts): its addresses (one per pod
// CIDR family: engine.probeIPv4/probeIPv6, or the engine's defaults), routed into the TUN by the
// node wiring; the probe itself, started once the node is wired, feeding /livez, /metrics and
// `podnetctl status`; and the test hook that stalls the engine threads, which exists only when
// podnetd runs with PODNET_TEST_HOOKS=1.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ProbeStatus } from '../ctl/api';
import type { Engine } from '../engine';
import { familyOf, type Family } from '../net/ip';
import { DatapathProbe, DEFAULT_PROBE_ADDRESSES } from '../probe/datapath';
import type { DaemonConfig } from './config';
import { DaemonError } from './errors';

/** The probe's addresses: one per family of the node's pod CIDRs; none when the probe is off. */
export function probeAddresses(cfg: DaemonConfig): string[] {
  if (!cfg.health.probe.enabled) return [];
  const families = [...new Set(cfg.podCIDRs.map((c) => familyOf(c.split('/')[0])))].sort();
  return families.map((f: Family) => (f === 4 ? cfg.engine.probeIPv4 : cfg.engine.probeIPv6) ?? DEFAULT_PROBE_ADDRESSES[f]);
}

/** Starts the probe (after the wiring: its route goes into the TUN); undefined when it is off. */
export function startProbe(cfg: DaemonConfig, registry: Registry, log: Logger): DatapathProbe | undefined {
  const targets = probeAddresses(cfg);
  if (targets.length === 0) return undefined;
  const { intervalMs, timeoutMs, failures } = cfg.health.probe;
  let wasLive = true;
  const probe = new DatapathProbe(targets, { intervalMs, timeoutMs, failures }, registry, (pings, health) => {
    const missed = pings.filter((p) => p.rttMs === undefined);
    if (missed.length) log.warn({ missed, consecutiveMisses: health.consecutiveMisses }, 'datapath probe missed');
    if (health.live() !== wasLive) {
      wasLive = health.live();
      if (wasLive) log.info({ pings }, 'datapath probe answered again: /livez 200');
      else log.error({ consecutiveMisses: health.consecutiveMisses }, 'datapath probe failing: /livez 503');
    }
  });
  try {
    probe.start();
  } catch (err) {
    // No CAP_NET_RAW (a unit without it): podnetd serves as before, /livez without the probe.
    probe.stop();
    log.error({ err, targets }, 'datapath probe off: cannot open its raw ICMP sockets (CAP_NET_RAW?); /livez does not check the data path');
    return undefined;
  }
  log.info({ targets, intervalMs, timeoutMs, failures }, 'datapath probe started');
  return probe;
}

/** The probe's state onto the wire (StatusReply.probe). */
export function toWireProbe(p: DatapathProbe): ProbeStatus {
  const s = p.health.snapshot();
  return {
    live: s.live, intervalMs: p.settings.intervalMs, timeoutMs: p.settings.timeoutMs, failures: p.settings.failures,
    consecutiveMisses: s.consecutiveMisses, rounds: s.rounds, missedRounds: s.missedRounds,
    lastOk: s.lastOkAt ? new Date(s.lastOkAt).toISOString() : '',
    targets: s.last.map((t) => ({ address: t.target, ...(t.rttMs !== undefined ? { rttMs: t.rttMs } : {}), ...(t.error ? { error: t.error } : {}) })),
  };
}

/** Test hooks are on: podnetd was started with PODNET_TEST_HOOKS=1. */
export const testHooksEnabled = (): boolean => process.env.PODNET_TEST_HOOKS === '1';

/** POST /v1/test/pause-engine?ms=N (control socket, test hooks only): the engine threads stop reading the TUN for N ms. */
export function pauseEngineForTest(engine: Engine | undefined, ms: number, log: Logger): { paused: boolean; ms: number } {
  if (!engine) throw new DaemonError('DAEMON_BAD_REQUEST', 'engine not running');
  if (!Number.isInteger(ms) || ms < 0 || ms > 600_000) throw new DaemonError('DAEMON_BAD_REQUEST', 'ms: must be an integer in [0, 600000]');
  const paused = engine.pauseThreadsForTest(ms);
  log.warn({ ms, paused }, 'test hook: engine threads paused');
  return { paused, ms };
}
