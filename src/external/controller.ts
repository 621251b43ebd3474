// podnetd's traffic from outside (NodePort, LB IPs, externalIPs, egress): the glue between the
// config (`external`, `engine.egressMasquerade`), the node's uplinks and the pure model in
// services/external.ts.
//
//   start:  uplink addresses (netlink, this netns) → ExternalNodeContext for the control plane
//           (NodePort / LB / externalIP specs) and the engine's EgressMasquerade sources
//   wired:  Steering.start on the uplinks (TUN exists now) → first reconcile
//   synced: every control-plane sync → reconcile: steeringRules diffed onto tc (Steering.sync
//           adds and deletes single filters, never flushes) and healthChecks onto the
//           HealthCheckServers bound to the NodePort addresses
//   stop:   health check listeners closed; the steering stays, like the TUN and the wiring, so a
//           restart resumes; `podnetd --cleanup` removes it (node/wiring.ts unwireNode)
// A failure programming tc or opening a health check port is logged and retried after
// sync.retryIntervalMs; it never stops the daemon. After a failed tc batch the installed set is
// unknown, so the retry starts the steering over (our prefs only) before syncing again.
//   follow: address changes on the uplinks (netlink RTM_NEWADDR/RTM_DELADDR, netlink/events.ts;
//           a re-read every 5 s if the subscription fails) → NodePort addresses, eTP Cluster
//           masquerade sources, health check listeners, the engine's egress masquerade sources
//           (unless pinned by the config) and their reply steering follow without a restart.
import type { Logger } from 'pino';
import type { ControlPlaneOptions } from '../services/control-plane';
import { healthChecks, steeringRules, type ExternalNodeContext, externalNodeContext } from '../services/external';
import { steerKey, type SteerRule } from '../node/steer-rule';
import type { EndpointSliceInfo, ServiceInfo } from '../services/objects';
import type { EgressMasquerade, EgressSources } from '../engine/types';
import { globalAddresses, type LinkAddress } from '../netlink/addr';
import { watchAddresses, watchOrPoll, type ChangeWatch } from '../netlink/events';
import { linkNames } from '../netlink/link';
import { closeRtnl, openRtnl } from '../netlink/socket';
import { Steering } from '../node/steering';
import type { ExternalNodeConfig } from './config';
import { HealthCheckServers } from './healthcheck';

/** What the control plane exposes for steering and health checks (ControlPlane.externalView). */
export interface ExternalView {
  services: Iterable<ServiceInfo>;
  slicesOf: (svcKey: string) => Iterable<EndpointSliceInfo>;
  node?: ExternalNodeContext;
}

/**
 * Global-scope addresses of `uplinks`, in the current netns, primary ones first (per link in the
 * kernel's order, so the first of each family is the link's primary address). Links that do not
 * exist are reported in `missing`.
 */
export async function uplinkAddresses(uplinks: readonly string[]): Promise<{ addresses: string[]; missing: string[] }> {
  if (uplinks.length === 0) return { addresses: [], missing: [] };
  const sock = openRtnl();
  try {
    const names = await linkNames(sock);
    const index = new Map([...names].map(([i, n]) => [n, i]));
    const all = await globalAddresses(sock);
    const out: LinkAddress[] = [];
    const missing: string[] = [];
    for (const name of uplinks) {
      const idx = index.get(name);
      if (idx === undefined) { missing.push(name); continue; }
      out.push(...all.filter((a) => a.index === idx));
    }
    const ordered = [...out.filter((a) => !a.secondary), ...out.filter((a) => a.secondary)].map((a) => a.ip);
    return { addresses: [...new Set(ordered)], missing };
  } finally {
    closeRtnl(sock);
  }
}

/**
 * The engine's EgressMasquerade from the config and the uplink addresses (the first of each
 * family, the primary); undefined when off. Without any source nothing is masqueraded until an
 * uplink gets an address.
 */
