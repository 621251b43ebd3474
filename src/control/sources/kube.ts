// Kubernetes API source: @kubernetes/client-node 1.x informers (list + watch) for Services,
// EndpointSlices and this node's Node → validated → ObjectSink. The informer relists by itself
// on 410 Gone (and its relist reports objects that vanished as deletes); on any other error it
// stops, so we restart it with exponential backoff. While the API is away nothing is withdrawn:
// the control plane keeps programming the last-known state.
import * as k8s from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import type { ObjectSink } from '../control-plane';
import { InvalidObjectError, SourceError } from '../errors';
import type { SyncMetrics } from '../metrics';
import { SERVICE_PROXY_NAME_LABEL, validateEndpointSlice, validateNode, validateService } from '../validate';

export interface KubeSourceOptions {
  sink: ObjectSink;
  /** This node's name: only its Node object is watched (fieldSelector). */
  nodeName: string;
  /** Default: KubeConfig.loadFromDefault() ($KUBECONFIG, ~/.kube/config, or in-cluster). */
  kubeConfig?: k8s.KubeConfig;
  logger?: Logger;
  metrics?: SyncMetrics;
  /** First restart delay after an informer error. Default 500 ms. */
  backoffInitialMs?: number;
  /** Cap of the restart delay. Default 30 s. */
  backoffMaxMs?: number;
}

type Kind = 'Service' | 'EndpointSlice' | 'Node';
type AnyObj = { metadata?: { name?: string; namespace?: string; resourceVersion?: string } };

// kube-proxy's selectors: objects owned by another proxy, and headless services' slices, are not ours.
const SERVICE_SELECTOR = `!${SERVICE_PROXY_NAME_LABEL}`;
const SLICE_SELECTOR = `!${SERVICE_PROXY_NAME_LABEL},!service.kubernetes.io/headless`;

/** One informer plus its restart policy. */
class Watched {
  informer!: k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>;
  synced = false;
  delayMs: number;
  timer: NodeJS.Timeout | undefined;
  restarts = 0;
  constructor(readonly kind: Kind, initialMs: number) { this.delayMs = initialMs; }
}

/** Feeds an ObjectSink from the Kubernetes API, like kube-proxy's informers. */
export class KubeSource {
  private readonly log: Logger;
  private readonly kc: k8s.KubeConfig;
  private readonly watched: Watched[] = [];
  private readonly initialMs: number;
  private readonly maxMs: number;
  private stopped = true;
  private initialized = false;
  /** Last invalid resourceVersion logged per object, so a relist does not repeat the line. */
  private readonly loggedInvalid = new Map<string, string>();

