// The one module that loads the native addon. Everything else talks to the engine through `Engine`.
// PODNET_ADDON selects another build (the ASan+UBSan one in CI).
import fs from 'node:fs';
import path from 'node:path';
import type {
  ApplyResult, EgressSources, EngineOptions, EngineStats, FlowInfo, MonitorOptions, MonitorReadResult, PolicyApplyResult, PolicyStats, PolicyTables,
  ProcessOptions, ProcessResult, FastPathOptions, FastPathLoadReport, FastPathStatus, LocalPod, LocalPodEntry, Uplink,
  ServicePortSpec, TableDelta, TraceQuery, TraceResult, TunInfo, TunOptions,
} from './types';

export * from './types';

interface NativeEngine {
  apply(delta: TableDelta): ApplyResult;
  replace(specs: ServicePortSpec[]): ApplyResult;
  attachTun(opts: TunOptions): TunInfo;
  detachTun(): void;
  stats(): EngineStats;
  flows(limit: number): FlowInfo[];
  process(packet: Buffer, opts: ProcessOptions): ProcessResult;
  trace(q: TraceQuery): TraceResult;
  setPolicy(t: PolicyTables): PolicyApplyResult;
  policyStats(): PolicyStats;
  setEgressSources(s: EgressSources): { flowsCut: number };
  enableFastPath(o: FastPathOptions): FastPathLoadReport;
  setLocalPod(p: LocalPod): void;
  deleteLocalPod(ifindex: number): void;
  setUplinks(uplinks: Uplink[]): void;
  setClusterPeers(cidrs: string[]): void;
  localPodEntry(ifindex: number): LocalPodEntry | null;
  fastPathStatus(): FastPathStatus | null;
  fastPathRemoveAll(): void;
  monitorStart(o?: MonitorOptions): void;
  monitorRead(max?: number): MonitorReadResult;
  monitorStop(): void;
  close(): void;
  pauseThreadsForTest(ms: number): boolean;
}

interface Addon {
  Engine: new (opts: EngineOptions) => NativeEngine;
  sdNotify(message: string): number;
  version: string;
}

let addon: Addon | undefined;

/** Path of the compiled addon: $PODNET_ADDON or build/Release/podnet_engine.node. */
export function addonPath(): string {
  if (process.env.PODNET_ADDON) return path.resolve(process.env.PODNET_ADDON);
  return path.join(projectRoot(), 'build/Release/podnet_engine.node');
}

/** The checkout or package root: the nearest directory above this module with binding.gyp (src/ or dist/src/). */
export function projectRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'binding.gyp'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('podnet: cannot find the project root above ' + __dirname);
    dir = up;
  }
  return dir;
}

function load(): Addon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  addon ??= require(addonPath()) as Addon;
  return addon;
}

/** Error thrown by the native side; `code` is stable (ENGINE_BAD_SPEC, ENGINE_TUN_OPEN, ...). */
export interface EngineError extends Error {
  code: string;
}

/**
 * The packet engine: service table, flow table and (once attached) TUN worker threads.
 * Tables are published as immutable versions; engine threads never wait on JavaScript.
 */
export class Engine {
  private readonly native: NativeEngine;
  private closed = false;

  constructor(opts: EngineOptions = {}) {
    this.native = new (load().Engine)(opts);
  }

  /** Applies upserts and removals as one atomic table version. */
  apply(delta: TableDelta): ApplyResult {
    return this.native.apply(delta);
  }

  /** Makes `specs` the whole service table (a full sync). */
  replace(specs: ServicePortSpec[]): ApplyResult {
    return this.native.replace(specs);
  }

  /** Opens (or creates) the TUN device and starts one engine thread per queue. */
  attachTun(opts: TunOptions): TunInfo {
    return this.native.attachTun(opts);
  }

  /** Stops the engine threads and closes the TUN queues. */
  detachTun(): void {
    this.native.detachTun();
  }

  stats(): EngineStats {
    return this.native.stats();
  }

  flows(limit = 1000): FlowInfo[] {
    return this.native.flows(limit);
  }

  /** Test entry point: runs one packet through the pipeline on the calling thread. Needs no root. */
  process(packet: Buffer, opts: ProcessOptions = {}): ProcessResult {
    return this.native.process(packet, opts);
  }

