// podnetd's datapath probe: the real-packet liveness check behind /livez.
//
// Every intervalMs podnetd pings a reserved probe address per family (default 169.254.42.2 and
// fd00:a9fe:2a::2, next to the engine's hairpin addresses; engine.probeIPv4/probeIPv6) from the
// node's own namespace, over a raw ICMP socket. A /32 (/128) route in the main table sends the
// ping into the TUN (src/node/routing.ts, installed by the wiring, removed by --cleanup); an
// engine thread reads it and answers it in place (native/new_flow.cc is_probe, counted as
// replies.probe_reply); the kernel delivers the reply back to this socket. So one answered
// ping proves the whole loop: route, TUN, an engine thread reading and writing, table access.
// The address is never assigned anywhere, so nothing but the engine can answer it.
//
// A round pings every family at once and succeeds when each answers within timeoutMs; after
// `failures` missed rounds in a row /livez answers 503 (ProbeHealth, pure), and the next
// answered round makes it 200 again. The round trip goes to podnet_datapath_probe_duration_seconds,
// each unanswered ping to podnet_datapath_probe_misses_total (both labelled by family).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { canonicalIp, familyOf, type Family } from '../net/ip';
import { echoReply, echoRequest, IPPROTO_ICMP, IPPROTO_ICMPV6, type Received } from './packets';
import { RawSocket } from './raw';

export interface ProbeSettings {
  /** Time between the starts of two rounds. */
  intervalMs: number;
  /** A ping not answered within this counts as missed. */
  timeoutMs: number;
  /** Missed rounds in a row after which /livez answers 503. */
  failures: number;
}

export const PROBE_DEFAULTS: ProbeSettings = { intervalMs: 2000, timeoutMs: 1000, failures: 3 };

/** The engine's default probe addresses (native/engine.h EngineConfig.probe4/probe6). */
export const DEFAULT_PROBE_ADDRESSES: Record<Family, string> = { 4: '169.254.42.2', 6: 'fd00:a9fe:2a::2' };

/** One ping's outcome. */
export interface PingResult {
  target: string;
  /** Round trip in ms; undefined when missed. */
  rttMs?: number;
  /** Why it was missed, when something failed before the timeout (a send error). */
  error?: string;
}

/** What the probe reports (podnetctl status). */
export interface ProbeSnapshot {
  live: boolean;
  consecutiveMisses: number;
  rounds: number;
  missedRounds: number;
  /** Last round's outcome per target. */
  last: PingResult[];
  /** Wall time of the last answered round (ms since the epoch), 0 if none yet. */
  lastOkAt: number;
}

/** The miss counter behind /livez: pure, one call per round. */
export class ProbeHealth {
  consecutiveMisses = 0;
  rounds = 0;
  missedRounds = 0;
  last: PingResult[] = [];
  lastOkAt = 0;

  constructor(readonly failures: number) {}

  /** Records a round: it succeeds when every ping of it was answered. */
  record(pings: PingResult[], now = Date.now()): void {
    this.rounds++;
    this.last = pings;
    if (pings.length > 0 && pings.every((p) => p.rttMs !== undefined)) {
      this.consecutiveMisses = 0;
      this.lastOkAt = now;
    } else {
      this.consecutiveMisses++;
      this.missedRounds++;
    }
  }

  /** False after `failures` missed rounds in a row. */
  live(): boolean { return this.consecutiveMisses < this.failures; }

  snapshot(): ProbeSnapshot {
    return { live: this.live(), consecutiveMisses: this.consecutiveMisses, rounds: this.rounds, missedRounds: this.missedRounds, last: this.last, lastOkAt: this.lastOkAt };
  }
}

/** Round-trip buckets: 50 µs … 1 s (an idle engine answers in tens of µs). */
const RTT_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