export function egressMasquerade(cfg: ExternalNodeConfig, addresses: readonly string[]): EgressMasquerade | undefined {
  const em = cfg.egressMasquerade;
  if (!em.enabled) return undefined;
  const sourceIPv4 = em.sourceIPv4 ?? addresses.find((a) => !a.includes(':'));
  const sourceIPv6 = em.sourceIPv6 ?? addresses.find((a) => a.includes(':'));
  return {
    podCIDRs: [...cfg.podCIDRs],
    // Pod-to-pod and pod-to-service traffic keeps the pod address; so do the operator's ranges
    // (the cluster-wide pod CIDR on a multi-node cluster, other private networks).
    exemptCIDRs: [...new Set([...cfg.podCIDRs, ...cfg.serviceCIDRs, ...em.exemptCIDRs])],
    ...(sourceIPv4 ? { sourceIPv4 } : {}),
    ...(sourceIPv6 ? { sourceIPv6 } : {}),
    portMin: em.portMin,
    portMax: em.portMax,
  };
}

/** The sources of an EgressMasquerade, as Engine.setEgressSources takes them. */
export function egressSources(em: EgressMasquerade): EgressSources {
  return { ...(em.sourceIPv4 ? { sourceIPv4: em.sourceIPv4 } : {}), ...(em.sourceIPv6 ? { sourceIPv6: em.sourceIPv6 } : {}) };
}

/** What follow() reports. */
export interface ExternalFollowers {
  /** The uplinks' addresses changed (the control plane's node addresses). */
  onAddresses?: (addresses: string[]) => void;
  /** The egress masquerade's sources changed (Engine.setEgressSources). */
  onEgressSources?: (sources: EgressSources) => void;
}

export interface ExternalTrafficOptions {
  cfg: ExternalNodeConfig;
  log: Logger;
  /** The uplinks' addresses (uplinkAddresses), primary first. */
  addresses: readonly string[];
  /** The engine's egress masquerade, when on: its reply ports are steered too. */
  egress?: EgressMasquerade;
  /** Run tc in this named netns instead of the current one (tests). */
  netns?: string;
}

/** Steering and health check node ports of one podnetd, kept equal to the control plane's view. */
export class ExternalTraffic {
  private readonly log: Logger;
  private readonly steering: Steering;
  private health: HealthCheckServers;
  /** The uplinks' addresses now, primary first (followed after start: follow()). */
  private addresses: string[];
  /** The engine's egress masquerade now (its sources follow the addresses). */
  private egressNow: EgressMasquerade | undefined;
  private addressWatch: ChangeWatch | undefined;
  private view: () => ExternalView = () => ({ services: [], slicesOf: () => [] });
  private proxyHealthy: () => boolean = () => true;
  private started = false;
  private steeringOk = false;
  private installedKeys = '';
  private running: Promise<void> | undefined;
  private again = false;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Counters for status and tests. */
  readonly counts = { reconciles: 0, steeringErrors: 0, rules: 0, healthChecks: 0 };

  /** Reads the uplinks' addresses and builds the glue (nothing is programmed yet). */
  static async create(cfg: ExternalNodeConfig, log: Logger): Promise<ExternalTraffic> {
    const { addresses, missing } = await uplinkAddresses(cfg.external.uplinks);
    if (missing.length) log.warn({ uplinks: missing }, 'external.uplinks: no such link; steering on it fails until it exists (retried)');
    if (addresses.length === 0) log.warn({ uplinks: cfg.external.uplinks }, 'the uplinks have no global address: no NodePort addresses, no default masquerade source');
    const egress = egressMasquerade(cfg, addresses);
    if (egress && !egress.sourceIPv4 && !egress.sourceIPv6) log.warn('engine.egressMasquerade: no source address yet (uplinks without address, no sourceIPv4/sourceIPv6): egress not masqueraded until an uplink gets one');
    return new ExternalTraffic({ cfg, log, addresses, ...(egress ? { egress } : {}) });
  }

