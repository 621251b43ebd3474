// podnetd's cross-node routing, between the sources and the kernel:
//   source (manifest directory: clusterManifestHook | API: src/cluster/kube.ts Node informer)
//     → setNode(name, ClusterNode) → bounded-frequency runner (src/sync) → desiredClusterRouting
//     (pure, src/cluster/model.ts)
//     → syncNodeRoutes in podnetd's own netns (src/cluster/program.ts) → one log line per change
// A failed sync is retried with backoff (1 s → 30 s) and never takes podnetd down: the routes
// already programmed keep carrying traffic. A periodic re-sync repairs what someone removed.
// `cleanupCluster` is `--cleanup`'s part. (This node's pod CIDRs, when the config names none,
// come from its Node object through the daemon's node facts, before the node is wired.)
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { BoundedFrequencyRunner, type Clock, realClock } from '../sync/runner';
import { ClusterError } from './errors';
import { clusterPeers, desiredClusterRouting, type ClusterRoutingConfig, type ClusterRoutingState } from './model';
import { clusterNodeFromV1, type ClusterNode } from './nodes';
import { syncNodeRoutes, type Exec, type SyncReport } from './program';
import type { ManifestSubscription } from '../kube/manifest';
import { InvalidObjectError } from '../kube/errors';
import { fingerprint } from '../kube/objects';
import { run } from '../netns/exec';
import { formatCidr, parseNetwork } from '../net/cidr';
import { DEFAULT_ROUTE_TABLE } from '../node/wiring';
import type { ClusterNodeConfig } from './config';
import { clusterView, type ClusterView } from './view';

/** What a Node source feeds: parsed Nodes, undefined meaning deleted. */
export interface ClusterNodeSink {
  setNode(name: string, node: ClusterNode | undefined): void;
  /** The source delivered its initial list: syncs may now withdraw routes of nodes not in it. */
  setInitialized(): void;
}

function isV1Node(o: unknown): boolean {
  const x = o as { kind?: unknown; apiVersion?: unknown } | null;
  return !!x && typeof x === 'object' && x.kind === 'Node' && x.apiVersion === 'v1';
}

/** Cross-node routing's subscription to the manifest directory's v1 Nodes (src/kube/manifest.ts). */
export function clusterManifestHook(sink: ClusterNodeSink): ManifestSubscription {
  return {
    plane: 'cluster',
    kinds: [['v1', 'Node']],
    parse: (o) => {
      if (!isV1Node(o)) return undefined;
      try {
        const n = clusterNodeFromV1(o);
        return { kind: 'Node', key: n.name, info: n };
      } catch (e) {
        // Logged by the manifest source like any invalid document, naming the field.
        const name = String((o as { metadata?: { name?: unknown } }).metadata?.name ?? '');
        throw new InvalidObjectError('Node', name, 'spec.podCIDRs/status.addresses', (e as Error).message);
      }
    },
    set: (_kind, key, info) => sink.setNode(key, info as ClusterNode | undefined),
    setInitialized: () => sink.setInitialized(),
  };
}

export interface ClusterRoutingOptions {
  cfg: ClusterNodeConfig;
  log: Logger;
  /** iproute2 runner (tests inject one); default: the current netns. */
  exec?: Exec;
  /** Minimum time between two syncs (merges a burst of Node changes). Default 50 ms. */
  debounceMs?: number;
  /** Timers of the sync runner (tests drive them by hand). */
  clock?: Clock;
  /** First retry delay after a failed sync. Default 1 s, doubling up to 30 s. */
  retryMs?: number;
  /** Called when the MTU pods on this node should use changes (VXLAN overhead): the CNI's default. */
  onPodMtu?: (mtu: number) => void;
  /** Called when the cluster's addresses change (clusterPeers): the kernel flow cache's peers. */
  onPeers?: (cidrs: string[]) => void;
}

/** The last sync, for status and tests. */
export interface ClusterSyncResult extends SyncReport {
  at: number;
  podMtu?: number;
  nodes: number;
  skipped: { node: string; cidr?: string; reason: string }[];
  error?: { code: string; message: string };
}

