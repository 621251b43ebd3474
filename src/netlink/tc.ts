// tc over rtnetlink: the clsact qdisc and u32 filters on its ingress (what anti-spoofing,
// src/node/antispoof.ts, installs on every pod veth at ADD), instead of exec'ing `tc -batch`.
// An exec from podnetd's CNI server cost +17 ms per ADD on a loaded 2-vCPU node (a fork of a
// big process, then tc's own start); the ~26 requests here, pipelined, 3-10 ms at load 8-10.
// The messages are what `tc qdisc add dev X clsact` and `tc filter add dev X ingress pref P
// protocol PROTO u32 match u32 V M at O … (flowid 1:1 | action mirred egress redirect dev SINK)`
// send (iproute2 tc/f_u32.c, tc/m_mirred.c); the layouts are the kernel's uapi structs
// (linux/pkt_cls.h tc_u32_sel/tc_u32_key, linux/tc_act/tc_mirred.h tc_mirred). Reading back:
// one RTM_GETTFILTER dump of a link's ingress gives every filter with its actions' counters
// (what `tc -s filter show dev X ingress` prints), for the anti-spoofing drop metrics, and a
// cls_bpf filter's program name and id (the kernel flow cache's program attached in clsact
// mode, for a CHECK without podnetd). A tcx attachment is not in it: rtnetlink has no view of
// tcx, only the bpf syscall (BPF_PROG_QUERY) does.
import { cstrText, nlattr, nlnest, parseNlattrs, u32le } from './attrs';
import { CREATE_EXCL, errnoOf, isAbsent, request, wrap, type Rtnl } from './socket';

export type TcProtocol = 'arp' | 'ip' | 'ipv6' | '802.1Q' | '802.1ad' | 'all';

/** One 32-bit u32 key at a 4-byte aligned offset from the network header (how tc stores it). */
export interface U32Key { off: number; value: number; mask: number }

/** One u32 filter: all keys match (none: every packet of the protocol) → pass, or drop via mirred. */
export interface U32Filter {
  pref: number;
  protocol: TcProtocol;
  verdict: 'pass' | 'drop';
  keys: U32Key[];
}

const TC_H_CLSACT = 0xfffffff1; // parent of the clsact qdisc (== TC_H_INGRESS)
const TC_H_CLSACT_HANDLE = 0xffff0000;
const TC_H_CLSACT_INGRESS = 0xfffffff2; // TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)
const TCA_U32_CLASSID = 1;
const TCA_U32_SEL = 5;
const TCA_U32_ACT = 7;
const TC_U32_TERMINAL = 1;
const TCA_ACT_KIND = 1;
const TCA_ACT_OPTIONS = 2;
const TCA_MIRRED_PARMS = 2;
const TC_ACT_STOLEN = 4;
const TCA_EGRESS_REDIR = 1;
const TCA_ACT_STATS = 4;
const TCA_STATS_BASIC = 1; // struct gnet_stats_basic { __u64 bytes; __u32 packets; }
const TCA_STATS_PKT64 = 8; // the packet count when it no longer fits the u32 above
const TCA_BPF_NAME = 7;
const TCA_BPF_ID = 11;

const ETH_P: Record<TcProtocol, number> = { ip: 0x0800, ipv6: 0x86dd, arp: 0x0806, '802.1Q': 0x8100, '802.1ad': 0x88a8, all: 0x0003 };

const attr = nlattr;
const nest = nlnest;

/** tcm_info of a filter: priority in the high half, the ethertype in network order in the low. */
export function filterInfo(pref: number, protocol: TcProtocol): number {
  const p = ETH_P[protocol];
  return ((pref << 16) | ((p & 0xff) << 8) | (p >> 8)) >>> 0;
}

/** TCA_OPTIONS of one u32 filter: selector (+ classid for pass, + mirred for drop). */
export function u32Options(r: U32Filter, sinkIndex: number): Buffer {
  const keys = r.keys.length ? r.keys : [{ off: 0, value: 0, mask: 0 }];
  const sel = Buffer.alloc(16 + 16 * keys.length); // struct tc_u32_sel + tc_u32_key[]
  sel.writeUInt8(TC_U32_TERMINAL, 0);
  sel.writeUInt8(keys.length, 2);
  keys.forEach((k, i) => {
    const at = 16 + 16 * i;
    sel.writeUInt32BE(k.mask >>> 0, at);
    sel.writeUInt32BE((k.value & k.mask) >>> 0, at + 4);
    sel.writeInt32LE(k.off, at + 8);
  });
  const parts = [attr(TCA_U32_SEL, sel)];
  if (r.verdict === 'pass') {
    parts.push(attr(TCA_U32_CLASSID, u32le(0x00010001))); // flowid 1:1: makes the match terminal (TC_ACT_OK)
  } else {
    const parms = Buffer.alloc(28); // struct tc_mirred: tc_gen (index, capab, action, refcnt, bindcnt), eaction, ifindex
    parms.writeInt32LE(TC_ACT_STOLEN, 8);
    parms.writeInt32LE(TCA_EGRESS_REDIR, 20);
    parms.writeUInt32LE(sinkIndex, 24);
    const mirred = nest(1, attr(TCA_ACT_KIND, Buffer.from('mirred\0')), nest(TCA_ACT_OPTIONS, attr(TCA_MIRRED_PARMS, parms)));
    parts.push(nest(TCA_U32_ACT, mirred));
  }
  return Buffer.concat(parts);
}