  constructor(private readonly opts: ExternalTrafficOptions) {
    this.log = opts.log.child({ component: 'external' });
    const { cfg } = opts;
    this.addresses = [...opts.addresses];
    this.egressNow = opts.egress;
    this.steering = new Steering({ uplinks: cfg.external.uplinks, tun: cfg.tun.name, allowHostNetns: cfg.allowHostNetns, ...(opts.netns ? { netns: opts.netns } : {}) });
    this.health = this.healthServers();
  }

  /** Health check listeners bound to the NodePort addresses of the moment. */
  private healthServers(): HealthCheckServers {
    return new HealthCheckServers({
      bindAddresses: [...this.nodeContext().nodePortIPs],
      proxyHealthy: () => this.proxyHealthy(),
      onError: (err, spec) => this.log.error({ err, code: err.code, service: `${spec.namespace}/${spec.name}`, port: spec.port }, 'health check port not served; retried on the next sync'),
    });
  }

  /** The uplinks' addresses as last read, primary first. */
  uplinkAddresses(): string[] { return [...this.addresses]; }

  /**
   * Follows address changes on the uplinks: netlink address events (a re-read every
   * `pollMs` when the subscription cannot be made). `on.onAddresses` gets the new list (the
   * control plane's node addresses), `on.onEgressSources` the egress masquerade's new sources;
   * steering and health check listeners follow here.
   */
  follow(on: ExternalFollowers, pollMs = 5000): void {
    const refresh = () => { void this.refreshAddresses(on).catch((err: unknown) => this.log.warn({ err }, 'reading the uplink addresses failed')); };
    this.addressWatch = watchOrPoll(watchAddresses, refresh, pollMs,
      (err) => this.log.warn({ err, pollMs }, 'no address change events; re-reading the uplink addresses periodically'));
    refresh(); // a change between start and the subscription
  }

  /**
   * Re-reads the uplinks' addresses; on a change, moves NodePort addresses, health checks and
   * the egress masquerade's sources (the config's pinned ones stay).
   */
  async refreshAddresses(on: ExternalFollowers = {}): Promise<boolean> {
    const { addresses } = await uplinkAddresses(this.opts.cfg.external.uplinks);
    if (this.stopped || addresses.join() === this.addresses.join()) return false;
    const before = this.addresses;
    this.addresses = addresses;
    const node = this.nodeContext();
    this.log.info({ uplinks: this.opts.cfg.external.uplinks, before, addresses, nodePortIPs: node.nodePortIPs }, 'uplink addresses changed');
    const em = this.egressNow;
    const want = egressMasquerade(this.opts.cfg, addresses);
    if (em && want && (want.sourceIPv4 !== em.sourceIPv4 || want.sourceIPv6 !== em.sourceIPv6)) {
      this.egressNow = want;
      this.log.info({ before: egressSources(em), sources: egressSources(want) }, 'egress masquerade sources follow the uplinks');
      on.onEgressSources?.(egressSources(want));
    }
    const old = this.health;
    this.health = this.healthServers();
    await old.close();
    on.onAddresses?.(addresses);
    this.kick();
    return true;
  }

  /** The egress masquerade now (undefined: off); its sources follow the uplinks' addresses. */
  get egress(): EgressMasquerade | undefined { return this.egressNow; }

  /** This node for the model (NodePort addresses, eTP Cluster masquerade source). */
  nodeContext(): ExternalNodeContext {
    const { cfg } = this.opts;
    return externalNodeContext(this.addresses, cfg.external.nodePortAddresses, this.addresses);
  }

  /** What the control plane is constructed with: NodePort/LB/externalIP specs on, and a hook after each sync. */
  controlPlaneOptions(): Pick<ControlPlaneOptions, 'external' | 'onSynced'> {
    return {
      external: { nodePortAddresses: [...this.opts.cfg.external.nodePortAddresses], nodeAddresses: [...this.addresses] },
      onSynced: () => this.kick(),
    };
  }

