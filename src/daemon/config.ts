// podnetd's configuration: a YAML file (`--config`, JSON is YAML too) with documented defaults,
// overridden by flags (args.ts). Everything is checked here, before podnetd touches anything:
// a wrong value is a ConfigError naming its key. systemd/podnetd.yaml documents every key.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { EngineOptions, EngineTimeouts, ServicePortSpec } from '../engine/types';
import { canonicalCidr, parseNetwork } from '../net/cidr';
import type { ClusterConfig } from '../cluster/config';
import type { EgressMasqueradeConfig, ExternalConfig } from '../external/config';
import { ConfigError, DaemonError } from './errors';

export interface TunConfig {
  name: string;
  queues: number;
  batch?: number;
  /** µs an engine thread keeps reading after traffic before it sleeps (0 = never spin). */
  busyPollUs: number;
  /** Keep the TUN across restarts (TUNSETPERSIST), so routes into it survive a crash. */
  persist: boolean;
  /**
   * With more than one queue, which queue a packet takes: "cpu" (default) the queue of the CPU
   * sending it, each engine thread pinned to its CPUs, so a connection's first packet is decided
   * on its sender's CPU; "flow" the kernel's spread by flow hash.
   */
  steering: 'cpu' | 'flow';
}

export interface SyncConfig {
  minIntervalMs: number;
  maxIntervalMs: number;
  retryIntervalMs: number;
  /** /healthz turns 503 when a queued change waited longer than this for a sync. */
  healthzTimeoutMs: number;
  /** podnetd gives up (exit 1) when the first sync is not programmed within this. */
  firstSyncTimeoutMs: number;
}

export type { ClusterConfig, EgressMasqueradeConfig, ExternalConfig };

export interface DaemonConfig {
  /** The file it came from ("" when built from flags only). */
  file: string;
  nodeName: string;
  /** Manifest-directory source. */
  manifests?: string;
  /** API source: kubeconfig path, or "in-cluster". */
  kubeconfig?: string;
  /** Legacy static source (a JSON array of ServicePortSpec), bypassing the control plane. */
  tables?: string;
  podCIDRs: string[];
  serviceCIDRs: string[];
  bridge: string;
  tun: TunConfig;
  engine: EngineOptions;
  /** The kernel flow cache (`engine.fastPath`, `engine.bpffs`): off unless enabled. */
  fastPath: { enabled: boolean; bpffs: string };
  /** Flow table file (survives restarts); "" keeps flows in memory only. */
  stateFile: string;
  routeTable?: number;
  /** "host:port", or "" to disable. */
  healthzBindAddress: string;
  metricsBindAddress: string;
  /** Unix socket of the control API (mode 0600); "" to disable. */
  controlSocket: string;
  /** Unix socket of the embedded CNI server the `podnet` shim forwards to (mode 0600); "" to disable. */
  cniSocket: string;
  /** Where the node's pod CIDRs are recorded for the CNI plugin's IPAM ({"podCIDRs": [...]}); "" to disable. */
  nodeStateFile: string;
  sync: SyncConfig;
  logLevel: string;
  allowHostNetns: boolean;
  /** Cross-node routing; mode none by default. */
  cluster: ClusterConfig;
  /** NodePort / LoadBalancer / externalIPs steering, health check node ports. */
  external: ExternalConfig;
  /** Pod egress masquerade (the reference bridge plugin's ipMasq), done by the engine. */
  egressMasquerade: EgressMasqueradeConfig;
  /** The datapath probe behind /livez (src/probe/datapath.ts). */
  health: HealthConfig;
}

export interface HealthConfig {
  probe: { enabled: boolean; intervalMs: number; timeoutMs: number; failures: number };
}

