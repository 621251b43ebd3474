// The local control API podnetctl talks to: HTTP/1.1 over a unix socket (default
// /run/podnet/podnetd.sock, mode 0600, so root only), JSON answers documented in src/ctl/api.ts.
// Read-only: status, services, flows, trace, policies, and the monitor's event stream (monitor.ts)
// (with PODNET_TEST_HOOKS=1 podnetd adds one
// write, POST /v1/test/pause-engine, for tests only). A unix socket rather than TCP because the file mode
// is the access control and because it is reachable from any network namespace of the machine.
// The engine's objects (src/engine/types.ts) never reach the wire as they are: the toWire*
// functions below copy them field by field onto the podnet/v1 types, so a field the native
// binding adds or renames shows up here as a type error, not as a silent change of the reply.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ClusterView } from '../cluster/view';
import {
  API_VERSION, type BackendEntry, type ClusterNodeEntry, type ClusterReply, type EngineStatus, type ErrorReply, type FlowEntry, type FlowsReply, type FlowTableStatus,
  type NetworkStatus, type PoliciesReply, type PolicyCounterEntry, type PolicyDirectionEntry, type PodPolicyEntry, type QueueStatus,
  type ServiceEntry, type ServicesReply, type StatusReply, type TraceQueryEntry, type TraceReply, type TraceResultEntry,
} from '../ctl/api';
import { canonicalIp } from '../net/ip';
import type {
  BackendSpec, BackendStats, EgressSources, EngineStats, FlowInfo, PolicyStats, PolicyTables, QueueStats, ServicePortSpec, ServicePortStats,
  TraceQuery, TraceResult, TunInfo,
} from '../engine/types';
import { describePods, tableSizes, type DirectionView } from '../policy/explain';
import type { Resolved } from './defaults';
import { DaemonError } from './errors';
import { streamMonitor, type MonitorHub } from './monitor';

/** What the control API reads from the running daemon. */
export interface ControlState {
  status(): StatusReply;
  specs(): ServicePortSpec[];
  stats(): EngineStats;
  flows(limit: number): FlowInfo[];
  /** The engine's dry run of the connection's first packet. */
  trace(q: TraceQuery): TraceResult;
  /** NetworkPolicy as programmed; undefined (or absent) when podnetd has no policy source (tables mode). */
  policies?(): PolicyState | undefined;
  /** Cross-node routing's view; undefined when podnetd runs none (cluster.mode none). */
  cluster?(): ClusterView | undefined;
  /** GET /v1/monitor's source of events; absent: no such endpoint. */
  monitor?: MonitorHub;
  /** Test hook (PODNET_TEST_HOOKS=1 only): POST /v1/test/pause-engine?ms=N stalls the engine threads. */
  pauseEngineForTest?(ms: number): { paused: boolean; ms: number };
}

/** What /v1/policies joins: the tables the engine holds and its counters. */
export interface PolicyState {
  /** The last published tables; undefined before the first policy sync. */
  tables: PolicyTables | undefined;
  /** The engine's per-policy counters and its policy table version. */
  stats: PolicyStats;
}

const FLOW_LIMIT_MAX = 100_000;

/** Cross-node routing's view onto the wire; mode none when podnetd runs no cross-node routing. */
export function toWireCluster(v: ClusterView | undefined, node: string): ClusterReply {
  if (!v) return { apiVersion: API_VERSION, mode: 'none', node, nodes: [] };
  return {
    apiVersion: API_VERSION, mode: v.mode, node: v.node,
    ...(v.podMtu !== undefined ? { podMtu: v.podMtu } : {}),
    ...(v.lastSyncAt !== undefined ? { lastSyncAt: v.lastSyncAt } : {}),
    ...(v.error ? { error: { code: v.error.code, message: v.error.message } } : {}),
    nodes: v.nodes.map((n): ClusterNodeEntry => ({
      name: n.name, podCIDRs: [...n.podCIDRs], internalIPs: [...n.internalIPs], state: n.state,
      ...(n.reason !== undefined ? { reason: n.reason } : {}), entries: [...n.entries],
    })),
  };
}

