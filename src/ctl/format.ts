// podnetctl's human output: aligned tables and short summaries of the control API's replies.
// --json prints the replies themselves (src/ctl/api.ts), never this.
import type { ClusterReply, FlowsReply, ProbeStatus, ServicesReply, StatusReply, TraceReply } from './api';

/** Left-aligned columns, two spaces apart; numbers right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const width = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (numeric[i] ? c.padStart(width[i]) : c.padEnd(width[i]))).join('  ').trimEnd()).join('\n');
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function formatBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

/** "10.244.1.0/24 (Node n1)". */
function setting(x: { values: string[]; source: string }): string {
  return `${x.values.join(', ') || '(none)'} (${x.source})`;
}

/** "fast path on (tcx, 4 pods, 1 uplink): 12 entries; 9,120 hits, 3 misses, 40 punts, 0 spoof drops" or "off (why)". */
function fastPathLine(f: NonNullable<StatusReply['fastPath']>): string {
  if (f.mode === 'off') return `fastpath  off${f.reason ? ` (${f.reason})` : ''}`;
  const uplinks = f.uplinks?.length ? `, ${f.uplinks.length} uplink${f.uplinks.length > 1 ? 's' : ''}` : '';
  return `fastpath  on (${f.attachMode}, ${f.pods} pods${uplinks}): ${f.entries} entries, ${f.installs} installed, ${f.removed} removed; ` +
    `${f.hits} hits, ${f.misses} misses, ${f.punts} punts, ${f.spoofDrops} spoof drops`;
}

export function formatStatus(s: StatusReply): string {
  const p = s.podnetd, e = s.engine, y = s.sync;
  const drops = Object.entries(e.drops).map(([k, n]) => `${k}=${n}`).join(' ') || 'none';
  const lines = [
    `podnetd   pid ${p.pid}, node ${p.nodeName}, up ${p.uptimeSec}s, ${p.ready ? 'ready' : 'starting'}, ${p.healthy ? 'healthy' : 'UNHEALTHY'}`,
    `source    ${p.source}`,
    ...(s.network ? [
      `podCIDRs: ${setting(s.network.podCIDRs)}`,
      `serviceCIDRs: ${setting(s.network.serviceCIDRs)}`,
      `uplinks: ${setting(s.network.uplinks)}${s.network.uplinkAddresses.length ? `; addresses ${s.network.uplinkAddresses.join(', ')}` : ''}`,
      ...(s.network.egressSources ? [`egress masquerade: ${s.network.egressSources.join(', ') || 'no source address yet'}`] : []),
    ] : []),
    `engine    tun ${e.tun} (${e.offloads.join(',') || 'no offloads'}), ${e.queues.length} queue${e.queues.length === 1 ? '' : `s steered by ${e.steering}`}, table v${e.tableVersion}${e.restoredFlows ? ', flows restored from the state file' : ''}`,
    `flows     ${e.flows.active} active / ${e.flows.capacity}; ${e.flows.created} created, ${e.flows.expired} expired, ${e.flows.evicted} evicted`,
    `drops     ${drops}; passthrough ${e.passthrough}`,
    ...(s.fastPath ? [fastPathLine(s.fastPath)] : []),
    `sync      ${y.initialized ? 'initialized' : 'waiting for the source'}; ${y.services} services, ${y.endpointSlices} endpoint slices → ` +
      `${y.servicePorts} service ports, ${y.backends} backends; ${y.pending} pending; last ${y.lastUpdated || 'never'}` +
      (y.lastSync ? ` (${y.lastSync.full ? 'full' : 'partial'}, ${y.lastSync.durationMs} ms${y.lastSync.error ? `, ERROR ${y.lastSync.error}` : ''})` : ''),
    ...(s.probe ? [formatProbe(s.probe)] : []),
    '',
    table(['QUEUE', 'PACKETS IN', 'PACKETS OUT', 'BYTES IN', 'GSO', 'WAKEUPS', 'ERRORS'],
      e.queues.map((q) => [q.queue, q.packetsIn, q.packetsOut, q.bytesIn, q.gsoPackets, q.wakeups, q.readErrors + q.writeErrors])),
  ];
  return lines.join('\n');
}

