// Where podnetd's service table comes from, behind one small interface:
//   manifests  → ManifestSource → ControlPlane → engine   (the default, no cluster needed)
//   kubeconfig → KubeSource     → ControlPlane → engine   (a real node; in-cluster config too)
//   tables     → a JSON array of ServicePortSpec replaced into the engine as is (legacy: the
//                benchmark harness drives podnetd this way; no control plane, no Kubernetes objects)
import type { Logger } from 'pino';
import { ControlPlane, SyncMetrics, type TableSink } from '../services';
import type { ControlPlaneOptions } from '../services/control-plane';
import { ManifestSource, type ManifestSubscription } from '../kube/manifest';
import { servicesManifestSubscription } from '../services/manifest';
import type { ApplyResult, ServicePortSpec, TableDelta } from '../engine/types';
import { nthAddress, parseNetwork } from '../net/cidr';
import { PolicyControl, policyManifestHook, type PolicyTableSink } from '../policy/sources';
import { loadTables, type DaemonConfig } from './config';

/** The engine as the control plane's sink, remembering when the first table got programmed. */
export class ProgrammedSink implements TableSink {
  private resolveFirst!: () => void;
  /** Resolves after the first successful replace/apply (which also rebinds restored flows). */
  readonly firstSync = new Promise<void>((r) => { this.resolveFirst = r; });
  lastResult: ApplyResult | undefined;

  constructor(private readonly engine: TableSink) {}

  apply(delta: TableDelta): ApplyResult {
    this.lastResult = this.engine.apply(delta);
    this.resolveFirst();
    return this.lastResult;
  }

  replace(specs: ServicePortSpec[]): ApplyResult {
    this.lastResult = this.engine.replace(specs);
    this.resolveFirst();
    return this.lastResult;
  }
}

/** Control-plane options the daemon adds (external traffic: src/external/controller.ts). */
export type ControlPlaneExtra = Pick<ControlPlaneOptions, 'external' | 'onSynced'>;

/** What the daemon needs from a source, whichever it is. */
export interface TableSource {
  readonly description: string;
  start(): Promise<void>;
  /** SIGHUP: re-read what can be re-read (manifests rescan, tables file). */
  reload(): Promise<void>;
  stop(): Promise<void>;
  /** The table as programmed (podnetctl services/trace). */
  specs(): ServicePortSpec[];
  /** Control plane counts, when there is one. */
  controlPlane(): ControlPlane | undefined;
  /** NetworkPolicy control, when the source enforces policy (not in tables mode). */
  policyControl(): PolicyControl | undefined;
  /** Queued changes are synced in time (kube-proxy healthz). */
  syncing(timeoutMs: number): boolean;
  lastUpdatedMs(): number;
}

/** manifests or kubeconfig: objects → control plane → engine. */
class ControlPlaneSource implements TableSource {
  readonly cp: ControlPlane;
  /** NetworkPolicy: NetworkPolicies, Pods and Namespaces → engine policy tables (manifest source or API informers). */
  readonly policy: PolicyControl | undefined;
  /** kubeconfig mode: the NetworkPolicy / Pod / Namespace informers feeding `policy`. */
  private policySrc: { start(): Promise<void>; stop(): Promise<void> } | undefined;
  private src: { start(): Promise<unknown>; stop(): void | Promise<void>; reload?(): Promise<unknown> } | undefined;

  constructor(readonly description: string, private readonly cfg: DaemonConfig, sink: TableSink,
    private readonly metrics: SyncMetrics, private readonly log: Logger, policySink?: PolicyTableSink,
    private readonly observers: ManifestSubscription[] = [], cpExtra: ControlPlaneExtra = {}) {
    this.cp = new ControlPlane({
      ...cpExtra,
      sink, nodeName: cfg.nodeName, logger: log, metrics,
      minSyncIntervalMs: cfg.sync.minIntervalMs, maxSyncIntervalMs: cfg.sync.maxIntervalMs, retryIntervalMs: cfg.sync.retryIntervalMs,
    });
    if (policySink && (cfg.manifests || cfg.kubeconfig)) {
      // The node's own addresses on the pod network (the bridge gateways) always reach its pods.
      const hostAddresses = cfg.podCIDRs.map((c) => nthAddress(parseNetwork(c), 1));
      this.policy = new PolicyControl({ sink: policySink, nodeName: cfg.nodeName, hostAddresses, logger: log });
    }
  }