function hostOf(endpoint: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(endpoint) ?? /^([^:]*):\d+$/.exec(endpoint);
  return m ? m[1] : endpoint;
}

/** "10.0.0.1" matches any port; "10.0.0.1:80" / "[fd00::1]:80" match exactly. */
function endpointMatch(filter: string | null, endpoint: string | undefined): boolean {
  if (!filter) return true;
  if (!endpoint) return false;
  if (filter === endpoint) return true;
  return !/\]:\d+$|^[^:]*:\d+$/.test(filter) && hostOf(endpoint) === filter.replace(/^\[|\]$/g, '');
}

function key(s: { vip: string; port: number; protocol: string }): string {
  return `${s.vip}|${s.port}|${s.protocol}`;
}

/** One programmed backend with the engine's counters for it (zeros before its first flow). */
export function toWireBackend(b: BackendSpec, c: BackendStats | undefined): BackendEntry {
  return {
    ip: b.ip, port: b.port, ...(b.name ? { name: b.name } : {}), terminating: b.terminating === true,
    weight: b.terminating ? 0 : 1, packets: c?.packets ?? 0, bytes: c?.bytes ?? 0, flows: c?.flows ?? 0,
  };
}

/** One programmed service port with the engine's counters for the same (VIP, port, protocol). */
export function toWireService(s: ServicePortSpec, c: ServicePortStats | undefined): ServiceEntry {
  const bc = new Map((c?.backends ?? []).map((b) => [`${b.ip}|${b.port}`, b]));
  return {
    name: s.name ?? c?.name ?? key(s), vip: s.vip, port: s.port, protocol: s.protocol,
    affinityTimeoutSec: s.affinityTimeoutSec ?? 0,
    ...(s.masquerade ? { masquerade: s.masquerade } : {}),
    packets: c?.packets ?? 0, bytes: c?.bytes ?? 0, flows: c?.flows ?? 0,
    backends: s.backends.map((b) => toWireBackend(b, bc.get(`${b.ip}|${b.port}`))),
  };
}

/** Programmed specs joined with the engine's counters, sorted by name, VIP, port. */
export function serviceEntries(specs: ServicePortSpec[], st: EngineStats): ServiceEntry[] {
  const counters = new Map(st.services.map((s) => [key(s), s]));
  const out = specs.map((s) => toWireService(s, counters.get(key(s))));
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.vip.localeCompare(b.vip) || a.port - b.port);
}

/** One flow of the engine's table. */
export function toWireFlow(f: FlowInfo): FlowEntry {
  return {
    protocol: f.protocol, client: f.client, vip: f.vip, backend: f.backend,
    ...(f.snat !== undefined ? { snat: f.snat } : {}), state: f.state, idleMs: f.idleMs,
    ...(f.cached !== undefined ? { cached: f.cached } : {}),
  };
}

export function toWireFlowTable(f: EngineStats['flows']): FlowTableStatus {
  return { active: f.active, capacity: f.capacity, created: f.created, expired: f.expired, evicted: f.evicted };
}

export function toWireQueue(q: QueueStats): QueueStatus {
  return {
    queue: q.queue, packetsIn: q.packetsIn, packetsOut: q.packetsOut, bytesIn: q.bytesIn, wakeups: q.wakeups,
    gsoPackets: q.gsoPackets, readErrors: q.readErrors, writeErrors: q.writeErrors, busyPolled: q.busyPolled,
  };
}

/** /v1/status's engine part: the engine's stats and its TUN (undefined before it is attached). Only reasons with drops are listed. */
export function toWireEngineStatus(st: EngineStats, tun: TunInfo | undefined): EngineStatus {
  return {
    tun: tun?.name ?? '', offloads: [...(tun?.offloads ?? [])], steering: tun?.steering ?? 'cpu', tableVersion: st.version, restoredFlows: st.restoredFlows,
    flows: toWireFlowTable(st.flows), drops: Object.fromEntries(Object.entries(st.drops).filter(([, n]) => n > 0)),
    passthrough: st.passthrough, queues: st.queues.map(toWireQueue),
  };
}

