// Drives the BPF_PROG_TEST_RUN harness (native/bpf/testrun.c): builds the object and the
// harness, turns pods/flows/packets into its line script, parses its JSON lines. Loading a
// program for a test run attaches nothing and pins nothing, so no namespace is needed, except
// for the FIB lookups of off-node delivery: those read the routes of the namespace the run is
// in, so such a run gets a fresh network namespace of its own (`unshare --net`) set up by
// shell commands first.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const root = path.resolve(__dirname, '../..');
export const OBJ = path.join(root, 'build/bpf/flow_cache.bpf.o');
export const HARNESS = path.join(root, 'build/bpf/testrun');

/** Punt and miss: no verdict, a later classifier (clsact filter, tcx program) still runs. */
export const TC_ACT_UNSPEC = -1;
export const TC_ACT_OK = 0;
export const TC_ACT_SHOT = 2;
export const TC_ACT_REDIRECT = 7;

export const STATS = [
  'hit_pass', 'hit_peer', 'hit_neigh', 'miss', 'punt_not_ip', 'punt_truncated', 'punt_fragment',
  'punt_ip_options', 'punt_ipv6_ext', 'punt_ttl', 'punt_tcp_syn', 'punt_tcp_rst', 'punt_icmp_error',
  'punt_icmp_other', 'punt_mtu', 'punt_l4', 'spoof_drop', 'spoof_allowed_arp_nd', 'hit_fib', 'punt_fib',
] as const;
export type Stat = (typeof STATS)[number];
/** Anti-spoofing drop reasons in enum order (PODNET_SPOOF_NAMES). */
export const SPOOF_REASONS = ['src_mac', 'src_ipv4', 'src_ipv6', 'arp_sender', 'ipv6_na_target', 'ipv6_ext_header', 'vlan_tagged'] as const;
export type SpoofReason = (typeof SPOOF_REASONS)[number];

export interface Pod { if: number; mac: string; v4?: string[]; v6?: string[] }

export interface Flow {
  if: number;
  proto: 'tcp' | 'udp' | 'icmp';
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  newSrc?: string;
  newDst?: string;
  newSport?: number;
  newDport?: number;
  action?: 'pass' | 'peer' | 'neigh' | 'fib';
  target?: number;
  nh?: string;
  mtu?: number;
  /** PODNET_FLOW_HAIRPIN: a flow passing through, which may leave by the device it entered by. */
  hairpin?: boolean;
  dmac?: string;
  smac?: string;
  id?: number;
}

export interface Run { if: number; frame: Buffer; gsoSize?: number; gsoSegs?: number }

export interface RunResult { retval?: number; packet?: Buffer; error?: string }
export interface FlowStats { id: number; packets: number; bytes: number; tcp_flags: number; last_seen_ns: number; missing?: boolean }

export interface Result {
  /** Verifier and JIT sizes of the loaded program. */
  prog?: { verified_insns: number; xlated_bytes: number; jited_bytes: number };
  runs: RunResult[];
  stats: Record<Stat, number>;
  flows: FlowStats[];
  spoof: Map<number, Record<SpoofReason, number>>;
  status: number | null;
  stderr: string;
}

export function build(): { ok: boolean; output: string } {
  const r = spawnSync('sh', [path.join(root, 'native/bpf/build.sh')], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}\n${r.stderr}` };
}

function flowLine(f: Flow): string {
  const v6 = f.src.includes(':');
  const proto = f.proto === 'tcp' ? 6 : f.proto === 'udp' ? 17 : v6 ? 58 : 1;
  const fields: Record<string, string | number | undefined> = {
    if: f.if, proto, src: f.src, dst: f.dst, sport: f.sport, dport: f.dport,
    new_src: f.newSrc, new_dst: f.newDst, new_sport: f.newSport, new_dport: f.newDport,
    action: f.action, target: f.target, nh: f.nh, mtu: f.mtu, flags: f.hairpin ? 1 : undefined, dmac: f.dmac, smac: f.smac, id: f.id,
  };
  return ['flow', ...Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`)].join(' ');
}

function podLine(p: Pod): string {
  return ['pod', `if=${p.if}`, `mac=${p.mac}`, ...(p.v4 ?? []).map((a) => `v4=${a}`), ...(p.v6 ?? []).map((a) => `v6=${a}`)].join(' ');
}

function runLine(r: Run): string {
  const gso = r.gsoSize ? ` gso_size=${r.gsoSize} gso_segs=${r.gsoSegs ?? 0}` : '';
  return `run if=${r.if}${gso} pkt=${r.frame.toString('hex')}`;
}

/**
 * Loads the program afresh, fills the maps, runs every packet in order, reads the maps back.
 * `netns`: shell commands (ip ...) that build the routes the run's FIB lookups see, in a fresh
 * network namespace the harness then runs in (gone with it).
 */
export function testRun(pods: Pod[], flows: Flow[], runs: Run[], netns?: string[]): Result {
  const script = [...pods.map(podLine), ...flows.map(flowLine), ...runs.map(runLine)].join('\n') + '\n';
  const r = netns
    ? spawnSync('unshare', ['--net', 'sh', '-ec', `${netns.join('\n')}\nexec "$0" "$1"`, HARNESS, OBJ], { input: script, encoding: 'utf8', maxBuffer: 16 << 20 })
    : spawnSync(HARNESS, [OBJ], { input: script, encoding: 'utf8', maxBuffer: 16 << 20 });
  const res: Result = {
    runs: [], stats: Object.fromEntries(STATS.map((s) => [s, -1])) as Record<Stat, number>, flows: [], spoof: new Map(),
    status: r.status, stderr: r.stderr,
  };
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const o = JSON.parse(line);
    if ('prog' in o) res.prog = o.prog;
    else if ('run' in o) res.runs.push({ retval: o.retval, error: o.error, packet: o.packet !== undefined ? Buffer.from(o.packet, 'hex') : undefined });
    else if ('stats' in o) res.stats = o.stats;
    else if ('flow' in o) res.flows.push(o);
    else if ('spoof' in o) { const { spoof, ...counts } = o; res.spoof.set(spoof, counts); }
  }
  return res;
}
