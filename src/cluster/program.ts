// Makes the CURRENT netns match a ClusterRoutingState (model.ts), idempotently: run it after every
// Node change, or twice in a row, and the second run changes nothing. Entries of nodes that are gone
// are removed because everything we own is recognisable: routes carry `proto 0x70` (PROTO), rules
// sit at our pref, neighbours/FDB entries live on our own VXLAN device only.
//
// Tool choice: iproute2 (`ip -j`, `bridge -j`) through execFile, not the `netlink` package. netlink
// 0.3.0 has no VXLAN linkinfo builder (IFLA_INFO_DATA would be hand-encoded), no typed custom route
// protocol for "routes we own", and no parser for AF_BRIDGE FDB dumps; `-j` gives listings for the
// removal half for free. Per sync this is ~10 + 3/remote node short execs — Node churn rate, not packets.
import { assertSandboxedNetns } from '../netns/current';
import { run } from '../netns/exec';
import { ClusterError } from './errors';
import type { ClusterRoutingState, FdbSpec, NeighSpec, RouteSpec, RuleSpec, VxlanDevice } from './model';

/** rtm_protocol of every route we own ("p"); `ip route show proto 112` lists exactly ours. */
export const PROTO = 112;

/** Runs one iproute2 command in the current netns, returning stdout. Tests may inject their own. */
export type Exec = (argv: string[]) => Promise<string>;

const defaultExec: Exec = async (argv) => (await run(null, argv)).stdout;

export interface SyncOptions {
  exec?: Exec;
  /** Permit a non-sandbox netns (a real node). Default false: see netns/current.ts. */
  allowHostNetns?: boolean;
  /** Every device we may have created before, to remove when the mode changes to routed. */
  vxlanName?: string;
}

/** What a sync changed (empty arrays: it was a no-op). */
export interface SyncReport { added: string[]; removed: string[] }

type Json = Record<string, unknown>;

async function json(exec: Exec, argv: string[]): Promise<Json[]> {
  const out = (await exec(argv)).trim();
  return out ? (JSON.parse(out) as Json[]) : [];
}