/** The engine's dry-run verdict, with the sentence explaining it. */
/** The node's network settings and their origins (defaults.ts Resolved) → StatusReply.network. */
export function toWireNetwork(d: { podCIDRs: Resolved; serviceCIDRs: Resolved; uplinks: Resolved }, uplinkAddresses: readonly string[], egress?: EgressSources): NetworkStatus {
  const setting = (r: Resolved) => ({ values: [...r.values], source: r.source });
  return {
    podCIDRs: setting(d.podCIDRs), serviceCIDRs: setting(d.serviceCIDRs), uplinks: setting(d.uplinks), uplinkAddresses: [...uplinkAddresses],
    ...(egress ? { egressSources: [egress.sourceIPv4, egress.sourceIPv6].filter((a): a is string => !!a) } : {}),
  };
}

export function toWireTrace(r: TraceResult): TraceResultEntry {
  return {
    verdict: r.verdict, ...(r.reason !== undefined ? { reason: r.reason } : {}), service: r.service, existingFlow: r.existingFlow,
    ...(r.servicePort !== undefined ? { servicePort: r.servicePort } : {}),
    ...(r.backend !== undefined ? { backend: r.backend } : {}),
    ...(r.snat !== undefined ? { snat: r.snat } : {}),
    ...(r.deniedBy !== undefined ? { deniedBy: [...r.deniedBy] } : {}),
    ...(r.allowedBy !== undefined ? { allowedBy: r.allowedBy } : {}),
    ...(r.cached !== undefined ? { cached: r.cached } : {}),
    explanation: explain(r),
  };
}

const NOT_ISOLATED: PolicyDirectionEntry = { isolated: false, isolatedBy: [], rules: [] };

function direction(v: DirectionView | undefined): PolicyDirectionEntry {
  return v ? { isolated: true, isolatedBy: v.isolatedBy, rules: v.rules } : { ...NOT_ISOLATED };
}

/** "web", "default/web" or one of its addresses (any spelling of an IPv6 address). */
function podMatch(filter: string, p: PodPolicyEntry): boolean {
  if (p.name === filter || p.name.slice(p.name.indexOf('/') + 1) === filter) return true;
  if (!net.isIP(filter)) return false;
  const ip = canonicalIp(filter);
  return p.ips.some((x) => net.isIP(x) && canonicalIp(x) === ip);
}

/**
 * /v1/policies: per pod of this node, what isolates it in each direction and with which rules,
 * joined with the engine's per-policy counters. Pure: tested without a daemon.
 */
export function policyEntries(state: PolicyState | undefined, podFilter?: string): PoliciesReply {
  const base = { apiVersion: API_VERSION as typeof API_VERSION, summary: { pods: 0, isolated: 0, ruleSets: 0, rules: 0, peers: 0 }, pods: [], policies: [] };
  if (!state) {
    return { ...base, enforcing: false, tableVersion: 0, note: 'podnetd runs without a NetworkPolicy source (tables mode): no policy is enforced' };
  }
  const { tables, stats } = state;
  const version = stats.version;
  if (!tables) return { ...base, enforcing: true, tableVersion: version, note: 'no policy table published yet (waiting for the first policy sync)' };

  // describePods keeps tables.pods' order: index i is tables.pods[i], whose rule sets name the rules' policies.
  const all = describePods(tables).map((v, i) => ({
    entry: { name: v.pod, ips: v.ips, ingress: direction(v.ingress), egress: direction(v.egress) } as PodPolicyEntry,
    sets: [tables.pods[i].ingress, tables.pods[i].egress].flatMap((x) => (x === undefined ? [] : [tables.ruleSets[x]])),
  }));
  const listed = (podFilter ? all.filter((p) => podMatch(podFilter, p.entry)) : all).sort((a, b) => a.entry.name.localeCompare(b.entry.name));
  const pods = listed.map((p) => p.entry);

  // Counters per policy: every policy of the listed pods; unfiltered, also those only the engine counted.
  const counters = new Map<string, PolicyCounterEntry>();
  const entry = (policy: string): PolicyCounterEntry => {
    let c = counters.get(policy);
    if (!c) counters.set(policy, c = { policy, allowed: 0, denied: { ingress: 0, egress: 0 }, isolates: [] });
    return c;
  };
  for (const { entry: p, sets } of listed) {
    for (const d of [p.ingress, p.egress]) {
      for (const name of d.isolatedBy) { const c = entry(name); if (!c.isolates.includes(p.name)) c.isolates.push(p.name); }
    }
    for (const set of sets) for (const r of set?.rules ?? []) entry(r.policy);
  }
  if (!podFilter) {
    for (const set of tables.ruleSets) for (const name of set.isolatedBy ?? []) entry(name);
    for (const name of Object.keys(stats.allowed)) entry(name);
    for (const d of stats.denied) entry(d.policy);
  }
  for (const c of counters.values()) {
    c.allowed = stats.allowed[c.policy] ?? 0;
    for (const d of stats.denied) if (d.policy === c.policy) c.denied[d.direction] += d.flows;
  }
  const policies = [...counters.values()].sort((a, b) => a.policy.localeCompare(b.policy));
  const note = podFilter && pods.length === 0 ? `no pod ${JSON.stringify(podFilter)} on this node (name, namespace/name or IP)` : undefined;
  return {
    apiVersion: API_VERSION, enforcing: true, tableVersion: version, summary: tableSizes(tables), pods, policies,
    ...(note ? { note } : {}),
  };
}

