// podnetd's lifecycle as one script of named steps:
//   start:  defaults (podCIDRs, serviceCIDRs, uplinks the config leaves out: from the Node, the
//           ServiceCIDRs, the links; defaults.ts, node-facts.ts) → engine (flow table from the state file) → health/metrics + control socket →
//           source + control plane → first sync programmed (restored flows rebound) → TUN
//           attached (persistent) → node wired → READY=1
//   reload: SIGHUP: re-read the config (bad file: keep running), apply what can change live,
//           rescan the source
//   stop:   STOPPING=1 → source and sync stopped → listeners closed → engine threads stopped.
//           The TUN, the wiring and the flow state stay, so a restart resumes every connection;
//           `--cleanup` (cleanup.ts) is what removes them.
// The first sync is programmed before the TUN is attached, so the first packet read after a
// restart already sees the full table and its restored flows.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { SyncMetrics } from '../services';
import { API_VERSION, type StatusReply } from '../ctl/api';
import { Engine, engineVersion } from '../engine';
import type { TunInfo } from '../engine/types';
import { wireNode, type NodeWiringConfig } from '../node/wiring';
import { ClusterRouting, clusterManifestHook } from '../cluster/controller';
import { restartKeys, type DaemonConfig } from './config';
import { ControlApi, toWireEngineStatus, toWireNetwork, type PolicyState } from './control-api';
import { resolvePodCIDRs, resolveServiceCIDRs, resolveUplinks, sameValues, type Resolved } from './defaults';
import { linkFacts, NodeFacts } from './node-facts';
import { closeRtnl, openRtnl } from '../netlink/socket';
import { linkIndex } from '../netlink/link';
import { deleteServiceRoute, ensureServiceRoute } from '../node/routing';
import { ExternalTraffic } from '../external/controller';
import { registerEngineMetrics } from './engine-metrics';
import { AntispoofMetrics } from './antispoof-metrics';
import { FastPath, offNodeIngress } from './fast-path';
import { DaemonError } from './errors';
import { HttpEndpoints } from './http';
import { MonitorHub } from './monitor';
import { Notifier } from './notify';
import { makeSource, ProgrammedSink, type TableSource } from './sources';
import type { DatapathProbe } from '../probe/datapath';
import { pauseEngineForTest, probeAddresses, startProbe, testHooksEnabled, toWireProbe } from './probe';

export function wiringConfig(cfg: DaemonConfig): NodeWiringConfig {
  return {
    bridge: cfg.bridge, tun: cfg.tun.name, podCIDRs: cfg.podCIDRs, serviceCIDRs: cfg.serviceCIDRs,
    routeTable: cfg.routeTable, allowHostNetns: cfg.allowHostNetns,
    uplinks: cfg.external.uplinks,
    probeAddresses: probeAddresses(cfg),
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, err: () => Error): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => { t = setTimeout(() => reject(err()), ms); })]).finally(() => clearTimeout(t));
}

/** What the node state file holds besides the pod CIDRs: what `--cleanup` needs when they were defaulted. */
export interface NodeStateExtra { mtu?: number; serviceCIDRs?: string[]; uplinks?: string[] }

/**
 * Records the node's pod CIDRs (and, with VXLAN, the pod MTU) where the CNI plugin looks when its
 * config names no subnet or mtu (src/cni/ipam/node.ts), atomically: a plugin never reads half a file.
 * Defaulted service CIDRs and uplinks go there too, for `--cleanup` (cleanup.ts).
 */
