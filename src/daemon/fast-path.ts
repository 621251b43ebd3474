// The kernel flow cache in podnetd (`engine.fastPath`): switched on before the TUN attaches
// (the engine threads take their environment then), fed this node's pods from the bridge's
// ports (node/local-pods.ts) and, for pods podnetd's CNI server adds, by ADD itself
// (cniAntispoof: the pod's anti-spoofing entry and program before its interface is up, in
// place of the u32 filters), told the node's uplinks (`external.uplinks`, followed by name:
// a link that appears, goes or changes its MTU is re-read, so flows from off-node to local pods
// are cached at the uplinks there are), reported in `podnetctl status` and /metrics. Anything that
// stops it (no CAP_BPF, no bpffs, an old kernel) is logged once and podnetd runs on the TUN
// path alone: the cache only ever speeds up what the engine already decided.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { KernelAntispoof } from '../cni/hooks';
import type { FastPathWireStatus } from '../ctl/api';
import type { Engine, FastPathStatus, LocalPod } from '../engine/index';
import { LocalPodWatch, type BridgePod } from '../node/local-pods';
import { watchLinks, watchOrPoll, type ChangeWatch } from '../netlink/events';
import { allLinks } from '../netlink/link';
import { closeRtnl, openRtnl } from '../netlink/socket';
import type { DaemonConfig } from './config';
import type { Logger } from 'pino';

type Log = Pick<Logger, 'info' | 'warn' | 'debug'>;

/** The program's counters as hits, misses and punts. */
export function sumProgram(p: Record<string, number>): { hits: number; misses: number; punts: number; spoofDrops: number } {
  let hits = 0, punts = 0;
  for (const [k, v] of Object.entries(p)) {
    if (k.startsWith('hit_')) hits += v;
    else if (k.startsWith('punt_')) punts += v;
  }
  return { hits, misses: p.miss ?? 0, punts, spoofDrops: p.spoof_drop ?? 0 };
}

export function toWireFastPath(s: FastPathStatus | null, reason: string): FastPathWireStatus {
  if (!s) return { mode: 'off', reason };
  return {
    mode: 'on', attachMode: s.attachMode, pinDir: s.pinDir, pods: s.pods, attachedTo: s.attachments.filter((a) => a.progId).map((a) => a.ifindex), uplinks: s.uplinks, entries: s.entries,
    installs: s.installs, installErrors: s.installErrors, removed: s.removed, ...sumProgram(s.program), program: s.program,
  };
}

/** The engine's view of a bridge pod: its anti-spoofing entry only when its config wants one. */
const localPod = (p: BridgePod): LocalPod => ({ ifindex: p.ifindex, mac: p.mac, gatewayMac: p.gatewayMac, addresses: p.addresses, antiSpoofing: p.antiSpoofing });

/** What followUplinks follows: external.uplinks, then cross-node routing's ingress device. */
export function offNodeIngress(cfg: Pick<DaemonConfig, 'external' | 'cluster'>): string[] {
  const names = [...cfg.external.uplinks];
  if (cfg.cluster.mode === 'routed' && cfg.cluster.uplink) names.push(cfg.cluster.uplink);
  if (cfg.cluster.mode === 'vxlan') names.push(cfg.cluster.vxlan.name);
  return [...new Set(names)];
}

export class FastPath {
  private watch: LocalPodWatch | undefined;
  private reason = 'engine.fastPath is false';
  private on = false;
  private antispoof: KernelAntispoof | undefined;
  private uplinkNames: string[] = [];
  /** The uplinks as last handed to the engine ('' after a failure: the next change retries). */
  private uplinksSet = '';
  private linkWatch: ChangeWatch | undefined;

  constructor(private readonly engine: Engine, private readonly cfg: Pick<DaemonConfig, 'fastPath' | 'bridge'> & { engine?: { flowCapacity?: number } }, private readonly log: Log) {}

  /** Before attachTun: loads or adopts the pinned cache. False (logged once) when it cannot. */
  enable(): boolean {
    if (!this.cfg.fastPath.enabled) return false;
    try {
      // Two entries per flow (one per direction): room for every flow the engine can hold.
      const flowsMax = Math.min(2 * (this.cfg.engine?.flowCapacity ?? 262144), 1 << 24);
      const r = this.engine.enableFastPath({ bpffs: this.cfg.fastPath.bpffs, flowsMax });
      this.on = true;
      this.log.info({ fastPath: r }, r.flowsReused ? 'kernel flow cache adopted from the previous run' : 'kernel flow cache loaded');
    } catch (e) {
      this.reason = (e as Error).message;
      this.log.warn({ err: this.reason }, 'kernel flow cache unavailable: every packet takes the TUN path');
    }
    return this.on;
  }

  /**
   * The CNI server's hook (cni/hooks.ts) while the cache is on: ADD installs the pod's entry and
   * attaches the program synchronously, and the watch below takes the pod as known (or ADD
   * finds it known: the watch saw the veth's alias first and did the same already).
   */
  cniAntispoof(): KernelAntispoof | undefined {
    if (!this.on) return undefined;
    return this.antispoof ??= {
      install: (p) => {
        if (this.watch?.knows(p)) return;
        this.engine.setLocalPod(localPod(p));
        this.watch?.adopt(p);
        this.log.debug({ pod: p }, 'CNI ADD: pod veth runs the kernel flow cache');
      },
      remove: (ifindex) => this.engine.deleteLocalPod(ifindex),
      entry: (ifindex) => this.engine.localPodEntry(ifindex) ?? undefined,
    };
  }

