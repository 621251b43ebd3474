// Anti-spoofing at the pod's door: tc u32 filters on the ingress (clsact) of the pod's
// host-side veth, installed by the CNI plugin at ADD (src/cni/antispoof.ts). The engine cannot
// do this itself: it reads pod packets from the TUN, after the node has routed them, and the TUN
// has lost which veth a packet came in by. The veth has not: a filter on it knows the one pod
// that can be sending. So a packet whose source is not that pod's own address never reaches
// the bridge, the node's neighbour cache, or the engine.
//
//   pod ──veth──▶ [clsact ingress: these filters] ──▶ bridge podnet0 ──▶ routing ──▶ TUN
//
// Verdicts: pass = a match with a classid and no action (TC_ACT_OK, stop matching);
// drop = mirred redirect to the down sink device (drop-sink.ts: no act_gact on this kernel).
// The sink's mirred stats count every drop per filter, so per-family counts come from the
// filters' action counters (antispoofStats: a netlink dump, what `tc -s filter show` prints).
//
// Rules, in evaluation order (pref bands; a pod has one address per family, up to 10 allowed).
// With the pod's MAC known (the CNI always knows it), every pass rule also requires the frame's
// Ethernet source == that MAC (u32 at offsets -8/-4: the MAC header sits before the network
// header at ingress), and ARP's sender hardware address too: a pod cannot take over a
// neighbour's MAC in the bridge's forwarding table (which would steer the node's traffic for
// that pod to the liar's port) nor point the node's ARP entry for itself elsewhere.
//   ARP      sender IP (spa) == the pod's IPv4, or 0.0.0.0 (RFC 5227 probe) → pass; other ARP → drop
//   IPv4     src == the pod's IPv4 → pass; other IPv4 → drop
//   NDP NA   ICMPv6 type 136 whose target is the pod's IPv6 or link-local → pass; other NA → drop
//            (a pod must not claim a neighbour's address in the node's neighbour cache)
//   ext hdrs an NA behind an extension header would slip past the NA rules (u32 reads fixed
//            offsets), and the source rules let link-local through: so IPv6 whose first header
//            is Hop-by-Hop, Routing, Destination Options or Mobility → drop, except the one form
//            pods need, an MLD report (HBH of 8 bytes, then ICMPv6 131/132/143) from fe80::/10
//            or :: → pass. Fragments pass on to the source rules: Linux ignores fragmented NDP
//            (RFC 6980), so they cannot carry an NA.
//   IPv6     src == the pod's IPv6, fe80::/10 (NDP, RS, MLD) or :: (DAD) → pass; other IPv6 → drop
//   802.1Q / 802.1ad → drop: the tag hides the inner ethertype from the rules above, and a
//            priority-tagged (VID 0) frame is untagged by the bridge's stack and routed like any
//            other, so it would be a way around them. Pods have no business sending tagged frames.
//   Any other ethertype passes with the pod's own source MAC; with another MAC → drop (the
//   bridge learns from every frame, whatever its ethertype). Without a MAC: passes.
// Limits (u32 matches fixed offsets): the NA target check reads an NA right after the fixed
// IPv6 header; the ext-header rules above make that the only way an NA can arrive.
import { ipBytes, parseIp } from '../net/ip';
import { linksOfKind } from '../netlink/link';
import { closeRtnl, openRtnl } from '../netlink/socket';
import { dumpIngressFilters, type TcProtocol, type U32Filter, type U32Key } from '../netlink/tc';
import { DROP_DEV } from './drop-sink';

export type { TcProtocol, U32Key };


export type SpoofFamily = 'arp' | 'ipv4' | 'ipv6' | 'vlan' | 'other';
/** ipv4-source / ipv6-source: the IP source, or the Ethernet source MAC, was not the pod's. */
export type SpoofReason = 'arp-sender' | 'ipv4-source' | 'ipv6-na-target' | 'ipv6-ext-header' | 'ipv6-source' | 'vlan-tagged' | 'mac-source';
/** One u32 filter on the pod veth's ingress (keys all match; empty: every packet of the protocol). */
export interface AntispoofRule extends U32Filter {
  family: SpoofFamily;
  /** Drops only: what the packet lied about. */
  reason?: SpoofReason;
}

