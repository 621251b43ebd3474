// podnetctl monitor's daemon side: GET /v1/monitor streams what the data path does, one JSON
// object per line (src/ctl/api-monitor.ts MonitorEventEntry).
//   engine events  drops, new flows, ended flows: the engine records them into its event ring
//                  only while a monitor is attached (native/events.h); the hub attaches one for
//                  all clients and drains the ring every intervalMs while any client is connected
//   sync events    a service or policy table version published: the hub wraps the sinks the
//                  planes program, so every version the engine gets is also told here
//   filters        per client: type, pod (name or IP), service (name or VIP), reason
// Nothing here runs on the packet path, and nothing at all while no client is connected.
import type http from 'node:http';
import net from 'node:net';
import type { Logger } from 'pino';
import type { MonitorEventEntry } from '../ctl/api-monitor';
import type { MonitorEvent, MonitorOptions, MonitorReadResult } from '../engine/types';
import { canonicalIp } from '../net/ip';
import type { PolicyTableSink } from '../policy/sources';
import type { TableSink } from '../services';
import { DaemonError } from './errors';

/** The part of the engine the hub uses. */
export interface MonitorEngine {
  monitorStart(o?: MonitorOptions): void;
  monitorRead(max?: number): MonitorReadResult;
  monitorStop(): void;
}

export type MonitorType = 'drop' | 'flow' | 'sync';
const TYPES: readonly MonitorType[] = ['drop', 'flow', 'sync'];

/** One client's filter; absent fields match everything. */
export interface MonitorFilter {
  types?: ReadonlySet<MonitorType>;
  pod?: string;
  service?: string;
  reason?: string;
}

/** A client slower than this many buffered bytes misses events (counted in its next skipped line). */
const MAX_BUFFERED = 1 << 20;
const READ_MAX = 4096;

export function parseMonitorFilter(u: URL): MonitorFilter {
  const p = u.searchParams;
  const f: MonitorFilter = {};
  const type = p.get('type');
  if (type) {
    const types = type.split(',').map((s) => s.trim());
    const bad = types.find((x) => !TYPES.includes(x as MonitorType));
    if (bad !== undefined) throw new DaemonError('DAEMON_BAD_REQUEST', `type: must be ${TYPES.join(', ')} (comma-separated), got ${JSON.stringify(bad)}`);
    f.types = new Set(types as MonitorType[]);
  }
  for (const k of ['pod', 'service', 'reason'] as const) {
    const v = p.get(k);
    if (v) f[k] = v;
  }
  return f;
}

/** The engine's event onto the wire, field by field (absent fields stay absent). */
export function toWireMonitorEvent(e: MonitorEvent): MonitorEventEntry {
  const { type, timeMs, reason, protocol, family, src, dst, srcPod, dstPod, servicePort, backend, backendName, backendPod, snat, kind, cached, state, deniedBy, allowedBy, length } = e;
  const fields = { reason, protocol, family, src, dst, srcPod, dstPod, servicePort, backend, backendName, backendPod, snat, kind, cached, state, allowedBy, length };
  const present = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<typeof fields>;
  return { type, time: new Date(timeMs).toISOString(), ...present, ...(deniedBy ? { deniedBy: [...deniedBy] } : {}) };
}

/** The address of "ip:port", "[ip6]:port" or a bare address, canonical. */
function hostOf(endpoint: string | undefined): string | undefined {
  if (!endpoint) return undefined;
  const m = /^\[(.*)\]:\d+$/.exec(endpoint) ?? /^([^:]*):\d+$/.exec(endpoint);
  const ip = m ? m[1] : endpoint;
  return net.isIP(ip) ? canonicalIp(ip) : undefined;
}

/** "web", "default/web" against a "namespace/name". */
function nameMatch(filter: string, name: string | undefined): boolean {
  return name !== undefined && (name === filter || name.slice(name.indexOf('/') + 1) === filter);
}

function podMatch(filter: string, e: MonitorEventEntry): boolean {
  if (net.isIP(filter)) {
    const ip = canonicalIp(filter);
    return [e.src, e.dst, e.backend].some((x) => hostOf(x) === ip);
  }
  return [e.srcPod, e.dstPod, e.backendPod].some((n) => nameMatch(filter, n));
}

/** "shop/web:http", "shop/web", "web" or the VIP. */
function serviceMatch(filter: string, e: MonitorEventEntry): boolean {
  if (net.isIP(filter)) return hostOf(e.dst) === canonicalIp(filter);
  const sp = e.servicePort;
  return sp !== undefined && (sp === filter || nameMatch(filter, sp.slice(0, sp.lastIndexOf(':'))));
}

export function monitorMatch(f: MonitorFilter, e: MonitorEventEntry): boolean {
  if (e.type === 'attached' || e.type === 'skipped') return true;
  const type: MonitorType = e.type === 'drop' ? 'drop' : e.type === 'sync' ? 'sync' : 'flow';
  if (f.types && !f.types.has(type)) return false;
  if (type === 'sync') return !f.pod && !f.service && !f.reason;
  if (f.reason && e.reason !== f.reason) return false;
  if (f.pod && !podMatch(f.pod, e)) return false;
  return !f.service || serviceMatch(f.service, e);
}

