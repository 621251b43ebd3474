// Anti-spoofing drop counters in /metrics. The drops happen in tc on each pod's host veth
// (src/cni/antispoof.ts installs the filters at CNI ADD; src/node/antispoof.ts reads them), not
// in the engine, so podnetd reads them when scraped: one rtnetlink dump per pod veth in its
// namespace, all on one socket, no exec. The two metrics' collect() share that one read; a
// failed read keeps the last values. A counter of a pod that went away disappears with its
// veth, as in kubelet's per-container metrics.
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { antispoofStats, type AntispoofStats } from '../node/antispoof';

export class AntispoofMetrics {
  private last: AntispoofStats[] = [];
  private reading: Promise<void> | undefined;

  constructor(private readonly log: Logger, registry: Registry,
    private readonly read: () => Promise<AntispoofStats[]> = () => antispoofStats()) {
    const self = this;
    const registers = [registry];
    new Counter({
      name: 'podnet_antispoof_dropped_packets_total', labelNames: ['veth', 'reason'], registers,
      help: "Packets from a pod dropped by its veth's anti-spoofing filters, by reason",
      async collect() {
        await self.sample();
        this.reset();
        for (const s of self.last) {
          for (const [reason, n] of Object.entries(s.byReason)) this.inc({ veth: s.veth, reason }, n);
        }
      },
    });
    new Gauge({
      name: 'podnet_antispoof_veths', help: 'Pod veths whose anti-spoofing counters were read', registers,
      async collect() { await self.sample(); this.set(self.last.length); },
    });
  }

  /** Reads the counters now; concurrent callers (both metrics of one scrape) share one read. */
  sample(): Promise<void> {
    this.reading ??= this.read().then((s) => { this.last = s; }, (err: unknown) => {
      this.log.warn({ err }, 'anti-spoofing counters not read');
    }).finally(() => { this.reading = undefined; });
    return this.reading;
  }
}
