// `npm run bench [-- --quick] [--configs a,b] [--figures x,y] [--rounds N] [--seconds S] [--out DIR]`
// Entry point of the benchmark harness: for each round, for each configuration (order rotated
// per round so that drift in the machine's load does not always hit the same one), build a fresh
// sandbox topology, set the configuration up, run every figure, tear it all down. Then summarise
// (median, min–max, ratio to direct) into JSON, Markdown and SVG under bench/results/.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sandboxUnavailable } from '../src/sandbox';
import { repoRoot } from '../src/sandbox/paths';
import { svgChart } from './chart';
import { setPodnetInstall } from './configs/podnet';
import { prepareInstall, removeInstall, type PodnetInstall } from './install';
import { ALL_CONFIGURATIONS, CONFIGURATIONS, SCALE_CONFIGURATIONS, type Configuration } from './configs';
import { ALL_FIGURES, FIGURES, type FigureId } from './figures';
import { measurePaired, type RunRecord } from './paired';
import { loadavg, machineInfo, type MachineInfo } from './machine';
import { METRICS, type MetricId } from './metrics';
import { markdown, type ConfigSummary } from './report';
import { summarize } from './stats';
import { buildTopology } from './topology';
import { connrateBinary, removeConnrateBinary } from './tools/connrate';
import { SUITE_IDS, runSuites, suitesMarkdown, type SuiteResult } from './suites';

interface Options {
  quick: boolean;
  configs: string[];
  figures: FigureId[];
  rounds: number;
  seconds: number;
  out: string;
  /** Appended to the results' file names: <date>-<host>-<tag>. */
  tag: string | null;
  /** Git revision to build podnet from (--build-head = HEAD); null: the working tree's build. */
  build: string | null;
  /** Non-data-path suites run after the configurations (suites.ts): all on a default full run. */
  suites: string[];
}

const QUICK_CONFIGS = ['direct', 'plain', 'nftables', 'iptables', 'ipvs', 'haproxy', 'podnet', 'podnet-p2p', 'podnet-fast', 'podnet-fast-p2p'];

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const o: Options = {
    quick,
    configs: quick ? QUICK_CONFIGS : CONFIGURATIONS.map((c) => c.id),
    figures: FIGURES,
    rounds: quick ? 1 : 3,
    seconds: quick ? 2 : 5,
    out: path.join(repoRoot(), 'bench/results'),
    build: null,
    tag: null,
    suites: quick ? [] : SUITE_IDS,
  };
  // A run narrowed to some configurations or figures is an experiment: no suites unless asked.
  if (argv.some((a) => ['--configs', '--figures', '--scale'].includes(a))) o.suites = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], next = () => argv[++i] ?? '';
    if (a === '--quick') continue;
    else if (a === '--scale') {
      // Scale runs measure what the table size can change: per-packet latency and new connections.
      o.configs = SCALE_CONFIGURATIONS.map((c) => c.id);
      o.figures = ['rrPinned', 'conn1', 'conn4'];
    }
    else if (a === '--build-head') o.build = 'HEAD';
    else if (a === '--build') o.build = next();
    else if (a === '--tag') o.tag = next().replace(/[^a-zA-Z0-9._-]/g, '');
    else if (a === '--profile') o.figures = [...o.figures, 'profile'];
    else if (a === '--configs') o.configs = next().split(',');
    else if (a === '--figures') o.figures = next().split(',') as FigureId[];
    else if (a === '--rounds') o.rounds = Number(next());
    else if (a === '--seconds') o.seconds = Number(next());
    else if (a === '--out') o.out = path.resolve(next());
    else if (a === '--suites') o.suites = next().split(',').filter((s) => s);
    else if (a === '--no-suites') o.suites = [];
    else throw new Error(`unknown argument ${a}\nusage: npm run bench -- [--quick] [--scale] [--configs ${ALL_CONFIGURATIONS.map((c) => c.id).join(',')}] [--figures ${ALL_FIGURES.join(',')}] [--profile] [--build-head | --build REV] [--rounds N] [--seconds S] [--out DIR] [--tag NAME] [--suites ${SUITE_IDS.join(',')} | --no-suites] | --rerender FILE.json`);
  }
  for (const c of o.configs) if (!ALL_CONFIGURATIONS.some((x) => x.id === c)) throw new Error(`unknown configuration ${c}`);
  for (const f of o.figures) if (!ALL_FIGURES.includes(f)) throw new Error(`unknown figure ${f}`);
  // Every ratio needs its baseline: direct, and the plain node for pod-to-pod configurations.
  for (const c of [...o.configs]) {
    const b = ALL_CONFIGURATIONS.find((x) => x.id === c)?.baseline;
    if (b && !o.configs.includes(b.id)) o.configs.unshift(b.id);
  }
  if (!o.configs.includes('direct')) o.configs.unshift('direct');
  return o;
}

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function summarise(cfgs: Configuration[], runs: RunRecord[], unavailable: Map<string, string>): ConfigSummary[] {
  return cfgs.map((c) => {
    // A baseline's figures include the runs measured beside other configurations; its ratios
    // only its own runs (the plain node is also measured beside direct).
    const mine = runs.filter((r) => r.config === c.id);
    const own = mine.filter((r) => !r.pairedWith);
    const metrics: ConfigSummary['metrics'] = {};
    const ratios: ConfigSummary['ratios'] = {};
    for (const m of METRICS) {
      const id = m.id as MetricId;
      const s = summarize(mine.map((r) => r.values[id]).filter((x): x is number => x !== undefined));
      if (s) metrics[id] = s;
      // Ratio of each run to the baseline run measured beside it, then the median of those.
      const paired = own.map((r) => {
        const d = runs.find((x) => x.pairedWith === c.id && x.round === r.round);
        const a = r.values[id], b = d?.values[id];
        return a !== undefined && b ? a / b : undefined;
      }).filter((x): x is number => x !== undefined);
      const rs = summarize(paired);
      if (rs) ratios[id] = rs;
    }
    const errors: Record<string, string> = {};
    for (const r of mine) for (const [k, v] of Object.entries(r.errors)) errors[k] ??= v;
    return { id: c.id, label: c.label, baseline: c.baseline?.id, unavailable: unavailable.get(c.id), metrics, ratios, errors };
  });
}

