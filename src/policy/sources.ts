// Policy's side of the control plane: sources (manifest directory, API informers) hand it
// NetworkPolicy / Pod / Namespace objects; change trackers drop no-op updates (a pod's readiness
// flapping changes nothing policy reads); a bounded-frequency runner merges bursts; one sync
// recompiles the tables (compile.ts) and publishes them with engine.setPolicy() only when they
// differ from what the engine holds. A failed publish is retried with the next sync.
//
// policyManifestHook() subscribes policy to the manifest directory's NetworkPolicies, Pods and
// Namespaces (src/kube/manifest.ts); the API side is kube.ts.
import type { ManifestSubscription } from '../kube/manifest';
import pino, { type Logger } from 'pino';
import type { PolicyApplyResult, PolicyTables } from '../engine/types';
import { fingerprint } from '../kube/objects';
import { Cache } from '../sync/cache';
import { type Clock, realClock } from '../sync/runner';
import { SyncLoop, type SyncCadence } from '../sync/loop';
import { ChangeTracker } from '../sync/tracker';
import { compilePolicy } from './compile';
import { PolicySyncError } from './errors';
import { tableSizes } from './explain';
import type { NamespaceInfo, NetworkPolicyInfo, PodInfo } from './objects';
import { policyObjectKind, validateNamespace, validateNetworkPolicy, validatePod } from './validate';

/** What policy programs: the engine (src/engine Engine.setPolicy) or a fake in tests. */
export interface PolicyTableSink {
  setPolicy(tables: PolicyTables): PolicyApplyResult;
}

/** What sources feed: normalized objects (validate.ts), undefined meaning deleted. */
export interface PolicyObjectSink {
  setNetworkPolicy(key: string, policy: NetworkPolicyInfo | undefined): void;
  setPod(key: string, pod: PodInfo | undefined): void;
  setNamespace(name: string, ns: NamespaceInfo | undefined): void;
  /** The source delivered its initial state; syncs start once this was called. */
  setInitialized(): void;
}

export type PolicyKind = 'NetworkPolicy' | 'Pod' | 'Namespace';
export type PolicyObject =
  | { kind: 'NetworkPolicy'; key: string; info: NetworkPolicyInfo }
  | { kind: 'Pod'; key: string; info: PodInfo }
  | { kind: 'Namespace'; key: string; info: NamespaceInfo };

/**
 * Validates an object of a kind policy reads. Returns undefined for other kinds; throws
 * InvalidObjectError (naming the field) for invalid ones.
 */
export function parsePolicyObject(o: unknown, defaultNamespace = 'default'): PolicyObject | undefined {
  switch (policyObjectKind(o)) {
    case 'NetworkPolicy': { const info = validateNetworkPolicy(o, defaultNamespace); return { kind: 'NetworkPolicy', key: info.key, info }; }
    case 'Pod': { const info = validatePod(o, defaultNamespace); return { kind: 'Pod', key: info.key, info }; }
    case 'Namespace': { const info = validateNamespace(o); return { kind: 'Namespace', key: info.name, info }; }
    default: return undefined;
  }
}

/** Hands a parsed object (or its deletion) to a sink. */
export function deliver(sink: PolicyObjectSink, kind: PolicyKind, key: string, info: PolicyObject['info'] | undefined): void {
  if (kind === 'NetworkPolicy') sink.setNetworkPolicy(key, info as NetworkPolicyInfo | undefined);
  else if (kind === 'Pod') sink.setPod(key, info as PodInfo | undefined);
  else sink.setNamespace(key, info as NamespaceInfo | undefined);
}

/**
 * Policy's subscription to the manifest directory (src/kube/manifest.ts): `parse` trims and
 * validates each object of the three kinds (InvalidObjectError is logged like any invalid
 * document), `set` receives the diff (info undefined = the object left the directory).
 */
export function policyManifestHook(sink: PolicyObjectSink & { setInitialized?(): void }): ManifestSubscription {
  return {
    plane: 'policy',
    kinds: [['networking.k8s.io/v1', 'NetworkPolicy'], ['v1', 'Pod'], ['v1', 'Namespace']],
    parse: parsePolicyObject,
    set: (kind, key, info) => deliver(sink, kind as PolicyKind, key, info as PolicyObject['info'] | undefined),
    setInitialized: () => sink.setInitialized?.(),
  };
}

export interface PolicyControlOptions extends SyncCadence {
  sink: PolicyTableSink;
  /** This node: only its pods get table entries (all pods remain peers). Absent: every pod. */
  nodeName?: string;
  /** The node's own addresses (always allowed to and from its pods). */
  hostAddresses?: string[];
  logger?: Logger;
  /** Wall clock (epoch ms) of the change trackers; default Date.now. */
  wallNow?: () => number;
}

export interface PolicySyncReport {
  /** Tables were compiled (something changed, or a retry / forced sync). */
  compiled: boolean;
  /** Tables were handed to the engine (they differed from the programmed ones). */
  published: boolean;
  compileMs: number;
  sizes?: ReturnType<typeof tableSizes>;
  flowsCut?: number;
  error?: PolicySyncError;
}

