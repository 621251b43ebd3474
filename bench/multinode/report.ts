// Output of the cross-node benchmark (main.ts): medians per (mode, config, path), ratios, the
// Markdown table and the JSON object. Ratios between two series of one mode are paired: the
// median of the per-round ratios (both were measured in the same round). vxlan/routed compares
// runs at different times, so it is the ratio of the medians.
import { summarize } from '../stats';
import { CONFIGS, type Config, type Path } from './topology';

/** One value per round for each figure. */
export interface Series { tcpGbps: number[]; conn1: number[]; conn4: number[]; rrP50Us: number[] }
type Figure = keyof Series;
const FIGURES: Figure[] = ['tcpGbps', 'conn1', 'conn4', 'rrP50Us'];
type Figures = Record<Figure, number>;

export interface ModeResult {
  mode: string;
  podMtu: number;
  /** Keyed `${config}/${path}`. */
  series: Record<string, Series>;
  /** Kernel flow cache hits and installs at the end (both nodes), per configuration that has one. */
  cache: Partial<Record<Config, { hits: number; installs: number }>>;
  errors: string[];
}

interface Ratio { mode: string; what: string; path: string; figures: Figures }

const med = (v: number[]) => summarize(v)?.median ?? NaN;
const round3 = (x: number) => (Number.isFinite(x) ? +x.toFixed(3) : NaN);
const figuresOf = (f: (k: Figure) => number): Figures => ({ tcpGbps: f('tcpGbps'), conn1: f('conn1'), conn4: f('conn4'), rrP50Us: f('rrP50Us') });

function medians(s: Series | undefined): Figures {
  return figuresOf((k) => (s ? med(s[k]) : NaN));
}

/** Median of a[i]/b[i] over the rounds both measured. */
function paired(a: Series | undefined, b: Series | undefined): Figures {
  return figuresOf((k) => {
    if (!a || !b) return NaN;
    return round3(med(a[k].map((x, i) => x / b[k][i])));
  });
}

/** The ratios of one mode: podnet vs plain (direct), vip vs direct, fast vs tun. */
function modeRatios(r: ModeResult): Ratio[] {
  const s = (c: Config, p: Path) => r.series[`${c}/${p}`];
  const out: Ratio[] = [];
  const add = (what: string, path: string, a: Series | undefined, b: Series | undefined) => {
    if (a && b) out.push({ mode: r.mode, what, path, figures: paired(a, b) });
  };
  add('tun/plain', 'direct', s('tun', 'direct'), s('plain', 'direct'));
  add('fast/plain', 'direct', s('fast', 'direct'), s('plain', 'direct'));
  add('tun', 'vip/direct', s('tun', 'vip'), s('tun', 'direct'));
  add('fast', 'vip/direct', s('fast', 'vip'), s('fast', 'direct'));
  add('fast/tun', 'direct', s('fast', 'direct'), s('tun', 'direct'));
  add('fast/tun', 'vip', s('fast', 'vip'), s('tun', 'vip'));
  return out;
}

function fmt(x: number, d: number): string {
  return Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : 'n/a';
}
const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
const valueCells = (f: Figures) => [fmt(f.tcpGbps, 2), fmt(f.conn1, 0), fmt(f.conn4, 0), fmt(f.rrP50Us, 1)];
const ratioCells = (f: Figures) => FIGURES.map((k) => (Number.isFinite(f[k]) ? `${fmt(f[k], 2)}×` : 'n/a'));

export function report(results: ModeResult[]): { table: string; json: Record<string, unknown> } {
  const lines = [
    row(['mode', 'config', 'path', 'TCP 1 stream Gbit/s', 'conn/s 1 client', 'conn/s 4 clients', 'RR p50 µs']),
    row(['---', '---', '---', '---', '---', '---', '---']),
  ];
  const meds: Record<string, Record<string, Figures>> = {};
  const ratios: Ratio[] = [];
  for (const r of results) {
    meds[r.mode] = {};
    const label = r.mode === 'vxlan' ? `vxlan (pod MTU ${r.podMtu})` : r.mode;
    for (const c of CONFIGS) {
      for (const p of ['direct', 'vip'] as const) {
        const s = r.series[`${c}/${p}`];
        if (!s && !(p === 'vip' && r.series[`${c}/direct`])) continue; // config not run
        meds[r.mode][`${c}/${p}`] = medians(s);
        lines.push(row([label, c, p, ...valueCells(medians(s))]));
      }
    }
    for (const q of modeRatios(r)) {
      ratios.push(q);
      lines.push(row([r.mode, q.what, q.path, ...ratioCells(q.figures)]));
    }
  }
  const vxlanOverRouted: Record<string, Figures> = {};
  const rt = meds.routed, vx = meds.vxlan;
  if (rt && vx) {
    for (const key of Object.keys(rt)) {
      if (!vx[key] || !Number.isFinite(rt[key].tcpGbps)) continue;
      vxlanOverRouted[key] = figuresOf((k) => round3(vx[key][k] / rt[key][k]));
      const [c, p] = key.split('/');
      lines.push(row(['vxlan/routed', c, p, ...ratioCells(vxlanOverRouted[key])]));
    }
  }
  const notes = results.flatMap((r) => Object.entries(r.cache).map(([c, v]) =>
    `${r.mode} ${c}: kernel flow cache ${v.hits.toLocaleString('en-US')} hits, ${v.installs.toLocaleString('en-US')} installs (both nodes, whole run)`));
  const table = [...lines, ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : [])].join('\n');
  return {
    table,
    json: {
      medians: meds, ratios, vxlanOverRouted,
      raw: results.map((r) => ({ mode: r.mode, podMtu: r.podMtu, series: r.series, cache: r.cache, errors: r.errors })),
    },
  };
}
