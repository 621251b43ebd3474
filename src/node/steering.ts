// Steering of external traffic into the TUN, without iptables/nftables: a clsact qdisc
// on each uplink and tc u32 filters on its ingress (steer-rule.ts; the services plane computes them), each
//   redirect: action mirred egress redirect dev <tun>   (the engine reads it like pod traffic)
//   pass:     a match with no action (TC_ACT_OK: the kernel stack; health check ports)
//   drop:     mirred redirect to DROP_DEV, a veth left down (loadBalancerSourceRanges)
// This kernel has neither cls_flower nor act_gact: u32 + mirred is what there is.
// mirred drops a packet redirected to a down device (and logs a rate-limited notice).
// mirred at ingress hands the TUN the packet from its network header on, which is what an L3
// TUN expects. The engine's answers with the node's own address as source (NodePort replies)
// come back from the TUN, so the TUN needs accept_local=1 (else a martian source drop).
//
// Filters are identified by their pref: we own prefs PREF_MIN..PREF_MAX on the uplink and
// never touch any other filter, and we leave the clsact qdisc in place when someone else's
// filters remain. Runs in the CURRENT netns (podnetd's node namespace, guarded), or, for tests
// and the sandbox, in a named namespace through `ip netns exec`.
import { run } from '../netns/exec';
import { assertSandboxedNetns } from '../netns/current';
import { steerKey, type SteerRule } from './steer-rule';
import { DROP_DEV, ensureDropSink } from './drop-sink';
import { NodeWiringError } from './errors';

export const PREF_MIN = 20000;
/** The down veth "sink" drop rules redirect to (drop-sink.ts; shared with the pods' anti-spoofing). */
export { DROP_DEV };
export const PREF_MAX = 29999;
/** Each band keeps first-match order between rule kinds; prefs inside a band are allocated freely. */
const BANDS = { pass: [20000, 20999], allow: [21000, 22999], drop: [23000, 23999], vip: [24000, 28999], range: [29000, 29999] } as const;

export interface SteeringConfig {
  /** Links external traffic arrives on (the node's uplinks). */
  uplinks: string[];
  /** The engine's TUN device. */
  tun: string;
  /** Run tc in this named namespace (sandbox, tests); absent = the current one (guarded). */
  netns?: string;
  /** Permit the current namespace even if it is not a named one (a real node). */
  allowHostNetns?: boolean;
}

function bandOf(r: SteerRule): keyof typeof BANDS {
  if (r.action === 'pass') return 'pass';
  if (r.action === 'drop') return 'drop';
  if (r.src) return 'allow';
  return typeof r.dstPort === 'number' ? 'vip' : 'range';
}

/** An inclusive port range as (value, mask) blocks, the only ranges u32 can match. */
export function portBlocks(lo: number, hi: number): [number, number][] {
  const out: [number, number][] = [];
  while (lo <= hi) {
    let size = 1;
    // Largest aligned power-of-two block starting at lo that stays within hi.
    while (size < 0x10000 && lo % (size * 2) === 0 && lo + size * 2 - 1 <= hi) size *= 2;
    out.push([lo, 0xffff & ~(size - 1)]);
    lo += size;
  }
  return out;
}

/**
 * tc argv lists (each after `tc filter add dev X ingress`) of one rule: u32 filters sharing the
 * rule's pref, one per port block. u32 because this kernel has no flower (CONFIG_NET_CLS_FLOWER
 * unset); its `ip dport` / `ip6 dport` assume no IP options / extension headers.
 */
export function u32Args(r: SteerRule, pref: number, tun: string): string[][] {
  const ipv = r.family === 4 ? 'ip' : 'ip6';
  const base = ['pref', String(pref), 'protocol', r.family === 4 ? 'ip' : 'ipv6', 'u32',
    'match', ipv, 'dst', r.dst.includes('/') ? r.dst : `${r.dst}/${r.family === 4 ? 32 : 128}`];
  if (r.src) base.push('match', ipv, 'src', r.src);
  if (r.proto) base.push('match', ipv, 'protocol', r.proto === 'tcp' ? '6' : '17', '0xff');
  const action = r.action === 'redirect' ? ['action', 'mirred', 'egress', 'redirect', 'dev', tun]
    : r.action === 'drop' ? ['action', 'mirred', 'egress', 'redirect', 'dev', DROP_DEV]
      : ['flowid', '1:1'];
  if (r.dstPort === undefined || !r.proto) return [[...base, ...action]];
  const [lo, hi] = typeof r.dstPort === 'number' ? [r.dstPort, r.dstPort] : r.dstPort;
  return portBlocks(lo, hi).map(([v, m]) => [...base, 'match', ipv, 'dport', String(v), `0x${m.toString(16)}`, ...action]);
}

/** Installs and keeps in sync the steering filters of one node. */
export class Steering {
  /** Per uplink: rule key → pref. */
  private readonly installed = new Map<string, Map<string, number>>();

  constructor(private readonly cfg: SteeringConfig) {
    if (!cfg.netns) assertSandboxedNetns('steer the uplink', cfg.allowHostNetns);
  }

  private tc(args: string[], input?: string) {
    return run(this.cfg.netns ?? null, ['tc', ...args], input !== undefined ? { input } : {}).catch((e: Error) => {
      throw new NodeWiringError('NODE_IPROUTE', `tc ${args.join(' ')}: ${e.message}`, { cause: e });
    });
  }