/** Keeps the engine's policy tables equal to the compiled policies, pods and namespaces. */
export class PolicyControl implements PolicyObjectSink {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly loop: SyncLoop;
  // Objects as of the last sync; the sources' newer versions wait in the trackers.
  private readonly policies = new Cache<NetworkPolicyInfo>();
  private readonly pods = new Cache<PodInfo>();
  private readonly namespaces = new Cache<NamespaceInfo>();
  private readonly policyTracker: ChangeTracker<NetworkPolicyInfo>;
  private readonly podTracker: ChangeTracker<PodInfo>;
  private readonly nsTracker: ChangeTracker<NamespaceInfo>;
  private hostAddresses: string[];
  private dirty = true;
  private programmedPrint: string | undefined;
  private programmed: PolicyTables | undefined;
  private lastReport: PolicySyncReport | undefined;

  constructor(private readonly opts: PolicyControlOptions) {
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'policy' });
    this.clock = opts.clock ?? realClock;
    this.hostAddresses = [...(opts.hostAddresses ?? [])];
    const t = { now: () => this.clock.now(), print: fingerprint, ...(opts.wallNow ? { wallNow: opts.wallNow } : {}) };
    this.policyTracker = new ChangeTracker<NetworkPolicyInfo>(t);
    this.podTracker = new ChangeTracker<PodInfo>(t);
    this.nsTracker = new ChangeTracker<NamespaceInfo>(t);
    this.loop = new SyncLoop(() => { this.sync(); }, { ...opts, clock: this.clock });
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  setNetworkPolicy(key: string, policy: NetworkPolicyInfo | undefined): void {
    this.track(this.policies, this.policyTracker, key, policy);
  }

  setPod(key: string, pod: PodInfo | undefined): void {
    this.track(this.pods, this.podTracker, key, pod);
  }

  setNamespace(name: string, ns: NamespaceInfo | undefined): void {
    this.track(this.namespaces, this.nsTracker, name, ns);
  }

  setHostAddresses(addrs: string[]): void {
    if (fingerprint(addrs) === fingerprint(this.hostAddresses)) return;
    this.hostAddresses = [...addrs];
    this.dirty = true;
    this.loop.changed();
  }

  setInitialized(): void {
    if (!this.loop.open()) return;
    this.log.info({ policies: this.policies.sizeWith(this.policyTracker), pods: this.pods.sizeWith(this.podTracker), namespaces: this.namespaces.sizeWith(this.nsTracker) }, 'initial policy state received, first sync queued');
  }

  /** Validates and records an object of a policy kind (manifests, tests); false for other kinds. Throws InvalidObjectError. */
  ingest(o: unknown, defaultNamespace = 'default'): boolean {
    const p = parsePolicyObject(o, defaultNamespace);
    if (!p) return false;
    deliver(this, p.kind, p.key, p.info);
    return true;
  }

  /** The tables the engine holds, as of the last successful publish. */
  tables(): PolicyTables | undefined {
    return this.programmed;
  }

  status(): { initialized: boolean; policies: number; pods: number; namespaces: number; pending: number; lastSync?: PolicySyncReport } {
    return {
      // As the sources last reported them (synced or not).
      initialized: this.loop.opened, policies: this.policies.sizeWith(this.policyTracker), pods: this.pods.sizeWith(this.podTracker),
      namespaces: this.namespaces.sizeWith(this.nsTracker),
      pending: this.policyTracker.pending + this.podTracker.pending + this.nsTracker.pending,
      ...(this.lastReport ? { lastSync: this.lastReport } : {}),
    };
  }

  /** Recompiles and republishes on the next sync even if nothing changed (after an engine restart). */
  requestFullSync(): void {
    this.dirty = true;
    this.programmedPrint = undefined;
    this.loop.run();
  }

  /** The sync function. Never throws; a failed publish schedules a retry. Public for tests and benchmarks. */
  sync(): PolicySyncReport | undefined {
    if (!this.loop.opened) return undefined;
    const changes = this.policies.update(this.policyTracker).changes.size + this.pods.update(this.podTracker).changes.size
      + this.namespaces.update(this.nsTracker).changes.size;
    if (!changes && !this.dirty) return (this.lastReport = { compiled: false, published: false, compileMs: 0 });
    const t0 = performance.now();
    const tables = compilePolicy({
      policies: [...this.policies.values()], pods: [...this.pods.values()], namespaces: [...this.namespaces.values()],
      hostAddresses: this.hostAddresses, ...(this.opts.nodeName ? { nodeName: this.opts.nodeName } : {}),
    });
    const compileMs = performance.now() - t0;
    const print = fingerprint(tables);
    const sizes = tableSizes(tables);
    if (print === this.programmedPrint) {
      this.dirty = false;
      return (this.lastReport = { compiled: true, published: false, compileMs, sizes });
    }
    try {
      const r = this.opts.sink.setPolicy(tables);
      this.programmed = tables;
      this.programmedPrint = print;
      this.dirty = false;
      this.log.info({ ...sizes, compileMs: Math.round(compileMs * 10) / 10, flowsCut: r.flowsCut, version: r.version }, 'policy tables published');
      return (this.lastReport = { compiled: true, published: true, compileMs, sizes, flowsCut: r.flowsCut });
    } catch (err) {
      const error = new PolicySyncError(`publishing policy tables failed: ${(err as Error)?.message ?? String(err)}`, err);
      this.dirty = true;
      this.log.warn({ code: error.code, err: (err as Error)?.message, retryMs: this.loop.retryMs }, 'policy sync failed; retrying');
      this.loop.retry();
      return (this.lastReport = { compiled: true, published: false, compileMs, sizes, error });
    }
  }

  private track<T>(cache: Cache<T>, tracker: ChangeTracker<T>, key: string, v: T | undefined): void {
    if (cache.record(tracker, key, v)) this.loop.changed();
  }
}