  /**
   * Publishes compiled NetworkPolicy tables atomically. Established flows the new policy would
   * not allow are cut at once.
   */
  setPolicy(tables: PolicyTables): PolicyApplyResult {
    return this.native.setPolicy(tables);
  }

  /**
   * New egress-masquerade sources (the uplink's address moved): new flows leave with them; a
   * family without one is no longer masqueraded; flows masqueraded to a source that is gone are
   * cut (TCP gets a RST on its next segment). Returns how many were cut.
   */
  setEgressSources(s: EgressSources): { flowsCut: number } {
    return this.native.setEgressSources(s);
  }

  /** Flows allowed per policy and denied per isolating policy and direction. */
  policyStats(): PolicyStats {
    return this.native.policyStats();
  }

  /**
   * Turns on the kernel flow cache (before attachTun): loads the tc program and its maps, or
   * adopts the ones a previous podnetd pinned under `bpffs`. Throws ENGINE_FAST_PATH when the
   * kernel or the capabilities do not allow it.
   */
  enableFastPath(o: FastPathOptions): FastPathLoadReport {
    return this.native.enableFastPath(o);
  }

  /** A pod on the bridge: its anti-spoofing entry, the program on its veth, a cacheable end. */
  setLocalPod(p: LocalPod): void {
    this.native.setLocalPod(p);
  }

  /** The pod's veth is gone: its cached flows and entries are removed at once. */
  deleteLocalPod(ifindex: number): void {
    this.native.deleteLocalPod(ifindex);
  }

  /**
   * The node's uplinks, the whole list: the program runs on each and service flows from off-node
   * to local pods are cached (forward at the uplinks, replies delivered by the kernel's FIB).
   * Throws ENGINE_FAST_PATH when one could not be attached (the others are in use).
   */
  setUplinks(uplinks: Uplink[]): void {
    this.native.setUplinks(uplinks);
  }

  /**
   * The cluster's addresses off this node, the whole list (every Node's pod CIDRs, the other
   * Nodes' InternalIPs): an untranslated flow between a pod here and one of them is cached; towards
   * any other address the node's own forwarding (and NAT) stays in the path. Throws
   * ENGINE_BAD_ARGUMENT on a bad CIDR, ENGINE_FAST_PATH when the fast path is off.
   */
  setClusterPeers(cidrs: string[]): void {
    this.native.setClusterPeers(cidrs);
  }

  /** The pod's anti-spoofing entry as the kernel holds it; null when the ifindex has none. */
  localPodEntry(ifindex: number): LocalPodEntry | null {
    return this.native.localPodEntry(ifindex);
  }

  fastPathStatus(): FastPathStatus | null {
    return this.native.fastPathStatus();
  }

  /** Detaches the program everywhere and removes the pins (podnetd --cleanup). */
  fastPathRemoveAll(): void {
    this.native.fastPathRemoveAll();
  }

  /** What the engine would do with the first packet of such a connection; changes nothing. */
  trace(q: TraceQuery): TraceResult {
    return this.native.trace(q);
  }

  /**
   * Attaches a monitor (podnetctl monitor): from now on the engine records drops, new flows and
   * ended flows into its event ring, at most `rate` per second per thread. Each call needs a monitorStop().
   */
  monitorStart(o: MonitorOptions = {}): void {
    this.native.monitorStart(o);
  }

  /** The events recorded since the last read (at most `max`, 4096), oldest first. */
  monitorRead(max?: number): MonitorReadResult {
    return this.native.monitorRead(max);
  }

  /** Detaches one monitor; with none left the engine records nothing. */
  monitorStop(): void {
    this.native.monitorStop();
  }

  /**
   * Test hook: the engine threads stop reading the TUN for `ms`, as wedged threads would.
   * False when no TUN is attached. podnetd reaches it only with PODNET_TEST_HOOKS=1.
   */
  pauseThreadsForTest(ms: number): boolean {
    return this.native.pauseThreadsForTest(ms);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }
}

export function engineVersion(): string {
  return load().version;
}

/**
 * Sends a systemd notification ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=...") to
 * $NOTIFY_SOCKET. Returns false when not running under systemd. Throws on socket errors.
 */
export function sdNotify(message: string): boolean {
  return load().sdNotify(message) === 0;
}
