// The engine's counters in the Prometheus text format (0.0.4), appended by /metrics to the
// control plane's sync metrics (src/services/metrics.ts). Rendered from one engine.stats()
// snapshot per scrape: the engine keeps the counters, nothing is accumulated here.
import type { EngineStats } from '../engine/types';

function esc(v: string | number): string {
  return String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labels(l: Record<string, string | number>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** One metric family: HELP, TYPE and its samples. */
class Family {
  private readonly lines: string[] = [];
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge') {}
  add(value: number, l: Record<string, string | number> = {}): this {
    this.lines.push(`${this.name}${labels(l)} ${Number.isFinite(value) ? value : 0}`);
    return this;
  }
  render(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n${this.lines.join('\n')}${this.lines.length ? '\n' : ''}`;
  }
}

export function engineMetrics(st: EngineStats, info: { tun?: string; startedAt: number }): string {
  const f = (name: string, help: string, type: 'counter' | 'gauge') => new Family(name, help, type);
  const out: Family[] = [];

  out.push(f('podnet_engine_table_version', 'Version of the service table the engine threads use', 'gauge').add(st.version));
  out.push(f('podnet_engine_flows_restored', '1 when the flow table was restored from the state file at start', 'gauge').add(st.restoredFlows ? 1 : 0));
  out.push(f('podnet_process_start_time_seconds', 'Start time of podnetd since the epoch', 'gauge').add(info.startedAt / 1000));

  out.push(f('podnet_flow_table_entries', 'Active flows in the flow table', 'gauge').add(st.flows.active));
  out.push(f('podnet_flow_table_capacity', 'Flow records the table holds', 'gauge').add(st.flows.capacity));
  out.push(f('podnet_flows_created_total', 'Flows created', 'counter').add(st.flows.created));
  out.push(f('podnet_flows_expired_total', 'Flows removed by their idle timeout', 'counter').add(st.flows.expired));
  out.push(f('podnet_flows_evicted_total', 'Flows evicted because the table was full', 'counter').add(st.flows.evicted));

  const drops = f('podnet_packets_dropped_total', 'Packets dropped by the engine, by reason', 'counter');
  for (const [reason, n] of Object.entries(st.drops).sort()) drops.add(n, { reason });
  out.push(drops);
  const replies = f('podnet_replies_total', 'Packets the engine answered itself (rst, icmp_unreachable, echo_reply)', 'counter');
  for (const [kind, n] of Object.entries(st.replies).sort()) replies.add(n, { kind });
  out.push(replies);
  out.push(f('podnet_passthrough_packets_total', 'Packets passed unchanged (not service traffic)', 'counter').add(st.passthrough));

  const sp = f('podnet_service_packets_total', 'Packets of flows to a service port (both directions)', 'counter');
  const sb = f('podnet_service_bytes_total', 'Bytes of flows to a service port (both directions)', 'counter');
  const sf = f('podnet_service_flows_total', 'Flows created to a service port', 'counter');
  const bp = f('podnet_backend_packets_total', 'Packets of flows to one backend of a service port', 'counter');
  const bb = f('podnet_backend_bytes_total', 'Bytes of flows to one backend of a service port', 'counter');
  const bf = f('podnet_backend_flows_total', 'Flows created to one backend of a service port', 'counter');
  const be = f('podnet_service_backends', 'Backends of a service port (terminating included)', 'gauge');
  for (const s of st.services) {
    const l = { service_port: s.name, vip: s.vip, port: s.port, protocol: s.protocol };
    sp.add(s.packets, l); sb.add(s.bytes, l); sf.add(s.flows, l); be.add(s.backends.length, l);
    for (const b of s.backends) {
      const lb = { ...l, backend: b.ip.includes(':') ? `[${b.ip}]:${b.port}` : `${b.ip}:${b.port}` };
      bp.add(b.packets, lb); bb.add(b.bytes, lb); bf.add(b.flows, lb);
    }
  }
  out.push(sp, sb, sf, be, bp, bb, bf);

  const q = (name: string, help: string, key: keyof EngineStats['queues'][number]) => {
    const fam = f(name, help, 'counter');
    for (const x of st.queues) fam.add(x[key], { queue: x.queue, ...(info.tun ? { tun: info.tun } : {}) });
    out.push(fam);
  };
  q('podnet_queue_packets_in_total', 'Packets read from the TUN queue', 'packetsIn');
  q('podnet_queue_packets_out_total', 'Packets written to the TUN queue', 'packetsOut');
  q('podnet_queue_bytes_in_total', 'Bytes read from the TUN queue', 'bytesIn');
  q('podnet_queue_wakeups_total', 'Wake-ups of the queue thread', 'wakeups');
  q('podnet_queue_gso_packets_total', 'GSO super-packets read from the queue', 'gsoPackets');
  q('podnet_queue_read_errors_total', 'Read errors on the queue', 'readErrors');
  q('podnet_queue_write_errors_total', 'Write errors on the queue', 'writeErrors');
  return out.map((x) => x.render()).join('');
}