/** The NetworkPolicy part of a verdict, when an end of the flow is isolated. */
function policyClause(r: TraceResult): string | undefined {
  if (r.deniedBy?.length) {
    const dir = r.reason === 'policy_egress' ? 'egress of the client' : r.reason === 'policy_ingress' ? 'ingress of the destination pod' : 'one end';
    return `NetworkPolicy denies it: ${r.deniedBy.join(', ')} isolate${r.deniedBy.length > 1 ? '' : 's'} the ${dir} and no rule allows this flow`;
  }
  return r.allowedBy ? `allowed by NetworkPolicy ${r.allowedBy}` : undefined;
}

export function explain(r: TraceResult): string {
  const policy = policyClause(r);
  if (r.deniedBy?.length) return policy ?? '';
  if (policy) return `${explainService(r)}; ${policy}`;
  return explainService(r);
}

function explainService(r: TraceResult): string {
  if (!r.service) return 'not a service VIP: passed through unchanged';
  const sp = r.servicePort ? `service port ${r.servicePort}` : 'the VIP';
  if (r.verdict === 'forward') {
    const via = r.existingFlow ? 'an existing flow' : 'a new flow (Maglev choice)';
    return r.backend ? `${sp}: ${via} to backend ${r.backend}${r.snat ? `, source rewritten to ${r.snat}` : ''}` : `${sp}: forwarded (backend chosen by the engine)`;
  }
  if (r.reason === 'no_backend') return `${sp} has no ready backend: the client gets a reject (TCP RST / ICMP port unreachable)`;
  if (r.reason === 'no_service_port') return 'the VIP has no such port/protocol: rejected';
  return `${r.verdict}${r.reason ? ` (${r.reason})` : ''}`;
}

function parseTrace(u: URL): TraceQueryEntry {
  const from = u.searchParams.get('from') ?? '';
  const to = u.searchParams.get('to') ?? '';
  const port = Number(u.searchParams.get('port'));
  const protocol = (u.searchParams.get('protocol') ?? 'TCP').toUpperCase();
  const sourcePort = Number(u.searchParams.get('sourcePort') ?? 40000);
  const bad = (m: string): never => { throw new DaemonError('DAEMON_BAD_REQUEST', m); };
  if (!net.isIP(from)) bad(`from: not an IP address: ${JSON.stringify(from)}`);
  if (!net.isIP(to)) bad(`to: not an IP address: ${JSON.stringify(to)}`);
  if (net.isIP(from) !== net.isIP(to)) bad('from and to must be the same family');
  if (!Number.isInteger(port) || port < 1 || port > 65535) bad('port: must be 1-65535');
  if (!Number.isInteger(sourcePort) || sourcePort < 1 || sourcePort > 65535) bad('sourcePort: must be 1-65535');
  if (protocol !== 'TCP' && protocol !== 'UDP') bad('protocol: must be tcp or udp');
  return { from, to, port, protocol: protocol as TraceQueryEntry['protocol'], sourcePort };
}