export interface PodAddresses {
  ipv4: string[];
  ipv6: string[];
  /** The pod interface's MAC ("02:…"): binds every pass rule to it. */
  mac?: string;
}

/** Prefs we own on a pod veth's ingress (out of steering's 20000-29999 on the uplinks). */
export const ANTISPOOF_PREF_MIN = 30000;
export const ANTISPOOF_PREF_MAX = 30999;
const MAX_PER_FAMILY = 10;
const P = {
  arpPass: 30000, arpProbe: 30010, arpDrop: 30019,
  v4Pass: 30100, v4Drop: 30199,
  naPass: 30200, naLinkLocal: 30210, naDrop: 30219,
  mldPass: 30250, extDrop: 30260,
  v6Pass: 30300, v6LinkLocal: 30310, v6Unspecified: 30311, v6Drop: 30399,
  vlan: 30900, qinq: 30901,
  etherPass: 30950, etherDrop: 30959,
} as const;

const PROTO_FAMILY: Record<TcProtocol, SpoofFamily> = { arp: 'arp', ip: 'ipv4', ipv6: 'ipv6', '802.1Q': 'vlan', '802.1ad': 'vlan', all: 'other' };

export class AntispoofError extends Error {
  constructor(readonly code: 'ANTISPOOF_BAD_ADDRESS' | 'ANTISPOOF_TOO_MANY' | 'ANTISPOOF_TC', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AntispoofError';
  }
}

/**
 * u32 keys matching `bytes` (under `maskBytes`, default all ones) at byte offset `at`: one key per
 * 4-byte aligned word touched. u32 refuses unaligned keys (`match u32 … at 14` is "Illegal").
 */
export function bytesKeys(at: number, bytes: Buffer | number[], maskBytes?: Buffer | number[]): U32Key[] {
  const words = new Map<number, { value: number; mask: number }>();
  for (let i = 0; i < bytes.length; i++) {
    const pos = at + i;
    const off = pos & ~3; // also right for negative offsets (two's complement)
    const shift = (3 - (pos & 3)) * 8;
    const m = maskBytes ? maskBytes[i] : 0xff;
    const w = words.get(off) ?? { value: 0, mask: 0 };
    w.value = (w.value | ((bytes[i] & m) << shift)) >>> 0;
    w.mask = (w.mask | (m << shift)) >>> 0;
    words.set(off, w);
  }
  return [...words].map(([off, w]) => ({ off, ...w })).filter((k) => k.mask !== 0);
}

function addrBytes(ip: string, family: 4 | 6): Buffer {
  const p = parseIp(ip.split('/')[0]);
  if (!p || p.family !== family) throw new AntispoofError('ANTISPOOF_BAD_ADDRESS', `not an IPv${family} address: ${ip}`);
  return ipBytes(p);
}

// Offsets from the network header (at ingress the MAC header precedes it: source MAC at -8).
const ETH_SRC = -8;
const ARP_SHA = 8;
const ARP_SPA = 14;
const IP4_SRC = 12;
const IP6_NEXTHDR = 6;
const IP6_SRC = 8;
const ICMP6_TYPE = 40;
const NA_TARGET = 48;
const ICMPV6 = 58;
const NA = 136;
const HBH_NEXT = 40; // next header, then length, of a Hop-by-Hop header right after the fixed one
const HBH_ICMP6_TYPE = 48; // an ICMPv6 type after an 8-byte Hop-by-Hop header
const MLD_REPORTS = [131, 132, 143]; // MLDv1 report, MLDv1 done, MLDv2 report
const EXT_HEADERS = [0, 43, 60, 135]; // Hop-by-Hop, Routing, Destination Options, Mobility
const FE80 = [0xfe, 0x80];
const FE80_MASK = [0xff, 0xc0];