/** Keeps this netns's cross-node routes equal to what the Node objects say. */
export class ClusterRouting implements ClusterNodeSink {
  private readonly log: Logger;
  private readonly nodes = new Map<string, ClusterNode>();
  private readonly prints = new Map<string, string>();
  private readonly exec: Exec;
  private readonly retryMs: number;
  /** Merges bursts (debounceMs apart at least), re-syncs every resyncIntervalMs, retries with backoff. */
  private readonly runner: BoundedFrequencyRunner;
  private initialized = false;
  private started = false;
  private stopped = false;
  /** The pending sync was asked for (start, SIGHUP): log its outcome even when it changed nothing. */
  private loud = false;
  private failures = 0;
  private informer: { stop(): Promise<void> } | undefined;
  last: ClusterSyncResult | undefined;
  /** The desired state of the last successful sync. */
  private lastState: ClusterRoutingState | undefined;
  /** The last sync that added or removed something. */
  lastChange: ClusterSyncResult | undefined;
  /** The peers last handed to onPeers, as one string. */
  private peersKey: string | undefined;

  constructor(private readonly opts: ClusterRoutingOptions) {
    this.log = opts.log.child({ component: 'cluster' });
    this.exec = opts.exec ?? (async (argv) => (await run(null, argv)).stdout);
    this.retryMs = opts.retryMs ?? 1000;
    this.runner = new BoundedFrequencyRunner(() => this.runSync(), {
      minIntervalMs: opts.debounceMs ?? 50,
      maxIntervalMs: opts.cfg.cluster.resyncIntervalMs,
      clock: opts.clock ?? realClock,
    });
  }

  private get cfg(): ClusterNodeConfig { return this.opts.cfg; }

  setNode(name: string, node: ClusterNode | undefined): void {
    const print = node ? fingerprint(node) : undefined;
    if (this.prints.get(name) === print) return;
    if (node && print) { this.nodes.set(name, node); this.prints.set(name, print); } else { this.nodes.delete(name); this.prints.delete(name); }
    if (node && name === this.cfg.nodeName) {
      const configured = this.cfg.podCIDRs.map((c) => formatCidr(parseNetwork(c)));
      if (configured.length && node.podCIDRs.length && fingerprint([...configured].sort()) !== fingerprint([...node.podCIDRs].sort())) {
        this.log.warn({ configured, node: node.podCIDRs }, 'this node\'s podCIDRs in the config differ from its Node object; other nodes route the Node\'s');
      }
    }
    this.trigger();
  }

  setInitialized(): void {
    this.initialized = true;
    this.trigger();
  }

  /** Starts syncing (after the node is wired: the rules point into its podnet table); runs the first sync now. */
  async start(): Promise<void> {
    this.started = true;
    this.stopped = false;
    this.runner.start();
    await this.syncNow();
  }

  /** API source: an informer over every Node (the service source watches only this node's). */
  async startKube(): Promise<void> {
    // Loaded only here, like the service source's client: a manifest node never pays for it.
    const k8s = await import('@kubernetes/client-node');
    const { NodeInformer } = await import('./kube');
    let kubeConfig: InstanceType<typeof k8s.KubeConfig> | undefined;
    const file = this.cfg.kubeconfig;
    if (file && file !== 'in-cluster') { kubeConfig = new k8s.KubeConfig(); kubeConfig.loadFromFile(file); }
    const inf = new NodeInformer({ sink: this, logger: this.log, ...(kubeConfig ? { kubeConfig } : {}) });
    this.informer = inf;
    await inf.start();
  }

  stop(): void {
    this.stopped = true;
    void this.informer?.stop().catch(() => undefined);
    this.runner.stop();
  }

  /** Runs a sync now (start, SIGHUP), after any running one; its outcome is logged at info. */
  async syncNow(loud = true): Promise<void> {
    if (!this.started) return; // before the node is wired (a SIGHUP during start-up)
    this.loud ||= loud;
    await this.runner.runNow();
  }

  /** The nodes, what is programmed for each and their state (`podnetctl cluster`). */
  view(): ClusterView {
    return clusterView({
      mode: this.cfg.cluster.mode, self: this.cfg.nodeName, nodes: this.nodes.values(), state: this.lastState,
      ...(this.last ? { lastSyncAt: this.last.at } : {}), ...(this.last?.error ? { error: this.last.error } : {}),
    });
  }

  private trigger(): void {
    if (!this.started || this.stopped || !this.initialized) return;
    this.runner.run();
  }

  /** The runner's sync function. */
  private runSync(): Promise<void> {
    const loud = this.loud;
    this.loud = false;
    return this.syncOnce(loud);
  }

  private async uplinkMtu(): Promise<number> {
    if (this.cfg.cluster.uplinkMtu) return this.cfg.cluster.uplinkMtu;
    let mtu: number | undefined;
    try {
      const out = await this.exec(['ip', '-j', 'link', 'show', 'dev', this.cfg.cluster.uplink]);
      mtu = (JSON.parse(out) as { mtu?: number }[])[0]?.mtu;
    } catch (e) {
      throw new ClusterError('CLUSTER_PROGRAM', `uplink ${this.cfg.cluster.uplink}: ${(e as Error).message.trim()}`, { cause: e });
    }
    if (!mtu) throw new ClusterError('CLUSTER_PROGRAM', `cannot read the MTU of ${this.cfg.cluster.uplink}`);
    return mtu;
  }