  constructor(private readonly opts: KubeSourceOptions) {
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'kube-source' });
    this.initialMs = opts.backoffInitialMs ?? 500;
    this.maxMs = opts.backoffMaxMs ?? 30_000;
    if (opts.kubeConfig) {
      this.kc = opts.kubeConfig;
    } else {
      this.kc = new k8s.KubeConfig();
      this.kc.loadFromDefault();
    }
  }

  /** Starts the three informers; the sink is marked initialized once all three were listed. */
  async start(): Promise<void> {
    this.stopped = false;
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const discovery = this.kc.makeApiClient(k8s.DiscoveryV1Api);
    const watch = new k8s.Watch(this.kc);
    const nodeSel = `metadata.name=${this.opts.nodeName}`;
    const specs: Array<[Kind, string, () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>, string | undefined, string | undefined]> = [
      ['Service', '/api/v1/services', () => core.listServiceForAllNamespaces({ labelSelector: SERVICE_SELECTOR }), SERVICE_SELECTOR, undefined],
      ['EndpointSlice', '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces({ labelSelector: SLICE_SELECTOR }), SLICE_SELECTOR, undefined],
      ['Node', '/api/v1/nodes', () => core.listNode({ fieldSelector: nodeSel }), undefined, nodeSel],
    ];
    for (const [kind, path, list, labelSel, fieldSel] of specs) {
      const w = new Watched(kind, this.initialMs);
      const listFn = async () => {
        const l = await list();
        // The informer adds the listed items right after this promise resolves; mark synced after that.
        setImmediate(() => this.listed(w));
        return l;
      };
      w.informer = new k8s.ListWatch(path, watch, listFn, false, labelSel, fieldSel);
      w.informer.on('add', (o) => this.upsert(w, o));
      w.informer.on('update', (o) => this.upsert(w, o));
      w.informer.on('delete', (o) => this.remove(w, o));
      w.informer.on('error', (err) => this.failed(w, err));
      this.watched.push(w);
    }
    await Promise.all(this.watched.map((w) => this.startOne(w)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watched) {
      clearTimeout(w.timer);
      await w.informer.stop();
    }
  }

  /** Restarts and errors so far, per kind (for status and tests). */
  status(): Record<Kind, { synced: boolean; restarts: number; objects: number }> {
    const out = {} as Record<Kind, { synced: boolean; restarts: number; objects: number }>;
    for (const w of this.watched) out[w.kind] = { synced: w.synced, restarts: w.restarts, objects: w.informer.list().length };
    return out;
  }

  private async startOne(w: Watched): Promise<void> {
    try {
      await w.informer.start();
    } catch (err) {
      this.failed(w, err);
    }
  }

  private listed(w: Watched): void {
    w.delayMs = this.initialMs; // a successful list resets the backoff
    if (!w.synced) {
      w.synced = true;
      this.log.info({ kind: w.kind, objects: w.informer.list().length }, 'initial list received');
    }
    // This node's zone is listed too before the first sync, or topology would churn right after it.
    if (!this.initialized && this.watched.every((x) => x.synced)) {
      this.initialized = true;
      this.opts.sink.setInitialized();
    }
  }

  /** The informer stopped on an error: keep the last-known state and start it again later. */
  private failed(w: Watched, err: unknown): void {
    if (this.stopped) return;
    const e = new SourceError(`${w.kind} informer stopped: ${(err as Error)?.message ?? String(err)}`, err);
    this.log.warn({ kind: w.kind, code: e.code, err: (err as Error)?.message, retryMs: w.delayMs }, 'API watch failed; keeping last-known state and retrying');
    clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      if (this.stopped) return;
      w.restarts++;
      void this.startOne(w);
    }, w.delayMs);
    w.timer.unref();
    w.delayMs = Math.min(this.maxMs, w.delayMs * 2);
  }

  private upsert(w: Watched, o: k8s.KubernetesObject): void {
    const md = (o as AnyObj).metadata ?? {};
    const key = w.kind === 'Node' ? (md.name ?? '') : `${md.namespace ?? ''}/${md.name ?? ''}`;
    try {
      switch (w.kind) {
        case 'Service': this.opts.sink.setService(key, validateService(o)); break;
        case 'EndpointSlice': this.opts.sink.setEndpointSlice(key, validateEndpointSlice(o) ?? undefined); break;
        case 'Node': this.opts.sink.setNode(key, validateNode(o)); break;
      }
      this.loggedInvalid.delete(`${w.kind}:${key}`);
    } catch (err) {
      // The API validated it, so this is a shape we don't support: keep the last good version.
      const id = `${w.kind}:${key}`;
      if (this.loggedInvalid.get(id) === md.resourceVersion) return;
      this.loggedInvalid.set(id, md.resourceVersion ?? '');
      this.opts.metrics?.invalidObjects.inc();
      const ie = err instanceof InvalidObjectError ? err : undefined;
      this.log.warn({ kind: w.kind, object: key, resourceVersion: md.resourceVersion, code: (err as { code?: string }).code, field: ie?.field, reason: ie?.reason ?? (err as Error).message }, 'invalid object skipped; last good version kept');
    }
  }

  private remove(w: Watched, o: k8s.KubernetesObject): void {
    const md = (o as AnyObj).metadata ?? {};
    const key = w.kind === 'Node' ? (md.name ?? '') : `${md.namespace ?? ''}/${md.name ?? ''}`;
    this.loggedInvalid.delete(`${w.kind}:${key}`);
    switch (w.kind) {
      case 'Service': this.opts.sink.setService(key, undefined); break;
      case 'EndpointSlice': this.opts.sink.setEndpointSlice(key, undefined); break;
      case 'Node': this.opts.sink.setNode(key, undefined); break;
    }
  }
}
