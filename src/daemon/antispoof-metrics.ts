// Anti-spoofing drop counters in /metrics. The drops happen in tc on each pod's host veth
// (src/cni/antispoof.ts installs the filters at CNI ADD; src/node/antispoof.ts reads them), not
// in the engine, so podnetd samples them: every intervalMs it reads the counters of the pod
// veths in its namespace (one `tc -s -j` per veth, off the packet path) and /metrics renders the
// last sample. A counter of a pod that went away disappears with its veth, as in kubelet's
// per-container metrics.
import type { Logger } from 'pino';
import { antispoofStats, type AntispoofStats } from '../node/antispoof';

export class AntispoofMetrics {
  private last: AntispoofStats[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly log: Logger, private readonly intervalMs = 15_000,
    private readonly read: () => Promise<AntispoofStats[]> = () => antispoofStats()) {}

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the counters now (also what the timer does); resolves when the sample is stored. */
  async sample(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      this.last = await this.read();
    } catch (err) {
      this.log.warn({ err }, 'anti-spoofing counters not read');
    } finally {
      this.running = false;
    }
  }

  /** Prometheus text: packets dropped per pod veth and reason, plus the veths watched. */
  render(): string {
    const name = 'podnet_antispoof_dropped_packets_total';
    const lines = [`# HELP ${name} Packets from a pod dropped by its veth's anti-spoofing filters (sampled), by reason`, `# TYPE ${name} counter`];
    for (const s of this.last) {
      for (const [reason, n] of Object.entries(s.byReason)) lines.push(`${name}{veth="${s.veth}",reason="${reason}"} ${n}`);
    }
    lines.push('# HELP podnet_antispoof_veths Pod veths whose anti-spoofing counters were sampled', '# TYPE podnet_antispoof_veths gauge', `podnet_antispoof_veths ${this.last.length}`);
    return `${lines.join('\n')}\n`;
  }
}