function recordNodeState(file: string, podCIDRs: string[], extra: NodeStateExtra): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  const { mtu, serviceCIDRs, uplinks } = extra;
  writeFileSync(tmp, `${JSON.stringify({ podCIDRs, ...(mtu ? { mtu } : {}), ...(serviceCIDRs ? { serviceCIDRs } : {}), ...(uplinks ? { uplinks } : {}) })}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}

/** The three node settings podnetd may default, as resolved (defaults.ts). */
interface NodeDefaults { podCIDRs: Resolved; serviceCIDRs: Resolved; uplinks: Resolved }

export class Daemon {
  private engine: Engine | undefined;
  private source: TableSource | undefined;
  private tun: TunInfo | undefined;
  /** podnetd's one metrics registry (/metrics): process, sync, engine and anti-spoofing metrics. */
  private readonly registry = new Registry();
  private readonly metrics = new SyncMetrics(this.registry);
  /** MTU for pods on this node once the cluster routing computed it (VXLAN); recorded for the CNI. */
  private podMtu: number | undefined;
  /** Anti-spoofing drops on the pod veths (tc counters, read at each scrape). */
  private antispoof: AntispoofMetrics | undefined;
  private fastPath: FastPath | undefined;
  private readonly notifier: Notifier;
  private readonly http: HttpEndpoints;
  private readonly control: ControlApi;
  /** podnetctl monitor: the engine's events and the planes' table versions, to connected clients. */
  private readonly monitor: MonitorHub;
  private readonly startedAt = Date.now();
  private cniServer: import('node:net').Server | undefined;
  /** Cross-node routing from Node objects (cfg.cluster.mode routed|vxlan). */
  private cluster: ClusterRouting | undefined;
  /** NodePort/LB/externalIP steering and health check ports (cfg.external.uplinks set). */
  private external: ExternalTraffic | undefined;
  private ready = false;
  private stopping = false;
  /** The config as given (this.cfg is it with the defaults filled in); SIGHUP compares against it. */
  private configured: DaemonConfig;
  /** The Node and ServiceCIDR objects, when something is left to default. */
  private facts: NodeFacts | undefined;
  private defaults: NodeDefaults | undefined;
  /** The node is wired: a service CIDR change moves the routes into the TUN. */
  private wired = false;
  private serviceCIDRUpdate = Promise.resolve();
  /** The datapath probe behind /livez (health.probe); started once the node is wired. */
  private probe: DatapathProbe | undefined;

  constructor(private cfg: DaemonConfig, private readonly log: Logger) {
    this.configured = cfg;
    this.notifier = new Notifier(log);
    collectDefaultMetrics({ register: this.registry });
    registerEngineMetrics(this.registry, () => {
      const e = this.engine;
      return e ? { stats: () => e.stats(), tun: this.tun?.name } : undefined;
    }, this.startedAt);
    this.http = new HttpEndpoints({
      ready: () => this.ready,
      syncing: () => this.source?.syncing(this.cfg.sync.healthzTimeoutMs) ?? true,
      lastUpdatedMs: () => this.source?.lastUpdatedMs() ?? 0,
      metrics: () => this.metricsText(),
      live: () => this.probe?.live() ?? true,
    }, log);
    this.monitor = new MonitorHub(() => this.engine, log);
    this.control = new ControlApi({
      status: () => this.status(),
      specs: () => this.source?.specs() ?? [],
      stats: () => this.requireEngine().stats(),
      flows: (limit) => this.requireEngine().flows(limit),
      trace: (q) => this.requireEngine().trace(q),
      policies: () => this.policyState(),
      cluster: () => this.cluster?.view(),
      monitor: this.monitor,
      ...(testHooksEnabled() ? { pauseEngineForTest: (ms: number) => pauseEngineForTest(this.engine, ms, this.log) } : {}),
    }, log);
  }

  get config(): DaemonConfig { return this.cfg; }

  private requireEngine(): Engine {
    if (!this.engine) throw new DaemonError('DAEMON_BAD_REQUEST', 'engine not running');
    return this.engine;
  }

  async start(): Promise<void> {
    const t0 = performance.now();
    const step = (name: string, extra: object = {}) => this.log.debug({ step: name, ms: +(performance.now() - t0).toFixed(1), ...extra }, 'start');
    // Listeners first: while the Node is awaited or a large cluster is being listed, /livez
    // answers 200, /healthz 503 (not ready yet) and podnetctl status tells what podnetd waits for.
    step('listeners');
    const lc = this.configured;
    await this.http.start(lc.healthzBindAddress, lc.metricsBindAddress);
    if (lc.controlSocket) await this.control.start(lc.controlSocket);
    if (lc.cniSocket) {
      // The CNI plugin in-process: the `podnet` shim forwards a runtime's call here instead of
      // starting Node for every pod (src/cni/server.ts). Loaded only when enabled.
      const { createCniServer } = await import('../cni/server');
      mkdirSync(path.dirname(lc.cniSocket), { recursive: true, mode: 0o755 });
      // With the kernel flow cache on, ADD installs a pod's anti-spoofing through it (fast-path.ts).
      this.cniServer = await createCniServer(lc.cniSocket, { kernelAntispoof: () => this.fastPath?.cniAntispoof() }).catch((e: Error) => {
        throw new DaemonError('DAEMON_LISTEN', `CNI socket ${lc.cniSocket}: ${e.message}`, { cause: e });
      });
      this.log.info({ socket: lc.cniSocket }, 'CNI server listening');
    }

    // Before the engine: the egress source, the model's node addresses and the wiring use them.
    step('defaults');
    await this.resolveDefaults();
    const cfg = this.cfg;

    // The uplinks' addresses first: the engine's egress masquerade source and the model's node
    // addresses come from them.
    if (cfg.external.uplinks.length) this.external = await ExternalTraffic.create(cfg, this.log);
    step('engine');
    if (cfg.stateFile) mkdirSync(path.dirname(cfg.stateFile), { recursive: true, mode: 0o700 });
    const egress = this.external?.egress;
    this.engine = new Engine({ ...cfg.engine, ...(egress ? { egressMasquerade: egress } : {}), ...(cfg.stateFile ? { stateFile: cfg.stateFile } : {}) });
    const restored = this.engine.stats();
    this.log.info({ engine: engineVersion(), stateFile: cfg.stateFile || null, restoredFlows: restored.restoredFlows, flows: restored.flows.active }, 'engine created');
    this.fastPath = new FastPath(this.engine, cfg, this.log);
    this.fastPath.register(this.registry);
    this.fastPath.enable();
    // Before the TUN: flows from off-node adopted from a previous run stay cached at the uplinks.
    // The VXLAN device is picked up by the link events once the cluster plane creates it.
    await this.fastPath.followUplinks(offNodeIngress(cfg)).catch((err: unknown) => this.log.warn({ err }, 'kernel flow cache: cannot follow the uplinks'));

    step('source');
    const sink = new ProgrammedSink(this.monitor.tables(this.engine));
    if (cfg.cluster.mode !== 'none') {
      this.cluster = new ClusterRouting({
        cfg, log: this.log,
        // VXLAN pods need the smaller MTU: the CNI takes it from the node state when its config has none.
        onPodMtu: (mtu) => {
          this.podMtu = mtu;
          if (this.cfg.nodeStateFile && this.cfg.podCIDRs.length) recordNodeState(this.cfg.nodeStateFile, this.cfg.podCIDRs, this.nodeStateExtra());
        },
        // Flows between local pods and these (other nodes' pods, the nodes) ride the kernel flow cache.
        onPeers: (cidrs) => this.fastPath?.setClusterPeers(cidrs),
      });
    }
    this.source = makeSource(cfg, sink, this.metrics, this.log, this.monitor.policy(this.engine),
      this.cluster && cfg.manifests ? [clusterManifestHook(this.cluster)] : undefined, this.external?.controlPlaneOptions());
    await this.source.start();
    if (this.cluster && cfg.kubeconfig) await this.cluster.startKube();
    step('first-sync');
    await withTimeout(sink.firstSync, cfg.sync.firstSyncTimeoutMs, () =>
      new DaemonError('DAEMON_FIRST_SYNC_TIMEOUT', `no table programmed within ${cfg.sync.firstSyncTimeoutMs} ms from ${this.source?.description}`));

    step('tun');
    this.tun = this.engine.attachTun({ name: cfg.tun.name, queues: cfg.tun.queues, ...(cfg.tun.batch ? { batch: cfg.tun.batch } : {}),
      ...(cfg.tun.busyPollUs !== undefined ? { busyPollUs: cfg.tun.busyPollUs } : {}), persist: cfg.tun.persist, steering: cfg.tun.steering });
    if (this.tun.steeringError) this.log.warn({ steering: this.tun.steering, reason: this.tun.steeringError }, 'TUN steering by CPU unavailable: queues steered by flow hash');
    step('wiring');
    const wiring = await wireNode(wiringConfig(this.cfg), this.log);
    this.log.info({ wiring }, 'node wired');
    this.wired = true;
    await this.fastPath.start().catch((err: unknown) => this.log.warn({ err }, 'kernel flow cache: cannot follow the bridge\'s pods'));
    if (cfg.nodeStateFile) recordNodeState(cfg.nodeStateFile, this.cfg.podCIDRs, this.nodeStateExtra());
    // A ServiceCIDR that changed while the node was being wired.
    this.factsChanged();
    if (this.cluster) {
      // After the wiring: the "from other nodes into the engine" rules point into its podnet table.
      // Not awaited: local service comes first; the sync logs its outcome and retries by itself.
      step('cluster');
      void this.cluster.start();
    }

    if (this.external) {
      // After the TUN and the wiring: the steering redirects into the TUN. tc errors are retried, never fatal.
      step('external');
      const cp = this.source.controlPlane();
      await this.external.start(cp ? () => cp.externalView() : undefined, () => this.source?.syncing(this.cfg.sync.healthzTimeoutMs) ?? false);
      // Address changes on the uplinks (DHCP, `ip addr add`) move the NodePorts without a restart.
      const engine = this.engine;
      this.external.follow({
        onAddresses: (addresses) => this.source?.controlPlane()?.setExternalNodeAddresses(addresses),
        onEgressSources: (sources) => {
          const { flowsCut } = engine.setEgressSources(sources);
          if (flowsCut) this.log.info({ flowsCut }, 'flows masqueraded to a gone address cut');
        },
      });
      this.log.info({ uplinks: cfg.external.uplinks, nodePortIPs: this.external.nodeContext().nodePortIPs, egressMasquerade: this.external.egress ?? null, rules: this.external.counts.rules, healthChecks: this.external.healthPorts() }, 'external traffic steered');
    }

    // Only where pods can exist: the metrics endpoint on, in the node's own namespace.
    if (cfg.metricsBindAddress && !cfg.tables) {
      this.antispoof ??= new AntispoofMetrics(this.log, this.registry);
    }

    step('probe');
    this.probe = startProbe(cfg, this.registry, this.log);

    this.ready = true;
    this.notifier.send(`READY=1\nSTATUS=serving ${this.source.specs().length} service ports from ${this.source.description}\nMAINPID=${process.pid}`);
    this.notifier.startWatchdog(() => this.source?.syncing(cfg.sync.healthzTimeoutMs) ?? false);
    const st = this.engine.stats();
    this.log.info({
      pid: process.pid, tun: this.tun.name, offloads: this.tun.offloads, queues: this.tun.queues, steering: this.tun.steering, source: this.source.description,
      servicePorts: this.source.specs().length, restoredFlows: st.restoredFlows, flows: st.flows.active,
      startupMs: +(performance.now() - t0).toFixed(1),
    }, 'ready');
  }

  /**
   * Fills in what the config leaves out (defaults.ts): podCIDRs from this node's Node (waiting for
   * them), serviceCIDRs from the ServiceCIDR objects or kubeadm's default, uplinks from the links
   * holding the node's InternalIPs or the default route. Each default is logged once.
   */
  private async resolveDefaults(): Promise<void> {
    const c = this.configured;
    if (!c.tables && (c.podCIDRs.length === 0 || c.serviceCIDRs.length === 0 || c.external.uplinksAuto)) {
      this.facts = new NodeFacts({ nodeName: c.nodeName, manifests: c.manifests, kubeconfig: c.kubeconfig, log: this.log, onChange: () => this.factsChanged() });
      await withTimeout(this.facts.start(), c.sync.firstSyncTimeoutMs, () =>
        new DaemonError('DAEMON_FIRST_SYNC_TIMEOUT', `no Node ${c.nodeName} list from ${c.manifests ? `manifests:${c.manifests}` : `kubeconfig:${c.kubeconfig}`} within ${c.sync.firstSyncTimeoutMs} ms`));
    }
    const facts = this.facts;
    let podCIDRs = resolvePodCIDRs(c.podCIDRs, facts?.node);
    if (!podCIDRs && facts) {
      this.log.info({ node: c.nodeName }, 'no podCIDRs in the config: waiting for the Node object\'s spec.podCIDRs');
      await withTimeout(facts.waitForPodCIDRs(), c.sync.firstSyncTimeoutMs, () =>
        new DaemonError('DAEMON_FIRST_SYNC_TIMEOUT', `Node ${c.nodeName} got no spec.podCIDRs within ${c.sync.firstSyncTimeoutMs} ms (set podCIDRs, or give the source the Node object)`));
      podCIDRs = resolvePodCIDRs(c.podCIDRs, facts.node);
    }
    if (!podCIDRs) throw new DaemonError('DAEMON_FIRST_SYNC_TIMEOUT', 'no podCIDRs');
    const serviceCIDRs = resolveServiceCIDRs(c.serviceCIDRs, facts?.serviceCIDRs() ?? [], podCIDRs.values);
    const uplinks = c.external.uplinksAuto
      ? await linkFacts().then((l) => resolveUplinks([], true, facts?.node, l.links, l.defaultRouteLinks))
      : resolveUplinks(c.external.uplinks, false, undefined, [], []);
    this.defaults = { podCIDRs, serviceCIDRs, uplinks };
    this.cfg = { ...c, podCIDRs: podCIDRs.values, serviceCIDRs: serviceCIDRs.values, external: { ...c.external, uplinks: uplinks.values } };
    for (const [key, r] of Object.entries(this.defaults) as [string, Resolved][]) {
      if (r.source !== 'config') this.log.info({ [key]: r.values, from: r.source }, `${key} not in the config: ${r.values.join(', ') || 'none'} (${r.source})`);
    }
  }

  /** The Node or a ServiceCIDR changed: service CIDRs move; what needs a restart is logged. */
  private factsChanged(): void {
    const d = this.defaults, facts = this.facts;
    if (!d || !facts || this.stopping) return;
    const c = this.configured;
    const pod = resolvePodCIDRs(c.podCIDRs, facts.node);
    if (pod && !sameValues(pod.values, d.podCIDRs.values)) this.log.warn({ running: d.podCIDRs.values, node: pod.values }, 'the Node\'s pod CIDRs changed; a restart applies them');
    if (c.external.uplinksAuto) {
      // The uplinks themselves stay; their addresses are followed (ExternalTraffic.follow).
      const ips = facts.node?.internalIPs ?? [];
      if (d.uplinks.source.startsWith('InternalIP') && !ips.every((ip) => d.uplinks.source.includes(ip))) {
        this.log.warn({ uplinks: d.uplinks.values, internalIPs: ips }, 'the Node\'s InternalIPs changed; a restart picks the uplinks again');
      }
    }
    const next = resolveServiceCIDRs(c.serviceCIDRs, facts.serviceCIDRs(), d.podCIDRs.values);
    if (sameValues(next.values, d.serviceCIDRs.values)) { d.serviceCIDRs = next; return; }
    if (!this.wired) return; // picked up right after the wiring
    this.serviceCIDRUpdate = this.serviceCIDRUpdate.then(() => this.moveServiceRoutes(next)).catch((err: unknown) =>
      this.log.error({ err, serviceCIDRs: next.values }, 'moving the service routes failed; a restart applies the new service CIDRs'));
  }

  /** Service CIDRs changed at run time: routes into the TUN added before the old ones go. */
  private async moveServiceRoutes(next: Resolved): Promise<void> {
    const d = this.defaults;
    if (!d || sameValues(next.values, d.serviceCIDRs.values)) return;
    const before = d.serviceCIDRs.values;
    const sock = openRtnl();
    try {
      const tun = await linkIndex(sock, this.cfg.tun.name);
      if (tun === undefined) throw new DaemonError('DAEMON_BAD_REQUEST', `TUN ${this.cfg.tun.name} is gone`);
      for (const cidr of next.values) if (!before.includes(cidr)) await ensureServiceRoute(sock, tun, cidr);
      for (const cidr of before) if (!next.values.includes(cidr)) await deleteServiceRoute(sock, tun, cidr);
    } finally {
      closeRtnl(sock);
    }
    d.serviceCIDRs = next;
    this.cfg = { ...this.cfg, serviceCIDRs: next.values };
    if (this.cfg.nodeStateFile) recordNodeState(this.cfg.nodeStateFile, this.cfg.podCIDRs, this.nodeStateExtra());
    this.log.info({ before, serviceCIDRs: next.values, from: next.source }, 'service CIDRs changed; routes into the TUN moved');
  }

  private nodeStateExtra(): NodeStateExtra {
    const d = this.defaults;
    return {
      ...(this.podMtu ? { mtu: this.podMtu } : {}),
      ...(d && d.serviceCIDRs.source !== 'config' ? { serviceCIDRs: d.serviceCIDRs.values } : {}),
      ...(d && d.uplinks.source !== 'config' && d.uplinks.values.length ? { uplinks: d.uplinks.values } : {}),
    };
  }

  /** SIGHUP with a freshly parsed config (null: the file was bad; just rescan the source). */
  async reload(next: DaemonConfig | null): Promise<void> {
    this.notifier.send('RELOADING=1');
    try {
      if (next) {
        const needRestart = restartKeys(this.configured, next);
        if (next.logLevel !== this.cfg.logLevel) this.log.level = next.logLevel;
        this.log.info({ logLevel: next.logLevel, ...(needRestart.length ? { needRestart } : {}) }, 'config reloaded');
        if (needRestart.length) this.log.warn({ keys: needRestart }, 'these keys change only with a restart; running with the old values');
        this.cfg = { ...this.cfg, logLevel: next.logLevel };
        this.configured = { ...this.configured, logLevel: next.logLevel };
      }
      await this.source?.reload();
      await this.cluster?.syncNow();
    } finally {
      this.notifier.send('READY=1');
    }
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.ready = false;
    this.notifier.send('STOPPING=1');
    this.notifier.stop();
    this.log.info({ reason }, 'stopping');
    await this.source?.stop().catch((err: unknown) => this.log.warn({ err }, 'source stop failed'));
    await this.facts?.stop().catch((err: unknown) => this.log.warn({ err }, 'defaults source stop failed'));
    this.cluster?.stop();
    this.probe?.stop();
    await this.external?.stop().catch((err: unknown) => this.log.warn({ err }, 'external stop failed'));
    this.fastPath?.stop();
    this.monitor.stop();
    await Promise.all([this.http.stop(), this.control.stop(), this.stopCni()]);
    if (this.engine) {
      this.engine.detachTun();
      this.engine.close();
    }
    this.log.info('stopped (TUN, wiring and flow state kept for the next start; --cleanup removes them)');
  }

  private async stopCni(): Promise<void> {
    const s = this.cniServer;
    if (!s) return;
    this.cniServer = undefined;
    await new Promise<void>((r) => s.close(() => r()));
    rmSync(this.cfg.cniSocket, { force: true });
  }

  logStats(): void {
    if (this.engine) this.log.info({ stats: this.engine.stats() }, 'stats');
  }

  /** /v1/policies: undefined when the source has no PolicyControl (tables mode). */
  private policyState(): PolicyState | undefined {
    // ControlPlaneSource (manifests, kubeconfig) holds one; TableSource does not declare it.
    const policy = this.source?.policyControl();
    if (!policy) return undefined;
    return { tables: policy.tables(), stats: this.requireEngine().policyStats() };
  }

  private metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  status(): StatusReply {
    const e = this.requireEngine();
    const st = e.stats();
    const cp = this.source?.controlPlane();
    const specs = this.source?.specs() ?? [];
    const cs = cp?.status();
    const last = this.source?.lastUpdatedMs() ?? 0;
    return {
      apiVersion: API_VERSION,
      podnetd: {
        pid: process.pid, nodeName: this.cfg.nodeName, source: this.source?.description ?? '',
        startedAt: new Date(this.startedAt).toISOString(), uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
        ready: this.ready, healthy: this.ready && (this.source?.syncing(this.cfg.sync.healthzTimeoutMs) ?? false),
      },
      ...(this.defaults ? { network: toWireNetwork(this.defaults, this.external?.uplinkAddresses() ?? [], this.external?.egress) } : {}),
      ...(this.probe ? { probe: toWireProbe(this.probe) } : {}),
      engine: toWireEngineStatus(st, this.tun),
      fastPath: this.fastPath?.status() ?? { mode: 'off', reason: 'engine not started' },
      sync: {
        initialized: cs?.initialized ?? this.ready,
        services: cs?.services ?? new Set(specs.map((s) => s.name?.split(':')[0])).size,
        endpointSlices: cs?.endpointSlices ?? 0,
        servicePorts: cs?.servicePorts ?? specs.length,
        backends: cs?.backends ?? specs.reduce((a, s) => a + s.backends.length, 0),
        pending: cs?.pending ?? 0,
        lastUpdated: last ? new Date(last).toISOString() : '',
        ...(cs?.lastSync ? { lastSync: { full: cs.lastSync.full, upserts: cs.lastSync.upserts, removes: cs.lastSync.removes, durationMs: +cs.lastSync.durationMs.toFixed(3), ...(cs.lastSync.error ? { error: cs.lastSync.error.message } : {}) } } : {}),
      },
    };
  }
}
