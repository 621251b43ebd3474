// The anti-spoofing rule builder and readers (src/node/antispoof.ts), pure: no root, no tc.
// The e2e proof that the rules do what they say is antispoof.test.ts.
import t from 'tap';
import {
  antispoofBatch, antispoofRules, bytesKeys, diffInstalled, parseFilterShow, parseStats, tcFilterArgs,
} from '../../src/node/antispoof';

const POD = { ipv4: ['10.244.1.2'], ipv6: ['fd00:10:244:1::2'] };

t.test('bytesKeys: aligned 32-bit words, as tc stores them', async (t) => {
  // ARP sender IP at 14..17 straddles two words (u32 refuses unaligned keys).
  t.same(bytesKeys(14, [10, 244, 1, 2]), [{ off: 12, value: 0x00000af4, mask: 0x0000ffff }, { off: 16, value: 0x01020000, mask: 0xffff0000 }]);
  t.same(bytesKeys(6, [58]), [{ off: 4, value: 0x00003a00, mask: 0x0000ff00 }], 'IPv6 next header');
  t.same(bytesKeys(8, [0xfe, 0x80], [0xff, 0xc0]), [{ off: 8, value: 0xfe800000, mask: 0xffc00000 }], 'fe80::/10');
  t.same(bytesKeys(12, [1, 2, 3, 4]), [{ off: 12, value: 0x01020304, mask: 0xffffffff }]);
});

t.test('rules: order, verdicts, families', async (t) => {
  const rules = antispoofRules(POD);
  t.same(rules.map((r) => r.pref), [...rules.map((r) => r.pref)].sort((a, b) => a - b), 'ascending prefs = evaluation order');
  const at = (pref: number) => rules.find((r) => r.pref === pref)!;
  t.same(at(30000), { pref: 30000, protocol: 'arp', family: 'arp', verdict: 'pass', keys: bytesKeys(14, [10, 244, 1, 2]) });
  t.equal(at(30019).verdict, 'drop');
  t.same(at(30019).keys, [], 'other ARP: all dropped');
  t.same(at(30100).keys, [{ off: 12, value: 0x0af40102, mask: 0xffffffff }], 'IPv4 source');
  t.equal(at(30199).reason, 'ipv4-source');
  t.same(at(30200).keys.slice(0, 2), [{ off: 4, value: 0x3a00, mask: 0xff00 }, { off: 40, value: 0x88000000, mask: 0xff000000 }], 'NA: next header 58, type 136');
  t.same(at(30200).keys.slice(2).map((k) => k.off), [48, 52, 56, 60], 'NA target: 16 bytes from 48');
  t.equal(at(30219).reason, 'ipv6-na-target');
  t.ok(at(30219).pref < at(30310).pref, 'NA rules come before the link-local source pass (an NA from fe80:: may still lie)');
  t.same(at(30311).keys.map((k) => k.value), [0, 0, 0, 0], ':: (DAD)');
  t.same(at(30250).keys.slice(0, 3), [{ off: 4, value: 0, mask: 0xff00 }, { off: 40, value: 0x3a000000, mask: 0xffff0000 }, { off: 48, value: 0x83000000, mask: 0xff000000 }],
    'MLDv1 report behind an 8-byte Hop-by-Hop header');
  t.same([30260, 30261, 30262, 30263].map((p) => [at(p).reason, at(p).keys[0].value >> 8]), [['ipv6-ext-header', 0], ['ipv6-ext-header', 43], ['ipv6-ext-header', 60], ['ipv6-ext-header', 135]]);
  t.ok(at(30263).pref < at(30310).pref, 'extension headers are refused before any source may pass');
  t.same([at(30900).protocol, at(30901).protocol], ['802.1Q', '802.1ad']);
  t.equal(rules.filter((r) => r.verdict === 'drop').length, 10);

  const v6only = antispoofRules({ ipv4: [], ipv6: ['fd00::5'] });
  t.notOk(v6only.some((r) => r.protocol === 'ip' && r.verdict === 'pass'), 'no IPv4 address: every IPv4 packet drops');
  t.ok(v6only.some((r) => r.protocol === 'arp' && r.pref === 30010), 'ARP probes (0.0.0.0) still pass');
  t.throws(() => antispoofRules({ ipv4: ['fd00::1'], ipv6: [] }), { code: 'ANTISPOOF_BAD_ADDRESS' });
  t.throws(() => antispoofRules({ ipv4: Array(11).fill('10.0.0.1'), ipv6: [] }), { code: 'ANTISPOOF_TOO_MANY' });
  t.same(antispoofRules({ ipv4: ['10.244.1.2/24'], ipv6: [] })[0].keys, at(30000).keys, 'prefix lengths ignored');
});

t.test('with the MAC: every pass rule bound to it, then a MAC catch-all', async (t) => {
  const rules = antispoofRules({ ...POD, mac: '02:11:22:33:44:55' });
  const eth = [{ off: -8, value: 0x02112233, mask: 0xffffffff }, { off: -4, value: 0x44550000, mask: 0xffff0000 }];
  const has = (keys: object[], want: object[]) => want.every((w) => keys.some((k) => JSON.stringify(k) === JSON.stringify(w)));
  for (const r of rules.filter((x) => x.verdict === 'pass')) t.ok(has(r.keys, eth), `pref ${r.pref}: Ethernet source`);
  const arp = rules.find((r) => r.pref === 30000)!;
  t.ok(has(arp.keys, [...bytesKeys(14, [10, 244, 1, 2]), { off: 8, value: 0x02112233, mask: 0xffffffff }, { off: 12, value: 0x44550000, mask: 0xffff0000 }]), 'ARP: and sender hardware address');
  t.same(rules.slice(-2).map((r) => [r.pref, r.protocol, r.verdict, r.reason]), [[30950, 'all', 'pass', undefined], [30959, 'all', 'drop', 'mac-source']]);
  t.notOk(rules.filter((r) => r.verdict === 'drop' && r.reason !== 'ipv6-na-target' && r.reason !== 'ipv6-ext-header').some((r) => r.keys.length),
    'family drops match everything left');
  t.throws(() => antispoofRules({ ...POD, mac: 'nope' }), { code: 'ANTISPOOF_BAD_ADDRESS' });
  t.same(parseFilterShow('filter protocol all pref 30950 u32 chain 0 fh 80a::800 order 2048 key ht 80a bkt 0 *flowid 1:1 not_in_hw \n  match 02112233/ffffffff at -8\n')[0].keys,
    [{ value: 0x02112233, mask: 0xffffffff, off: -8 }], 'negative offsets read back');
});