/** The filters of one pod, in evaluation order (ascending pref). Pure. */
export function antispoofRules(pod: PodAddresses): AntispoofRule[] {
  if (pod.ipv4.length > MAX_PER_FAMILY || pod.ipv6.length > MAX_PER_FAMILY) {
    throw new AntispoofError('ANTISPOOF_TOO_MANY', `at most ${MAX_PER_FAMILY} addresses per family`);
  }
  const v4 = pod.ipv4.map((a) => addrBytes(a, 4));
  const v6 = pod.ipv6.map((a) => addrBytes(a, 6));
  const mac = pod.mac === undefined ? undefined : macAddr(pod.mac);
  const isNa = [...bytesKeys(IP6_NEXTHDR, [ICMPV6]), ...bytesKeys(ICMP6_TYPE, [NA])];
  const fromPod = mac ? bytesKeys(ETH_SRC, mac) : [];
  const arpFromPod = mac ? [...fromPod, ...bytesKeys(ARP_SHA, mac)] : [];
  const pass = (pref: number, protocol: TcProtocol, keys: U32Key[]): AntispoofRule => ({
    pref, protocol, family: PROTO_FAMILY[protocol], verdict: 'pass', keys: [...keys, ...(protocol === 'arp' ? arpFromPod : fromPod)],
  });
  const drop = (pref: number, protocol: TcProtocol, reason: SpoofReason, keys: U32Key[] = []): AntispoofRule => ({ pref, protocol, family: PROTO_FAMILY[protocol], verdict: 'drop', reason, keys });
  return [
    ...v4.map((b, i) => pass(P.arpPass + i, 'arp', bytesKeys(ARP_SPA, b))),
    pass(P.arpProbe, 'arp', bytesKeys(ARP_SPA, [0, 0, 0, 0])),
    drop(P.arpDrop, 'arp', 'arp-sender'),
    ...v4.map((b, i) => pass(P.v4Pass + i, 'ip', bytesKeys(IP4_SRC, b))),
    drop(P.v4Drop, 'ip', 'ipv4-source'),
    ...v6.map((b, i) => pass(P.naPass + i, 'ipv6', [...isNa, ...bytesKeys(NA_TARGET, b)])),
    pass(P.naLinkLocal, 'ipv6', [...isNa, ...bytesKeys(NA_TARGET, FE80, FE80_MASK)]),
    drop(P.naDrop, 'ipv6', 'ipv6-na-target', isNa),
    ...[bytesKeys(IP6_SRC, FE80, FE80_MASK), bytesKeys(IP6_SRC, Buffer.alloc(16))].flatMap((src, i) => MLD_REPORTS.map((type, j) =>
      pass(P.mldPass + i * MLD_REPORTS.length + j, 'ipv6', [...bytesKeys(IP6_NEXTHDR, [0]), ...bytesKeys(HBH_NEXT, [ICMPV6, 0]), ...bytesKeys(HBH_ICMP6_TYPE, [type]), ...src]))),
    ...EXT_HEADERS.map((h, i) => drop(P.extDrop + i, 'ipv6', 'ipv6-ext-header', bytesKeys(IP6_NEXTHDR, [h]))),
    ...v6.map((b, i) => pass(P.v6Pass + i, 'ipv6', bytesKeys(IP6_SRC, b))),
    pass(P.v6LinkLocal, 'ipv6', bytesKeys(IP6_SRC, FE80, FE80_MASK)),
    pass(P.v6Unspecified, 'ipv6', bytesKeys(IP6_SRC, Buffer.alloc(16))),
    drop(P.v6Drop, 'ipv6', 'ipv6-source'),
    drop(P.vlan, '802.1Q', 'vlan-tagged'),
    drop(P.qinq, '802.1ad', 'vlan-tagged'),
    ...(mac ? [pass(P.etherPass, 'all', []), drop(P.etherDrop, 'all', 'mac-source')] : []),
  ];
}