interface Subscriber { filter: MonitorFilter; res: http.ServerResponse; behind: number }

/** One engine monitor shared by every connected client. */
export class MonitorHub {
  private readonly subs = new Set<Subscriber>();
  private engine: MonitorEngine | undefined;
  private timer: NodeJS.Timeout | undefined;
  private seen = { skipped: 0, lost: 0 };

  constructor(private readonly getEngine: () => MonitorEngine | undefined, private readonly log: Logger,
    private readonly intervalMs = 100) {}

  /** Streams events matching `filter` to `res` until unsubscribed; throws when no engine runs. */
  subscribe(filter: MonitorFilter, res: http.ServerResponse): () => void {
    if (!this.engine) {
      const engine = this.getEngine();
      if (!engine) throw new DaemonError('DAEMON_BAD_REQUEST', 'engine not running');
      engine.monitorStart();
      this.engine = engine;
      this.seen = { skipped: 0, lost: 0 };
      this.timer = setInterval(() => this.poll(), this.intervalMs);
      this.log.info('monitor attached to the engine');
    }
    const sub: Subscriber = { filter, res, behind: 0 };
    this.subs.add(sub);
    return () => {
      if (!this.subs.delete(sub)) return;
      if (this.subs.size === 0) this.detach();
    };
  }

  /** Sends `e` to every client whose filter matches it. */
  publish(e: MonitorEventEntry): void {
    for (const s of this.subs) if (monitorMatch(s.filter, e)) this.write(s, e);
  }

  /** The services plane's sink, telling each table version it programs. */
  tables(sink: TableSink): TableSink {
    return {
      apply: (delta) => {
        const r = sink.apply(delta);
        this.sync({ table: 'services', version: r.version, servicePorts: r.servicePorts, upserts: delta.upsert?.length ?? 0, removes: delta.remove?.length ?? 0, full: false, flowsPurged: r.flowsPurged });
        return r;
      },
      replace: (specs) => {
        const r = sink.replace(specs);
        this.sync({ table: 'services', version: r.version, servicePorts: r.servicePorts, upserts: specs.length, removes: 0, full: true, flowsPurged: r.flowsPurged });
        return r;
      },
    };
  }

  /** The policy plane's sink, likewise. */
  policy(sink: PolicyTableSink): PolicyTableSink {
    return {
      setPolicy: (tables) => {
        const r = sink.setPolicy(tables);
        this.sync({ table: 'policy', version: r.version, pods: tables.pods.length, ruleSets: tables.ruleSets.length, flowsCut: r.flowsCut });
        return r;
      },
    };
  }

  /** Ends every stream and detaches from the engine (before it closes). */
  stop(): void {
    for (const s of this.subs) s.res.end();
    this.subs.clear();
    this.detach();
  }

  private sync(fields: Omit<MonitorEventEntry, 'type' | 'time'>): void {
    if (this.subs.size) this.publish({ type: 'sync', time: new Date().toISOString(), ...fields });
  }

  private write(s: Subscriber, e: MonitorEventEntry): void {
    if (s.res.writableLength > MAX_BUFFERED) { s.behind++; return; }
    s.res.write(`${JSON.stringify(e)}\n`);
  }

  private poll(): void {
    const engine = this.engine;
    if (!engine) return;
    let r: MonitorReadResult;
    try {
      do {
        r = engine.monitorRead(READ_MAX);
        for (const e of r.events) this.publish(toWireMonitorEvent(e));
      } while (r.events.length === READ_MAX);
    } catch (err) {
      this.log.warn({ err }, 'monitor: reading the engine failed; ending the streams');
      this.stop();
      return;
    }
    const rateLimited = r.skipped - this.seen.skipped, lost = r.lost - this.seen.lost;
    this.seen = { skipped: r.skipped, lost: r.lost };
    for (const s of this.subs) {
      if (!rateLimited && !lost && !s.behind) continue;
      const behind = s.behind;
      s.behind = 0;
      this.write(s, { type: 'skipped', time: new Date().toISOString(), rateLimited, lost: lost + behind });
    }
  }

  private detach(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.engine) return;
    try { this.engine.monitorStop(); } catch { /* the engine closed first */ }
    this.engine = undefined;
    this.log.info('monitor detached from the engine');
  }
}

/** GET /v1/monitor: validates the filter, subscribes, streams until the client goes. */
export function streamMonitor(hub: MonitorHub, u: URL, req: http.IncomingMessage, res: http.ServerResponse): void {
  const filter = parseMonitorFilter(u);
  const unsubscribe = hub.subscribe(filter, res);
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.write(`${JSON.stringify({ type: 'attached', time: new Date().toISOString() } satisfies MonitorEventEntry)}\n`);
  req.on('close', unsubscribe);
  res.on('close', unsubscribe);
}
