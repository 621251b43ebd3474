// podnetd's /metrics view of the pods' anti-spoofing drops (src/daemon/antispoof-metrics.ts):
// the tc counters read at each scrape, rendered per veth and reason; a failed read keeps the
// last values; both metrics of one scrape share one read.
import t from 'tap';
import pino from 'pino';
import { Registry } from 'prom-client';
import { AntispoofMetrics } from '../../src/daemon/antispoof-metrics';
import type { AntispoofStats } from '../../src/node/antispoof';

const zero = { 'arp-sender': 0, 'ipv4-source': 0, 'ipv6-na-target': 0, 'ipv6-ext-header': 0, 'ipv6-source': 0, 'vlan-tagged': 0, 'mac-source': 0 };
const stats = (veth: string, byReason: Partial<typeof zero>): AntispoofStats => ({
  veth, byReason: { ...zero, ...byReason }, dropped: { arp: 0, ipv4: 0, ipv6: 0, vlan: 0, other: 0 },
});

t.test('renders the counters read at each scrape, per veth and reason', async (t) => {
  let fail = false;
  let reads = 0;
  let sample: AntispoofStats[] = [];
  const registry = new Registry();
  new AntispoofMetrics(pino({ level: 'silent' }), registry, async () => { reads++; if (fail) throw new Error('netlink gone'); return sample; });
  const render = () => registry.metrics();
  t.match(await render(), /podnet_antispoof_veths 0/, 'no pod veths yet');
  t.equal(reads, 1, 'one read per scrape for both metrics');
  sample = [stats('pn0123456789a', { 'ipv4-source': 3, 'arp-sender': 1 })];
  const text = await render();
  t.match(text, /# TYPE podnet_antispoof_dropped_packets_total counter/);
  t.match(text, /podnet_antispoof_dropped_packets_total\{veth="pn0123456789a",reason="ipv4-source"\} 3/);
  t.match(text, /podnet_antispoof_dropped_packets_total\{veth="pn0123456789a",reason="arp-sender"\} 1/);
  t.match(text, /podnet_antispoof_veths 1/);
  fail = true;
  sample = [];
  t.match(await render(), /reason="ipv4-source"\} 3/, 'a failed read keeps the last values');
  fail = false;
  t.match(await render(), /podnet_antispoof_veths 0/, 'a pod gone takes its counters along');
  t.notMatch(await render(), /reason="ipv4-source"/);
  t.equal(reads, 5);
});
