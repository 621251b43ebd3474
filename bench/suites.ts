// The benchmarks that are not data-path figures, run by `npm run bench` after the paired
// configurations so that one invocation reports everything: control-plane sync at
// scale and CNI ADD/DEL latency against the reference plugins. Each suite is its own script
// (runnable alone, see bench/README.md) that prints JSON lines; this file runs them as child
// processes, keeps their JSON in the results file and renders a Markdown section with the
// figures and the ratios to their baselines (measured in the same child run).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const DIST = path.resolve(__dirname);

export interface SuiteResult {
  id: string;
  label: string;
  command: string;
  /** JSON objects the suite printed, one per line. */
  results: Record<string, unknown>[];
  error?: string;
  seconds: number;
}

interface Suite {
  id: string;
  label: string;
  /** One or more commands (argv after `node`); each prints JSON lines. */
  runs: string[][];
  /** Markdown table rows (header first) from the suite's JSON. */
  table(results: Record<string, unknown>[]): string[][];
}

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const num = (v: unknown, digits = 1): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—');

export const SUITES: Suite[] = [
  {
    id: 'control',
    label: 'Control plane: full sync and incremental programming latency (real engine)',
    runs: [['--expose-gc', path.join(DIST, 'control/sync.js'), '10000', '10', 'engine'],
      ['--expose-gc', path.join(DIST, 'control/sync.js'), '30000', '2', 'engine']],
    table: (rs) => [
      ['scale', 'full sync (ms)', 'of which validate+track (ms)', 'RSS (MiB)', 'incremental p50 (ms)', 'incremental p99 (ms)', 'targets'],
      ...rs.map((r: J) => [String(r.scale), num(r.fullSync?.totalMs, 0), num(r.fullSync?.validateAndTrackMs, 0), num(r.rssMiB, 0),
        num(r.incremental?.p50ms, 2), num(r.incremental?.p99ms, 2), 'full < 2000 ms, p99 < 50 ms, RSS < 500 MiB']),
    ],
  },
  {
    id: 'cni',
    label: 'CNI ADD/DEL latency, median of 20, against the reference bridge + host-local',
    runs: [[path.join(DIST, 'cni/latency.js'), '--n', '20', '--json']],
    table: (rs) => rs.flatMap((r: J) => [
      ['plugin', 'ADD (ms)', 'DEL (ms)', 'ADD ratio', 'DEL ratio'],
      ['bridge + host-local (reference)', num(r.reference?.addMs), num(r.reference?.delMs), '1.00×', '1.00×'],
      ['podnet: shim → podnetd CNI server', num(r.podnetShim?.addMs), num(r.podnetShim?.delMs), `${num(r.ratioShim?.add, 2)}×`, `${num(r.ratioShim?.del, 2)}×`],
      ['podnet: the same without anti-spoofing', num(r.podnetShimNoAntispoof?.addMs), num(r.podnetShimNoAntispoof?.delMs),
        `${num(r.podnetShimNoAntispoof?.addMs / r.reference?.addMs, 2)}×`, `${num(r.podnetShimNoAntispoof?.delMs / r.reference?.delMs, 2)}×`],
      ['podnet: Node.js plugin (fallback)', num(r.podnet?.addMs), num(r.podnet?.delMs), `${num(r.ratio?.add, 2)}×`, `${num(r.ratio?.del, 2)}×`],
      ['`node -e 0` (start-up floor)', num(r.nodeStartMs), '', '', ''],
    ]),
  },
];

export const SUITE_IDS = SUITES.map((s) => s.id);

/** Runs the chosen suites one after the other; a failing suite is recorded, not fatal. */
export function runSuites(ids: string[], log: (m: string) => void): SuiteResult[] {
  const out: SuiteResult[] = [];
  for (const s of SUITES.filter((x) => ids.includes(x.id))) {
    const t0 = Date.now();
    const res: SuiteResult = { id: s.id, label: s.label, command: s.runs.map((a) => `node ${a.map((x) => path.relative(process.cwd(), x) || x).join(' ')}`).join(' && '), results: [], seconds: 0 };
    log(`suite ${s.id}: ${res.command}`);
    for (const argv of s.runs) {
      const r = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 15 * 60_000, maxBuffer: 64 << 20 });
      for (const line of (r.stdout ?? '').split('\n')) {
        if (!line.startsWith('{')) continue;
        try { res.results.push(JSON.parse(line) as Record<string, unknown>); } catch { /* a log line that looks like JSON */ }
      }
      if (r.status !== 0) res.error = `${argv[argv.length > 1 && argv[0].startsWith('--') ? 1 : 0]} exited ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`;
    }
    res.seconds = Math.round((Date.now() - t0) / 1000);
    log(`suite ${s.id}: ${res.results.length} result(s) in ${res.seconds} s${res.error ? `; ${res.error}` : ''}`);
    out.push(res);
  }
  return out;
}

/** The Markdown section for the suites' results. */
export function suitesMarkdown(results: SuiteResult[]): string {
  if (results.length === 0) return '';
  const parts = ['## Control plane and CNI (same invocation)\n'];
  for (const r of results) {
    const s = SUITES.find((x) => x.id === r.id);
    parts.push(`### ${r.label}\n\n\`${r.command}\` (${r.seconds} s)${r.error ? ` — **failed:** ${r.error}` : ''}\n`);
    const rows = s && r.results.length ? s.table(r.results) : [];
    if (rows.length) {
      parts.push(`| ${rows[0].join(' | ')} |\n|${rows[0].map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|\n${rows.slice(1).map((x) => `| ${x.join(' | ')} |`).join('\n')}\n`);
    }
  }
  return `${parts.join('\n')}\n`;
}