export class ControlApi {
  private server: http.Server | undefined;

  constructor(private readonly state: ControlState, private readonly log: Logger) {}

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (code: number, body: object) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    try {
      if (req.method === 'POST' && this.state.pauseEngineForTest && req.url?.startsWith('/v1/test/pause-engine')) {
        send(200, this.state.pauseEngineForTest(Number(new URL(req.url, 'http://podnetd').searchParams.get('ms'))));
        return;
      }
      if (req.method !== 'GET') { send(405, { apiVersion: API_VERSION, error: { code: 'DAEMON_BAD_REQUEST', message: 'GET only' } }); return; }
      const u = new URL(req.url ?? '/', 'http://podnetd');
      switch (u.pathname) {
        case '/v1/status': send(200, this.state.status()); return;
        case '/v1/services': {
          const st = this.state.stats();
          const r: ServicesReply = { apiVersion: API_VERSION, tableVersion: st.version, services: serviceEntries(this.state.specs(), st) };
          send(200, r); return;
        }
        case '/v1/flows': {
          const limit = Math.min(Number(u.searchParams.get('limit') ?? 1000) || 1000, FLOW_LIMIT_MAX);
          const p = u.searchParams;
          const proto = p.get('protocol')?.toUpperCase();
          const filtering = ['vip', 'client', 'backend', 'protocol'].some((k) => p.get(k));
          const all = this.state.flows(filtering ? FLOW_LIMIT_MAX : limit + 1);
          const match = all.filter((f) => endpointMatch(p.get('vip'), f.vip) && endpointMatch(p.get('client'), f.client)
            && endpointMatch(p.get('backend'), f.backend) && (!proto || f.protocol === proto));
          const r: FlowsReply = {
            apiVersion: API_VERSION, flows: match.slice(0, limit).map(toWireFlow), active: this.state.stats().flows.active, truncated: match.length > limit,
          };
          send(200, r); return;
        }
        case '/v1/policies': {
          const r: PoliciesReply = policyEntries(this.state.policies?.(), u.searchParams.get('pod') ?? undefined);
          send(200, r); return;
        }
        case '/v1/cluster': {
          const r: ClusterReply = toWireCluster(this.state.cluster?.(), this.state.status().podnetd.nodeName);
          send(200, r); return;
        }
        case '/v1/monitor': {
          if (!this.state.monitor) throw new DaemonError('DAEMON_BAD_REQUEST', 'this podnetd serves no monitor');
          streamMonitor(this.state.monitor, u, req, res); return;
        }
        case '/v1/trace': {
          const q = parseTrace(u);
          const r: TraceReply = { apiVersion: API_VERSION, query: q, result: toWireTrace(this.state.trace(q)), engineTrace: true };
          send(200, r); return;
        }
        default: send(404, { apiVersion: API_VERSION, error: { code: 'DAEMON_BAD_REQUEST', message: `no such endpoint ${u.pathname}` } });
      }
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'DAEMON_INTERNAL';
      const reply: ErrorReply = { apiVersion: API_VERSION, error: { code, message: (e as Error).message } };
      send(code === 'DAEMON_BAD_REQUEST' || code.startsWith('ENGINE_BAD') ? 400 : 500, reply);
    }
  }

  /** Listens on `socketPath` (a stale socket file from a crashed run is replaced), mode 0600. */
  async start(socketPath: string): Promise<void> {
    mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
    rmSync(socketPath, { force: true });
    const s = http.createServer((req, res) => this.handle(req, res));
    // Created 0600 from the start: no window in which another user could connect.
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('error', (e) => reject(new DaemonError('DAEMON_LISTEN', `control socket ${socketPath}: ${e.message}`, { cause: e })));
        s.listen(socketPath, () => resolve());
      });
    } finally { process.umask(old); }
    chmodSync(socketPath, 0o600);
    this.server = s;
    this.path = socketPath;
    this.log.info({ socket: socketPath }, 'control socket listening');
  }

  private path = '';

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); });
    rmSync(this.path, { force: true });
  }
}
