// The services plane's one owner of the truth: sources → (set*) → change trackers → bounded-
// frequency runner → sync() → caches.update(tracker) → model → engine sink. A sync recomputes
// only the services the changes touched and applies the difference as one atomic TableDelta;
// after any failure (or a node zone change) the next sync recomputes everything and replaces
// the table. Both decide who owns a (VIP, port, protocol) with the same plan().
import pino, { type Logger } from 'pino';
import type { ApplyResult, ServicePortKey, ServicePortSpec, TableDelta } from '../engine/types';
import { SyncError } from '../kube/errors';
import { SyncMetrics } from './metrics';
import { externalNodeContext, type ExternalNodeContext } from './external';
import { type ModelNote, type NodeContext, serviceSpecs, specKey, specsEqual } from './model';
import type { EndpointSliceInfo, NodeInfo, ServiceInfo } from './objects';
import { fingerprint } from '../kube/objects';
import { Cache } from '../sync/cache';
import { type Clock, realClock } from '../sync/runner';
import { SyncLoop, type SyncCadence } from '../sync/loop';
import { ChangeTracker } from '../sync/tracker';

/** What the control plane programs: the engine (src/engine Engine) or a fake in tests. */
export interface TableSink {
  apply(delta: TableDelta): ApplyResult;
  replace(specs: ServicePortSpec[]): ApplyResult;
}

/** What sources feed: normalized objects (validate.ts), undefined meaning deleted. */
export interface ObjectSink {
  setService(key: string, svc: ServiceInfo | undefined): void;
  setEndpointSlice(key: string, slice: EndpointSliceInfo | undefined): void;
  /** A Node by name; only this node's matters (others are ignored). */
  setNode(name: string, node: NodeInfo | undefined): void;
  /** The source delivered its initial state; syncs start once this was called. */
  setInitialized(): void;
}

export interface ControlPlaneOptions extends SyncCadence {
  sink: TableSink;
  /** This node's name (spec.nodeName of local endpoints). */
  nodeName: string;
  /**
   * NodePort/LB/externalIP programming (external.ts): kube-proxy's nodePortAddresses CIDRs
   * (empty = the Node's primary addresses). Absent = external addresses are not programmed.
   */
  external?: { nodePortAddresses?: string[]; nodeAddresses?: string[] };
  /** Called after every successful sync (podnetd re-derives tc steering and health checks). */
  onSynced?: () => void;
  logger?: Logger;
  metrics?: SyncMetrics;
  /** Wall clock (epoch ms) for EndpointSlice trigger times; default Date.now. */
  wallNow?: () => number;
}

/** Result of one sync, for tests and podnetctl. */
export interface SyncReport {
  full: boolean;
  upserts: number;
  removes: number;
  durationMs: number;
  error?: SyncError;
}

/** The key of this node's Node in its cache (only this node's is kept). */
const NODE_KEY = 'node';

/** Sources feed it objects; it keeps the engine's service table equal to the model of those objects. */
export class ControlPlane implements ObjectSink {
  readonly metrics: SyncMetrics;
  private readonly log: Logger;
  private readonly sink: TableSink;
  private readonly clock: Clock;
  private readonly loop: SyncLoop;
  private node: NodeContext;
  private externalOpts: ControlPlaneOptions['external'];
  private readonly onSynced: (() => void) | undefined;

  // Objects as of the last sync; the sources' newer versions wait in the trackers.
  private readonly services = new Cache<ServiceInfo>();
  private readonly slices = new Cache<EndpointSliceInfo>();
  /** This node's Node, under the key NODE_KEY. */
  private readonly nodes = new Cache<NodeInfo>();
  private readonly slicesBySvc = new Map<string, Map<string, EndpointSliceInfo>>();
  private readonly svcTracker: ChangeTracker<ServiceInfo>;
  private readonly sliceTracker: ChangeTracker<EndpointSliceInfo>;
  private readonly nodeTracker: ChangeTracker<NodeInfo>;