  async start(): Promise<void> {
    this.cp.start();
    this.policy?.start();
    if (this.cfg.manifests) {
      this.src = new ManifestSource({
        dir: this.cfg.manifests, logger: this.log, onInvalid: () => this.metrics.invalidObjects.inc(),
        subscriptions: [servicesManifestSubscription(this.cp), ...(this.policy ? [policyManifestHook(this.policy)] : []), ...this.observers],
      });
    } else {
      // Loaded only here: the client library costs ~0.3 s of start-up a manifest node never needs.
      const k8s = await import('@kubernetes/client-node');
      const { KubeSource } = await import('../services/kube');
      let kubeConfig: InstanceType<typeof k8s.KubeConfig> | undefined;
      if (this.cfg.kubeconfig && this.cfg.kubeconfig !== 'in-cluster') {
        kubeConfig = new k8s.KubeConfig();
        kubeConfig.loadFromFile(this.cfg.kubeconfig);
      }
      this.src = new KubeSource({ sink: this.cp, nodeName: this.cfg.nodeName, logger: this.log, metrics: this.metrics, ...(kubeConfig ? { kubeConfig } : {}) });
      if (this.policy) {
        const { PolicyKubeSource } = await import('../policy/kube');
        this.policySrc = new PolicyKubeSource({ sink: this.policy, logger: this.log, onInvalid: () => this.metrics.invalidObjects.inc(), ...(kubeConfig ? { kubeConfig } : {}) });
      }
    }
    await this.src.start();
    await this.policySrc?.start();
  }

  async reload(): Promise<void> {
    // The API source is live already; a manifest directory gets an immediate rescan.
    await this.src?.reload?.();
  }

  async stop(): Promise<void> {
    await this.src?.stop();
    await this.policySrc?.stop();
    this.cp.stop();
    this.policy?.stop();
  }

  specs(): ServicePortSpec[] { return this.cp.specs(); }
  controlPlane(): ControlPlane { return this.cp; }
  policyControl(): PolicyControl | undefined { return this.policy; }
  syncing(timeoutMs: number): boolean { return this.cp.healthy(timeoutMs); }
  lastUpdatedMs(): number { return this.cp.lastSyncedMs(); }
}

/** Legacy: the tables file straight into the engine. */
class TablesSource implements TableSource {
  readonly description: string;
  private current: ServicePortSpec[] = [];
  private lastMs = 0;

  constructor(private readonly file: string, private readonly sink: TableSink, private readonly log: Logger) {
    this.description = `tables:${file}`;
  }

  private apply(): void {
    const specs = loadTables(this.file);
    const r = this.sink.replace(specs);
    this.current = specs;
    this.lastMs = Date.now();
    this.log.info({ version: r.version, servicePorts: r.servicePorts, flowsPurged: r.flowsPurged }, 'tables applied');
  }

  async start(): Promise<void> { this.apply(); }

  async reload(): Promise<void> {
    try { this.apply(); } catch (err) {
      // Keep serving the previous table version: a bad file must not take the node down.
      this.log.error({ err, code: (err as { code?: string }).code }, 'tables reload failed');
    }
  }

  async stop(): Promise<void> { /* nothing to stop */ }
  specs(): ServicePortSpec[] { return this.current; }
  controlPlane(): undefined { return undefined; }
  policyControl(): undefined { return undefined; }
  syncing(): boolean { return true; }
  lastUpdatedMs(): number { return this.lastMs; }
}

export function makeSource(cfg: DaemonConfig, sink: TableSink, metrics: SyncMetrics, log: Logger,
  policySink?: PolicyTableSink, observers?: ManifestSubscription[], cpExtra?: ControlPlaneExtra): TableSource {
  if (cfg.tables) return new TablesSource(cfg.tables, sink, log);
  const description = cfg.manifests ? `manifests:${cfg.manifests}` : `kubeconfig:${cfg.kubeconfig}`;
  return new ControlPlaneSource(description, cfg, sink, metrics, log, policySink, observers, cpExtra);
}