  /**
   * Steering on the uplinks (the TUN must exist: accept_local is set on it) and the first
   * reconcile. `view` reads the control plane (absent: the tables source; only the NodePort range
   * and the egress reply ports are steered). `proxyHealthy` feeds the health checks' answer.
   */
  async start(view: (() => ExternalView) | undefined, proxyHealthy?: () => boolean): Promise<void> {
    if (view) this.view = view;
    if (proxyHealthy) this.proxyHealthy = proxyHealthy;
    this.started = true;
    this.kick();
    await this.idle();
  }

  /** Resolves when no reconcile is running or queued (tests, start-up). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Schedules a reconcile (coalesced: one runs at a time, at most one more is queued). */
  kick(): void {
    if (!this.started || this.stopped) return;
    if (this.running) { this.again = true; return; }
    this.running = this.reconcile().finally(() => {
      this.running = undefined;
      if (this.again) { this.again = false; this.kick(); }
    });
  }

  /** The rules for the current view (also what podnetctl/tests compare against). */
  rules(): SteerRule[] {
    const v = this.view();
    const node = v.node ?? this.nodeContext();
    const em = this.egressNow;
    const sources = em ? [em.sourceIPv4, em.sourceIPv6].filter((s): s is string => !!s) : [];
    return steeringRules(v.services, node, {
      nodePortRange: this.opts.cfg.external.nodePortRange,
      ...(em ? { egressMasquerade: { sources, portMin: em.portMin, portMax: em.portMax } } : {}),
    });
  }

  private async reconcile(): Promise<void> {
    this.counts.reconciles++;
    let failed = false;
    try {
      const rules = this.rules();
      const keys = rules.map(steerKey).join('\n');
      if (!this.steeringOk || keys !== this.installedKeys) {
        if (!this.steeringOk) await this.steering.start();
        this.steeringOk = true;
        const r = await this.steering.sync(rules);
        this.installedKeys = keys;
        this.counts.rules = rules.length;
        if (r.added || r.removed) this.log.info({ added: r.added, removed: r.removed, rules: rules.length, uplinks: this.opts.cfg.external.uplinks }, 'steering updated');
      }
    } catch (err) {
      failed = true;
      this.steeringOk = false; // the installed set is unknown: start over on the retry
      this.counts.steeringErrors++;
      this.log.error({ err, code: (err as { code?: string }).code }, 'programming the uplink steering failed; retry in %d ms', this.opts.cfg.sync.retryIntervalMs);
    }
    try {
      const v = this.view();
      // Without a node address there is nothing to bind to (never the wildcard: see healthcheck.ts).
      const specs = this.nodeContext().nodePortIPs.length ? healthChecks(v.services, v.slicesOf, this.opts.cfg.nodeName) : [];
      await this.health.update(specs);
      this.counts.healthChecks = this.health.ports().length;
      if (this.health.ports().length !== specs.length) failed = true; // a port could not be opened
    } catch (err) {
      failed = true;
      this.log.error({ err }, 'updating health check ports failed');
    }
    if (failed && !this.stopped && !this.retry) {
      this.retry = setTimeout(() => { this.retry = undefined; this.kick(); }, this.opts.cfg.sync.retryIntervalMs);
      this.retry.unref();
    }
  }

  /** Health check ports served right now. */
  healthPorts(): number[] { return this.health.ports(); }

  /** Stops reconciling and closes the health check listeners; the tc steering stays (see header). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.addressWatch?.close();
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    await this.idle().catch(() => undefined);
    await this.health.close();
  }

  /** Removes the steering now (tests; podnetd itself leaves it to --cleanup). */
  async removeSteering(): Promise<void> {
    await this.steering.stop();
    this.steeringOk = false;
    this.installedKeys = '';
  }
}