  // What the engine holds, as of the last successful sync.
  private programmed = new Map<string, ServicePortSpec>();
  private bySvc = new Map<string, Set<string>>();
  private owner = new Map<string, string>();
  private backendCount = 0;
  private serviceCount = 0;
  /** Services that lost a (VIP, port, protocol) to another service; re-examined every sync. */
  private conflicted = new Set<string>();
  private readonly loggedNotes = new Map<string, string>();

  private needFullSync = true;
  private pendingSince: number[] = [];
  /** Upstream trigger times (wall, epoch ms) of the changes in this sync (ChangeTracker.checkout). */
  private pendingTriggers: number[] = [];
  private readonly wallNow: () => number;
  private lastSyncWall = 0;
  private lastQueuedWall = 0;
  private lastReport: SyncReport | undefined;

  constructor(opts: ControlPlaneOptions) {
    this.sink = opts.sink;
    this.externalOpts = opts.external;
    this.onSynced = opts.onSynced;
    this.node = this.nodeContext(opts.nodeName, undefined);
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'control' });
    this.metrics = opts.metrics ?? new SyncMetrics();
    this.clock = opts.clock ?? realClock;
    this.wallNow = opts.wallNow ?? Date.now;
    const clocks = { now: () => this.clock.now(), wallNow: this.wallNow };
    this.svcTracker = new ChangeTracker<ServiceInfo>({ ...clocks, print: fingerprint });
    this.sliceTracker = new ChangeTracker<EndpointSliceInfo>({ ...clocks, print: fingerprint, triggerTime: (s) => s.triggerTime });
    this.nodeTracker = new ChangeTracker<NodeInfo>({ ...clocks, print: fingerprint });
    // The default 20 ms minimum interval is enough: a partial sync costs well under a millisecond.
    this.loop = new SyncLoop(() => { this.sync(); }, { ...opts, clock: this.clock });
  }

  /** Starts the sync runner; nothing is programmed before setInitialized(). */
  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  setService(key: string, svc: ServiceInfo | undefined): void {
    if (this.services.record(this.svcTracker, key, svc)) this.queued();
    this.metrics.serviceChangesPending.set(this.svcTracker.pending);
  }

  setEndpointSlice(key: string, slice: EndpointSliceInfo | undefined): void {
    if (this.slices.record(this.sliceTracker, key, slice)) this.queued();
    this.metrics.endpointChangesPending.set(this.sliceTracker.pending);
  }

  setNode(name: string, node: NodeInfo | undefined): void {
    if (name !== this.node.nodeName) return;
    if (this.nodes.record(this.nodeTracker, NODE_KEY, node)) this.queued();
  }

  setInitialized(): void {
    if (!this.loop.open()) return;
    this.log.info({ services: this.services.sizeWith(this.svcTracker), endpointSlices: this.slices.sizeWith(this.sliceTracker) }, 'initial state received, first sync queued');
  }

  private queued(): void {
    this.lastQueuedWall = this.wallNow();
    this.metrics.lastQueuedTimestamp.set(this.lastQueuedWall / 1000);
    this.loop.changed();
  }

  /** Wall time (epoch ms) of the last successful sync, or 0 (what /healthz reports as lastUpdated). */
  lastSyncedMs(): number { return this.lastSyncWall; }

  /** kube-proxy healthz semantics: unhealthy when a queued change waited more than `timeoutMs` for a sync. */
  healthy(timeoutMs = 10_000, nowWall = this.wallNow()): boolean {
    if (!this.loop.opened) return true; // still listing: liveness, not readiness
    return !(this.lastQueuedWall > this.lastSyncWall && nowWall - this.lastQueuedWall > timeoutMs);
  }

  /** The engine table as the control plane believes it is (for podnetctl and tests). */
  specs(): ServicePortSpec[] {
    return [...this.programmed.values()];
  }

  /** Counts for status output. */
  status(): { initialized: boolean; services: number; endpointSlices: number; servicePorts: number; backends: number; pending: number; lastSync?: SyncReport } {
    return {
      // Objects as the sources last reported them (synced or not); the rest as programmed.
      initialized: this.loop.opened, services: this.services.sizeWith(this.svcTracker), endpointSlices: this.slices.sizeWith(this.sliceTracker),
      servicePorts: this.programmed.size, backends: this.backendCount,
      pending: this.svcTracker.pending + this.sliceTracker.pending + this.nodeTracker.pending,
      ...(this.lastReport ? { lastSync: this.lastReport } : {}),
    };
  }

  /**
   * The node's own addresses for external traffic changed (an uplink got or lost one): NodePorts
   * and the eTP Cluster masquerade source move with the next sync, a full one.
   */
  setExternalNodeAddresses(addresses: readonly string[]): void {
    if (!this.externalOpts) return;
    this.externalOpts = { ...this.externalOpts, nodeAddresses: [...addresses] };
    this.node = this.nodeContext(this.node.nodeName, this.nodes.get(NODE_KEY));
    this.requestFullSync();
  }

  /** Forces the next sync to replace the whole engine table. */
  requestFullSync(): void {
    this.needFullSync = true;
    this.loop.run();
  }

  /**
   * The sync function: drains the trackers and programs the engine. Never throws; a failure
   * sets needFullSync and schedules a retry. Public so tests and benchmarks can call it directly.
   */
  sync(): SyncReport | undefined {
    if (!this.loop.opened) return undefined;
    const t0 = performance.now();
    const affected = new Set<string>();
    const collect = !this.needFullSync; // a full sync recomputes everything anyway
    const svcUp = this.services.update(this.svcTracker);
    const sliceUp = this.slices.update(this.sliceTracker);
    this.metrics.serviceChangesTotal.inc(svcUp.changes.size);
    this.metrics.endpointChangesTotal.inc(sliceUp.changes.size);
    if (collect) for (const k of svcUp.changes.keys()) affected.add(k);
    for (const [k, c] of sliceUp.changes) {
      this.indexSlice(k, c.previous, c.current);
      if (collect && c.previous) affected.add(c.previous.serviceKey);
      if (collect && c.current) affected.add(c.current.serviceKey);
    }
    const nodeUp = this.nodes.update(this.nodeTracker);
    if (nodeUp.changes.size) {
      this.node = this.nodeContext(this.node.nodeName, this.nodes.get(NODE_KEY));
      this.needFullSync = true; // the zone feeds every service's topology decision
    }
    for (const u of [svcUp, sliceUp, nodeUp]) {
      for (const t of u.since) this.pendingSince.push(t);
      for (const t of u.triggers) this.pendingTriggers.push(t);
    }
    this.metrics.serviceChangesPending.set(0);
    this.metrics.endpointChangesPending.set(0);

    const full = this.needFullSync;
    let report: SyncReport;
    try {
      report = full ? this.fullSync() : this.partialSync(affected);
    } catch (err) {
      const error = new SyncError(`${full ? 'full' : 'partial'} sync failed: ${(err as Error)?.message ?? err}`, err);
      this.needFullSync = true;
      this.metrics.syncFailures.inc();
      this.log.error({ err, code: error.code, full }, 'programming the engine failed; full resync in %d ms', this.loop.retryMs);
      this.loop.retry();
      report = { full, upserts: 0, removes: 0, durationMs: performance.now() - t0, error };
      this.lastReport = report;
      return report;
    }
    this.needFullSync = false;
    const done = this.clock.now();
    for (const since of this.pendingSince) this.metrics.programmingDuration.observe(Math.max(0, done - since) / 1000);
    this.pendingSince = [];
    if (this.pendingTriggers.length) {
      const wall = this.wallNow();
      // Clamped at 0: the trigger comes from another machine's clock.
      for (const t of this.pendingTriggers) this.metrics.programmingDuration.observe(Math.max(0, wall - t) / 1000);
      this.pendingTriggers = [];
    }
    const secs = (performance.now() - t0) / 1000;
    report.durationMs = secs * 1000;
    this.metrics.syncDuration.observe(secs);
    (full ? this.metrics.fullSyncDuration : this.metrics.partialSyncDuration).observe(secs);
    this.lastSyncWall = this.wallNow();
    this.metrics.lastSyncTimestamp.set(this.lastSyncWall / 1000);
    this.metrics.services.set(this.serviceCount);
    this.metrics.servicePorts.set(this.programmed.size);
    this.metrics.endpoints.set(this.backendCount);
    if (full || report.upserts || report.removes) {
      this.log.debug({ full, upserts: report.upserts, removes: report.removes, ms: +report.durationMs.toFixed(2) }, 'synced');
    }
    this.lastReport = report;
    try { this.onSynced?.(); } catch (err) { this.log.error({ err }, 'onSynced hook failed'); }
    return report;
  }

  /** Moves a slice in the by-service index from its previous service to its current one. */
  private indexSlice(key: string, previous: EndpointSliceInfo | undefined, current: EndpointSliceInfo | undefined): void {
    if (previous) {
      const m = this.slicesBySvc.get(previous.serviceKey);
      m?.delete(key);
      if (m?.size === 0) this.slicesBySvc.delete(previous.serviceKey);
    }
    if (current) {
      let m = this.slicesBySvc.get(current.serviceKey);
      if (!m) this.slicesBySvc.set(current.serviceKey, (m = new Map()));
      m.set(key, current);
    }
  }

  /** What external.ts steeringRules/healthChecks read: the services, their slices, this node. */
  externalView(): { services: Iterable<ServiceInfo>; slicesOf: (svcKey: string) => Iterable<EndpointSliceInfo>; node?: ExternalNodeContext } {
    return { services: this.services.values(), slicesOf: (k) => this.slicesOf(k), ...(this.node.external ? { node: this.node.external } : {}) };
  }

  private slicesOf(svcKey: string): Iterable<EndpointSliceInfo> {
    return this.slicesBySvc.get(svcKey)?.values() ?? [];
  }

  /** Model output for `svcKeys`, with (VIP, port, protocol) conflicts resolved against `owner`. */
  private plan(svcKeys: Iterable<string>, owner: ReadonlyMap<string, string>, bySvc: ReadonlyMap<string, Set<string>>) {
    const next = new Map<string, Map<string, ServicePortSpec>>();
    for (const k of svcKeys) {
      const svc = this.services.get(k);
      const notes: ModelNote[] = [];
      const m = new Map<string, ServicePortSpec>();
      if (svc) for (const s of serviceSpecs(svc, this.slicesOf(k), this.node, notes)) m.set(specKey(s), s);
      next.set(k, m);
      this.logNotes(k, notes);
    }
    // An existing owner that still claims its key keeps it; new claims are first come, first served.
    const claim = new Map<string, string>();
    for (const [k, m] of next) for (const sk of bySvc.get(k) ?? []) if (m.has(sk)) claim.set(sk, k);
    const conflicted = new Set<string>();
    for (const [k, m] of next) {
      for (const sk of m.keys()) {
        let o = claim.get(sk);
        if (o === undefined) {
          const committed = owner.get(sk);
          if (committed !== undefined && committed !== k && !next.has(committed)) o = committed;
        }
        if (o === undefined) { claim.set(sk, k); continue; }
        if (o === k) continue;
        m.delete(sk);
        conflicted.add(k);
        this.log.warn({ service: k, owner: o, servicePort: sk }, 'service port already programmed for another service; skipped');
      }
    }
    return { next, claim, conflicted };
  }

  /**
   * Everything recomputed and the table replaced: plan() over every service in key order with no
   * owners yet, so the first service to claim a (VIP, port, protocol) keeps it.
   */
  private fullSync(): SyncReport {
    const { next, conflicted } = this.plan([...this.services.keys()].sort(), new Map(), new Map());
    const programmed = new Map<string, ServicePortSpec>();
    const owner = new Map<string, string>();
    const bySvc = new Map<string, Set<string>>();
    let backends = 0;
    for (const [k, m] of next) {
      if (m.size === 0) continue;
      bySvc.set(k, new Set(m.keys()));
      for (const [sk, s] of m) {
        programmed.set(sk, s);
        owner.set(sk, k);
        backends += s.backends.length;
      }
    }
    const all = [...programmed.values()];
    this.sink.replace(all);
    this.programmed = programmed;
    this.bySvc = bySvc;
    this.owner = owner;
    this.backendCount = backends;
    this.serviceCount = bySvc.size;
    this.conflicted = conflicted;
    return { full: true, upserts: all.length, removes: 0, durationMs: 0 };
  }

  private partialSync(affected: Set<string>): SyncReport {
    for (const k of this.conflicted) affected.add(k);
    if (affected.size === 0) return { full: false, upserts: 0, removes: 0, durationMs: 0 };
    const { next, claim, conflicted } = this.plan(affected, this.owner, this.bySvc);
    const upsert: ServicePortSpec[] = [];
    const remove: ServicePortKey[] = [];
    for (const m of next.values()) {
      for (const [sk, s] of m) {
        const old = this.programmed.get(sk);
        if (!old || !specsEqual(old, s)) upsert.push(s);
      }
    }
    const removedKeys: string[] = [];
    for (const k of next.keys()) {
      for (const sk of this.bySvc.get(k) ?? []) {
        if (claim.has(sk)) continue; // still programmed, by this or another affected service
        const old = this.programmed.get(sk) as ServicePortSpec;
        remove.push({ vip: old.vip, port: old.port, protocol: old.protocol });
        removedKeys.push(sk);
      }
    }
    if (upsert.length || remove.length) this.sink.apply({ upsert, remove });

    // Commit only after the engine accepted the delta.
    for (const sk of removedKeys) {
      this.backendCount -= (this.programmed.get(sk) as ServicePortSpec).backends.length;
      this.programmed.delete(sk);
      this.owner.delete(sk);
    }
    for (const s of upsert) {
      const sk = specKey(s);
      const old = this.programmed.get(sk);
      this.backendCount += s.backends.length - (old ? old.backends.length : 0);
      this.programmed.set(sk, s);
    }
    for (const [k, m] of next) {
      const had = (this.bySvc.get(k)?.size ?? 0) > 0;
      if (had !== m.size > 0) this.serviceCount += had ? -1 : 1;
      if (m.size) this.bySvc.set(k, new Set(m.keys())); else this.bySvc.delete(k);
      for (const sk of m.keys()) this.owner.set(sk, k);
      if (conflicted.has(k)) this.conflicted.add(k); else this.conflicted.delete(k);
    }
    return { full: false, upserts: upsert.length, removes: remove.length, durationMs: 0 };
  }

  /** The model's view of this node: name, zone and (when enabled) external addresses. */
  private nodeContext(name: string, n: NodeInfo | undefined): NodeContext {
    const ext = this.externalOpts;
    const addrs = ext ? [...(ext.nodeAddresses ?? []), ...(n?.addresses ?? [])] : [];
    return {
      nodeName: name,
      ...(n?.zone !== undefined ? { zone: n.zone } : {}),
      ...(ext ? { external: externalNodeContext([...new Set(addrs)], ext.nodePortAddresses ?? []) } : {}),
    };
  }

  /** Logs model notes once per distinct set, so a periodic sync does not repeat them. */
  private logNotes(svcKey: string, notes: ModelNote[]): void {
    if (notes.length === 0 && !this.loggedNotes.has(svcKey)) return; // nearly every service, every sync
    const text = notes.map((n) => n.message).join('; ');
    if ((this.loggedNotes.get(svcKey) ?? '') === text) return;
    if (text) this.loggedNotes.set(svcKey, text); else this.loggedNotes.delete(svcKey);
    for (const n of notes) this.log.warn({ service: n.service, note: n.code }, n.message);
  }
}