  /** Clean slate on our prefs, clsact present, accept_local on the TUN. Idempotent. */
  async start(): Promise<void> {
    await run(this.cfg.netns ?? null, ['sysctl', '-qw', `net.ipv4.conf.${this.cfg.tun}.accept_local=1`]).catch((e: Error) => {
      throw new NodeWiringError('NODE_SYSCTL', `accept_local on ${this.cfg.tun}: ${e.message}`, { cause: e });
    });
    for (const dev of this.cfg.uplinks) {
      const q = await this.tc(['qdisc', 'show', 'dev', dev]);
      if (!/qdisc clsact/.test(q.stdout)) await this.tc(['qdisc', 'add', 'dev', dev, 'clsact']);
      await removeOurFilters(dev, this.cfg.netns);
      this.installed.set(dev, new Map());
    }
    await ensureDropSink(this.cfg.netns).catch((e: Error) => {
      throw new NodeWiringError('NODE_IPROUTE', `drop sink ${DROP_DEV}: ${e.message}`, { cause: e });
    });
  }

  /** Makes the uplinks' filters equal to `rules` (adds first, then deletes: no gap for kept traffic). */
  async sync(rules: readonly SteerRule[]): Promise<{ added: number; removed: number }> {
    let added = 0, removed = 0;
    for (const dev of this.cfg.uplinks) {
      const have = this.installed.get(dev);
      if (!have) throw new NodeWiringError('NODE_IPROUTE', `steering on ${dev} not started`);
      const want = new Map(rules.map((r) => [steerKey(r), r]));
      const used = new Set(have.values());
      const batch: string[] = [];
      const pending: [string, number][] = [];
      for (const [k, r] of want) {
        if (have.has(k)) continue;
        const [lo, hi] = BANDS[bandOf(r)];
        let pref = lo;
        while (used.has(pref) && pref <= hi) pref++;
        if (pref > hi) throw new NodeWiringError('NODE_IPROUTE', `steering: no free pref in band ${bandOf(r)} (${lo}-${hi})`);
        used.add(pref);
        for (const args of u32Args(r, pref, this.cfg.tun)) batch.push(['filter', 'add', 'dev', dev, 'ingress', ...args].join(' '));
        pending.push([k, pref]);
      }
      const gone = [...have].filter(([k]) => !want.has(k));
      for (const [, pref] of gone) batch.push(`filter del dev ${dev} ingress pref ${pref}`);
      if (batch.length) await this.tc(['-batch', '-'], batch.join('\n') + '\n');
      for (const [k, pref] of pending) have.set(k, pref);
      for (const [k] of gone) have.delete(k);
      added += pending.length;
      removed += gone.length;
    }
    return { added, removed };
  }

  /** Removes every filter we installed (and clsact if it is left empty). */
  async stop(): Promise<void> {
    for (const dev of this.cfg.uplinks) await removeSteering(dev, this.cfg.netns);
    this.installed.clear();
  }
}

/** Prefs of the ingress filters on `dev`. */
async function ingressPrefs(dev: string, netns?: string): Promise<number[]> {
  const r = await run(netns ?? null, ['tc', 'filter', 'show', 'dev', dev, 'ingress']).catch(() => ({ stdout: '' }));
  return [...new Set([...r.stdout.matchAll(/\bpref (\d+)\b/g)].map((m) => Number(m[1])))];
}

async function removeOurFilters(dev: string, netns?: string): Promise<number[]> {
  const prefs = await ingressPrefs(dev, netns);
  const ours = prefs.filter((p) => p >= PREF_MIN && p <= PREF_MAX);
  if (ours.length) {
    await run(netns ?? null, ['tc', '-force', '-batch', '-'], { input: ours.map((p) => `filter del dev ${dev} ingress pref ${p}`).join('\n') + '\n' }).catch(() => undefined);
  }
  return prefs.filter((p) => p < PREF_MIN || p > PREF_MAX);
}

/**
 * `podnetd --cleanup` (unwireNode): removes our filters from `dev`, and the clsact qdisc when
 * nothing else is left on it. Tolerates a missing link or qdisc.
 */
export async function removeSteering(dev: string, netns?: string): Promise<void> {
  const others = await removeOurFilters(dev, netns);
  const egress = await run(netns ?? null, ['tc', 'filter', 'show', 'dev', dev, 'egress']).catch(() => ({ stdout: '' }));
  if (others.length === 0 && !/\bpref \d+/.test(egress.stdout)) {
    await run(netns ?? null, ['tc', 'qdisc', 'del', 'dev', dev, 'clsact']).catch(() => undefined);
  }
  // The sink goes only when no pod veth is left: the pods' anti-spoofing filters redirect to it
  // too (without it mirred still drops, but the per-reason counters would read as errors).
  const links = await run(netns ?? null, ['ip', '-o', 'link', 'show']).catch(() => ({ stdout: '' }));
  if (!links.stdout.split('\n').some((l) => POD_VETH_LINK.test(l))) {
    await run(netns ?? null, ['ip', 'link', 'del', DROP_DEV]).catch(() => undefined);
  }
}

/** `ip -o link` line of a podnet pod's host veth (antispoof.ts POD_VETH). */
const POD_VETH_LINK = /^\d+: pn[0-9a-f]{11}[@:]/;