class ProbeMetrics {
  readonly rtt: Histogram<'family'>;
  readonly misses: Counter<'family'>;
  readonly consecutive: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.rtt = new Histogram({ name: 'podnet_datapath_probe_duration_seconds', help: 'Round trip of the datapath probe (node → TUN → engine thread → node), in seconds', labelNames: ['family'], buckets: RTT_BUCKETS, registers });
    this.misses = new Counter({ name: 'podnet_datapath_probe_misses_total', help: 'Datapath probe pings not answered within health.probe.timeoutMs', labelNames: ['family'], registers });
    this.consecutive = new Gauge({ name: 'podnet_datapath_probe_consecutive_misses', help: 'Datapath probe rounds missed in a row (/livez fails at health.probe.failures)', registers });
  }
}

interface Pending { family: Family; target: string; sentAt: number; done: (r: PingResult) => void }

export class DatapathProbe {
  readonly health: ProbeHealth;
  private readonly targets: string[];
  private readonly sockets = new Map<Family, RawSocket>();
  private readonly pending = new Map<string, Pending>();
  private readonly metrics: ProbeMetrics | undefined;
  /** ICMP identifier of this podnetd's pings. */
  private readonly id = process.pid & 0xffff;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  /** `targets`: one probe address per family in use. Metrics go to `registry` when given. */
  constructor(targets: string[], readonly settings: ProbeSettings, registry?: Registry,
    private readonly onRound?: (pings: PingResult[], health: ProbeHealth) => void) {
    this.targets = targets.map(canonicalIp);
    this.health = new ProbeHealth(settings.failures);
    if (registry) this.metrics = new ProbeMetrics(registry);
  }

  /** Opens the sockets (ProbeSocketError without CAP_NET_RAW) and starts the rounds. */
  start(): void {
    if (this.running) return;
    for (const t of this.targets) {
      const f = familyOf(t);
      if (!this.sockets.has(f)) this.sockets.set(f, new RawSocket(f, f === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, (m) => this.onMessage(m)));
    }
    this.running = true;
    const tick = () => {
      const t0 = Date.now();
      void this.round().finally(() => {
        if (this.running) this.timer = setTimeout(tick, Math.max(0, this.settings.intervalMs - (Date.now() - t0)));
      });
    };
    tick();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    for (const p of this.pending.values()) p.done({ target: p.target, error: 'stopped' });
    this.pending.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  live(): boolean { return this.health.live(); }

  /** One round: every target pinged at once, recorded when all answered or timed out. */
  async round(): Promise<PingResult[]> {
    const pings = await Promise.all(this.targets.map((t) => this.ping(t)));
    if (!this.running) return pings;
    this.health.record(pings);
    if (this.metrics) {
      for (const p of pings) {
        const family = String(familyOf(p.target));
        if (p.rttMs === undefined) this.metrics.misses.inc({ family });
        else this.metrics.rtt.observe({ family }, p.rttMs / 1000);
      }
      this.metrics.consecutive.set(this.health.consecutiveMisses);
    }
    this.onRound?.(pings, this.health);
    return pings;
  }

  private ping(target: string): Promise<PingResult> {
    const family = familyOf(target);
    const sock = this.sockets.get(family);
    if (!sock) return Promise.resolve({ target, error: 'no socket' });
    this.seq = (this.seq + 1) & 0xffff;
    const key = `${family}:${this.seq}`;
    return new Promise<PingResult>((resolve) => {
      const timer = setTimeout(() => finish({ target }), this.settings.timeoutMs);
      const finish = (r: PingResult) => {
        clearTimeout(timer);
        this.pending.delete(key);
        resolve(r);
      };
      const sentAt = performance.now();
      this.pending.set(key, { family, target, sentAt, done: finish });
      sock.send(echoRequest(family, this.id, this.seq, Buffer.from('podnet datapath probe')), target)
        .catch((e: Error) => finish({ target, error: e.message }));
    });
  }

  private onMessage(m: Received): void {
    const r = echoReply(m);
    if (!r || r.id !== this.id) return;
    const p = this.pending.get(`${m.family}:${r.seq}`);
    if (!p || canonicalIp(m.src) !== p.target) return;
    p.done({ target: p.target, rttMs: +(performance.now() - p.sentAt).toFixed(3) });
  }
}