/** `tc qdisc add dev X clsact` then every rule's filter on its ingress, in order. */
export async function installU32(s: Rtnl, ifindex: number, rules: U32Filter[], sinkIndex: number): Promise<void> {
  await request(s.newQdisc({ ifindex, handle: TC_H_CLSACT_HANDLE, parent: TC_H_CLSACT }, { kind: 'clsact' }, { flags: CREATE_EXCL }),
    `clsact qdisc on ifindex ${ifindex}`);
  // All in flight at once (the kernel answers them in order, by sequence number): one wake-up
  // instead of one per filter, which is what costs on a loaded node. Their order does not matter:
  // the prefs order the rules, and the pod's interface is not up yet.
  await Promise.all(rules.map((r) => request(
    s.newTrafficFilter({ ifindex, handle: 0, parent: TC_H_CLSACT_INGRESS, info: filterInfo(r.pref, r.protocol) },
      { kind: 'u32', options: u32Options(r, sinkIndex) }, { flags: CREATE_EXCL }),
    `u32 filter pref ${r.pref} on ifindex ${ifindex}`)));
}

/** `tc qdisc del dev X clsact` (its filters go with it); absent is success. */
export async function removeClsact(s: Rtnl, ifindex: number): Promise<void> {
  try { await s.delQdisc({ ifindex, handle: TC_H_CLSACT_HANDLE, parent: TC_H_CLSACT }); } catch { /* gone, or the veth is */ }
}

/** One filter of a dump: its pref, its ethertype, and each action's kind and counters. */
export interface FilterStats {
  pref: number;
  /** Ethertype (0x0800, 0x86dd, ...; 0x0003 for "all"). */
  ethertype: number;
  kind: string;
  actions: { kind: string; packets: number; bytes: number }[];
  /** A cls_bpf filter's program as the kernel names it (TCA_BPF_NAME, "prog:[id]" from libbpf) and its id. */
  bpf?: { name: string; id: number };
}

/** The program of a cls_bpf filter's TCA_OPTIONS. Pure. */
export function bpfProgram(options: Buffer): { name: string; id: number } {
  let name = ''; let id = 0;
  for (const a of parseNlattrs(options)) {
    if (a.type === TCA_BPF_NAME) name = cstrText(a.payload);
    else if (a.type === TCA_BPF_ID && a.payload.length >= 4) id = a.payload.readUInt32LE(0);
  }
  return { name, id };
}

/** Counters of one action's TCA_ACT_STATS nest (gnet_stats: basic, and pkt64 when it overflowed). */
function actionCounters(stats: Buffer): { packets: number; bytes: number } {
  let packets = 0;
  let bytes = 0;
  for (const a of parseNlattrs(stats)) {
    if (a.type === TCA_STATS_BASIC && a.payload.length >= 12) {
      bytes = Number(a.payload.readBigUInt64LE(0));
      packets = a.payload.readUInt32LE(8);
    } else if (a.type === TCA_STATS_PKT64 && a.payload.length >= 8) {
      packets = Number(a.payload.readBigUInt64LE(0));
    }
  }
  return { packets, bytes };
}

/** The actions (kind, counters) in a u32 filter's TCA_OPTIONS. Pure. */
export function u32Actions(options: Buffer): FilterStats['actions'] {
  const out: FilterStats['actions'] = [];
  for (const opt of parseNlattrs(options)) {
    if (opt.type !== TCA_U32_ACT) continue;
    for (const act of parseNlattrs(opt.payload)) { // one nest per action, typed by its order
      const parts = parseNlattrs(act.payload);
      const kindAttr = parts.find((p) => p.type === TCA_ACT_KIND);
      const kind = kindAttr ? cstrText(kindAttr.payload) : '';
      const stats = parts.find((p) => p.type === TCA_ACT_STATS);
      out.push({ kind, ...(stats ? actionCounters(stats.payload) : { packets: 0, bytes: 0 }) });
    }
  }
  return out;
}

/**
 * Every filter on the clsact ingress of `ifindex` with its actions' counters: one dump request.
 * A link without clsact (or gone) has none.
 */
export async function dumpIngressFilters(s: Rtnl, ifindex: number): Promise<FilterStats[]> {
  let msgs;
  try {
    msgs = await s.getTrafficFilters({ ifindex, parent: TC_H_CLSACT_INGRESS });
  } catch (e) {
    if (isAbsent(e) || errnoOf(e) === 'EINVAL') return [];
    throw wrap(e, `dump filters of ifindex ${ifindex}`);
  }
  return msgs.map((m) => {
    const info = m.data.info ?? 0;
    const proto = info & 0xffff;
    return {
      pref: info >>> 16, ethertype: ((proto & 0xff) << 8) | (proto >> 8), kind: m.attrs.kind ?? '',
      actions: m.attrs.options && m.attrs.kind === 'u32' ? u32Actions(m.attrs.options) : [],
      ...(m.attrs.options && m.attrs.kind === 'bpf' ? { bpf: bpfProgram(m.attrs.options) } : {}),
    };
  });
}