async function step(what: string, fn: () => Promise<unknown>): Promise<void> {
  try { await fn(); } catch (e) {
    throw new ClusterError('CLUSTER_PROGRAM', `${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** ip -j prints a /32 or /128 route without its prefix; canonical "addr/len" either way. */
function withLen(dst: string, f: 4 | 6): string {
  return dst.includes('/') ? dst : `${dst}/${f === 4 ? 32 : 128}`;
}

async function linkDetails(exec: Exec, name: string): Promise<Json | undefined> {
  try { return (await json(exec, ['ip', '-j', '-d', 'link', 'show', 'dev', name]))[0]; } catch { return undefined; }
}

function vxlanMatches(l: Json, d: VxlanDevice): boolean {
  const info = (l.linkinfo as Json | undefined);
  const data = (info?.info_data ?? {}) as Json;
  return info?.info_kind === 'vxlan' && data.id === d.vni && data.port === d.port &&
    (data.local === d.local || data.local6 === d.local) && data.learning === false;
}

async function syncVxlan(exec: Exec, d: VxlanDevice | undefined, name: string, r: SyncReport): Promise<void> {
  const cur = await linkDetails(exec, d?.name ?? name);
  if (!d) {
    if (cur) { await step(`delete ${name}`, () => exec(['ip', 'link', 'del', 'dev', name])); r.removed.push(`link ${name}`); }
    return;
  }
  if (cur && !vxlanMatches(cur, d)) { await step(`delete stale ${d.name}`, () => exec(['ip', 'link', 'del', 'dev', d.name])); r.removed.push(`link ${d.name}`); }
  if (!cur || !vxlanMatches(cur, d)) {
    // nolearning: remote VTEPs come only from Node objects (FDB below), never from flooding.
    await step(`create ${d.name}`, () => exec(['ip', 'link', 'add', d.name, 'type', 'vxlan', 'id', String(d.vni),
      'local', d.local, 'dstport', String(d.port), 'dev', d.lower, 'nolearning']));
    r.added.push(`link ${d.name}`);
  }
  const now = await linkDetails(exec, d.name);
  if (now?.address !== d.mac || now?.mtu !== d.mtu || !(now?.flags as string[] | undefined)?.includes('UP')) {
    await step(`configure ${d.name}`, () => exec(['ip', 'link', 'set', 'dev', d.name, 'address', d.mac, 'mtu', String(d.mtu), 'up']));
  }
}

async function syncRoutes(exec: Exec, want: RouteSpec[], r: SyncReport): Promise<void> {
  const key = (dst: string, via: string, dev: string) => `${dst} ${via} ${dev}`;
  const wanted = new Map(want.map((w) => [key(w.dst, w.via, w.dev), w]));
  for (const f of [4, 6] as const) {
    for (const cur of await json(exec, ['ip', `-${f}`, '-j', 'route', 'show', 'proto', String(PROTO)])) {
      const dst = withLen(String(cur.dst), f);
      const k = key(dst, String(cur.gateway), String(cur.dev));
      if (wanted.has(k)) { wanted.delete(k); continue; }
      await step(`delete route ${dst}`, () => exec(['ip', `-${f}`, 'route', 'del', dst, 'proto', String(PROTO)]));
      r.removed.push(`route ${k}`);
    }
  }
  for (const w of wanted.values()) {
    // replace: a route to the same CIDR via another node (a CIDR reassigned) is overwritten in one step.
    await step(`route ${w.dst}`, () => exec(['ip', 'route', 'replace', w.dst, 'via', w.via, 'dev', w.dev,
      ...(w.onlink ? ['onlink'] : []), 'proto', String(PROTO)]));
    r.added.push(`route ${key(w.dst, w.via, w.dev)}`);
  }
}

async function syncNeighbours(exec: Exec, dev: string | undefined, want: NeighSpec[], r: SyncReport): Promise<void> {
  if (!dev) return;
  const wanted = new Map(want.map((w) => [`${w.ip} ${w.mac}`, w]));
  for (const cur of await json(exec, ['ip', '-j', 'neigh', 'show', 'dev', dev, 'nud', 'permanent'])) {
    const k = `${String(cur.dst)} ${String(cur.lladdr)}`;
    if (wanted.has(k)) { wanted.delete(k); continue; }
    await step(`delete neigh ${String(cur.dst)}`, () => exec(['ip', 'neigh', 'del', String(cur.dst), 'dev', dev]));
    r.removed.push(`neigh ${k}`);
  }
  for (const w of wanted.values()) {
    await step(`neigh ${w.ip}`, () => exec(['ip', 'neigh', 'replace', w.ip, 'lladdr', w.mac, 'dev', dev, 'nud', 'permanent']));
    r.added.push(`neigh ${w.ip} ${w.mac}`);
  }
}

async function syncFdb(exec: Exec, dev: string | undefined, want: FdbSpec[], r: SyncReport): Promise<void> {
  if (!dev) return;
  const wanted = new Map(want.map((w) => [`${w.mac} ${w.dst}`, w]));
  for (const cur of await json(exec, ['bridge', '-j', 'fdb', 'show', 'dev', dev])) {
    if (cur.dst === undefined) continue; // the device's own entries
    const k = `${String(cur.mac)} ${String(cur.dst)}`;
    if (wanted.has(k)) { wanted.delete(k); continue; }
    await step(`delete fdb ${k}`, () => exec(['bridge', 'fdb', 'del', String(cur.mac), 'dev', dev, 'dst', String(cur.dst), 'self']));
    r.removed.push(`fdb ${k}`);
  }
  for (const w of wanted.values()) {
    await step(`fdb ${w.mac}`, () => exec(['bridge', 'fdb', 'append', w.mac, 'dev', dev, 'dst', w.dst, 'self', 'permanent']));
    r.added.push(`fdb ${w.mac} ${w.dst}`);
  }
}

async function syncRules(exec: Exec, want: RuleSpec[], prefs: number[], r: SyncReport): Promise<void> {
  for (const f of [4, 6] as const) {
    const mine = want.filter((w) => w.family === f);
    const wanted = new Map(mine.map((w) => [`${w.pref} ${w.iif} ${w.to} ${w.table}`, w]));
    const prefsToScan = new Set([...prefs, ...mine.map((w) => w.pref)]);
    for (const pref of prefsToScan) {
      for (const cur of await json(exec, ['ip', `-${f}`, '-j', 'rule', 'show', 'pref', String(pref)])) {
        const to = cur.dst === undefined ? 'all' : `${String(cur.dst)}/${String(cur.dstlen)}`;
        const k = `${pref} ${String(cur.iif)} ${to} ${String(cur.table)}`;
        if (wanted.has(k)) { wanted.delete(k); continue; }
        await step(`delete rule ${k}`, () => exec(['ip', `-${f}`, 'rule', 'del', 'pref', String(pref),
          ...(cur.iif ? ['iif', String(cur.iif)] : []), ...(cur.dst ? ['to', to] : [])]));
        r.removed.push(`rule ${k}`);
      }
    }
    for (const w of wanted.values()) {
      await step(`rule ${w.to}`, () => exec(['ip', `-${f}`, 'rule', 'add', 'pref', String(w.pref), 'iif', w.iif, 'to', w.to, 'lookup', String(w.table)]));
      r.added.push(`rule ${w.pref} ${w.iif} ${w.to} ${w.table}`);
    }
  }
}

/**
 * syncNodeRoutes: the current netns gets exactly `state`'s routes, rules, VXLAN device, FDB and
 * neighbour entries; ours that `state` no longer lists (removed nodes, changed mode) are deleted.
 * Order: device first (routes need it), routes last on add; on removal routes go before the device.
 */
export async function syncNodeRoutes(state: ClusterRoutingState, opts: SyncOptions = {}): Promise<SyncReport> {
  if (!opts.exec) {
    try { assertSandboxedNetns('program cross-node routes', opts.allowHostNetns); } catch (e) {
      throw new ClusterError('CLUSTER_HOST_NETNS', (e as Error).message, { cause: e });
    }
  }
  const exec = opts.exec ?? defaultExec;
  const r: SyncReport = { added: [], removed: [] };
  const vxName = state.vxlan?.name ?? opts.vxlanName ?? 'podnet-vxlan';
  const prefs = [...new Set(state.rules.map((x) => x.pref).concat(101))];
  if (!state.vxlan) {
    await syncRoutes(exec, state.routes, r);
    await syncRules(exec, state.rules, prefs, r);
    await syncVxlan(exec, undefined, vxName, r);
    return r;
  }
  await syncVxlan(exec, state.vxlan, vxName, r);
  await syncFdb(exec, state.vxlan.name, state.fdb, r);
  await syncNeighbours(exec, state.vxlan.name, state.neighbours, r);
  await syncRoutes(exec, state.routes, r);
  await syncRules(exec, state.rules, prefs, r);
  return r;
}
