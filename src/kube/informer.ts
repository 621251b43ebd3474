// Restartable Kubernetes informers, shared by every API source (services/slices/node in src/services/kube.ts,
// NetworkPolicy/Pod/Namespace in src/policy/kube.ts): @kubernetes/client-node 1.x ListWatch does
// list + watch and relists by itself on 410 Gone (its relist reports vanished objects as deletes);
// on any other error it stops, so an Informer here restarts it with exponential backoff and keeps
// the last-known state meanwhile. An InformerGroup says when all of its informers were listed
// once (the source's "initialized"), and logs an object its handler rejects once per version.
//
//   const group = new InformerGroup({ kubeConfig, logger, onSynced: () => sink.setInitialized() });
//   group.add({ kind: 'Service', path: '/api/v1/services', list: () => core.listServiceForAllNamespaces({}),
//               onUpsert: (o) => ..., onDelete: (o) => ... });
//   await group.start();  ...  await group.stop();
import * as k8s from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import { InvalidObjectError, SourceError } from './errors';
import { objectKey } from './objects';

/** What one informer watches and where its events go. */
export interface InformerSpec<T extends k8s.KubernetesObject = k8s.KubernetesObject> {
  /** Name in logs and status(), e.g. 'Service'. Unique within a group. */
  kind: string;
  /** Watch path, e.g. '/api/v1/services'. */
  path: string;
  /** The list call (a typed client method with the same selectors). */
  list: () => Promise<k8s.KubernetesListObject<T>>;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Trims an object before the cache keeps it (list items and watch events alike), like
   * client-go's SetTransform: keeps memory flat when only a few fields are read. Must keep
   * metadata.name, .namespace and .resourceVersion.
   */
  transform?: (o: T) => T;
  /** Added or modified. Throwing (e.g. InvalidObjectError) = the object is skipped and logged once per version. */
  onUpsert(o: T): void;
  onDelete(o: T): void;
}

export interface InformerStatus { synced: boolean; restarts: number; objects: number }

/** How an API source reaches the API and restarts its informers: part of every source's options. */
export interface InformerConnection {
  /** Default: KubeConfig.loadFromDefault() ($KUBECONFIG, ~/.kube/config, or in-cluster). */
  kubeConfig?: k8s.KubeConfig;
  /** First restart delay after an informer error. Default 500 ms. */
  backoffInitialMs?: number;
  /** Cap of the restart delay. Default 30 s. */
  backoffMaxMs?: number;
}

/** The InformerConnection fields of a source's options, and only those (the rest is the source's). */
export function connectionOf(o: InformerConnection): InformerConnection {
  return {
    ...(o.kubeConfig ? { kubeConfig: o.kubeConfig } : {}),
    ...(o.backoffInitialMs !== undefined ? { backoffInitialMs: o.backoffInitialMs } : {}),
    ...(o.backoffMaxMs !== undefined ? { backoffMaxMs: o.backoffMaxMs } : {}),
  };
}

export interface InformerGroupOptions extends InformerConnection {
  logger?: Logger;
  /** Called once, after every informer of the group delivered its first list. */
  onSynced?: () => void;
  /** Called for every object onUpsert rejected (a metrics counter). */
  onInvalid?: () => void;
}

type AnyObj = { metadata?: { name?: string; namespace?: string; resourceVersion?: string } };

/** A watch that hands transformed objects to ListWatch (which caches what it is handed). */
function transformingWatch(inner: k8s.Watch, transform: (o: never) => unknown): k8s.Watch {
  const w = Object.create(inner) as k8s.Watch;
  w.watch = (path, query, callback, done) => inner.watch(path, query, (phase, obj, raw) => {
    callback(phase, phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? transform(obj as never) : obj, raw);
  }, done);
  return w;
}

/** One ListWatch plus its restart policy. */
class Informer {
  readonly informer: k8s.ListWatch<k8s.KubernetesObject>;
  synced = false;
  restarts = 0;
  private delayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;

