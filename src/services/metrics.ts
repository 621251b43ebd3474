// Sync metrics: a tiny in-house Prometheus registry (counters, gauges, histograms without
// labels) and the set the control plane updates, named after kube-proxy's (kubeproxy_ → podnet_).
// podnetd's /metrics concatenates `registry.expose()` with the engine's own counters.

/** Something that renders itself in the Prometheus text format (0.0.4). */
interface Metric {
  readonly name: string;
  expose(): string;
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
}

function fmt(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
}

/** Monotonic counter. */
export class Counter implements Metric {
  private v = 0;
  constructor(readonly name: string, readonly help: string) {}
  inc(by = 1): void { this.v += by; }
  get value(): number { return this.v; }
  expose(): string { return `${header(this.name, this.help, 'counter')}${this.name} ${fmt(this.v)}\n`; }
}

/** Value that goes up and down. */
export class Gauge implements Metric {
  private v = 0;
  constructor(readonly name: string, readonly help: string) {}
  set(v: number): void { this.v = v; }
  get value(): number { return this.v; }
  expose(): string { return `${header(this.name, this.help, 'gauge')}${this.name} ${fmt(this.v)}\n`; }
}

/** Cumulative histogram with fixed upper bounds (seconds for every use here). */
export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private n = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {
    this.counts = new Array<number>(buckets.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.n++;
    // Per-bucket (not cumulative) counts: one increment per observation; expose() accumulates.
    let i = 0;
    while (i < this.buckets.length && v > this.buckets[i]) i++;
    if (i < this.buckets.length) this.counts[i]++;
  }
  get count(): number { return this.n; }
  get total(): number { return this.sum; }
  expose(): string {
    let s = header(this.name, this.help, 'histogram');
    let acc = 0;
    this.buckets.forEach((b, i) => { acc += this.counts[i]; s += `${this.name}_bucket{le="${b}"} ${acc}\n`; });
    s += `${this.name}_bucket{le="+Inf"} ${this.n}\n${this.name}_sum ${fmt(this.sum)}\n${this.name}_count ${this.n}\n`;
    return s;
  }
}

/** A set of metrics rendered together. */
export class Registry {
  private readonly metrics: Metric[] = [];
  register<T extends Metric>(m: T): T {
    if (this.metrics.some((x) => x.name === m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.push(m);
    return m;
  }
  /** Prometheus text exposition of every registered metric. */
  expose(): string {
    return this.metrics.map((m) => m.expose()).join('');
  }
}

/** kube-proxy's exponential buckets for sync durations: 1 ms · 2^i, 15 buckets (~16 s). */
const SYNC_BUCKETS = Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i);
/** kube-proxy's network programming buckets (0.25 s … 5 min), with finer ones below since we are faster. */
const PROGRAMMING_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 45, 60, 120, 180, 240, 300];

/** The metrics the sync updates. */
export class SyncMetrics {
  readonly syncDuration: Histogram;
  readonly fullSyncDuration: Histogram;
  readonly partialSyncDuration: Histogram;
  readonly programmingDuration: Histogram;
  readonly lastSyncTimestamp: Gauge;
  readonly lastQueuedTimestamp: Gauge;
  readonly serviceChangesPending: Gauge;
  readonly endpointChangesPending: Gauge;
  readonly serviceChangesTotal: Counter;
  readonly endpointChangesTotal: Counter;
  readonly syncFailures: Counter;
  readonly services: Gauge;
  readonly servicePorts: Gauge;
  readonly endpoints: Gauge;
  readonly invalidObjects: Counter;

  constructor(readonly registry: Registry = new Registry()) {
    const r = registry;
    this.syncDuration = r.register(new Histogram('podnet_sync_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds (full and partial)', SYNC_BUCKETS));
    this.fullSyncDuration = r.register(new Histogram('podnet_sync_full_proxy_rules_duration_seconds', 'Latency of full syncs (engine table replaced) in seconds', SYNC_BUCKETS));
    this.partialSyncDuration = r.register(new Histogram('podnet_sync_partial_proxy_rules_duration_seconds', 'Latency of partial syncs (delta applied) in seconds', SYNC_BUCKETS));
    this.programmingDuration = r.register(new Histogram('podnet_network_programming_duration_seconds', 'Time from an object change (the EndpointSlice last-change-trigger-time when present, else when podnetd saw it) to the engine table holding it, in seconds', PROGRAMMING_BUCKETS));
    this.lastSyncTimestamp = r.register(new Gauge('podnet_sync_proxy_rules_last_timestamp_seconds', 'The last time the engine tables were successfully synced'));
    this.lastQueuedTimestamp = r.register(new Gauge('podnet_sync_proxy_rules_last_queued_timestamp_seconds', 'The last time a sync was queued'));
    this.serviceChangesPending = r.register(new Gauge('podnet_sync_proxy_rules_service_changes_pending', 'Pending service changes'));
    this.endpointChangesPending = r.register(new Gauge('podnet_sync_proxy_rules_endpoint_changes_pending', 'Pending endpoint (EndpointSlice) changes'));
    this.serviceChangesTotal = r.register(new Counter('podnet_sync_proxy_rules_service_changes_total', 'Cumulative service changes (no-op updates excluded)'));
    this.endpointChangesTotal = r.register(new Counter('podnet_sync_proxy_rules_endpoint_changes_total', 'Cumulative EndpointSlice changes (no-op updates excluded)'));
    this.syncFailures = r.register(new Counter('podnet_sync_proxy_rules_failures_total', 'Syncs that failed to program the engine'));
    this.services = r.register(new Gauge('podnet_sync_proxy_rules_services', 'Services with at least one programmed service port'));
    this.servicePorts = r.register(new Gauge('podnet_sync_proxy_rules_service_ports', 'Service ports (VIP, port, protocol) programmed in the engine'));
    this.endpoints = r.register(new Gauge('podnet_sync_proxy_rules_endpoints', 'Backends programmed across all service ports (terminating included)'));
    this.invalidObjects = r.register(new Counter('podnet_invalid_objects_total', 'Objects or manifest documents rejected by validation'));
  }
}