/** `--rerender FILE.json`: rewrites the .md and .svg of a results file (after a report change). */
function rerender(file: string): void {
  const j = JSON.parse(readFileSync(file, 'utf8')) as {
    date: string; command: string; machine: MachineInfo; podnet?: PodnetInstall; options: Options; summary: ConfigSummary[]; runs: RunRecord[]; suites?: SuiteResult[];
  };
  const loads = j.runs.map((r) => r.loadavg[0]);
  const base = file.replace(/\.json$/, '');
  const host = j.machine.host, date = j.date.slice(0, 10);
  writeFileSync(`${base}.md`, markdown({ date: j.date, command: j.command, machine: j.machine, podnet: j.podnet, rounds: j.options.rounds, seconds: j.options.seconds, loadDuring: [Math.min(...loads), Math.max(...loads)], configs: j.summary }) + suitesMarkdown(j.suites ?? []));
  writeFileSync(`${base}.svg`, svgChart(j.summary, `podnet benchmark, ${date}, ${host} (${j.machine.cpus} vCPU, kernel ${j.machine.kernel})`));
  log(`rewrote ${base}.{md,svg}`);
}

async function main(): Promise<void> {
  const ri = process.argv.indexOf('--rerender');
  if (ri > 0) { rerender(path.resolve(process.argv[ri + 1] ?? '')); return; }
  const o = parseArgs(process.argv.slice(2));
  const why = await sandboxUnavailable();
  if (why) throw new Error(`bench: ${why}`);
  process.on('exit', () => { removeConnrateBinary(); removeInstall(); });
  connrateBinary();
  const install = o.configs.some((c) => c.startsWith('podnet')) ? await prepareInstall(o.build ? 'head' : 'working-tree', log, o.build ?? 'HEAD') : undefined;
  if (install) setPodnetInstall(install);
  const machine = machineInfo();
  const cfgs = ALL_CONFIGURATIONS.filter((c) => o.configs.includes(c.id));
  const unavailable = new Map<string, string>();
  for (const c of cfgs) {
    const u = await c.unavailable?.();
    if (u) { unavailable.set(c.id, u); log(`${c.id}: not measured: ${u}`); }
  }
  for (const c of cfgs) {
    const b = c.baseline;
    if (b && unavailable.has(b.id) && !unavailable.has(c.id)) unavailable.set(c.id, `its baseline (${b.label}) is not measured`);
  }
  // Direct (or the configuration's own baseline) is measured beside every other configuration
  // (paired.ts); direct alone only if nothing else runs.
  const others = cfgs.filter((c) => !unavailable.has(c.id) && c.id !== 'direct');
  const runnable = others.length ? others : cfgs.filter((c) => c.id === 'direct');
  log(`${o.rounds} round(s) × ${runnable.length} configurations (each paired with its baseline) × ${o.figures.length} figures, ${o.seconds} s each; load ${machine.loadavgAtStart.join(' ')}`);
  const runs: RunRecord[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const order = runnable.map((_, i) => runnable[(i + round) % runnable.length]);
    // perf profiles only in the last round: sampling costs a few percent of what it watches.
    const last = round === o.rounds - 1;
    const figs = last ? o.figures : o.figures.filter((f) => f !== 'profile');
    for (const cfg of order) {
      log(`round ${round + 1}/${o.rounds}: ${cfg.id}`);
      try {
        for (const r of await measurePaired(cfg, round, figs, o.seconds)) {
          runs.push(r);
          log(`  ${r.config.padEnd(14)} ${Object.entries(r.values).map(([k, v]) => `${k}=${(v as number).toPrecision(3)}`).join(' ')}`);
          for (const [k, e] of Object.entries(r.errors)) log(`  ${k} FAILED: ${e.split('\n')[0]}`);
        }
      } catch (e) {
        log(`  ${cfg.id} setup FAILED: ${(e as Error).message}`);
        runs.push({ config: cfg.id, round, seconds: o.seconds, loadavg: loadavg(), values: {}, raw: {}, errors: { setup: (e as Error).message } });
      }
    }
  }
  const configs = summarise(cfgs, runs, unavailable);
  for (const s of o.suites) if (!SUITE_IDS.includes(s)) throw new Error(`unknown suite ${s} (known: ${SUITE_IDS.join(', ')})`);
  const suites: SuiteResult[] = runSuites(o.suites, log);
  const now = new Date();
  const date = now.toISOString().slice(0, 10);
  const kind = o.quick ? '-quick' : o.configs.some((c) => SCALE_CONFIGURATIONS.some((x) => x.id === c)) && !o.configs.includes('podnet') ? '-scale' : '';
  const base = `${date}-${machine.host}${o.tag ? `-${o.tag}` : kind}`;
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const loadDuring = runs.map((r) => r.loadavg[0]);
  mkdirSync(o.out, { recursive: true });
  const md = markdown({ date: now.toISOString(), command, machine, podnet: install, rounds: o.rounds, seconds: o.seconds, loadDuring: [Math.min(...loadDuring), Math.max(...loadDuring)], configs }) + suitesMarkdown(suites);
  writeFileSync(path.join(o.out, `${base}.json`), `${JSON.stringify({ date: now.toISOString(), command, options: o, machine, podnet: install, summary: configs, runs, suites }, null, 2)}\n`);
  writeFileSync(path.join(o.out, `${base}.md`), md);
  writeFileSync(path.join(o.out, `${base}.svg`), svgChart(configs, `podnet benchmark, ${date}, ${machine.host} (${machine.cpus} vCPU, kernel ${machine.kernel})`));
  // perf summaries, one text file per configuration, for the "where the time goes" discussion.
  for (const c of cfgs) {
    const profiles = runs.filter((r) => r.config === c.id && r.raw.profile)
      .map((r) => r.raw.profile as Record<string, { report: string; gbps?: number; perSec?: number }>);
    if (profiles.length === 0) continue;
    const p = profiles[profiles.length - 1];
    const text = Object.entries(p).map(([fig, x]) => `## ${c.label}: ${fig} (${x.gbps ? `${x.gbps.toFixed(2)} Gbit/s` : `${x.perSec?.toFixed(0)} conn/s`} under perf)\n${x.report}\n`).join('\n');
    writeFileSync(path.join(o.out, `${base}-profile-${c.id}.txt`), text);
  }
  process.stdout.write(md);
  log(`wrote ${path.join(o.out, base)}.{json,md,svg}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