function macAddr(s: string): number[] {
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(s)) throw new AntispoofError('ANTISPOOF_BAD_ADDRESS', `not a MAC address: ${s}`);
  return s.split(':').map((x) => parseInt(x, 16));
}

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/** tc argv after `filter add dev X ingress`. */
export function tcFilterArgs(r: AntispoofRule, sink = DROP_DEV): string[] {
  const keys = r.keys.length ? r.keys : [{ off: 0, value: 0, mask: 0 }];
  const out = ['pref', String(r.pref), 'protocol', r.protocol, 'u32'];
  for (const k of keys) out.push('match', 'u32', hex(k.value), hex(k.mask), 'at', String(k.off));
  if (r.verdict === 'drop') out.push('action', 'mirred', 'egress', 'redirect', 'dev', sink);
  else out.push('flowid', '1:1'); // a classid makes the match terminal: TC_ACT_OK, stop here
  return out;
}

/** The whole `tc -batch` input for one pod veth: clsact and every filter, one tc exec. */
export function antispoofBatch(veth: string, pod: PodAddresses, sink = DROP_DEV): string {
  const lines = [`qdisc add dev ${veth} clsact`];
  for (const r of antispoofRules(pod)) lines.push(['filter', 'add', 'dev', veth, 'ingress', ...tcFilterArgs(r, sink)].join(' '));
  return lines.join('\n') + '\n';
}

// ── reading back: CHECK and counters ─────────────────────────────────────────────────────────

/** One installed u32 key node as `tc filter show` prints it. */
export interface InstalledFilter { pref: number; protocol: string; keys: U32Key[]; redirectTo?: string }

/** Parses the text of `tc filter show dev X ingress` (its JSON repeats the "match" key per key). */
export function parseFilterShow(text: string): InstalledFilter[] {
  const out: InstalledFilter[] = [];
  let cur: InstalledFilter | undefined;
  for (const line of text.split('\n')) {
    const head = /^filter protocol (\S+) pref (\d+) u32 .*\bfh [0-9a-f]+::[0-9a-f]+ /.exec(line);
    if (head) { cur = { pref: Number(head[2]), protocol: head[1], keys: [] }; out.push(cur); continue; }
    if (/^filter /.test(line)) { cur = undefined; continue; }
    if (!cur) continue;
    const m = /^\s+match ([0-9a-f]{8})\/([0-9a-f]{8}) at (-?\d+)/.exec(line);
    if (m) { cur.keys.push({ value: parseInt(m[1], 16), mask: parseInt(m[2], 16), off: Number(m[3]) }); continue; }
    const r = /mirred \(Egress Redirect to device (\S+)\)/.exec(line);
    if (r) cur.redirectTo = r[1];
  }
  return out;
}

const keyText = (keys: U32Key[]) => keys.filter((k) => k.mask !== 0).map((k) => `${k.off}:${hex(k.value & k.mask)}/${hex(k.mask)}`).sort().join(',');

/** What is missing or different on the veth compared with `want`; empty when all is in place. */
export function diffInstalled(want: AntispoofRule[], have: InstalledFilter[], sink = DROP_DEV): string[] {
  const problems: string[] = [];
  for (const r of want) {
    const h = have.find((f) => f.pref === r.pref && f.protocol.toLowerCase() === r.protocol.toLowerCase());
    if (!h) { problems.push(`anti-spoofing filter pref ${r.pref} (${r.protocol} ${r.verdict}) is missing`); continue; }
    if (keyText(h.keys) !== keyText(r.keys)) problems.push(`anti-spoofing filter pref ${r.pref} matches something else`);
    if ((r.verdict === 'drop') !== (h.redirectTo === sink)) problems.push(`anti-spoofing filter pref ${r.pref} does not ${r.verdict}`);
  }
  return problems;
}