t.test('tc arguments and the batch', async (t) => {
  const rules = antispoofRules(POD);
  t.same(tcFilterArgs(rules[0]), ['pref', '30000', 'protocol', 'arp', 'u32', 'match', 'u32', '0x00000af4', '0x0000ffff', 'at', '12',
    'match', 'u32', '0x01020000', '0xffff0000', 'at', '16', 'flowid', '1:1']);
  t.same(tcFilterArgs(rules.find((r) => r.pref === 30199)!, 'sink0'),
    ['pref', '30199', 'protocol', 'ip', 'u32', 'match', 'u32', '0x00000000', '0x00000000', 'at', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', 'sink0']);
  const batch = antispoofBatch('pnabc', POD).trim().split('\n');
  t.equal(batch[0], 'qdisc add dev pnabc clsact');
  t.equal(batch.length, rules.length + 1);
  t.ok(batch.slice(1).every((l) => l.startsWith('filter add dev pnabc ingress pref ')));
});

// What `tc filter show dev X ingress` prints for two of the rules (iproute2 6.1).
const SHOW = `filter protocol arp pref 30000 u32 chain 0 
filter protocol arp pref 30000 u32 chain 0 fh 800: ht divisor 1 
filter protocol arp pref 30000 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 *flowid 1:1 not_in_hw 
  match 00000af4/0000ffff at 12
  match 01020000/ffff0000 at 16
filter protocol ip pref 30199 u32 chain 0 
filter protocol ip pref 30199 u32 chain 0 fh 801: ht divisor 1 
filter protocol ip pref 30199 u32 chain 0 fh 801::800 order 2048 key ht 801 bkt 0 terminal flowid not_in_hw 
  match 00000000/00000000 at 0
	action order 1: mirred (Egress Redirect to device podnet-drop) stolen
	index 1 ref 1 bind 1
`;

t.test('reading back: parseFilterShow + diffInstalled (CHECK)', async (t) => {
  const have = parseFilterShow(SHOW);
  t.same(have, [
    { pref: 30000, protocol: 'arp', keys: [{ value: 0x0af4, mask: 0xffff, off: 12 }, { value: 0x01020000, mask: 0xffff0000, off: 16 }] },
    { pref: 30199, protocol: 'ip', keys: [{ value: 0, mask: 0, off: 0 }], redirectTo: 'podnet-drop' },
  ]);
  const rules = antispoofRules(POD);
  const two = rules.filter((r) => r.pref === 30000 || r.pref === 30199);
  t.same(diffInstalled(two, have), [], 'both in place');
  t.match(diffInstalled(rules, have).join('\n'), /pref 30100 \(ip pass\) is missing/);
  const other = antispoofRules({ ipv4: ['10.244.1.9'], ipv6: [] }).filter((r) => r.pref === 30000);
  t.same(diffInstalled(other, have), ['anti-spoofing filter pref 30000 matches something else'], 'another address');
  const notDropping = parseFilterShow(SHOW.replace(/\taction.*\n/, ''));
  t.same(diffInstalled(two, notDropping), ['anti-spoofing filter pref 30199 does not drop']);
});

t.test('parseStats: drops by family and reason from tc -s -j', async (t) => {
  const json = JSON.stringify([
    { protocol: 'ip', pref: 30199, kind: 'u32' },
    { protocol: 'ip', pref: 30199, kind: 'u32', options: { actions: [{ kind: 'mirred', to_dev: 'podnet-drop', stats: { packets: 7 } }] } },
    { protocol: 'ipv6', pref: 30219, kind: 'u32', options: { actions: [{ kind: 'mirred', stats: { packets: 2 } }] } },
    { protocol: 'ipv6', pref: 30399, kind: 'u32', options: { actions: [{ kind: 'mirred', stats: { packets: 3 } }] } },
    { protocol: 'arp', pref: 30019, kind: 'u32', options: { actions: [{ kind: 'mirred', stats: { packets: 1 } }] } },
    { protocol: '802.1Q', pref: 30900, kind: 'u32', options: { actions: [{ kind: 'mirred', stats: { packets: 4 } }] } },
    { protocol: 'ip', pref: 100, kind: 'u32', options: { actions: [{ kind: 'mirred', stats: { packets: 99 } }] } },
  ]);
  const s = parseStats('pnabc', json);
  t.same(s.dropped, { arp: 1, ipv4: 7, ipv6: 5, vlan: 4, other: 0 }, 'someone else\'s filter (pref 100) not counted');
  t.same(s.byReason, { 'arp-sender': 1, 'ipv4-source': 7, 'ipv6-na-target': 2, 'ipv6-ext-header': 0, 'ipv6-source': 3, 'vlan-tagged': 4, 'mac-source': 0 });
  t.same(parseStats('x', 'garbage').dropped, { arp: 0, ipv4: 0, ipv6: 0, vlan: 0, other: 0 });
});
