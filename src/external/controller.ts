// podnetd's traffic from outside: the glue between the config (`external`,
// `engine.egressMasquerade`), the node's uplinks and the pure model in src/services/external.ts.
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
// The uplink addresses are read once at start: a changed node address needs a restart.
import { createRtNetlink } from 'netlink';
import type { Logger } from 'pino';
import type { ControlPlaneOptions } from '../services/control-plane';
import { healthChecks, steeringRules, type ExternalNodeContext, externalNodeContext } from '../services/external';
import { steerKey, type SteerRule } from '../node/steer-rule';
import type { EndpointSliceInfo, ServiceInfo } from '../services/objects';
import type { EgressMasquerade } from '../engine/types';
import { ipText } from '../net/ip';
import { Steering } from '../node/steering';
import type { ExternalNodeConfig } from './config';
import { HealthCheckServers } from './healthcheck';

/** What the control plane exposes for steering and health checks (ControlPlane.externalView). */
export interface ExternalView {
  services: Iterable<ServiceInfo>;
  slicesOf: (svcKey: string) => Iterable<EndpointSliceInfo>;
  node?: ExternalNodeContext;
}

/** One address of an uplink as netlink reports it. */
interface UplinkAddress { ip: string; family: 4 | 6; secondary: boolean }

const AF_INET = 2, AF_INET6 = 10, RT_SCOPE_UNIVERSE = 0;

/**
 * Global-scope addresses of `uplinks`, in the current netns, primary ones first (per link in the
 * kernel's order, so the first of each family is the link's primary address). Links that do not
 * exist are reported in `missing`.
 */
export async function uplinkAddresses(uplinks: readonly string[]): Promise<{ addresses: string[]; missing: string[] }> {
  if (uplinks.length === 0) return { addresses: [], missing: [] };
  const sock = createRtNetlink();
  try {
    const links = await sock.getLinks();
    const index = new Map(links.map((l) => [l.attrs.ifname, l.data.index]));
    const all = await sock.getAddresses();
    const out: UplinkAddress[] = [];
    const missing: string[] = [];
    for (const name of uplinks) {
      const idx = index.get(name);
      if (idx === undefined) { missing.push(name); continue; }
      for (const a of all) {
        if (a.data.index !== idx || (a.data.scope ?? 0) !== RT_SCOPE_UNIVERSE) continue;
        const fam = a.data.family === AF_INET ? 4 : a.data.family === AF_INET6 ? 6 : 0;
        const raw = a.attrs.local ?? a.attrs.address;
        if (!fam || !raw) continue;
        const flags = a.attrs.flags ?? a.data.flags ?? {};
        if (flags.tentative || flags.dadfailed || flags.deprecated) continue;
        out.push({ ip: ipText(Buffer.from(raw)), family: fam, secondary: !!flags.secondary });
      }
    }
    const ordered = [...out.filter((a) => !a.secondary), ...out.filter((a) => a.secondary)].map((a) => a.ip);
    return { addresses: [...new Set(ordered)], missing };
  } finally {
    sock.socket.close();
  }
}

/** The engine's EgressMasquerade from the config and the uplink addresses; undefined when off or without any source. */
export function egressMasquerade(cfg: ExternalNodeConfig, addresses: readonly string[]): EgressMasquerade | undefined {
  const em = cfg.egressMasquerade;
  if (!em.enabled) return undefined;
  const sourceIPv4 = em.sourceIPv4 ?? addresses.find((a) => !a.includes(':'));
  const sourceIPv6 = em.sourceIPv6 ?? addresses.find((a) => a.includes(':'));
  if (!sourceIPv4 && !sourceIPv6) return undefined;
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
  private readonly health: HealthCheckServers;
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
    if (cfg.egressMasquerade.enabled && !egress) log.warn('engine.egressMasquerade: no source address (uplinks without address, no sourceIPv4/sourceIPv6): egress not masqueraded');
    return new ExternalTraffic({ cfg, log, addresses, ...(egress ? { egress } : {}) });
  }

  constructor(private readonly opts: ExternalTrafficOptions) {
    this.log = opts.log.child({ component: 'external' });
    const { cfg } = opts;
    this.steering = new Steering({ uplinks: cfg.external.uplinks, tun: cfg.tun.name, allowHostNetns: cfg.allowHostNetns, ...(opts.netns ? { netns: opts.netns } : {}) });
    this.health = new HealthCheckServers({
      bindAddresses: [...this.nodeContext().nodePortIPs],
      proxyHealthy: () => this.proxyHealthy(),
      onError: (err, spec) => this.log.error({ err, code: err.code, service: `${spec.namespace}/${spec.name}`, port: spec.port }, 'health check port not served; retried on the next sync'),
    });
  }

  /** The egress masquerade the engine is created with (undefined: off). */
  get egress(): EgressMasquerade | undefined { return this.opts.egress; }

  /** This node for the model (NodePort addresses, eTP Cluster masquerade source). */
  nodeContext(): ExternalNodeContext {
    const { cfg, addresses } = this.opts;
    return externalNodeContext(addresses, cfg.external.nodePortAddresses, addresses);
  }

  /** What the control plane is constructed with: NodePort/LB/externalIP specs on, and a hook after each sync. */
  controlPlaneOptions(): Pick<ControlPlaneOptions, 'external' | 'onSynced'> {
    return {
      external: { nodePortAddresses: [...this.opts.cfg.external.nodePortAddresses], nodeAddresses: [...this.opts.addresses] },
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
    const em = this.opts.egress;
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
