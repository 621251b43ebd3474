// Paired measurement: each configuration is measured next to its own baseline (direct pod-to-pod,
// or the configuration's `baseline`: the plain node for podnet's pod-to-pod figures), figure by
// figure (baseline, then the configuration; the order flips every figure), on two sandboxes
// that live side by side. On a shared 2-vCPU machine whose load swings from 3 to 20 within
// minutes, a ratio taken seconds apart is far steadier than one taken between medians collected
// a quarter of an hour apart. A baseline has no rules and no daemon, so nothing in it sees the
// other sandbox's traffic; only one measured configuration is ever alive, and it is torn down
// before the next one is set up.
import type { Configuration } from './configs';
import { direct } from './configs/direct';
import { runRound, type FigureId, type RoundResult } from './figures';
import { loadavg } from './machine';
import { buildTopology, type Topology } from './topology';

export interface RunRecord extends RoundResult {
  config: string;
  round: number;
  seconds: number;
  loadavg: number[];
  /** For baseline runs: the configuration this baseline was measured beside. */
  pairedWith?: string;
  info?: Record<string, unknown>;
}

function merge(into: RoundResult, r: RoundResult): void {
  Object.assign(into.values, r.values);
  Object.assign(into.raw, r.raw);
  Object.assign(into.errors, r.errors);
}

const empty = (): RoundResult => ({ values: {}, raw: {}, errors: {} });

const freshTopology = (c: Configuration): Promise<Topology> => c.topology?.() ?? buildTopology();

/** Returns the configuration's run and its baseline's (or just direct's, for direct). */
export async function measurePaired(cfg: Configuration, round: number, figures: FigureId[], seconds: number): Promise<RunRecord[]> {
  const base = cfg.baseline ?? direct;
  const topos: Topology[] = [];
  try {
    const bTopo = await freshTopology(base);
    topos.push(bTopo);
    const bActive = await base.setup(bTopo);
    const bRes = empty();
    try {
      if (cfg.id === direct.id) {
        for (const f of figures) merge(bRes, await runRound(bTopo, bActive, [f], seconds));
        return [{ config: direct.id, round, seconds, loadavg: loadavg(), ...bRes }];
      }
      const xTopo = await freshTopology(cfg);
      topos.push(xTopo);
      const xActive = await cfg.setup(xTopo);
      const xRes = empty();
      try {
        for (const [i, f] of figures.entries()) {
          const runX = async () => merge(xRes, await runRound(xTopo, xActive, [f], seconds));
          const runB = async () => { if (f !== 'profile') merge(bRes, await runRound(bTopo, bActive, [f], seconds)); };
          if (i % 2) { await runX(); await runB(); } else { await runB(); await runX(); }
        }
      } finally {
        await xActive.teardown();
      }
      const load = loadavg();
      return [
        { config: cfg.id, round, seconds, loadavg: load, info: xActive.info, ...xRes },
        { config: base.id, round, seconds, loadavg: load, pairedWith: cfg.id, ...bRes },
      ];
    } finally {
      await bActive.teardown();
    }
  } finally {
    for (const t of topos) await t.sb.destroy();
  }
}
