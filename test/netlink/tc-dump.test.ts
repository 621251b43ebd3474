// Reading tc filters back over rtnetlink (src/netlink/tc.ts): the action counters of a u32
// filter's TCA_OPTIONS as the kernel dumps them (RTM_NEWTFILTER in reply to a dump), parsed
// without the kernel from messages built the way it builds them.
import t from 'tap';
import { nlattr, nlnest, parseNlattrs } from '../../src/netlink/attrs';
import { u32Actions, u32Options } from '../../src/netlink/tc';

/** TCA_ACT_STATS as gnet_stats_copy_basic writes it: basic {u64 bytes, u32 packets, pad}, pkt64 on overflow. */
function actStats(bytes: bigint, packets: bigint): Buffer {
  const basic = Buffer.alloc(16);
  basic.writeBigUInt64LE(bytes, 0);
  basic.writeUInt32LE(packets > 0xffffffffn ? 0xffffffff : Number(packets), 8);
  const parts = [nlattr(1, basic)];
  if (packets > 0xffffffffn) { const p = Buffer.alloc(8); p.writeBigUInt64LE(packets); parts.push(nlattr(8, p)); }
  return nlnest(4, ...parts);
}

/** A dumped u32 key node's options: selector, then TCA_U32_ACT with the actions, each with stats. */
function dumped(actions: { kind: string; stats?: Buffer }[]): Buffer {
  const sel = u32Options({ pref: 1, protocol: 'ip', verdict: 'pass', keys: [] }, 0).subarray(0, 4 + 32); // TCA_U32_SEL
  const acts = actions.map((a, i) => nlnest(i + 1, nlattr(1, Buffer.from(`${a.kind}\0`)), nlnest(2, Buffer.alloc(4)), ...(a.stats ? [a.stats] : [])));
  return Buffer.concat([sel, nlnest(7, ...acts), nlattr(11, Buffer.alloc(4))]);
}

t.test('parseNlattrs: types without the flag bits, padding skipped, a truncated tail ignored', async (t) => {
  const buf = Buffer.concat([nlattr(3, Buffer.from('abc')), nlnest(5, nlattr(1, Buffer.alloc(4)))]);
  t.same(parseNlattrs(buf).map((a) => [a.type, a.payload.length]), [[3, 3], [5, 8]]);
  t.same(parseNlattrs(Buffer.concat([buf, Buffer.from([40, 0, 1, 0])])).length, 2);
});

t.test('u32Actions: kind and counters of each action', async (t) => {
  t.same(u32Actions(dumped([{ kind: 'mirred', stats: actStats(4200n, 7n) }])), [{ kind: 'mirred', packets: 7, bytes: 4200 }]);
  t.same(u32Actions(dumped([{ kind: 'mirred', stats: actStats(1n << 40n, 5_000_000_000n) }])), [{ kind: 'mirred', packets: 5_000_000_000, bytes: 2 ** 40 }], 'pkt64 wins over the saturated u32');
  t.same(u32Actions(dumped([{ kind: 'gact' }, { kind: 'mirred', stats: actStats(0n, 0n) }])), [{ kind: 'gact', packets: 0, bytes: 0 }, { kind: 'mirred', packets: 0, bytes: 0 }]);
  t.same(u32Actions(u32Options({ pref: 1, protocol: 'ip', verdict: 'pass', keys: [] }, 0)), [], 'a pass filter has no action');
});