  private async syncOnce(loud: boolean): Promise<void> {
    if (!this.initialized || this.stopped) return;
    const c = this.cfg.cluster;
    if (c.mode === 'none') return;
    const t0 = performance.now();
    const nodes = [...this.nodes.values()];
    try {
      if (!this.nodes.has(this.cfg.nodeName)) {
        // Nothing is withdrawn: without our own Node we cannot tell what is ours to route.
        throw new ClusterError('CLUSTER_NO_SELF', `no Node object named ${this.cfg.nodeName} (yet); routes left as they are`);
      }
      const rc: ClusterRoutingConfig = {
        mode: c.mode, uplink: c.uplink, uplinkMtu: await this.uplinkMtu(),
        podTable: this.cfg.routeTable ?? DEFAULT_ROUTE_TABLE, vxlan: c.vxlan,
      };
      const state = desiredClusterRouting(this.cfg.nodeName, nodes, rc);
      const r = await syncNodeRoutes(state, { ...(this.opts.exec ? { exec: this.opts.exec } : {}), allowHostNetns: this.cfg.allowHostNetns, vxlanName: c.vxlan.name });
      if (state.podMtu && state.podMtu !== this.last?.podMtu) this.opts.onPodMtu?.(state.podMtu);
      const peers = clusterPeers(nodes, this.cfg.nodeName);
      if (peers.join() !== this.peersKey) {
        this.peersKey = peers.join();
        this.opts.onPeers?.(peers);
      }
      this.last = { ...r, at: Date.now(), podMtu: state.podMtu, nodes: nodes.length, skipped: state.skipped };
      this.lastState = state;
      this.failures = 0;
      const changed = r.added.length + r.removed.length > 0;
      if (changed) this.lastChange = this.last;
      const fields = { mode: c.mode, nodes: nodes.length, added: r.added, removed: r.removed, podMtu: state.podMtu, ...(state.skipped.length ? { skipped: state.skipped } : {}), ms: +(performance.now() - t0).toFixed(1) };
      if (changed || loud) this.log.info(fields, 'cross-node routes synced');
      else this.log.debug(fields, 'cross-node routes synced');
      for (const s of state.skipped) this.log.warn(s, 'remote node not routed');
    } catch (e) {
      const err = e as Error & { code?: string };
      this.failures++;
      const delay = Math.min(30_000, this.retryMs * 2 ** Math.min(this.failures - 1, 5));
      this.last = { added: [], removed: [], at: Date.now(), nodes: nodes.length, skipped: [], error: { code: err.code ?? 'CLUSTER_ERROR', message: err.message } };
      this.log[err.code === 'CLUSTER_NO_SELF' ? 'warn' : 'error']({ code: err.code, err: err.message, retryInMs: delay }, 'cross-node routing sync failed; retrying');
      if (!this.stopped) this.runner.retryAfter(delay);
    }
  }
}

/**
 * `podnetd --cleanup`'s share: every route with our protocol, our rules at their pref and the
 * VXLAN device (which takes its FDB and neighbour entries with it). Safe to repeat.
 */
export async function cleanupCluster(cfg: ClusterNodeConfig, log: Logger, exec?: Exec): Promise<SyncReport> {
  const empty = { mode: 'routed' as const, routes: [], neighbours: [], fdb: [], rules: [], podMtu: 0, skipped: [] };
  const r = await syncNodeRoutes(empty, { ...(exec ? { exec } : {}), allowHostNetns: cfg.allowHostNetns, vxlanName: cfg.cluster.vxlan.name });
  log.info({ removed: r.removed }, 'cross-node routes removed');
  return r;
}

/**
 * The config for `--cleanup` when podCIDRs came from the Node object: the ones recorded in
 * nodeStateFile at start (the wiring to undo was built from them). Otherwise cfg unchanged.
 */
export function cleanupConfig<C extends ClusterNodeConfig>(cfg: C): C {
  if (cfg.podCIDRs.length || !cfg.nodeStateFile) return cfg;
  try {
    const st = JSON.parse(readFileSync(cfg.nodeStateFile, 'utf8')) as { podCIDRs?: unknown };
    const podCIDRs = Array.isArray(st.podCIDRs) ? st.podCIDRs.filter((c): c is string => typeof c === 'string') : [];
    return { ...cfg, podCIDRs };
  } catch {
    return cfg;
  }
}
