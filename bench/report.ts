// The Markdown report: absolute medians with their min–max (the run's own noise), then every
// figure as a ratio to the configuration's baseline measured in the same invocation: direct
// pod-to-pod, or the plain node for podnet's pod-to-pod rows.
import { METRICS, type MetricId } from './metrics';
import { fmt, spread, type Summary } from './stats';
import type { PodnetInstall } from './install';
import type { MachineInfo } from './machine';

export interface ConfigSummary {
  id: string;
  label: string;
  /** Id of the configuration its ratios are taken against; absent: direct. */
  baseline?: string;
  /** Why it did not run at all. */
  unavailable?: string;
  metrics: Partial<Record<MetricId, Summary>>;
  /** Paired ratios to the baseline measured beside each run (bench/paired.ts). */
  ratios?: Partial<Record<MetricId, Summary>>;
  /** Figure errors seen in any round (first message per figure). */
  errors: Record<string, string>;
}

export interface ReportInput {
  date: string;
  command: string;
  machine: MachineInfo;
  podnet?: PodnetInstall;
  rounds: number;
  seconds: number;
  loadDuring: number[];
  configs: ConfigSummary[];
}

export function baselineOf(c: ConfigSummary, configs: ConfigSummary[]): ConfigSummary | undefined {
  return configs.find((x) => x.id === (c.baseline ?? 'direct'));
}

/** The paired ratio to c's baseline; without pairs (old results), the ratio of the medians. */
export function ratio(c: ConfigSummary, configs: ConfigSummary[], id: MetricId): number | undefined {
  if (c.id === 'direct') return c.metrics[id] ? 1 : undefined;
  const paired = c.ratios?.[id]?.median;
  if (paired !== undefined) return paired;
  const a = c.metrics[id]?.median, b = baselineOf(c, configs)?.metrics[id]?.median;
  return a !== undefined && b ? a / b : undefined;
}

function present(configs: ConfigSummary[]): MetricId[] {
  return METRICS.map((m) => m.id).filter((id) => configs.some((c) => c.metrics[id]));
}

