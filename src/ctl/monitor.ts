// podnetctl monitor: podnetd's live stream of what the data path does (GET /v1/monitor):
// drops with their reason and packet, new flows with their service port and backend, ended
// flows, and table versions as the planes publish them. One line per event, or with --json the
// control API's MonitorEventEntry per line. Runs until Ctrl-C, --count events or --duration.
import type { MonitorEventEntry } from './api-monitor';
import type { ControlClient } from './client';

export interface MonitorArgs {
  type?: string;
  pod?: string;
  service?: string;
  reason?: string;
  /** Stop after this many events (attached and skipped lines not counted). */
  count?: number;
  /** Stop after this many seconds. */
  durationSec?: number;
  json: boolean;
}

function clock(iso: string): string {
  const d = new Date(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

const named = (endpoint: string | undefined, pod: string | undefined) => `${endpoint ?? '?'}${pod ? ` (${pod})` : ''}`;
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** protocol src (pod) → dst (pod) [service port] → backend (pod) snat S */
function path(e: MonitorEventEntry): string {
  let s = `${e.protocol ?? ''} ${named(e.src, e.srcPod)} → ${named(e.dst, e.dstPod)}`.trim();
  if (e.servicePort) s += ` [${e.servicePort}]`;
  if (e.backend) s += ` → ${named(e.backend, e.backendPod ?? e.backendName)}`;
  if (e.snat) s += ` snat ${e.snat}`;
  return s;
}

function syncLine(e: MonitorEventEntry): string {
  if (e.table === 'policy') {
    return `policy v${e.version}: ${plural(e.pods ?? 0, 'pod')}, ${plural(e.ruleSets ?? 0, 'rule set')}, ${plural(e.flowsCut ?? 0, 'flow')} cut`;
  }
  const change = e.full ? `full sync of ${e.upserts ?? 0}` : `+${e.upserts ?? 0} -${e.removes ?? 0}`;
  return `services v${e.version}: ${plural(e.servicePorts ?? 0, 'service port')} (${change}), ${plural(e.flowsPurged ?? 0, 'flow')} purged`;
}

/** One human line per event. */
export function formatMonitorEvent(e: MonitorEventEntry): string {
  const t = clock(e.time);
  switch (e.type) {
    case 'drop': {
      const policy = e.deniedBy ? `  denied by ${e.deniedBy.join(', ') || '?'}` : '';
      return `${t} DROP      ${(e.reason ?? '').padEnd(16)} ${e.src ? path(e) : `${e.length ?? 0} bytes, unparsed`}${policy}`;
    }
    case 'flow-new': {
      const tail = [e.kind !== 'service' ? e.kind : '', e.cached ? 'cached' : '', e.allowedBy ? `allowed by ${e.allowedBy}` : ''].filter(Boolean);
      return `${t} FLOW NEW  ${''.padEnd(16)} ${path(e)}${tail.length ? `  ${tail.join(', ')}` : ''}`;
    }
    case 'flow-end': return `${t} FLOW END  ${(e.reason ?? '').padEnd(16)} ${path(e)}${e.state ? `  (${e.state})` : ''}`;
    case 'sync': return `${t} SYNC      ${syncLine(e)}`;
    case 'skipped': return `${t} SKIPPED   ${plural(e.rateLimited ?? 0, 'event')} over the engine's rate limit, ${e.lost ?? 0} lost (ring full or slow reader)`;
    default: return `${t} ${e.type}`;
  }
}

/** Streams until the count or duration is reached, podnetd ends the stream, or SIGINT. */
export async function monitorCommand(c: ControlClient, a: MonitorArgs, out: (s: string) => void, err: (s: string) => void): Promise<void> {
  let seen = 0;
  const stream = c.stream<MonitorEventEntry>('/v1/monitor', { type: a.type, pod: a.pod, service: a.service, reason: a.reason }, (e) => {
    if (a.count !== undefined && seen >= a.count) return;
    if (e.type === 'attached') { err(`monitoring podnetd at ${c.socketPath} (Ctrl-C to stop)`); return; }
    out(a.json ? JSON.stringify(e) : formatMonitorEvent(e));
    if (e.type !== 'skipped' && ++seen === a.count) stream.close();
  });
  const stop = () => stream.close();
  const timer = a.durationSec !== undefined ? setTimeout(stop, a.durationSec * 1000) : undefined;
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await stream.done;
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
