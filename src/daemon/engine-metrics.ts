// The engine's counters as prom-client metrics in podnetd's Registry, next to the control
// plane's sync metrics (src/services/metrics.ts). The engine keeps every counter: each metric's
// collect() copies its part of one engine.stats() snapshot, taken by the first collect() of a
// scrape and shared by the rest of it, so nothing accumulates here and counters stay monotonic
// exactly as the engine's are. A service port or queue that went away disappears with it.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { EngineStats } from '../engine/types';

/** What a scrape reads: the engine's stats and the TUN's name (undefined before the engine). */
export interface EngineView {
  stats(): EngineStats;
  tun?: string;
}

type Labels = Record<string, string | number>;
/** Writes one metric's samples from a snapshot through `put`. */
type Fill = (st: EngineStats, put: (value: number, labels?: Labels) => void, tun?: string) => void;

const finite = (v: number) => (Number.isFinite(v) ? v : 0);
const SERVICE = ['service_port', 'vip', 'port', 'protocol'];
const BACKEND = [...SERVICE, 'backend'];
const QUEUE = ['queue', 'tun'];

/** Registers the engine's metrics in `registry`; each scrape reads `view()` once. */
export function registerEngineMetrics(registry: Registry, view: () => EngineView | undefined, startedAt: number): void {
  // One snapshot per scrape: registry.metrics() calls every collect() in one synchronous pass,
  // so the snapshot is dropped at the next microtask, after that pass.
  let snap: { st: EngineStats; tun?: string } | undefined | null = null;
  const current = () => {
    if (snap === null) {
      const v = view();
      snap = v ? { st: v.stats(), tun: v.tun } : undefined;
      queueMicrotask(() => { snap = null; });
    }
    return snap;
  };
  const registers = [registry];
  const def = (type: 'counter' | 'gauge', name: string, help: string, labelNames: string[], fill: Fill) => {
    function collect(this: Counter | Gauge): void {
      this.reset();
      const s = current();
      if (!s) return;
      fill(s.st, (v, l = {}) => {
        if (this instanceof Gauge) this.set(l, finite(v));
        else this.inc(l, finite(v));
      }, s.tun);
    }
    if (type === 'counter') new Counter({ name, help, labelNames, registers, collect });
    else new Gauge({ name, help, labelNames, registers, collect });
  };
  const one = (type: 'counter' | 'gauge', name: string, help: string, pick: (st: EngineStats) => number) =>
    def(type, name, help, [], (st, put) => put(pick(st)));

  one('gauge', 'podnet_engine_table_version', 'Version of the service table the engine threads use', (st) => st.version);
  one('gauge', 'podnet_engine_flows_restored', '1 when the flow table was restored from the state file at start', (st) => (st.restoredFlows ? 1 : 0));
  new Gauge({ name: 'podnet_process_start_time_seconds', help: 'Start time of podnetd since the epoch', registers }).set(startedAt / 1000);

  one('gauge', 'podnet_flow_table_entries', 'Active flows in the flow table', (st) => st.flows.active);
  one('gauge', 'podnet_flow_table_capacity', 'Flow records the table holds', (st) => st.flows.capacity);
  one('counter', 'podnet_flows_created_total', 'Flows created', (st) => st.flows.created);
  one('counter', 'podnet_flows_expired_total', 'Flows removed by their idle timeout', (st) => st.flows.expired);
  one('counter', 'podnet_flows_evicted_total', 'Flows evicted because the table was full', (st) => st.flows.evicted);

  def('counter', 'podnet_packets_dropped_total', 'Packets dropped by the engine, by reason', ['reason'],
    (st, put) => { for (const [reason, n] of Object.entries(st.drops).sort()) put(n, { reason }); });
  def('counter', 'podnet_replies_total', 'Packets the engine answered itself (rst, icmp_unreachable, echo_reply, probe_reply)', ['kind'],
    (st, put) => { for (const [kind, n] of Object.entries(st.replies).sort()) put(n, { kind }); });
  one('counter', 'podnet_passthrough_packets_total', 'Packets passed unchanged (not service traffic)', (st) => st.passthrough);

  type Svc = EngineStats['services'][number];
  const perService = (type: 'counter' | 'gauge', name: string, help: string, pick: (s: Svc) => number) =>
    def(type, name, help, SERVICE, (st, put) => { for (const s of st.services) put(pick(s), serviceLabels(s)); });
  const perBackend = (name: string, help: string, pick: (b: Svc['backends'][number]) => number) =>
    def('counter', name, help, BACKEND, (st, put) => {
      for (const s of st.services) {
        for (const b of s.backends) put(pick(b), { ...serviceLabels(s), backend: b.ip.includes(':') ? `[${b.ip}]:${b.port}` : `${b.ip}:${b.port}` });
      }
    });
  perService('counter', 'podnet_service_packets_total', 'Packets of flows to a service port (both directions)', (s) => s.packets);
  perService('counter', 'podnet_service_bytes_total', 'Bytes of flows to a service port (both directions)', (s) => s.bytes);
  perService('counter', 'podnet_service_flows_total', 'Flows created to a service port', (s) => s.flows);
  perService('gauge', 'podnet_service_backends', 'Backends of a service port (terminating included)', (s) => s.backends.length);
  perBackend('podnet_backend_packets_total', 'Packets of flows to one backend of a service port', (b) => b.packets);
  perBackend('podnet_backend_bytes_total', 'Bytes of flows to one backend of a service port', (b) => b.bytes);
  perBackend('podnet_backend_flows_total', 'Flows created to one backend of a service port', (b) => b.flows);

  const q = (name: string, help: string, key: keyof EngineStats['queues'][number]) =>
    def('counter', name, help, QUEUE, (st, put, tun) => { for (const x of st.queues) put(x[key], { queue: x.queue, ...(tun ? { tun } : {}) }); });
  q('podnet_queue_packets_in_total', 'Packets read from the TUN queue', 'packetsIn');
  q('podnet_queue_packets_out_total', 'Packets written to the TUN queue', 'packetsOut');
  q('podnet_queue_bytes_in_total', 'Bytes read from the TUN queue', 'bytesIn');
  q('podnet_queue_wakeups_total', 'Wake-ups of the queue thread', 'wakeups');
  q('podnet_queue_gso_packets_total', 'GSO super-packets read from the queue', 'gsoPackets');
  q('podnet_queue_read_errors_total', 'Read errors on the queue', 'readErrors');
  q('podnet_queue_write_errors_total', 'Write errors on the queue', 'writeErrors');
}

function serviceLabels(s: EngineStats['services'][number]): Labels {
  return { service_port: s.name, vip: s.vip, port: s.port, protocol: s.protocol };
}
