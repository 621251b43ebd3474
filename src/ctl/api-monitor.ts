// Part of the podnet/v1 wire contract (api.ts): the events of `GET /v1/monitor`, as podnetd
// streams them and `podnetctl monitor --json` prints them. Same rules as api.ts: fields are
// only ever added, and it imports nothing; podnetd builds them from the engine's events
// (src/daemon/monitor.ts).

/**
 * GET /v1/monitor?type=&pod=&service=&reason= streams one MonitorEventEntry per line (NDJSON) until
 * the client leaves. type: drop, flow, sync (comma-separated); pod: name, namespace/name or IP;
 * service: namespace/name, name, namespace/name:port or VIP; reason: a drop reason. pod, service
 * and reason leave out the sync events. The first line is type "attached".
 */
export interface MonitorEventEntry {
  /** attached: the stream is live; skipped: events left out since the last such line (rate limit, full ring, slow client). */
  type: 'drop' | 'flow-new' | 'flow-end' | 'sync' | 'attached' | 'skipped';
  /** ISO time. */
  time: string;
  /** drop: the engine's drop counter name; flow-end: expired, closed, reset, cut or evicted. */
  reason?: string;
  protocol?: string;
  family?: 4 | 6;
  /** As the packet arrived, before any DNAT: "ip:port" (TCP, UDP) or the address. */
  src?: string;
  dst?: string;
  srcPod?: string; dstPod?: string;
  servicePort?: string;
  /** DNAT target ("ip:port"), its endpoint name and pod. */
  backend?: string; backendName?: string; backendPod?: string;
  snat?: string;
  /** flow-new: service, masquerade or tracked; cached: the kernel flow cache carries it (fast path on). */
  kind?: string;
  cached?: boolean;
  /** flow-end: the state it ended in. */
  state?: string;
  /** Policy drop: the policies isolating the denied end (as trace names them); flow-new: the allowing one. */
  deniedBy?: string[];
  allowedBy?: string;
  length?: number;
  /** sync: which table got a new version, and what changed. */
  table?: 'services' | 'policy';
  version?: number;
  servicePorts?: number; upserts?: number; removes?: number; full?: boolean; flowsPurged?: number;
  pods?: number; ruleSets?: number; flowsCut?: number;
  /** skipped: counts since the previous skipped line. */
  rateLimited?: number; lost?: number;
}