export const DEFAULTS = {
  bridge: 'podnet0',
  tun: { name: 'podnet-tun', queues: 1, busyPollUs: 50, persist: true, steering: 'cpu' as const },
  stateFile: '/run/podnet/flows',
  bpffs: '/sys/fs/bpf',
  healthzBindAddress: '127.0.0.1:10256',
  metricsBindAddress: '127.0.0.1:10249',
  controlSocket: '/run/podnet/podnetd.sock',
  cniSocket: '/run/podnet/cni.sock',
  nodeStateFile: '/run/podnet/node.json',
  sync: { minIntervalMs: 20, maxIntervalMs: 60_000, retryIntervalMs: 1000, healthzTimeoutMs: 60_000, firstSyncTimeoutMs: 120_000 },
  logLevel: 'info',
  nodePortRange: [30000, 32767],
  egressPorts: [61000, 65535],
  cluster: { mode: 'none', vxlan: { name: 'podnet-vxlan', vni: 1, port: 4789 }, resyncIntervalMs: 60_000 },
  healthProbe: { enabled: true, intervalMs: 2000, timeoutMs: 1000, failures: 3 },
} as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const TOP_KEYS = ['nodeName', 'manifests', 'kubeconfig', 'tables', 'podCIDRs', 'serviceCIDRs', 'bridge', 'tun', 'engine',
  'stateFile', 'routeTable', 'healthzBindAddress', 'metricsBindAddress', 'controlSocket', 'cniSocket', 'nodeStateFile', 'sync', 'logLevel', 'allowHostNetns', 'cluster', 'external',
  'health'];
const CLUSTER_KEYS = ['mode', 'uplink', 'uplinkMtu', 'vxlan', 'resyncIntervalMs'];
const VXLAN_KEYS = ['name', 'vni', 'port'];
const TUN_KEYS = ['name', 'queues', 'batch', 'busyPollUs', 'persist', 'steering'];
const ENGINE_KEYS = ['flowCapacity', 'maglevSize', 'maxServicePorts', 'timeouts', 'hairpinIPv4', 'hairpinIPv6', 'egressMasquerade',
  'probeIPv4', 'probeIPv6', 'fastPath', 'bpffs'];
const EXTERNAL_KEYS = ['uplinks', 'nodePortAddresses', 'nodePortRange'];
const EGRESS_KEYS = ['enabled', 'exemptCIDRs', 'sourceIPv4', 'sourceIPv6', 'portMin', 'portMax'];
const TIMEOUT_KEYS = ['tcpSynSec', 'tcpEstablishedSec', 'tcpFinSec', 'tcpTimeWaitSec', 'tcpCloseSec', 'udpSec', 'udpStreamSec', 'icmpSec'];
const SYNC_KEYS = ['minIntervalMs', 'maxIntervalMs', 'retryIntervalMs', 'healthzTimeoutMs', 'firstSyncTimeoutMs'];

type Obj = Record<string, unknown>;