export interface AntispoofStats {
  veth: string;
  /** Packets dropped, by family of the lie. */
  dropped: Record<SpoofFamily, number>;
  /** The same, by reason (NDP NA target lies are part of ipv6 above). */
  byReason: Record<SpoofReason, number>;
}

const REASON_BY_PREF: Record<number, SpoofReason> = {
  [P.arpDrop]: 'arp-sender', [P.v4Drop]: 'ipv4-source', [P.naDrop]: 'ipv6-na-target', [P.v6Drop]: 'ipv6-source',
  [P.vlan]: 'vlan-tagged', [P.qinq]: 'vlan-tagged', [P.etherDrop]: 'mac-source',
  ...Object.fromEntries(EXT_HEADERS.map((_, i) => [P.extDrop + i, 'ipv6-ext-header' as const])),
};
const FAMILY_BY_REASON: Record<SpoofReason, SpoofFamily> = {
  'arp-sender': 'arp', 'ipv4-source': 'ipv4', 'ipv6-na-target': 'ipv6', 'ipv6-ext-header': 'ipv6', 'ipv6-source': 'ipv6', 'vlan-tagged': 'vlan',
  'mac-source': 'other',
};

/** One filter as a reader sees it: its pref and its actions' kinds and packet counts. */
interface FilterCounters { pref?: number; actions: { kind?: string; packets?: number }[] }

/** Drop counters of one veth from its filters: the mirred actions of our drop prefs. Pure. */
function statsOf(veth: string, filters: FilterCounters[]): AntispoofStats {
  const s: AntispoofStats = {
    veth,
    dropped: { arp: 0, ipv4: 0, ipv6: 0, vlan: 0, other: 0 },
    byReason: { 'arp-sender': 0, 'ipv4-source': 0, 'ipv6-na-target': 0, 'ipv6-ext-header': 0, 'ipv6-source': 0, 'vlan-tagged': 0, 'mac-source': 0 },
  };
  for (const f of filters) {
    const reason = f.pref !== undefined ? REASON_BY_PREF[f.pref] : undefined;
    if (!reason) continue;
    for (const a of f.actions) {
      if (a.kind !== 'mirred') continue;
      const n = a.packets ?? 0;
      s.byReason[reason] += n;
      s.dropped[FAMILY_BY_REASON[reason]] += n;
    }
  }
  return s;
}

interface TcJsonFilter { pref?: number; options?: { actions?: { kind?: string; stats?: { packets?: number } }[] } }

/** The same counters from `tc -s -j filter show dev VETH ingress` output (what an operator runs). Pure. */
export function parseStats(veth: string, json: string): AntispoofStats {
  let list: TcJsonFilter[];
  try { list = JSON.parse(json || '[]') as TcJsonFilter[]; } catch { list = []; }
  return statsOf(veth, list.map((f) => ({ pref: f.pref, actions: (f.options?.actions ?? []).map((a) => ({ kind: a.kind, packets: a.stats?.packets })) })));
}

/** Host veths of CNI pods ("pn" + 11 hex, src/cni/host-link.ts hostVethName). */
export const POD_VETH = /^pn[0-9a-f]{11}$/;

/**
 * Drop counters of every pod veth in this process's namespace (podnetd's node namespace), or of
 * `veths` only (one that does not exist reports zeros, as does a veth without our filters).
 * Over rtnetlink, no exec: one link dump, then one filter dump per veth, on one socket.
 */
export async function antispoofStats(veths?: string[]): Promise<AntispoofStats[]> {
  const s = openRtnl();
  try {
    const links = new Map((await linksOfKind(s, 'veth')).map((l) => [l.name, l.index]));
    const names = veths ?? [...links.keys()].filter((n) => POD_VETH.test(n));
    const out: AntispoofStats[] = [];
    for (const veth of names) { // one after the other: a netlink socket runs one dump at a time
      const index = links.get(veth);
      out.push(statsOf(veth, index === undefined ? [] : await dumpIngressFilters(s, index)));
    }
    return out;
  } finally {
    closeRtnl(s);
  }
}