  /** After the node is wired (the bridge exists): follows the bridge's pods. */
  async start(): Promise<void> {
    if (!this.on) return;
    this.watch = new LocalPodWatch(this.cfg.bridge, {
      add: (p) => {
        this.engine.setLocalPod(localPod(p));
        this.log.debug({ pod: p }, 'pod veth runs the kernel flow cache');
      },
      remove: (ifindex, name) => {
        try { this.engine.deleteLocalPod(ifindex); } catch (e) {
          this.log.warn({ err: (e as Error).message, ifindex, veth: name }, 'kernel flow cache: pod removal incomplete');
        }
      },
      error: (e) => this.log.warn({ err: (e as Error).message }, 'kernel flow cache: reading the bridge\'s pods failed'),
    });
    await this.watch.start();
    this.log.info({ pods: this.watch.pods }, 'kernel flow cache follows the bridge\'s pods');
  }

  /**
   * The devices off-node traffic enters by, by name: the uplinks (external.uplinks), and for
   * cross-node routing its uplink (routed) or its VXLAN device (vxlan), where other nodes' pods
   * arrive. Each is resolved now (before the TUN, so a restarted podnetd keeps the flows it
   * adopted cached at them) and again on every link change (netlink events; a re-read every
   * `pollMs` when those cannot be had), so a device created later is picked up.
   */
  async followUplinks(names: readonly string[], pollMs = 5000): Promise<void> {
    if (!this.on || names.length === 0) return;
    this.uplinkNames = [...names];
    const refresh = () => { void this.refreshUplinks().catch((err: unknown) => this.log.warn({ err }, 'kernel flow cache: reading the uplinks failed')); };
    this.linkWatch = watchOrPoll((cb) => watchLinks(cb, 100), refresh, pollMs,
      (err) => this.log.warn({ err, pollMs }, 'no link change events; re-reading the uplinks periodically'));
    await this.refreshUplinks();
  }

  /** The cluster's addresses off this node (from the cluster plane's Nodes) for the engine. */
  setClusterPeers(cidrs: string[]): void {
    if (!this.on) return;
    try {
      this.engine.setClusterPeers(cidrs);
      this.log.info({ peers: cidrs.length }, 'kernel flow cache carries flows between local pods and the cluster\'s other nodes and pods');
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'kernel flow cache: cannot set the cluster\'s addresses; cross-node flows take the TUN path');
    }
  }

  /** Resolves the uplink names to ifindex and MTU; hands the list to the engine when it changed. */
  async refreshUplinks(): Promise<void> {
    const sock = openRtnl();
    let links;
    try { links = await allLinks(sock); } finally { closeRtnl(sock); }
    const uplinks = this.uplinkNames.flatMap((n) => {
      const l = links.find((x) => x.name === n);
      return l ? [{ ifindex: l.index, mtu: l.mtu ?? 1500 }] : [];
    });
    const key = JSON.stringify(uplinks);
    if (!this.on || key === this.uplinksSet) return;
    try {
      this.engine.setUplinks(uplinks);
      this.uplinksSet = key;
      this.log.info({ uplinks: this.uplinkNames, resolved: uplinks }, 'kernel flow cache runs on the uplinks');
    } catch (e) {
      this.uplinksSet = '';
      this.log.warn({ err: (e as Error).message, uplinks: this.uplinkNames }, 'kernel flow cache: not every uplink runs the program; flows from off-node take the TUN path there');
    }
  }

  status(): FastPathWireStatus {
    return toWireFastPath(this.on ? this.engine.fastPathStatus() : null, this.reason);
  }

  /** podnet_fastpath_* in the daemon's registry, read at scrape time. */
  register(registry: Registry): void {
    // One status per scrape: registry.metrics() runs every collect() in one synchronous pass,
    // and each fastPathStatus() costs a map read per counter and a pin directory listing.
    let snap: FastPathStatus | null | undefined;
    const read = () => {
      if (snap === undefined) {
        snap = this.on ? this.engine.fastPathStatus() : null;
        queueMicrotask(() => { snap = undefined; });
      }
      return snap;
    };
    const fp = this;
    new Gauge({
      name: 'podnet_fastpath_enabled', help: '1 when the kernel flow cache is on', registers: [registry],
      collect() { this.set(fp.on ? 1 : 0); },
    });
    new Gauge({
      name: 'podnet_fastpath_entries', help: 'Kernel flow cache entries (one per direction) after the last sweep', registers: [registry],
      collect() { this.set(read()?.entries ?? 0); },
    });
    new Counter({
      name: 'podnet_fastpath_packets_total', help: 'Packets seen by the kernel flow cache program, by result (hit_peer, miss, punt_tcp_syn, spoof_drop, ...)',
      labelNames: ['result'], registers: [registry],
      collect() {
        const s = read();
        this.reset();
        for (const [k, v] of Object.entries(s?.program ?? {})) this.inc({ result: k }, v);
      },
    });
    new Counter({
      name: 'podnet_fastpath_flows_total', help: 'Flows written into the kernel flow cache (event=install), failed writes (install_error), entries removed (removed)',
      labelNames: ['event'], registers: [registry],
      collect() {
        const s = read();
        this.reset();
        if (!s) return;
        this.inc({ event: 'install' }, s.installs);
        this.inc({ event: 'install_error' }, s.installErrors);
        this.inc({ event: 'removed' }, s.removed);
      },
    });
  }

  stop(): void {
    this.watch?.close();
    this.watch = undefined;
    this.linkWatch?.close();
    this.linkWatch = undefined;
  }
}