export function markdown(r: ReportInput): string {
  const ids = present(r.configs);
  // A "vs" column only when some row is divided by another baseline than direct.
  const mixed = r.configs.some((c) => c.baseline && c.baseline !== 'direct');
  const m = r.machine;
  const head = (...first: string[]) => `| ${first.join(' | ')} | ${ids.map((id) => { const x = METRICS.find((y) => y.id === id)!; return `${x.label} (${x.unit})`; }).join(' | ')} |\n|${first.map(() => '---').join('|')}|${ids.map(() => '---:').join('|')}|`;
  const lines: string[] = [];
  lines.push(`# podnet benchmark — ${r.date}, ${m.host}`, '');
  lines.push(`Command: \`${r.command}\`. ${r.rounds} round(s) of ${r.seconds} s per figure; every configuration measured figure by figure beside its own baseline (two sandboxes side by side, order flipped every figure), each round on freshly built sandboxes: no TIME_WAIT or conntrack state crosses configurations, and no kernel DNAT ruleset exists while podnet is measured.`, '');
  lines.push(`Machine: ${m.cpus} × ${m.cpu}, ${m.memGiB} GiB, kernel ${m.kernel}, node ${m.versions.node}. Load average at start ${m.loadavgAtStart.join(' / ')}, during the run ${r.loadDuring.map((x) => x.toFixed(2)).join(', ')} (shared machine: other work was running).`, '');
  const p = r.podnet;
  const podnet = p ? `podnet ${p.commit}${p.source === 'head' ? ' (built from git)' : p.dirty ? ' + uncommitted changes (working tree)' : ' (working tree)'}, addon ${p.addonSha256}` : 'podnet not measured';
  lines.push(`${podnet}; ${m.versions.iperf3}; ${m.versions.sockperf}; ${m.versions.haproxy}; ${m.versions.nft}; ${m.versions.iptables}.`, '');
  if (mixed) {
    lines.push('## Ratios to the baseline measured beside each run (same invocation)', '');
    lines.push('Each run of a configuration is divided by the run of its baseline (column "vs") measured beside it, seconds apart (paired): direct pod-to-pod for the VIP configurations; for pod-to-pod through podnet (no VIP), the plain node (reference bridge + host-local, no podnet). The cell is the median of those ratios, with their min–max. Throughput, rates: higher is better. Latency: lower is better. The CPU column is absolute (cores per Gbit/s).', '');
  } else {
    lines.push('## Ratios to direct pod-to-pod (same invocation)', '');
    lines.push('Each run of a configuration is divided by the direct run measured beside it, seconds apart (paired); the cell is the median of those ratios, with their min–max. Throughput, rates: higher is better. Latency: lower is better. The CPU column is absolute (cores per Gbit/s).', '');
  }
  const vs = (c: ConfigSummary) => (mixed ? ` ${c.id === 'direct' ? '' : c.baseline ?? 'direct'} |` : '');
  lines.push(mixed ? head('configuration', 'vs') : head('configuration'));
  for (const c of r.configs) {
    if (c.unavailable) { lines.push(`| ${c.label} |${vs(c)} ${ids.map(() => '—').join(' | ')} |`); continue; }
    lines.push(`| ${c.label} |${vs(c)} ${ids.map((id) => {
      if (id === 'cpuPerGbps') { const s = c.metrics[id]; return s ? fmt(s.median) : '—'; }
      const x = ratio(c, r.configs, id);
      if (x === undefined) return '—';
      const q = c.ratios?.[id];
      return q && q.n > 1 ? `${x.toFixed(2)}× (${q.min.toFixed(2)}–${q.max.toFixed(2)})` : `${x.toFixed(2)}×`;
    }).join(' | ')} |`);
  }
  lines.push('', '## Medians (min–max)', '');
  lines.push(head('configuration'));
  for (const c of r.configs) {
    lines.push(`| ${c.label} | ${ids.map((id) => {
      const s = c.metrics[id];
      return s ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : '—';
    }).join(' | ')} |`);
  }
  lines.push(...scaleSection(r.configs));
  // p99s swing by orders of magnitude with the neighbours' load: judged apart from the rest.
  const steady = ids.filter((id) => !/P99/.test(id));
  const noisiest = r.configs.flatMap((c) => steady.map((id) => ({ c, id, s: c.ratios?.[id] ?? c.metrics[id] })))
    .filter((x) => x.s && x.s.n > 1 && x.c.id !== 'direct').sort((a, b) => spread(b.s!) - spread(a.s!))[0];
  lines.push('');
  if (noisiest) lines.push(`Noise: outside the p99 columns, the widest min–max of a paired ratio is ±${(spread(noisiest.s!) * 100).toFixed(0)}% (${noisiest.c.label}, ${noisiest.id}); p99s follow the neighbours' load (one scheduler delay of a few hundred µs lands in the top 1%).`, '');
  lines.push('Notes:', '',
    '- iperf3 goes to a single-endpoint service (its control and data connections must meet one server); the connection-rate service has two endpoints; sockperf a single one.',
    '- RR latency is sockperf ping-pong, 64 B over TCP, as sockperf reports it (half the round trip). Pinned: client, server and the data-plane process (podnetd, haproxy) all on CPU 0 (taskset); kernel DNAT runs in the senders\' softirq context on that CPU too.',
    '- conn/s: connect, 16 B each way, server closes, client closes; C client/server compiled at bench time.',
    '- Data-plane CPU: utime+stime of the podnetd/haproxy process over the steady part of the 1-stream run, divided by its throughput. Kernel DNAT runs in softirq and is not attributable to a process (—).',
    '- Node CPU: the whole machine\'s busy cores (/proc/stat: user, system, softirq, ...; iperf3 and the kernel\'s forwarding included) over the same steady part, divided by the throughput, as a ratio to the baseline beside it: the cost kernel DNAT and the flow cache pay in softirq shows here. Other work on the machine lands in it too.',
    '- UDP: iperf3 -u, 64 B datagrams, unlimited rate; figure is datagrams that arrived per second.');
  if (mixed) lines.push('- Pod-to-pod rows (vs plain): the client talks to the server pod\'s own address, no VIP; podnet routes it through its engine, the plain node (pods made by the reference bridge plugin with host-local IPAM, ordinary bridge ports) switches it in its bridge. Both topologies have the same three pods and servers.');
  if (r.configs.some((c) => /fast/.test(c.id) && Object.keys(c.metrics).length)) lines.push('- Fast path (tc flow cache): packets it forwards run in the senders\' softirq, like kernel DNAT, and are not charged to podnetd: its CPU per Gbit/s counts only what still reaches the engine.');
  const unavailable = r.configs.filter((c) => c.unavailable);
  for (const c of unavailable) lines.push(`- ${c.label}: not measured: ${c.unavailable}.`);
  for (const c of r.configs) for (const [fig, msg] of Object.entries(c.errors)) lines.push(`- ${c.label}, ${fig}: ${msg.split('\n')[0]}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Scale runs (ids "<plane>-s<N>"): each data plane's figures at every table size, and the
 * largest size relative to the smallest — flat means ≈1.00×.
 */
function scaleSection(configs: ConfigSummary[]): string[] {
  const rows = new Map<string, Map<number, ConfigSummary>>();
  for (const c of configs) {
    const m = /^(.*)-s(\d+)$/.exec(c.id);
    if (!m) continue;
    if (!rows.has(m[1])) rows.set(m[1], new Map());
    rows.get(m[1])!.set(Number(m[2]), c);
  }
  if (rows.size === 0) return [];
  const sizes = [...new Set([...rows.values()].flatMap((r) => [...r.keys()]))].sort((a, b) => a - b);
  const ids = METRICS.map((m) => m.id).filter((id) => [...rows.values()].some((r) => [...r.values()].some((c) => c.metrics[id])));
  const out = ['', '## Scale: figures by number of services programmed', ''];
  out.push(`| data plane | ${ids.map((id) => `${METRICS.find((x) => x.id === id)!.label}: ${sizes.map((n) => n.toLocaleString('en-US')).join(' / ')} services (${sizes[sizes.length - 1].toLocaleString('en-US')} vs ${sizes[0]})`).join(' | ')} |`);
  out.push(`|---|${ids.map(() => '---:').join('|')}|`);
  for (const [plane, bySize] of rows) {
    out.push(`| ${plane} | ${ids.map((id) => {
      const v = sizes.map((n) => bySize.get(n)?.metrics[id]?.median);
      const first = v[0], last = v[v.length - 1];
      const rel = first && last ? ` (${(last / first).toFixed(2)}×)` : '';
      return `${v.map((x) => (x === undefined ? '—' : fmt(x))).join(' / ')}${rel}`;
    }).join(' | ')} |`);
  }
  return out;
}
