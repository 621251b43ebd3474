// The Grafana dashboard shipped in systemd/grafana-dashboard.json against a real podnetd: every
// metric a panel queries must be one podnetd's /metrics serves (a renamed metric would leave a
// panel silently empty). podnetd runs in a sandbox node namespace on a manifest directory, as in
// podnetd.test.ts; its families are read from the # TYPE lines of one scrape.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Podnetd, Sandbox, sandboxUnavailable } from '../../src/sandbox';
import { repoRoot } from '../../src/sandbox/paths';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { daemonEnv } from './fixtures';

interface Panel { title?: string; targets?: { expr?: string }[]; panels?: Panel[] }

/** PromQL words that are not metric names (functions are recognised by the "(" after them). */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);

/** The metric names an expression selects: labels, ranges, strings, numbers and functions taken out. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ');
  const out: string[] = [];
  for (const m of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)) {
    if (m[2] || KEYWORDS.has(m[1]) || /^\d/.test(m[1])) continue;
    out.push(m[1]);
  }
  return out;
}

/** A queried name is served when it is a family, or a histogram's series of one. */
function served(name: string, families: Set<string>): boolean {
  return families.has(name) || families.has(name.replace(/_(bucket|sum|count)$/, ''));
}

const dashboard = JSON.parse(readFileSync(path.join(repoRoot(), 'systemd/grafana-dashboard.json'), 'utf8')) as { panels: Panel[] };
const queries = (ps: Panel[]): { panel: string; expr: string }[] =>
  ps.flatMap((p) => [...(p.targets ?? []).map((x) => ({ panel: p.title ?? '', expr: x.expr ?? '' })), ...queries(p.panels ?? [])]);

t.test('metricNames reads PromQL the way the dashboard writes it', async (t) => {
  t.same(metricNames('histogram_quantile(0.99, sum by (le) (rate(podnet_x_bucket{instance=~"$instance"}[$__rate_interval])))'), ['podnet_x_bucket']);
  t.same(metricNames('topk(10, sum by (veth) (rate(a_total{x="y"}[5m])) > 0)'), ['a_total']);
  t.same(metricNames('time() - podnet_process_start_time_seconds{instance=~"$instance"}'), ['podnet_process_start_time_seconds']);
});

t.test('every panel queries metrics podnetd serves', requires({ root: isRoot, curl: () => haveCommand('curl') }), async (t) => {
  const why = await sandboxUnavailable();
  if (why) { t.fail(why); return; }
  const sb = await Sandbox.create();
  t.teardown(() => sb.destroy());
  mkdirSync(Podnetd.paths(sb).manifests, { recursive: true });
  const podnetd = await Podnetd.startManifests(sb, { env: daemonEnv() });
  const { stdout } = await sb.exec(sb.nodeNs, ['curl', '-sf', 'http://127.0.0.1:10249/metrics']);
  const families = new Set([...stdout.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]));
  t.ok(families.has('podnet_sync_proxy_rules_duration_seconds') && families.has('process_cpu_user_seconds_total'), 'podnet and process families scraped');

  const all = queries(dashboard.panels);
  t.ok(all.length >= 30, `${all.length} queries`);
  for (const { panel, expr } of all) {
    const names = metricNames(expr);
    t.ok(names.length > 0, `${panel}: ${expr} selects a metric`);
    for (const n of names) t.ok(served(n, families), `${panel}: ${n}`);
  }
  t.equal(await podnetd.stop(), 0);
});