  constructor(readonly spec: InformerSpec, watch: k8s.Watch, private readonly group: InformerGroup, private readonly initialMs: number, private readonly maxMs: number) {
    this.delayMs = initialMs;
    const tf = spec.transform;
    const listFn = async () => {
      const l = await spec.list();
      if (tf) l.items = l.items.map(tf);
      // ListWatch adds the listed items right after this promise resolves; mark synced after that.
      setImmediate(() => this.listed());
      return l;
    };
    this.informer = new k8s.ListWatch(spec.path, tf ? transformingWatch(watch, tf) : watch, listFn, false, spec.labelSelector, spec.fieldSelector);
    this.informer.on('add', (o) => this.group.deliver(spec, o));
    this.informer.on('update', (o) => this.group.deliver(spec, o));
    this.informer.on('delete', (o) => this.group.forget(spec, o));
    this.informer.on('error', (err) => this.failed(err));
  }

  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.informer.start();
    } catch (err) {
      this.failed(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.informer.stop();
  }

  private listed(): void {
    this.delayMs = this.initialMs; // a successful list resets the backoff
    if (!this.synced) {
      this.synced = true;
      this.group.listed(this);
    }
  }

  /** The informer stopped on an error: keep the last-known state and start it again later. */
  private failed(err: unknown): void {
    if (this.stopped) return;
    const e = new SourceError(`${this.spec.kind} informer stopped: ${(err as Error)?.message ?? String(err)}`, err);
    this.group.log.warn({ kind: this.spec.kind, code: e.code, err: (err as Error)?.message, retryMs: this.delayMs }, 'API watch failed; keeping last-known state and retrying');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      this.restarts++;
      void this.start();
    }, this.delayMs);
    this.timer.unref();
    this.delayMs = Math.min(this.maxMs, this.delayMs * 2);
  }
}

/** Informers that start, stop and become synced together. */
export class InformerGroup {
  /** @internal the informers log through it */
  readonly log: Logger;
  private readonly kc: k8s.KubeConfig;
  private readonly members: Informer[] = [];
  private watch: k8s.Watch | undefined;
  private initialized = false;
  /** Last invalid resourceVersion logged per object, so a relist does not repeat the line. */
  private readonly loggedInvalid = new Map<string, string>();

  constructor(private readonly opts: InformerGroupOptions = {}) {
    this.log = opts.logger ?? pino({ level: 'silent' });
    if (opts.kubeConfig) {
      this.kc = opts.kubeConfig;
    } else {
      this.kc = new k8s.KubeConfig();
      this.kc.loadFromDefault();
    }
  }

  /** The group's KubeConfig, for making the API clients the specs' list calls use. */
  get kubeConfig(): k8s.KubeConfig { return this.kc; }

  /** Adds an informer (before start()). */
  add<T extends k8s.KubernetesObject>(spec: InformerSpec<T>): void {
    this.watch ??= new k8s.Watch(this.kc);
    this.members.push(new Informer(spec as unknown as InformerSpec, this.watch, this, this.opts.backoffInitialMs ?? 500, this.opts.backoffMaxMs ?? 30_000));
  }

  /** Starts every informer; resolves once each made its first attempt (failures retry by themselves). */
  async start(): Promise<void> {
    await Promise.all(this.members.map((m) => m.start()));
  }

  async stop(): Promise<void> {
    for (const m of this.members) await m.stop();
  }

  /** Every informer delivered its first list. */
  get synced(): boolean { return this.initialized; }

  /** Per kind: listed yet, restarts so far, objects cached. */
  status(): Record<string, InformerStatus> {
    const out: Record<string, InformerStatus> = {};
    for (const m of this.members) out[m.spec.kind] = { synced: m.synced, restarts: m.restarts, objects: m.informer.list().length };
    return out;
  }

  /** @internal */
  listed(m: Informer): void {
    this.log.info({ kind: m.spec.kind, objects: m.informer.list().length }, 'initial list received');
    if (!this.initialized && this.members.every((x) => x.synced)) {
      this.initialized = true;
      this.opts.onSynced?.();
    }
  }

  /** @internal */
  deliver(spec: InformerSpec, o: k8s.KubernetesObject): void {
    const key = objectKey(o);
    const id = `${spec.kind}:${key}`;
    try {
      spec.onUpsert(o);
      this.loggedInvalid.delete(id);
    } catch (err) {
      // The API validated it, so this is a shape we don't support: keep the last good version.
      const rv = (o as AnyObj).metadata?.resourceVersion ?? '';
      if (this.loggedInvalid.get(id) === rv) return;
      this.loggedInvalid.set(id, rv);
      this.opts.onInvalid?.();
      const ie = err instanceof InvalidObjectError ? err : undefined;
      this.log.warn({ kind: spec.kind, object: key, resourceVersion: rv, code: (err as { code?: string }).code, field: ie?.field, reason: ie?.reason ?? (err as Error).message }, 'invalid object skipped; last good version kept');
    }
  }

  /** @internal */
  forget(spec: InformerSpec, o: k8s.KubernetesObject): void {
    this.loggedInvalid.delete(`${spec.kind}:${objectKey(o)}`);
    spec.onDelete(o);
  }
}