/** "probe     live; last 0.12 ms (169.254.42.2), 0.10 ms (fd00:a9fe:2a::2); 0 missed in a row (503 at 3), 1/120 rounds missed". */
export function formatProbe(p: ProbeStatus): string {
  const last = p.targets.map((t) => `${t.rttMs !== undefined ? `${t.rttMs} ms` : `MISSED${t.error ? ` (${t.error})` : ''}`} (${t.address})`).join(', ') || 'no round yet';
  return `probe     ${p.live ? 'live' : 'NOT LIVE'}; last ${last}; ${p.consecutiveMisses} missed in a row (/livez 503 at ${p.failures}), ` +
    `${p.missedRounds}/${p.rounds} rounds missed; every ${p.intervalMs} ms, timeout ${p.timeoutMs} ms`;
}

export function formatServices(r: ServicesReply): string {
  const rows: (string | number)[][] = [];
  for (const s of r.services) {
    rows.push([s.name, `${hostPort(s.vip, s.port)}/${s.protocol}`, '', '', s.flows, s.packets, formatBytes(s.bytes)]);
    if (s.backends.length === 0) rows.push(['', '  (no backends: connections are rejected)', '', '', '', '', '']);
    for (const b of s.backends) {
      rows.push(['', `  → ${hostPort(b.ip, b.port)}`, b.name ?? '', b.terminating ? '0 (terminating)' : String(b.weight), b.flows, b.packets, formatBytes(b.bytes)]);
    }
  }
  return `${table(['SERVICE PORT', 'VIP → BACKEND', 'POD', 'WEIGHT', 'FLOWS', 'PACKETS', 'BYTES'], rows)}\n(table version ${r.tableVersion}, ${r.services.length} service ports)`;
}

export function formatFlows(r: FlowsReply): string {
  // The PATH column only when podnetd runs the kernel flow cache: "kernel" (cached) or "engine".
  const fp = r.flows.some((f) => f.cached !== undefined);
  const rows = r.flows.map((f) => [f.protocol, f.client, f.vip, f.backend, f.snat ?? '', f.state, Math.round(f.idleMs / 1000),
    ...(fp ? [f.cached ? 'kernel' : 'engine'] : [])]);
  return `${table(['PROTO', 'CLIENT', 'VIP', 'BACKEND', 'SNAT', 'STATE', 'IDLE s', ...(fp ? ['PATH'] : [])], rows)}\n` +
    `(${r.flows.length} shown${r.truncated ? ', more match: --limit' : ''}; ${r.active} active in the table)`;
}

export function formatTrace(r: TraceReply): string {
  const q = r.query, x = r.result;
  return [
    `packet    ${q.protocol} ${hostPort(q.from, q.sourcePort)} → ${hostPort(q.to, q.port)} (first packet of a connection)`,
    `service   ${x.service ? (x.servicePort ?? 'VIP, no such port') : 'not a VIP'}`,
    `flow      ${x.existingFlow ? 'existing flow' : 'new flow'}`,
    `backend   ${x.backend ?? '-'}${x.snat ? ` (source → ${x.snat})` : ''}`,
    `verdict   ${x.verdict}${x.reason ? ` (${x.reason})` : ''}`,
    ...(x.deniedBy?.length ? [`policy    denied: isolated by ${x.deniedBy.join(', ')}, no rule allows it`]
      : x.allowedBy ? [`policy    allowed by ${x.allowedBy}`] : []),
    ...(x.cached !== undefined ? [`fastpath  ${x.cached ? 'cached: later packets are forwarded by the kernel flow cache' : 'not cached: every packet goes through the engine'}`] : []),
    `why       ${x.explanation}`,
  ].join('\n');
}

export function formatCluster(r: ClusterReply): string {
  if (r.mode === 'none') return `cross-node routing: off (cluster.mode none) on ${r.node}`;
  const head = `cross-node routing: ${r.mode} on ${r.node}${r.podMtu ? `, pod MTU ${r.podMtu}` : ''}` +
    `${r.lastSyncAt ? `, last sync ${new Date(r.lastSyncAt).toISOString()}` : ', not synced yet'}` +
    `${r.error ? `\nlast sync FAILED (${r.error.code}): ${r.error.message}` : ''}`;
  const rows = r.nodes.map((n) => [n.name, n.podCIDRs.join(',') || '-', n.internalIPs.join(',') || '-', n.state + (n.reason ? ` (${n.reason})` : '')]);
  const entries = r.nodes.filter((n) => n.entries.length).map((n) => `${n.name}:\n${n.entries.map((e) => `  ${e}`).join('\n')}`);
  return [head, table(['NODE', 'POD CIDRS', 'INTERNAL IPS', 'STATE'], rows), ...entries].join('\n');
}
