// podnetd's /metrics view of the pods' anti-spoofing drops (src/daemon/antispoof-metrics.ts):
// the sampled tc counters rendered per veth and reason; a failed read keeps the last sample.
import t from 'tap';
import pino from 'pino';
import { AntispoofMetrics } from '../../src/daemon/antispoof-metrics';
import type { AntispoofStats } from '../../src/node/antispoof';

const zero = { 'arp-sender': 0, 'ipv4-source': 0, 'ipv6-na-target': 0, 'ipv6-ext-header': 0, 'ipv6-source': 0, 'vlan-tagged': 0, 'mac-source': 0 };
const stats = (veth: string, byReason: Partial<typeof zero>): AntispoofStats => ({
  veth, byReason: { ...zero, ...byReason }, dropped: { arp: 0, ipv4: 0, ipv6: 0, vlan: 0, other: 0 },
});

t.test('renders the last sample per veth and reason', async (t) => {
  let fail = false;
  let sample: AntispoofStats[] = [stats('pn0123456789a', { 'ipv4-source': 3, 'arp-sender': 1 })];
  const m = new AntispoofMetrics(pino({ level: 'silent' }), 60_000, async () => { if (fail) throw new Error('tc gone'); return sample; });
  t.match(m.render(), /podnet_antispoof_veths 0/, 'nothing before the first sample');
  await m.sample();
  const text = m.render();
  t.match(text, /# TYPE podnet_antispoof_dropped_packets_total counter/);
  t.match(text, /podnet_antispoof_dropped_packets_total\{veth="pn0123456789a",reason="ipv4-source"\} 3/);
  t.match(text, /podnet_antispoof_dropped_packets_total\{veth="pn0123456789a",reason="arp-sender"\} 1/);
  t.match(text, /podnet_antispoof_veths 1/);
  fail = true;
  sample = [];
  await m.sample();
  t.match(m.render(), /reason="ipv4-source"\} 3/, 'a failed read keeps the last sample');
  fail = false;
  await m.sample();
  t.match(m.render(), /podnet_antispoof_veths 0/, 'a pod gone takes its counters along');
});