/** Field readers that throw a ConfigError naming the key. */
class Reader {
  constructor(readonly file: string) {}
  fail(key: string, reason: string): never { throw new ConfigError(this.file || '(flags)', key, reason); }
  object(v: unknown, key: string, allowed: string[]): Obj {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(key, 'must be a mapping');
    for (const k of Object.keys(v as Obj)) {
      if (!allowed.includes(k)) this.fail(key ? `${key}.${k}` : k, `unknown key (known: ${allowed.join(', ')})`);
    }
    return v as Obj;
  }
  string(v: unknown, key: string, def?: string): string {
    if (v === undefined || v === null) { if (def === undefined) this.fail(key, 'is required'); return def; }
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }
  oneOf<T extends string>(v: unknown, key: string, allowed: readonly T[], def: T): T {
    if (v === undefined || v === null) return def;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(key, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  }
  optString(v: unknown, key: string): string | undefined {
    if (v === undefined || v === null || v === '') return undefined;
    return this.string(v, key);
  }
  int(v: unknown, key: string, min: number, max: number, def?: number): number {
    if (v === undefined || v === null) { if (def === undefined) this.fail(key, 'is required'); return def; }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(key, `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    }
    return v;
  }
  bool(v: unknown, key: string, def: boolean): boolean {
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  cidrs(v: unknown, key: string): string[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(key, 'must be a list of CIDRs');
    const fams = new Set<number>();
    return v.map((c, i) => {
      if (typeof c !== 'string') this.fail(`${key}[${i}]`, 'must be a string');
      let fam: number;
      try { fam = parseNetwork(c).family; } catch (e) { this.fail(`${key}[${i}]`, `not a CIDR: ${(e as Error).message}`); }
      if (fams.has(fam)) this.fail(`${key}[${i}]`, `a second IPv${fam} CIDR (one per family)`);
      fams.add(fam);
      return c;
    });
  }
  bind(v: unknown, key: string, def: string): string {
    const s = this.string(v, key, def);
    if (s === '') return s;
    const m = /^(\[[0-9a-fA-F:.]+\]|[0-9.]+|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
    if (!m || Number(m[2]) > 65535) this.fail(key, `must be host:port (e.g. 127.0.0.1:10249) or "", got ${JSON.stringify(s)}`);
    return s;
  }
  ifname(v: unknown, key: string, def: string): string {
    const s = this.string(v, key, def);
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(s)) this.fail(key, `not an interface name (1-15 of [A-Za-z0-9_.-]): ${JSON.stringify(s)}`);
    return s;
  }
}

/** `external`: uplinks, nodePortAddresses (kube-proxy's CIDR list), nodePortRange "lo-hi". */
function externalConfig(r: Reader, raw: unknown): ExternalConfig {
  const e = r.object(raw, 'external', EXTERNAL_KEYS);
  const list = (v: unknown, key: string): unknown[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) r.fail(key, key === 'external.uplinks' ? 'must be a list of links or "auto"' : 'must be a list');
    return v;
  };
  // Absent or "auto": the links of the node's InternalIPs, else of the default route (resolved at
  // start, defaults.ts). An explicit list wins; an empty list turns external traffic off.
  const uplinksAuto = e.uplinks === undefined || e.uplinks === null || e.uplinks === 'auto';
  const uplinks = uplinksAuto ? [] : list(e.uplinks, 'external.uplinks').map((u, i) => r.ifname(u, `external.uplinks[${i}]`, ''));
  uplinks.forEach((u, i) => { if (uplinks.indexOf(u) !== i) r.fail(`external.uplinks[${i}]`, `listed twice: ${u}`); });
  const nodePortAddresses = list(e.nodePortAddresses, 'external.nodePortAddresses').map((v, i) => {
    const key = `external.nodePortAddresses[${i}]`;
    if (v === 'primary') return v;
    if (typeof v !== 'string' || !v.includes('/')) r.fail(key, `must be a CIDR (e.g. 192.168.0.0/16) or "primary", got ${JSON.stringify(v)}`);
    return canonicalCidr(v, (why) => r.fail(key, why));
  });
  let nodePortRange: [number, number] = [...DEFAULTS.nodePortRange];
  if (e.nodePortRange !== undefined && e.nodePortRange !== null) {
    const m = typeof e.nodePortRange === 'string' ? /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(e.nodePortRange) : null;
    const lo = Number(m?.[1]), hi = Number(m?.[2]);
    if (!m || lo < 1 || hi > 65535 || lo > hi) r.fail('external.nodePortRange', `must be "low-high" within 1-65535 (e.g. "30000-32767"), got ${JSON.stringify(e.nodePortRange)}`);
    nodePortRange = [lo, hi];
  }
  return { uplinks, uplinksAuto, nodePortAddresses, nodePortRange };
}

/** `engine.egressMasquerade`: off unless enabled; its replies come back on the uplinks, so it needs them. */
function egressConfig(r: Reader, raw: unknown): EgressMasqueradeConfig {
  const k = 'engine.egressMasquerade';
  const e = r.object(raw, k, EGRESS_KEYS);
  if (e.exemptCIDRs !== undefined && e.exemptCIDRs !== null && !Array.isArray(e.exemptCIDRs)) r.fail(`${k}.exemptCIDRs`, 'must be a list of CIDRs');
  const exemptCIDRs = ((e.exemptCIDRs ?? []) as unknown[]).map((v, i) => {
    if (typeof v !== 'string' || !v.includes('/')) r.fail(`${k}.exemptCIDRs[${i}]`, `must be a CIDR, got ${JSON.stringify(v)}`);
    return canonicalCidr(v, (why) => r.fail(`${k}.exemptCIDRs[${i}]`, why));
  });
  const source = (v: unknown, f: 4 | 6): string | undefined => {
    const s = r.optString(v, `${k}.sourceIPv${f}`);
    if (s !== undefined && net.isIP(s) !== f) r.fail(`${k}.sourceIPv${f}`, `not an IPv${f} address: ${JSON.stringify(s)}`);
    return s;
  };
  const sourceIPv4 = source(e.sourceIPv4, 4), sourceIPv6 = source(e.sourceIPv6, 6);
  const portMin = r.int(e.portMin, `${k}.portMin`, 1024, 65535, DEFAULTS.egressPorts[0]);
  const portMax = r.int(e.portMax, `${k}.portMax`, 1024, 65535, DEFAULTS.egressPorts[1]);
  if (portMin > portMax) r.fail(`${k}.portMin`, `must not exceed ${k}.portMax`);
  return {
    enabled: r.bool(e.enabled, `${k}.enabled`, false), exemptCIDRs,
    ...(sourceIPv4 ? { sourceIPv4 } : {}), ...(sourceIPv6 ? { sourceIPv6 } : {}), portMin, portMax,
  };
}

/** `health.probe`: the datapath probe behind /livez; on by default, every 2 s, 503 after 3 missed rounds. */
function healthConfig(r: Reader, raw: unknown): HealthConfig {
  const h = r.object(raw, 'health', ['probe']);
  const p = r.object(h.probe, 'health.probe', ['enabled', 'intervalMs', 'timeoutMs', 'failures']);
  const d = DEFAULTS.healthProbe;
  const probe = {
    enabled: r.bool(p.enabled, 'health.probe.enabled', d.enabled),
    intervalMs: r.int(p.intervalMs, 'health.probe.intervalMs', 100, 3_600_000, d.intervalMs),
    timeoutMs: r.int(p.timeoutMs, 'health.probe.timeoutMs', 10, 3_600_000, d.timeoutMs),
    failures: r.int(p.failures, 'health.probe.failures', 1, 1000, d.failures),
  };
  if (probe.timeoutMs > probe.intervalMs) r.fail('health.probe.timeoutMs', 'must not exceed health.probe.intervalMs');
  return { probe };
}

/** `engine.probeIPv4` / `engine.probeIPv6`: the datapath probe's addresses (routed into the TUN, never assigned). */
function probeAddressConfig(r: Reader, eng: Obj): Pick<EngineOptions, 'probeIPv4' | 'probeIPv6'> {
  const out: Pick<EngineOptions, 'probeIPv4' | 'probeIPv6'> = {};
  for (const f of [4, 6] as const) {
    const key = `engine.probeIPv${f}`;
    const v = r.optString(eng[`probeIPv${f}`], key);
    if (v === undefined) continue;
    if (net.isIP(v) !== f) r.fail(key, `not an IPv${f} address: ${JSON.stringify(v)}`);
    out[f === 4 ? 'probeIPv4' : 'probeIPv6'] = v;
  }
  return out;
}

/** Turns a raw mapping (file contents with flag overrides merged in) into a checked DaemonConfig. */
export function buildConfig(raw: unknown, file = ''): DaemonConfig {
  const r = new Reader(file);
  const c = r.object(raw, '', TOP_KEYS);
  const rel = (p: string | undefined) => (p && file && p !== 'in-cluster' ? path.resolve(path.dirname(file), p) : p);
  const tun = r.object(c.tun, 'tun', TUN_KEYS);
  const eng = r.object(c.engine, 'engine', ENGINE_KEYS);
  const timeouts = r.object(eng.timeouts, 'engine.timeouts', TIMEOUT_KEYS);
  const sync = r.object(c.sync, 'sync', SYNC_KEYS);
  const cl = r.object(c.cluster, 'cluster', CLUSTER_KEYS);
  const vx = r.object(cl.vxlan, 'cluster.vxlan', VXLAN_KEYS);

  const engine: EngineOptions = {};
  if (eng.flowCapacity !== undefined) engine.flowCapacity = r.int(eng.flowCapacity, 'engine.flowCapacity', 1024, 1 << 26);
  if (eng.maglevSize !== undefined) engine.maglevSize = r.int(eng.maglevSize, 'engine.maglevSize', 251, 1 << 20);
  if (eng.maxServicePorts !== undefined) engine.maxServicePorts = r.int(eng.maxServicePorts, 'engine.maxServicePorts', 1, 1 << 20);
  const to: EngineTimeouts = {};
  for (const k of TIMEOUT_KEYS) if (timeouts[k] !== undefined) to[k as keyof EngineTimeouts] = r.int(timeouts[k], `engine.timeouts.${k}`, 1, 7 * 86400);
  if (Object.keys(to).length) engine.timeouts = to;
  const h4 = r.optString(eng.hairpinIPv4, 'engine.hairpinIPv4');
  const h6 = r.optString(eng.hairpinIPv6, 'engine.hairpinIPv6');
  if (h4) engine.hairpinIPv4 = h4;
  if (h6) engine.hairpinIPv6 = h6;
  Object.assign(engine, probeAddressConfig(r, eng));

  const cfg: DaemonConfig = {
    file,
    nodeName: r.string(c.nodeName, 'nodeName', '') || process.env.NODE_NAME || os.hostname(),
    manifests: rel(r.optString(c.manifests, 'manifests')),
    kubeconfig: rel(r.optString(c.kubeconfig, 'kubeconfig')),
    tables: rel(r.optString(c.tables, 'tables')),
    podCIDRs: r.cidrs(c.podCIDRs, 'podCIDRs'),
    serviceCIDRs: r.cidrs(c.serviceCIDRs, 'serviceCIDRs'),
    bridge: r.ifname(c.bridge, 'bridge', DEFAULTS.bridge),
    tun: {
      name: r.ifname(tun.name, 'tun.name', DEFAULTS.tun.name),
      queues: r.int(tun.queues, 'tun.queues', 1, 64, DEFAULTS.tun.queues),
      ...(tun.batch !== undefined ? { batch: r.int(tun.batch, 'tun.batch', 1, 1024) } : {}),
      busyPollUs: r.int(tun.busyPollUs, 'tun.busyPollUs', 0, 10_000, DEFAULTS.tun.busyPollUs),
      persist: r.bool(tun.persist, 'tun.persist', DEFAULTS.tun.persist),
      steering: r.oneOf(tun.steering, 'tun.steering', ['cpu', 'flow'] as const, DEFAULTS.tun.steering),
    },
    engine,
    fastPath: { enabled: r.bool(eng.fastPath, 'engine.fastPath', false), bpffs: rel(r.string(eng.bpffs, 'engine.bpffs', DEFAULTS.bpffs))! },
    stateFile: r.string(c.stateFile, 'stateFile', DEFAULTS.stateFile),
    routeTable: c.routeTable === undefined ? undefined : r.int(c.routeTable, 'routeTable', 1, 0xfffffffe),
    healthzBindAddress: r.bind(c.healthzBindAddress, 'healthzBindAddress', DEFAULTS.healthzBindAddress),
    metricsBindAddress: r.bind(c.metricsBindAddress, 'metricsBindAddress', DEFAULTS.metricsBindAddress),
    controlSocket: r.string(c.controlSocket, 'controlSocket', DEFAULTS.controlSocket),
    cniSocket: r.string(c.cniSocket, 'cniSocket', DEFAULTS.cniSocket),
    nodeStateFile: r.string(c.nodeStateFile, 'nodeStateFile', DEFAULTS.nodeStateFile),
    sync: {
      minIntervalMs: r.int(sync.minIntervalMs, 'sync.minIntervalMs', 0, 3_600_000, DEFAULTS.sync.minIntervalMs),
      maxIntervalMs: r.int(sync.maxIntervalMs, 'sync.maxIntervalMs', 100, 86_400_000, DEFAULTS.sync.maxIntervalMs),
      retryIntervalMs: r.int(sync.retryIntervalMs, 'sync.retryIntervalMs', 10, 3_600_000, DEFAULTS.sync.retryIntervalMs),
      healthzTimeoutMs: r.int(sync.healthzTimeoutMs, 'sync.healthzTimeoutMs', 100, 86_400_000, DEFAULTS.sync.healthzTimeoutMs),
      firstSyncTimeoutMs: r.int(sync.firstSyncTimeoutMs, 'sync.firstSyncTimeoutMs', 100, 86_400_000, DEFAULTS.sync.firstSyncTimeoutMs),
    },
    logLevel: r.string(c.logLevel, 'logLevel', DEFAULTS.logLevel),
    allowHostNetns: r.bool(c.allowHostNetns, 'allowHostNetns', false),
    external: externalConfig(r, c.external),
    egressMasquerade: egressConfig(r, eng.egressMasquerade),
    health: healthConfig(r, c.health),
    cluster: {
      mode: r.string(cl.mode, 'cluster.mode', DEFAULTS.cluster.mode) as ClusterConfig['mode'],
      uplink: r.string(cl.uplink, 'cluster.uplink', ''),
      ...(cl.uplinkMtu !== undefined ? { uplinkMtu: r.int(cl.uplinkMtu, 'cluster.uplinkMtu', 1280, 65535) } : {}),
      vxlan: {
        name: r.ifname(vx.name, 'cluster.vxlan.name', DEFAULTS.cluster.vxlan.name),
        vni: r.int(vx.vni, 'cluster.vxlan.vni', 1, 0xffffff, DEFAULTS.cluster.vxlan.vni),
        port: r.int(vx.port, 'cluster.vxlan.port', 1, 65535, DEFAULTS.cluster.vxlan.port),
      },
      resyncIntervalMs: r.int(cl.resyncIntervalMs, 'cluster.resyncIntervalMs', 1000, 86_400_000, DEFAULTS.cluster.resyncIntervalMs),
    },
  };
  // The legacy tables mode is how the benchmark harness runs many podnetds side by side: no
  // shared default paths under /run/podnet unless it names them.
  if (cfg.tables && c.stateFile === undefined) cfg.stateFile = '';
  if (cfg.tables && c.controlSocket === undefined) cfg.controlSocket = '';
  if (cfg.tables && c.cniSocket === undefined) cfg.cniSocket = '';
  if (cfg.tables && c.nodeStateFile === undefined) cfg.nodeStateFile = '';
  const abs = (p: string) => (p && !path.isAbsolute(p) ? (file ? path.resolve(path.dirname(file), p) : path.resolve(p)) : p);
  cfg.stateFile = abs(cfg.stateFile);
  cfg.controlSocket = abs(cfg.controlSocket);
  cfg.cniSocket = abs(cfg.cniSocket);
  if (cfg.cniSocket && cfg.cniSocket === cfg.controlSocket) r.fail('cniSocket', 'must differ from controlSocket');
  if (!LOG_LEVELS.includes(cfg.logLevel)) r.fail('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);
  if (cfg.sync.minIntervalMs > cfg.sync.maxIntervalMs) r.fail('sync.minIntervalMs', 'must not exceed sync.maxIntervalMs');
  if (!['none', 'routed', 'vxlan'].includes(cfg.cluster.mode)) r.fail('cluster.mode', `must be one of none, routed, vxlan, got ${JSON.stringify(cfg.cluster.mode)}`);
  if (cfg.cluster.mode !== 'none') {
    if (!cfg.cluster.uplink) r.fail('cluster.uplink', `is required with cluster.mode ${cfg.cluster.mode}`);
    r.ifname(cfg.cluster.uplink, 'cluster.uplink', '');
    if (cfg.tables) r.fail('cluster.mode', 'needs Node objects: a manifests or kubeconfig source, not tables');
    if ([cfg.bridge, cfg.tun.name, cfg.cluster.uplink].includes(cfg.cluster.vxlan.name)) r.fail('cluster.vxlan.name', 'must differ from bridge, tun.name and cluster.uplink');
  }
  // With a manifest or API source, podCIDRs and serviceCIDRs may be left out: podnetd takes them
  // from this node's Node object and the cluster's ServiceCIDRs (src/daemon/defaults.ts). The
  // legacy tables source has no Kubernetes objects to take them from.
  if (cfg.tables && cfg.podCIDRs.length === 0) r.fail('podCIDRs', 'at least one pod CIDR is required with tables (a manifests or kubeconfig source takes them from the Node object)');
  if (cfg.tables && cfg.serviceCIDRs.length === 0) r.fail('serviceCIDRs', 'at least one service CIDR is required with tables (a manifests or kubeconfig source defaults them)');
  if (cfg.tables) cfg.external.uplinksAuto = false;
  const em = cfg.egressMasquerade, npr = cfg.external.nodePortRange;
  // Replies to masqueraded flows come back on the uplink and are steered by port: without an
  // uplink they would reach the host stack; inside the NodePort range they would hit a service.
  if (em.enabled && cfg.external.uplinks.length === 0 && !cfg.external.uplinksAuto) r.fail('engine.egressMasquerade.enabled', 'needs external.uplinks (the replies are steered back from them)');
  if (em.enabled && em.portMin <= npr[1] && npr[0] <= em.portMax) r.fail('engine.egressMasquerade.portMin', `port range ${em.portMin}-${em.portMax} overlaps external.nodePortRange ${npr[0]}-${npr[1]}`);
  if (cfg.bridge === cfg.tun.name) r.fail('tun.name', 'must differ from bridge');
  // In-cluster: the API source is implied, as for kube-proxy in a DaemonSet.
  if (!cfg.manifests && !cfg.kubeconfig && !cfg.tables && process.env.KUBERNETES_SERVICE_HOST) cfg.kubeconfig = 'in-cluster';
  const sources = (['manifests', 'kubeconfig', 'tables'] as const).filter((k) => cfg[k]);
  if (sources.length === 0) r.fail('manifests', 'no source: set manifests (a directory) or kubeconfig (or run in-cluster)');
  if (sources.length > 1) r.fail(sources[1], `only one source at a time (also set: ${sources[0]})`);
  return cfg;
}

/** Reads and parses the config file (YAML or JSON) into a raw mapping. */
export function readConfigFile(file: string): Obj {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    throw new ConfigError(file, '(file)', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message);
  }
  let raw: unknown;
  try { raw = parseYaml(text); } catch (e) { throw new ConfigError(file, '(syntax)', (e as Error).message.split('\n')[0]); }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(file, '(root)', 'must be a mapping');
  return raw as Obj;
}

/** Sets a dotted key ("tun.queues") in a raw mapping: flags override the file. */
export function setKey(raw: Obj, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let o = raw;
  for (const p of parts.slice(0, -1)) {
    if (!o[p] || typeof o[p] !== 'object') o[p] = {};
    o = o[p] as Obj;
  }
  o[parts[parts.length - 1]] = value;
}

/** Keys whose change needs a restart (the engine, the TUN, the wiring, the listeners). */
export function restartKeys(a: DaemonConfig, b: DaemonConfig): string[] {
  const keys: (keyof DaemonConfig)[] = ['nodeName', 'manifests', 'kubeconfig', 'tables', 'podCIDRs', 'serviceCIDRs', 'bridge', 'tun',
    'engine', 'stateFile', 'routeTable', 'healthzBindAddress', 'metricsBindAddress', 'controlSocket', 'cniSocket', 'sync', 'allowHostNetns', 'cluster',
    'external', 'egressMasquerade', 'health', 'fastPath'];
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** The legacy tables file: shape checked loosely, the engine validates every field. */
export function loadTables(file: string): ServicePortSpec[] {
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(file, 'utf8')); } catch (e) {
    throw new DaemonError('DAEMON_BAD_TABLES', `${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new DaemonError('DAEMON_BAD_TABLES', `${file}: expected an array of service ports`);
  return raw as ServicePortSpec[];
}
